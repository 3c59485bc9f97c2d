using Suiron.Inference;

namespace Suiron.Kernels;

/// <summary>
/// The attention of a pass's rows over their caches, split across the pool: one item per (row, query head), or — when
/// <see cref="Attention.Group"/> applies — one per (row, key/value head), so each cached row is widened once for all
/// the query heads that read it. Scratch is per thread, allocated once and grown with the context. Run by
/// <see cref="Models.GroupedQueryAttention"/>.
/// </summary>
internal struct AttentionHeadsWork : IParallelWork
{
    [ThreadStatic] private static float[]? scores;
    [ThreadStatic] private static float[]? queryScratch;

    public float[] Queries, Mixed;
    public KvCache[] RowCache; // the cache of each row's sequence
    public int[] RowPosition;  // each row's position in its sequence
    public int Layer, Heads, GroupSize, KeyLength, ValueLength, QueryWidth;
    public float Scale;
    public bool Grouped;

    /// <summary>Runs the attention of <paramref name="rows"/> rows: grouped where it helps and still leaves every thread an item.</summary>
    public void Run(int rows, WorkerPool pool, long attendedPositions)
    {
        int kvHeads = Heads / GroupSize;
        Grouped = GroupSize > 1 && rows > 0 && Attention.SupportsGroup(RowCache[0]) && rows * kvHeads >= pool.Threads;
        pool.For(rows * (Grouped ? kvHeads : Heads), ref this, attendedPositions * Heads * (KeyLength + ValueLength));
    }

    public readonly void Execute(int start, int end)
    {
        int groupSize = Grouped ? GroupSize : 1, itemsPerRow = Heads / groupSize;
        int queryScratchLength = groupSize * KeyLength + Math.Max(KeyLength, ValueLength);
        if (queryScratch is null || queryScratch.Length < queryScratchLength) queryScratch = new float[queryScratchLength];
        for (int item = start; item < end; item++)
        {
            int token = item / itemsPerRow, first = item % itemsPerRow * groupSize;
            KvCache cache = RowCache[token];
            if (scores is null || scores.Length < groupSize * cache.Capacity) scores = new float[groupSize * cache.Capacity];
            int length = RowPosition[token] + 1; // causal: a token sees itself and everything before it
            var queries = Queries.AsSpan(token * QueryWidth + first * KeyLength, groupSize * KeyLength);
            var mixed = Mixed.AsSpan((token * Heads + first) * ValueLength, groupSize * ValueLength);
            if (Grouped)
                Attention.Group(queries, groupSize, cache, Layer, first / GroupSize, length, Scale, scores, queryScratch, mixed);
            else
                Attention.Head(queries, cache, Layer, first / GroupSize, length, Scale, scores, queryScratch, mixed);
        }
    }
}
