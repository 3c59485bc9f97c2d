using System.Diagnostics;
using Suiron.Inference;
using Suiron.Kernels;

namespace Suiron.Bench;

/// <summary>
/// Attention alone (a prefill block, or a decode step with `--rows 1`), A/B in one process: the tiled form
/// (<see cref="TiledAttention"/>) against the row-by-row form it replaced (<see cref="Attention.Group"/> for an F16
/// cache, else <see cref="Attention.Head"/>), same random cache and queries, one thread, runs alternating, medians (and
/// the fastest runs, steadier on a loaded box). What it isolates: the attention share of a long prompt's prefill or of a
/// decode step deep in the context, without the projections and feed-forward that dilute it in `-d` runs. With
/// <c>threads</c> above one it also runs the tiled form the way a pass does (<see cref="AttentionHeadsWork"/> over a pool of
/// that many threads) and prints its speed-up over one thread: how well the split keeps the threads busy.
/// </summary>
internal static unsafe class AttentionBench
{
    public static void Run(int depth, int rows, int heads, int kvHeads, int headLength, int repetitions, KvCacheType keyType, KvCacheType valueType, TextWriter output, int threads = 1)
    {
        int groupSize = heads / kvHeads, length = depth + rows, queryWidth = heads * headLength, keyWidth = kvHeads * headLength;
        var cache = new KvCache(1, keyWidth, keyWidth, length, keyType, valueType);
        bool groupedForm = Attention.SupportsGroup(cache);
        var random = new Random(5);
        var keys = new float[length * keyWidth];
        var values = new float[length * keyWidth];
        for (int i = 0; i < keys.Length; i++) { keys[i] = (float)(random.NextDouble() * 2 - 1); values[i] = (float)(random.NextDouble() * 2 - 1); }
        cache.Write(0, 0, keys, values);
        var queries = new float[rows * queryWidth];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
        var tiledOut = new float[rows * queryWidth];
        var groupedOut = new float[rows * queryWidth];
        float scale = 1f / MathF.Sqrt(headLength);
        int perBlock = TiledAttention.RowsPerBlock(groupSize, length);
        var scratch = new float[TiledAttention.ScratchFloats(perBlock * groupSize, length, headLength, headLength)];
        var scores = new float[groupSize * length];
        var rowScratch = new float[2 * groupSize * headLength + headLength]; // the grouped form's, or a Q8_0 query's blocks

        double Tiled()
        {
            long start = Stopwatch.GetTimestamp();
            fixed (float* q = queries)
            fixed (float* o = tiledOut)
            fixed (float* s = scratch)
                for (int first = 0; first < rows; first += perBlock)
                    for (int kv = 0; kv < kvHeads; kv++)
                        TiledAttention.Rows(q + (long)first * queryWidth + kv * groupSize * headLength, queryWidth, Math.Min(perBlock, rows - first), groupSize,
                            cache, 0, kv, depth + first, scale, o + (long)first * queryWidth + kv * groupSize * headLength, queryWidth, s, headLength, headLength);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        double Grouped()
        {
            long start = Stopwatch.GetTimestamp();
            for (int r = 0; r < rows; r++)
                for (int kv = 0; kv < kvHeads; kv++)
                {
                    if (groupedForm)
                    {
                        Attention.Group(queries.AsSpan(r * queryWidth + kv * groupSize * headLength, groupSize * headLength), groupSize, cache, 0, kv, depth + r + 1, scale,
                            scores, rowScratch, groupedOut.AsSpan(r * queryWidth + kv * groupSize * headLength, groupSize * headLength));
                        continue;
                    }
                    for (int g = 0; g < groupSize; g++)
                    {
                        int head = kv * groupSize + g;
                        Attention.Head(queries.AsSpan(r * queryWidth + head * headLength, headLength), cache, 0, kv, depth + r + 1, scale,
                            scores, rowScratch, groupedOut.AsSpan(r * queryWidth + head * headLength, headLength));
                    }
                }
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        using var pool = new WorkerPool(threads);
        var pooledOut = new float[rows * heads * headLength];
        int[] blockFirstRow = [], blockRows = [];
        float[] splitScores = [], splitPartials = [];
        var segment = new Suiron.Models.SequenceSegment(cache, 0, rows, depth);
        double Pooled()
        {
            var work = new AttentionHeadsWork
            {
                Queries = queries, Mixed = pooledOut, RowCache = Enumerable.Repeat(cache, rows).ToArray(),
                RowPosition = Enumerable.Range(depth, rows).ToArray(), Layer = 0, Heads = heads, GroupSize = groupSize,
                KeyLength = headLength, ValueLength = headLength, QueryWidth = queryWidth, Scale = scale,
            };
            long start = Stopwatch.GetTimestamp();
            work.Run(rows, [segment], pool, segment.AttendedPositions, ref blockFirstRow, ref blockRows, ref splitScores, ref splitPartials);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        Tiled(); Grouped(); // warm-up
        if (threads > 1) Pooled();
        var tiled = new List<double>();
        var grouped = new List<double>();
        var pooled = new List<double>();
        for (int r = 0; r < repetitions; r++)
        {
            if (r % 2 == 0) { tiled.Add(Tiled()); grouped.Add(Grouped()); }
            else { grouped.Add(Grouped()); tiled.Add(Tiled()); }
            if (threads > 1) pooled.Add(Pooled());
        }
        double worst = 0;
        for (int i = 0; i < tiledOut.Length; i++) worst = Math.Max(worst, Math.Abs(tiledOut[i] - groupedOut[i]));
        double t = tiled.Order().ElementAt(repetitions / 2), g = grouped.Order().ElementAt(repetitions / 2);
        double multiplyAdds = (double)rows * heads * headLength * 2 * (depth + (rows + 1) / 2.0);
        output.WriteLine($"attention of {rows} rows at depth {depth}: {heads} heads / {kvHeads} KV heads of {headLength}, cache k {KvCacheTypes.Name(keyType)} v {KvCacheTypes.Name(valueType)}, one thread, medians of {repetitions}");
        output.WriteLine($"| form | ms | G multiply-adds/s |");
        output.WriteLine($"|---|---:|---:|");
        output.WriteLine($"| row by row{(groupedForm ? ", grouped" : "")} (before) | {g * 1000:F3} | {multiplyAdds / g / 1e9:F2} |");
        output.WriteLine($"| tiled | {t * 1000:F3} | {multiplyAdds / t / 1e9:F2} |");
        output.WriteLine($"tiled / grouped speed: {g / t:F2}× (fastest runs {tiled.Min() * 1000:F3} vs {grouped.Min() * 1000:F3} ms, {grouped.Min() / tiled.Min():F2}×); largest output difference {worst:G3}");
        if (threads > 1)
        {
            double pt = pooled.Order().ElementAt(repetitions / 2);
            float pooledWorst = 0;
            for (int i = 0; i < tiledOut.Length; i++) pooledWorst = Math.Max(pooledWorst, Math.Abs(tiledOut[i] - pooledOut[i]));
            output.WriteLine($"tiled over {threads} threads, as a pass splits it: {pt * 1000:F3} ms, {multiplyAdds / pt / 1e9:F2} G multiply-adds/s, {t / pt:F2}× one thread " +
                $"({t / pt / threads:P0} of {threads}×; fastest runs {tiled.Min() / pooled.Min():F2}×); largest difference from one thread {pooledWorst:G3}");
        }
    }
}
