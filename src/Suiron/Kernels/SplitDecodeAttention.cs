using Suiron.Inference;

namespace Suiron.Kernels;

/// <summary>
/// Decode attention at long contexts split over positions as well as heads (split-K), so more threads than query heads
/// stay busy: each sequence's key/value heads are cut into chunks of <see cref="ChunkPositions"/> positions, in four
/// phases — scores per chunk (all the group's query heads against the chunk's 16-key tiles, as
/// <see cref="TiledAttention"/>), the softmax per query head over all positions (maximum subtracted, sum in double,
/// F16 weights against F16 values, as ever), weights·V per chunk into a partial output, and the partials summed in chunk
/// order. The result differs from the unsplit form only in how the weights·V sums are grouped (per chunk, then across);
/// it depends on the context length, not on the thread count. Used for steps of single-row sequences whose heads alone
/// leave threads idle (<see cref="AttentionHeadsWork"/>).
/// </summary>
internal unsafe struct SplitDecodeAttention : IParallelWork
{
    /// <summary>Positions per chunk: 64 key tiles, enough work per item to outweigh the phases' extra passes.</summary>
    public const int ChunkPositions = 1024;

    [ThreadStatic] private static float[]? scratch;

    private enum Phase { Scores, Softmax, Values, Sum }

    public float[] Queries, Mixed, Scores, Partials;
    public KvCache[] RowCache;
    public int[] RowPosition;
    public int Layer, Heads, GroupSize, KeyLength, ValueLength, QueryWidth, Rows, Chunks, ScoreStride;
    public float Scale;
    private Phase _phase;

    /// <summary>F16 and F32 caches (a Q8_0 cache's value path is ggml's online softmax, which a split would change).</summary>
    public static bool Supports(KvCache cache) =>
        cache.KeyType is KvCacheType.F16 or KvCacheType.F32 && cache.ValueType is KvCacheType.F16 or KvCacheType.F32;

    /// <summary>Whether a step of <paramref name="rows"/> single-row sequences should split: its heads leave threads idle and
    /// its longest context spans at least two chunks.</summary>
    public static bool Worthwhile(int rows, int heads, int threads, int longest) => (long)rows * heads < threads && longest >= 2 * ChunkPositions;

    /// <summary>Chunks of the longest context; the scores and partials buffers these phases need, in floats.</summary>
    public static int ChunkCount(int longest) => (longest + ChunkPositions - 1) / ChunkPositions;
    public static int ScoreFloats(int rows, int heads, int longest) => checked(rows * heads * TiledAttention.Padded(longest));
    public static int PartialFloats(int rows, int heads, int valueLength, int longest) => checked(rows * heads * valueLength * ChunkCount(longest));

    /// <summary>Runs the four phases over the pool.</summary>
    public void Run(WorkerPool pool, long cost)
    {
        int groups = Rows * (Heads / GroupSize);
        _phase = Phase.Scores;
        pool.For(groups * Chunks, ref this, cost / 2);
        _phase = Phase.Softmax;
        pool.For(groups, ref this, cost / 16);
        _phase = Phase.Values;
        pool.For(groups * Chunks, ref this, cost / 2);
        _phase = Phase.Sum;
        pool.For(groups, ref this, cost / 16);
    }

    public readonly void Execute(int start, int end)
    {
        int kvHeads = Heads / GroupSize;
        for (int item = start; item < end; item++)
        {
            bool perChunk = _phase is Phase.Scores or Phase.Values;
            int group = perChunk ? item / Chunks : item, chunk = perChunk ? item % Chunks : 0;
            int row = group / kvHeads, kvHead = group % kvHeads, length = RowPosition[row] + 1;
            int from = chunk * ChunkPositions, to = Math.Min(length, from + ChunkPositions);
            KvCache cache = RowCache[row];
            switch (_phase)
            {
                case Phase.Scores when from < length: ScoreChunk(cache, row, kvHead, from, to); break;
                case Phase.Softmax: Softmax(cache, group, length); break;
                case Phase.Values: ValueChunk(cache, group, kvHead, chunk, from, to); break;
                case Phase.Sum: Sum(row, kvHead, group); break;
            }
        }
    }

    private readonly void ScoreChunk(KvCache cache, int row, int kvHead, int from, int to)
    {
        int g = GroupSize, keyLength = KeyLength;
        bool half = cache.KeyType == KvCacheType.F16;
        if (scratch is null || scratch.Length < g * keyLength + keyLength * TiledAttention.KeyTile)
            scratch = new float[g * keyLength + keyLength * TiledAttention.KeyTile];
        fixed (float* s = scratch)
        fixed (float* queries = Queries)
        fixed (float* scores = Scores)
        fixed (Half* keysF16 = half ? cache.KeysF16(Layer) : default)
        fixed (float* keysF32 = half ? default : cache.KeysF32(Layer))
        {
            float* q = s, tile = s + g * keyLength;
            float* source = queries + (long)row * QueryWidth + kvHead * g * keyLength;
            if (half) Attention.RoundToHalf(source, q, g * keyLength);
            else new ReadOnlySpan<float>(source, g * keyLength).CopyTo(new Span<float>(q, g * keyLength));
            float* groupScores = scores + (long)(row * (Heads / g) + kvHead) * g * ScoreStride;
            for (int t0 = from; t0 < to; t0 += TiledAttention.KeyTile)
            {
                int count = Math.Min(TiledAttention.KeyTile, to - t0);
                long at = (long)t0 * cache.KeyWidth + kvHead * keyLength;
                TiledAttention.TransposeTile(half ? (ushort*)keysF16 + at : null, half ? null : keysF32 + at, cache.KeyWidth, count, keyLength, tile);
                TiledAttention.ScoreTile(q, g, keyLength, tile, Scale, groupScores + t0, ScoreStride);
            }
        }
    }

    private readonly void Softmax(KvCache cache, int group, int length)
    {
        fixed (float* scores = Scores)
            for (int v = 0; v < GroupSize; v++)
            {
                float* row = scores + ((long)group * GroupSize + v) * ScoreStride;
                AttentionWeights.Softmax(row, length, roundToHalf: cache.ValueType == KvCacheType.F16);
            }
    }

    private readonly void ValueChunk(KvCache cache, int group, int kvHead, int chunk, int from, int to)
    {
        int g = GroupSize, valueLength = ValueLength;
        bool half = cache.ValueType == KvCacheType.F16;
        if (scratch is null || scratch.Length < TiledAttention.KeyTile * valueLength) scratch = new float[TiledAttention.KeyTile * valueLength];
        fixed (float* tile = scratch)
        fixed (float* scores = Scores)
        fixed (float* partials = Partials)
        fixed (Half* valuesF16 = half ? cache.ValuesF16(Layer) : default)
        fixed (float* valuesF32 = half ? default : cache.ValuesF32(Layer))
        {
            float* partial = partials + ((long)group * Chunks + chunk) * g * valueLength;
            new Span<float>(partial, g * valueLength).Clear();
            float* weights = scores + (long)group * g * ScoreStride;
            for (int t0 = from; t0 < to; t0 += TiledAttention.KeyTile)
            {
                int count = Math.Min(TiledAttention.KeyTile, to - t0);
                for (int t = 0; t < count; t++)
                {
                    long at = (long)(t0 + t) * cache.ValueWidth + kvHead * valueLength;
                    if (half) HalfConversion.HalfToSingle(valuesF16 + at, tile + t * valueLength, valueLength);
                    else new ReadOnlySpan<float>(valuesF32 + at, valueLength).CopyTo(new Span<float>(tile + t * valueLength, valueLength));
                }
                for (int v = 0; v < g; v += 3)
                {
                    int take = Math.Min(3, g - v);
                    TiledAttention.AccumulateTile(weights + (long)v * ScoreStride + t0, ScoreStride, take, count, tile, valueLength,
                        partial + v * valueLength, take > 1 ? partial + (v + 1) * valueLength : null, take > 2 ? partial + (v + 2) * valueLength : null);
                }
            }
        }
    }

    private readonly void Sum(int row, int kvHead, int group)
    {
        int width = GroupSize * ValueLength;
        fixed (float* partials = Partials)
        fixed (float* mixed = Mixed)
        {
            float* output = mixed + ((long)row * Heads + kvHead * GroupSize) * ValueLength, first = partials + (long)group * Chunks * width;
            new ReadOnlySpan<float>(first, width).CopyTo(new Span<float>(output, width));
            for (int c = 1; c < Chunks; c++)
            {
                var partial = new ReadOnlySpan<float>(first + (long)c * width, width);
                var sum = new Span<float>(output, width);
                VectorOps.Add(sum, partial, sum);
            }
        }
    }
}
