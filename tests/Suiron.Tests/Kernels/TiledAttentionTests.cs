using Suiron.Inference;
using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The tiled prefill attention against the row-by-row <see cref="Attention.Head"/> (the path the llama.cpp oracle tests
/// pin down): the same softmax and weights·V arithmetic, scores summed in another order, so equal within float rounding
/// (F32 cache) or within one F16 rounding of a weight (F16 cache); and its vector kernels bit for bit against their
/// scalar reference.
/// </summary>
public sealed unsafe class TiledAttentionTests
{
    public static TheoryData<KvCacheType, int, int, int, int, int> Shapes() => new()
    {
        // cache type, group size, key length, value length, first position, rows
        { KvCacheType.F16, 7, 64, 64, 0, 33 },
        { KvCacheType.F16, 7, 64, 64, 100, 4 },
        { KvCacheType.F16, 1, 128, 128, 17, 32 },
        { KvCacheType.F16, 4, 80, 80, 5, 9 },     // 80: a 32-lane block, then 8-lane tails
        { KvCacheType.F16, 3, 40, 24, 0, 1 },     // tails everywhere, one row
        { KvCacheType.F16, 2, 20, 16, 3, 5 },     // a key length off the 8-wide transpose
        { KvCacheType.F16, 2, 64, 64, 300, 1 },   // a decode step at depth
        { KvCacheType.F32, 7, 64, 64, 0, 20 },
        { KvCacheType.F32, 2, 96, 36, 31, 16 },   // 36: a scalar tail in the weights·V pass
        // Decode-sized blocks (at most 8 query vectors): weights·V straight from the cache rows.
        { KvCacheType.F16, 7, 64, 64, 500, 1 },   // Qwen2.5-0.5B's group: one seven-vector block
        { KvCacheType.F32, 7, 64, 64, 301, 1 },
        { KvCacheType.F16, 8, 64, 64, 200, 1 },   // two blocks of four
        { KvCacheType.F16, 4, 64, 64, 50, 2 },    // two rows: the second sees one position more
        { KvCacheType.F16, 5, 48, 40, 77, 1 },    // four and one; 40 = 16 + 16 + an 8-lane tail
        { KvCacheType.F16, 6, 128, 128, 33, 1 },  // four and two
        { KvCacheType.F32, 1, 64, 36, 9, 1 },     // one vector, a scalar tail
        { KvCacheType.F16, 2, 20, 12, 30, 1 },    // a key length off whole vectors (exact widening), value tails
    };

    private static (KvCache cache, float[] queries) Fill(KvCacheType type, int groupSize, int keyLength, int valueLength, int length, int seed)
    {
        const int kvHeads = 2;
        var cache = new KvCache(2, kvHeads * keyLength, kvHeads * valueLength, 512, type);
        var random = new Random(seed);
        var keys = new float[length * kvHeads * keyLength];
        var values = new float[length * kvHeads * valueLength];
        for (int i = 0; i < keys.Length; i++) keys[i] = (float)(random.NextDouble() * 4 - 2);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        cache.Write(1, 0, keys, values);
        var queries = new float[length * kvHeads * groupSize * keyLength];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
        return (cache, queries);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Tiled_rows_equal_row_by_row_attention(KvCacheType type, int groupSize, int keyLength, int valueLength, int firstPosition, int rows)
    {
        if (!TiledAttention.Supports(new KvCache(1, 8, 8, 1, type))) return;
        const int kvHeads = 2, layer = 1;
        int heads = kvHeads * groupSize, queryWidth = heads * keyLength, outputWidth = heads * valueLength, length = firstPosition + rows;
        var (cache, queries) = Fill(type, groupSize, keyLength, valueLength, length, groupSize * 7919 + rows);
        float scale = 1 / MathF.Sqrt(keyLength);
        var tiled = new float[rows * outputWidth];
        var scratch = new float[TiledAttention.ScratchFloats(rows * groupSize, length, keyLength, valueLength)];
        fixed (float* q = queries)
        fixed (float* o = tiled)
        fixed (float* s = scratch)
            for (int kvHead = 0; kvHead < kvHeads; kvHead++)
                TiledAttention.Rows(q + kvHead * groupSize * keyLength, queryWidth, rows, groupSize, cache, layer, kvHead, firstPosition,
                    scale, o + kvHead * groupSize * valueLength, outputWidth, s, keyLength, valueLength);

        double worst = 0;
        for (int i = 0; i < rows; i++)
            for (int h = 0; h < heads; h++)
            {
                var expected = new float[valueLength];
                Attention.Head(queries.AsSpan(i * queryWidth + h * keyLength, keyLength), cache, layer, h / groupSize, firstPosition + i + 1, scale,
                    new float[length], new float[2 * keyLength], expected);
                for (int d = 0; d < valueLength; d++)
                {
                    float actual = tiled[i * outputWidth + h * valueLength + d];
                    // Values lie in [-2, 2]: an F16 weight rounded the other way moves an output by at most 2·2^-11 of that weight.
                    double tolerance = type == KvCacheType.F16 ? 2e-3 : 2e-6;
                    worst = Math.Max(worst, Math.Abs(actual - expected[d]));
                    Assert.True(Math.Abs(actual - expected[d]) <= tolerance, $"row {i}, head {h}, element {d}: tiled {actual} vs row by row {expected[d]}");
                }
            }
        Assert.True(worst > 0 || type == KvCacheType.F16, "an F32 cache with scores summed in another order is expected to differ somewhere");
    }

    /// <summary>
    /// Q8_0 caches (llama.cpp's flash-attention arithmetic: a Q8_0 query against Q8_0 keys in integer blocks; values with
    /// the online softmax): with Q8_0 keys the scores are the row-by-row path's very bits (four key rows per call of the
    /// bit-identical multi-row kernel), and with Q8_0 values everything after them is the same sequence of operations, so
    /// the outputs are equal bit for bit; with F16 keys the scores are summed in another order, so equal within rounding;
    /// with F16 values the softmax's exp is another approximation, so a weight may round to the other F16 neighbour.
    /// </summary>
    [Theory]
    [InlineData(KvCacheType.Q8_0, KvCacheType.Q8_0, 7, 64, 0, 33)]
    [InlineData(KvCacheType.Q8_0, KvCacheType.Q8_0, 2, 128, 100, 5)]
    [InlineData(KvCacheType.Q8_0, KvCacheType.Q8_0, 7, 64, 150, 1)] // a decode step
    [InlineData(KvCacheType.Q8_0, KvCacheType.F16, 7, 64, 17, 9)]
    [InlineData(KvCacheType.Q8_0, KvCacheType.F16, 7, 64, 150, 1)]  // a decode step: weights·V straight from the rows
    [InlineData(KvCacheType.F16, KvCacheType.Q8_0, 4, 64, 3, 12)]
    public void Quantized_caches_equal_row_by_row_attention(KvCacheType keyType, KvCacheType valueType, int groupSize, int headLength, int firstPosition, int rows)
    {
        if (!Avx2Dot.IsSupported) return;
        const int kvHeads = 2, layer = 0;
        int heads = kvHeads * groupSize, queryWidth = heads * headLength, outputWidth = heads * headLength, length = firstPosition + rows;
        var cache = new KvCache(1, kvHeads * headLength, kvHeads * headLength, 256, keyType, valueType);
        Assert.True(TiledAttention.Supports(cache));
        var random = new Random(groupSize * 101 + rows);
        var keys = new float[length * kvHeads * headLength];
        var values = new float[length * kvHeads * headLength];
        for (int i = 0; i < keys.Length; i++) keys[i] = (float)(random.NextDouble() * 4 - 2);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        cache.Write(layer, 0, keys, values);
        var queries = new float[rows * queryWidth];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
        float scale = 1 / MathF.Sqrt(headLength);
        var tiled = new float[rows * outputWidth];
        var scratch = new float[TiledAttention.ScratchFloats(rows * groupSize, length, headLength, headLength)];
        fixed (float* q = queries)
        fixed (float* o = tiled)
        fixed (float* s = scratch)
            for (int kvHead = 0; kvHead < kvHeads; kvHead++)
                TiledAttention.Rows(q + kvHead * groupSize * headLength, queryWidth, rows, groupSize, cache, layer, kvHead, firstPosition,
                    scale, o + kvHead * groupSize * headLength, outputWidth, s, headLength, headLength);
        for (int i = 0; i < rows; i++)
            for (int h = 0; h < heads; h++)
            {
                var expected = new float[headLength];
                Attention.Head(queries.AsSpan(i * queryWidth + h * headLength, headLength), cache, layer, h / groupSize, firstPosition + i + 1, scale,
                    new float[length], new float[2 * headLength], expected);
                for (int d = 0; d < headLength; d++)
                {
                    float actual = tiled[i * outputWidth + h * headLength + d];
                    if (keyType == KvCacheType.Q8_0 && valueType == KvCacheType.Q8_0)
                        Assert.True(BitConverter.SingleToInt32Bits(actual) == BitConverter.SingleToInt32Bits(expected[d]), $"row {i}, head {h}, element {d}: tiled {actual} vs row by row {expected[d]}");
                    else
                        Assert.True(Math.Abs(actual - expected[d]) <= (valueType == KvCacheType.F16 ? 2e-3 : 2e-5), $"row {i}, head {h}, element {d}: tiled {actual} vs row by row {expected[d]}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Vector_kernels_equal_their_scalar_reference_bit_for_bit(KvCacheType type, int groupSize, int keyLength, int valueLength, int firstPosition, int rows)
    {
        if (!TiledAttention.Supports(new KvCache(1, 8, 8, 1, type))) return;
        const int kvHeads = 2, layer = 1;
        int heads = kvHeads * groupSize, queryWidth = heads * keyLength, outputWidth = heads * valueLength, length = firstPosition + rows;
        var (cache, queries) = Fill(type, groupSize, keyLength, valueLength, length, groupSize * 31 + rows);
        var vector = new float[rows * outputWidth];
        var scalar = new float[rows * outputWidth];
        var scratch = new float[TiledAttention.ScratchFloats(rows * groupSize, length, keyLength, valueLength)];
        fixed (float* q = queries)
        fixed (float* v = vector)
        fixed (float* r = scalar)
        fixed (float* s = scratch)
            for (int kvHead = 0; kvHead < kvHeads; kvHead++)
            {
                TiledAttention.Rows(q + kvHead * groupSize * keyLength, queryWidth, rows, groupSize, cache, layer, kvHead, firstPosition,
                    0.125f, v + kvHead * groupSize * valueLength, outputWidth, s, keyLength, valueLength);
                TiledAttention.Reference(q + kvHead * groupSize * keyLength, queryWidth, rows, groupSize, cache, layer, kvHead, firstPosition,
                    0.125f, r + kvHead * groupSize * valueLength, outputWidth, s, keyLength, valueLength);
            }
        for (int i = 0; i < vector.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(vector[i]) == BitConverter.SingleToInt32Bits(scalar[i]), $"element {i}: vector {vector[i]} vs scalar {scalar[i]}");
    }

    /// <summary>
    /// F16 caches holding what the decode path's cheap widening (2^-112 times each half, the queries and weights carrying
    /// 2^112) must still get right: subnormal keys and values everywhere in one head, an infinite value in the other (its
    /// tile falls back to the exact widening). Bit for bit the scalar reference, which widens every half exactly.
    /// </summary>
    [Fact]
    public void Decode_blocks_over_subnormal_and_infinite_halves_equal_the_scalar_reference()
    {
        if (!TiledAttention.Supports(new KvCache(1, 8, 8, 1, KvCacheType.F16))) return;
        const int kvHeads = 2, groupSize = 7, headLength = 64, layer = 0, firstPosition = 100, heads = kvHeads * groupSize, width = heads * headLength;
        int length = firstPosition + 1;
        var cache = new KvCache(1, kvHeads * headLength, kvHeads * headLength, 128, KvCacheType.F16);
        var random = new Random(21);
        var keys = new float[length * kvHeads * headLength];
        var values = new float[keys.Length];
        for (int t = 0; t < length; t++)
            for (int e = 0; e < kvHeads * headLength; e++)
            {
                bool tiny = e < headLength && random.Next(3) == 0; // head 0: a third of its halves subnormal (|x| < 2^-14)
                float magnitude = tiny ? 6e-5f : 2f;
                keys[t * kvHeads * headLength + e] = (float)(random.NextDouble() * 2 - 1) * magnitude;
                values[t * kvHeads * headLength + e] = (float)(random.NextDouble() * 2 - 1) * magnitude;
            }
        values[37 * kvHeads * headLength + headLength + 5] = float.PositiveInfinity; // head 1, position 37, element 5
        cache.Write(layer, 0, keys, values);
        var queries = new float[width];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
        var vector = new float[width];
        var scalar = new float[width];
        var scratch = new float[TiledAttention.ScratchFloats(groupSize, length, headLength, headLength)];
        fixed (float* q = queries)
        fixed (float* v = vector)
        fixed (float* r = scalar)
        fixed (float* s = scratch)
            for (int kvHead = 0; kvHead < kvHeads; kvHead++)
            {
                TiledAttention.Rows(q + kvHead * groupSize * headLength, width, 1, groupSize, cache, layer, kvHead, firstPosition,
                    0.125f, v + kvHead * groupSize * headLength, width, s, headLength, headLength);
                TiledAttention.Reference(q + kvHead * groupSize * headLength, width, 1, groupSize, cache, layer, kvHead, firstPosition,
                    0.125f, r + kvHead * groupSize * headLength, width, s, headLength, headLength);
            }
        for (int i = 0; i < width; i++)
            Assert.True(BitConverter.SingleToInt32Bits(vector[i]) == BitConverter.SingleToInt32Bits(scalar[i]) || (float.IsNaN(vector[i]) && float.IsNaN(scalar[i])),
                $"element {i}: vector {vector[i]} vs scalar {scalar[i]}");
        for (int g = 0; g < groupSize; g++)
            Assert.True(float.IsPositiveInfinity(vector[(groupSize + g) * headLength + 5]), $"head {groupSize + g}: the infinite value reaches the output");
        Assert.All(vector.AsSpan(0, groupSize * headLength).ToArray(), x => Assert.True(float.IsFinite(x)));
    }

    /// <summary>
    /// MLA's absorbed form: keys the whole cached row, values its latent part (same row, offset), every head reading it,
    /// with a sparse-attention mask — against attention computed naively in double (F32 rows, so no F16 rounding).
    /// </summary>
    [Fact]
    public void Latent_rows_with_a_mask_equal_naive_attention()
    {
        if (!TiledAttention.IsAccelerated) return;
        const int heads = 5, rope = 8, rank = 40, width = rope + rank, rows = 6, firstPosition = 37, length = firstPosition + rows;
        var random = new Random(3);
        var cached = new float[length * width];
        for (int i = 0; i < cached.Length; i++) cached[i] = (float)(random.NextDouble() * 2 - 1);
        var queries = new float[rows * heads * width];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
        var keep = new byte[rows * length];
        for (int i = 0; i < keep.Length; i++) keep[i] = (byte)(random.Next(3) == 0 ? 0 : 1);
        for (int r = 0; r < rows; r++) keep[r * length + firstPosition + r] = 1; // a row always keeps itself
        var output = new float[rows * heads * rank];
        var scratch = new float[TiledAttention.ScratchFloats(rows * heads, length, width, rank)];
        const float scale = 0.3f;
        fixed (float* c = cached)
        fixed (float* q = queries)
        fixed (float* o = output)
        fixed (float* s = scratch)
        fixed (byte* k = keep)
            TiledAttention.Rows(q, heads * width, rows, heads, new TileSource(null, c, width, null, c + rope, width), firstPosition, scale,
                o, heads * rank, s, width, rank, k, length);

        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                int seen = firstPosition + r + 1;
                var weights = new double[seen];
                double max = double.NegativeInfinity, sum = 0;
                for (int t = 0; t < seen; t++)
                {
                    if (keep[r * length + t] == 0) { weights[t] = double.NegativeInfinity; continue; }
                    double dot = 0;
                    for (int d = 0; d < width; d++) dot += (double)queries[(r * heads + h) * width + d] * cached[t * width + d];
                    weights[t] = dot * scale;
                    max = Math.Max(max, weights[t]);
                }
                for (int t = 0; t < seen; t++) sum += weights[t] = Math.Exp(weights[t] - max);
                for (int e = 0; e < rank; e++)
                {
                    double expected = 0;
                    for (int t = 0; t < seen; t++) expected += weights[t] / sum * cached[t * width + rope + e];
                    float actual = output[(r * heads + h) * rank + e];
                    Assert.True(Math.Abs(actual - expected) < 1e-5, $"row {r}, head {h}, element {e}: {actual} vs {expected}");
                }
            }
    }
}

/// <summary>
/// Decode split over positions (<see cref="SplitDecodeAttention"/>): two sequences of different lengths in one step,
/// against row-by-row <see cref="Attention.Head"/>, within one F16 rounding of a weight (F16) or float rounding (F32).
/// </summary>
public sealed class SplitDecodeAttentionTests
{
    [Theory]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.F32)]
    public void Split_decode_equals_row_by_row_attention(KvCacheType type)
    {
        if (!TiledAttention.IsAccelerated) return;
        const int heads = 4, kvHeads = 2, groupSize = 2, keyLength = 64, valueLength = 64, layer = 0;
        int[] lengths = [3000, 700]; // the second ends in the first chunk: its later chunks contribute nothing
        var random = new Random(11);
        var caches = lengths.Select(length =>
        {
            var cache = new KvCache(1, kvHeads * keyLength, kvHeads * valueLength, 3100, type);
            var keys = new float[length * kvHeads * keyLength];
            var values = new float[length * kvHeads * valueLength];
            for (int i = 0; i < keys.Length; i++) keys[i] = (float)(random.NextDouble() * 4 - 2);
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
            cache.Write(layer, 0, keys, values);
            return cache;
        }).ToArray();
        int queryWidth = heads * keyLength, rows = lengths.Length;
        var queries = new float[rows * queryWidth];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
        var mixed = new float[rows * heads * valueLength];
        float scale = 1 / MathF.Sqrt(keyLength);
        Assert.True(SplitDecodeAttention.Worthwhile(rows, heads, threads: 16, lengths.Max()));
        using var pool = new WorkerPool(3);
        var split = new SplitDecodeAttention
        {
            Queries = queries, Mixed = mixed, RowCache = caches, RowPosition = lengths.Select(l => l - 1).ToArray(), Layer = layer,
            Scores = new float[SplitDecodeAttention.ScoreFloats(rows, heads, lengths.Max())],
            Partials = new float[SplitDecodeAttention.PartialFloats(rows, heads, valueLength, lengths.Max())],
            Heads = heads, GroupSize = groupSize, KeyLength = keyLength, ValueLength = valueLength, QueryWidth = queryWidth,
            Rows = rows, Chunks = SplitDecodeAttention.ChunkCount(lengths.Max()), ScoreStride = TiledAttention.Padded(lengths.Max()), Scale = scale,
        };
        split.Run(pool, long.MaxValue / 4);

        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                var expected = new float[valueLength];
                Attention.Head(queries.AsSpan(r * queryWidth + h * keyLength, keyLength), caches[r], layer, h / groupSize, lengths[r], scale,
                    new float[lengths[r]], new float[2 * keyLength], expected);
                for (int d = 0; d < valueLength; d++)
                {
                    float actual = mixed[(r * heads + h) * valueLength + d];
                    Assert.True(Math.Abs(actual - expected[d]) <= (type == KvCacheType.F16 ? 2e-3 : 2e-6), $"sequence {r}, head {h}, element {d}: split {actual} vs {expected[d]}");
                }
            }
    }
}
