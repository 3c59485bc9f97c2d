using Suiron.Inference;
using Suiron.Models;

namespace Suiron.Kernels;

/// <summary>
/// The attention of a pass's rows over their caches, split across the pool. Three forms, by what the cache allows:
/// tiled (<see cref="TiledAttention"/>: one item per block of consecutive rows of one sequence and key/value head — or a
/// part of the head's query heads, when there are fewer blocks than threads — each K/V row widened once per item), grouped (<see cref="Attention.Group"/>: one item per row and key/value head), or one
/// item per row and query head (<see cref="Attention.Head"/>). Items run longest first, so the pool's dynamic chunks even
/// out the causal triangle. Scratch is per thread, allocated once and grown with the context. Run by
/// <see cref="Models.GroupedQueryAttention"/>.
/// </summary>
internal struct AttentionHeadsWork : IParallelWork
{
    [ThreadStatic] private static float[]? scores;
    [ThreadStatic] private static float[]? queryScratch;
    [ThreadStatic] private static float[]? tileScratch;

    public float[] Queries, Mixed;
    public KvCache[] RowCache; // the cache of each row's sequence
    public int[] RowPosition;  // each row's position in its sequence
    public int Layer, Heads, GroupSize, KeyLength, ValueLength, QueryWidth;
    public float Scale;
    public bool Grouped;
    public int[] BlockFirstRow, BlockRows; // tiled form: the row blocks, none spanning two sequences
    public int Blocks, HeadSplit;          // tiled form: each group's query heads cut into HeadSplit items (few rows, many threads)

    /// <summary>
    /// Runs the attention of <paramref name="rows"/> rows in <paramref name="segments"/>: tiled where the cache allows it
    /// (F16/F32), else grouped where that helps, else head by head.
    /// <paramref name="blockFirstRow"/> and <paramref name="blockRows"/> are the caller's arrays for the block list (grown here).
    /// </summary>
    public void Run(int rows, ReadOnlySpan<SequenceSegment> segments, WorkerPool pool, long attendedPositions, ref int[] blockFirstRow, ref int[] blockRows)
    {
        int kvHeads = Heads / GroupSize;
        long cost = attendedPositions * Heads * (KeyLength + ValueLength);
        Blocks = 0;
        if (rows > 0 && TiledAttention.Supports(RowCache[0]))
        {
            Blocks = TiledAttention.CutBlocks(segments, GroupSize, ref blockFirstRow, ref blockRows);
            (BlockFirstRow, BlockRows) = (blockFirstRow, blockRows);
            HeadSplit = TiledAttention.HeadSplit(Blocks * kvHeads, GroupSize, pool.Threads);
            pool.For(Blocks * kvHeads * HeadSplit, ref this, cost);
            return;
        }
        Grouped = GroupSize > 1 && rows > 0 && Attention.SupportsGroup(RowCache[0]) && rows * kvHeads >= pool.Threads;
        pool.For(rows * (Grouped ? kvHeads : Heads), ref this, cost);
    }

    public readonly void Execute(int start, int end)
    {
        if (Blocks > 0)
        {
            ExecuteTiled(start, end);
            return;
        }
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

    private readonly unsafe void ExecuteTiled(int start, int end)
    {
        int kvHeads = Heads / GroupSize, perBlock = kvHeads * HeadSplit, count = Blocks * perBlock;
        for (int item = start; item < end; item++)
        {
            // Item 0 is the last block (its rows see the most positions): the longest work first.
            int reversed = count - 1 - item, block = reversed / perBlock, kvHead = reversed % perBlock / HeadSplit, part = reversed % HeadSplit;
            int firstHead = part * GroupSize / HeadSplit, heads = (part + 1) * GroupSize / HeadSplit - firstHead;
            int firstRow = BlockFirstRow[block], rows = BlockRows[block], firstPosition = RowPosition[firstRow];
            long needed = TiledAttention.ScratchFloats(rows * heads, firstPosition + rows, KeyLength, ValueLength);
            if (tileScratch is null || tileScratch.Length < needed) tileScratch = new float[Math.Max(needed, 2 * (tileScratch?.Length ?? 0))];
            int head = kvHead * GroupSize + firstHead;
            fixed (float* queries = Queries)
            fixed (float* mixed = Mixed)
            fixed (float* scratch = tileScratch)
            {
                TiledAttention.Rows(
                    queries + (long)firstRow * QueryWidth + head * KeyLength, QueryWidth, rows, heads,
                    RowCache[firstRow], Layer, kvHead, firstPosition, Scale,
                    mixed + ((long)firstRow * Heads + head) * ValueLength, Heads * ValueLength, scratch, KeyLength, ValueLength);
            }
        }
    }
}
