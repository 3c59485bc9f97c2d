using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Inference;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Attention of a block of consecutive query rows of one sequence, all the query heads of one key/value head at once
/// (grouped-query attention), over an F16 or F32 cache — the prefill form of <see cref="Attention.Head"/> with the same
/// arithmetic per score and per output element, computed as two small matrix products instead of one dot product per
/// (query, key) pair:
/// <list type="number">
/// <item>scores: the block's R = rows × G query vectors (rounded to F16 against F16 keys, as ggml's matmul rounds them)
/// against tiles of <see cref="KeyTile"/> keys, widened once per tile into a transposed F32 tile so that each key's score
/// accumulates in its own vector lane — per lane one FMA chain over the head dimension, no horizontal sums — four query
/// vectors per pass over the tile (seven with AVX-512's 32 registers), so each tile load feeds eight FMAs or more;</item>
/// <item>softmax per query vector over its causal length (<see cref="AttentionWeights"/>: the maximum subtracted, the sum
/// in double, as ggml with flash attention off), the weights rounded to F16 against F16 values;</item>
/// <item>weights · V: each value row widened once per tile and added into up to three query vectors' outputs, 32 lanes at
/// a time, in position order, so every output element is the same FMA chain as <see cref="Attention.Head"/>'s.</item>
/// </list>
/// Each K and V row is thus read and widened once per block instead of once per query head and row, and the inner
/// loops are register-blocked FMAs. The scores differ from <see cref="Attention.Head"/>'s only in their summation order
/// over the head dimension, the softmax in its exp (a polynomial within 2 ulp); the weights·V chains are identical.
/// F16 rows widen to 2^-112 times their value where finite, the queries and weights carrying 2^112 (exact: the same
/// products). <see cref="Reference"/> is the scalar form of the same
/// lane order (bit for bit the vector form). Nothing is allocated: the caller passes <see cref="ScratchFloats"/> floats.
/// A block of at most <see cref="DirectVectors"/> query vectors (a decode step) has too few vectors to amortise the
/// tiles: its scores put the vectors in the lanes instead (each key's elements broadcast, no transpose), and its
/// weights·V reads the value rows straight into registers, seven outputs at a time — the same chains, the same bits.
/// </summary>
internal static unsafe class TiledAttention
{
    /// <summary>Keys per score tile: two 8-lane vectors.</summary>
    public const int KeyTile = 16;

    /// <summary>Query vectors a block should hold: enough to amortize widening each K/V row, few enough that the block's
    /// scores (vectors × context) stay in the outer caches.</summary>
    public const int TargetVectors = 128;

    /// <summary>Most floats of scores a block keeps (4 MiB): a block's scores are written tile by tile, read by the softmax
    /// and again by weights·V, so they should stay in the core's outer caches; deep in the context this halves the
    /// block's rows rather than let its scores spill.</summary>
    public const long ScoreFloats = 1 << 20;

    /// <summary>Whether the tiled form handles this cache: F16 or F32 keys and values, 256-bit vectors with FMA.</summary>
    public static bool Supports(KvCache cache) =>
        IsAccelerated && (cache.KeyType != KvCacheType.Q8_0 || Avx2Dot.IsSupported);

    /// <summary>256-bit vectors with FMA, which the tile kernels are written in.</summary>
    public static bool IsAccelerated => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>32 vector registers (AVX-512VL's EVEX encoding gives 256-bit code ymm16–31 too): room for the seven-vector
    /// register blocks of the decode kernels.</summary>
    internal static bool WideRegisterFile => Avx512F.VL.IsSupported;

    /// <summary>Rows per block for a group of <paramref name="groupSize"/> query heads over up to <paramref name="context"/> positions.</summary>
    public static int RowsPerBlock(int groupSize, int context)
    {
        int rows = Math.Max(1, TargetVectors / groupSize);
        while (rows > 1 && (long)rows * groupSize * Padded(context) > ScoreFloats) rows /= 2;
        return rows;
    }

    /// <summary>
    /// Cuts the pass's sequences into blocks of at most <see cref="RowsPerBlock"/> consecutive rows (none spanning two
    /// sequences) into the caller's arrays, grown as needed; returns the block count.
    /// </summary>
    public static int CutBlocks(ReadOnlySpan<Models.SequenceSegment> segments, int groupSize, ref int[] firstRows, ref int[] rowCounts)
    {
        int context = 0;
        foreach (var segment in segments) context = Math.Max(context, segment.FirstPosition + segment.Count);
        int perBlock = RowsPerBlock(groupSize, context), blocks = 0;
        foreach (var segment in segments) blocks += (segment.Count + perBlock - 1) / perBlock;
        Models.MixtureOfExperts.Grow(ref firstRows, blocks);
        Models.MixtureOfExperts.Grow(ref rowCounts, blocks);
        int block = 0;
        foreach (var segment in segments)
            for (int first = 0; first < segment.Count; first += perBlock)
            {
                firstRows[block] = segment.Start + first;
                rowCounts[block++] = Math.Min(perBlock, segment.Count - first);
            }
        return blocks;
    }

    /// <summary>Parts to cut each block's <paramref name="groupSize"/> query heads into so <paramref name="items"/> items
    /// become at least <paramref name="threads"/> (a decode step has one block per sequence).</summary>
    public static int HeadSplit(int items, int groupSize, int threads)
    {
        int split = 1;
        while ((long)items * split < threads && split < groupSize) split++;
        return split;
    }

    /// <summary>Scratch floats <c>Rows</c> needs for <paramref name="vectors"/> query vectors over <paramref name="length"/> positions.</summary>
    public static long ScratchFloats(int vectors, int length, int keyLength, int valueLength) =>
        (long)vectors * keyLength + (long)vectors * Padded(length) + (long)keyLength * KeyTile + (long)KeyTile * valueLength + 2L * vectors;

    internal static int Padded(int length) => (length + KeyTile - 1) / KeyTile * KeyTile;

    /// <summary>
    /// Attention of <paramref name="rows"/> query rows at positions <paramref name="firstPosition"/>,
    /// <paramref name="firstPosition"/>+1, … (row i sees positions 0…firstPosition+i), each with the
    /// <paramref name="groupSize"/> query heads that read key/value head <paramref name="kvHead"/> of <paramref name="cache"/>.
    /// </summary>
    /// <param name="queries">Row i's first query head of the group at <c>queries + i·queryRowStride</c>, its G heads contiguous.</param>
    /// <param name="output">Row i's first output head of the group at <c>output + i·outputRowStride</c>, its G heads contiguous.</param>
    /// <param name="queryRowStride">Floats from one row's queries to the next's.</param>
    /// <param name="rows">Query rows (positions).</param>
    /// <param name="groupSize">Query heads sharing the key/value head (G).</param>
    /// <param name="cache">The KV cache holding the keys and values.</param>
    /// <param name="layer">The layer whose keys and values are read.</param>
    /// <param name="kvHead">The key/value head.</param>
    /// <param name="firstPosition">Position of the first query row.</param>
    /// <param name="scale">Factor applied to the scores before the softmax.</param>
    /// <param name="outputRowStride">Floats from one row's outputs to the next's.</param>
    /// <param name="keyLength">Elements per key (and query) head.</param>
    /// <param name="valueLength">Elements per value head.</param>
    /// <param name="reference">Run the scalar reference instead of the vector kernels (the same bits; for tests).</param>
    /// <param name="scratch">At least <see cref="ScratchFloats"/>(rows·G, firstPosition+rows, keyLength, valueLength) floats.</param>
    public static void Rows(
        float* queries, int queryRowStride, int rows, int groupSize, KvCache cache, int layer, int kvHead, int firstPosition,
        float scale, float* output, int outputRowStride, float* scratch, int keyLength, int valueLength, bool reference = false)
    {
        KvCacheType keyType = cache.KeyType, valueType = cache.ValueType;
        fixed (Half* keysF16 = keyType == KvCacheType.F16 ? cache.KeysF16(layer) : default)
        fixed (float* keysF32 = keyType == KvCacheType.F32 ? cache.KeysF32(layer) : default)
        fixed (byte* keysQ8_0 = keyType == KvCacheType.Q8_0 ? cache.KeysQ8_0(layer) : default)
        fixed (Half* valuesF16 = valueType == KvCacheType.F16 ? cache.ValuesF16(layer) : default)
        fixed (float* valuesF32 = valueType == KvCacheType.F32 ? cache.ValuesF32(layer) : default)
        fixed (byte* valuesQ8_0 = valueType == KvCacheType.Q8_0 ? cache.ValuesQ8_0(layer) : default)
        {
                var source = new TileSource(
                keysF16 == null ? null : (ushort*)keysF16 + kvHead * keyLength, keysF32 == null ? null : keysF32 + kvHead * keyLength, cache.KeyWidth,
                valuesF16 == null ? null : (ushort*)valuesF16 + kvHead * valueLength, valuesF32 == null ? null : valuesF32 + kvHead * valueLength, cache.ValueWidth)
            {
                KeysQ8_0 = keysQ8_0 == null ? null : keysQ8_0 + (long)kvHead * (keyLength / BlockQ8_0.Elements) * sizeof(BlockQ8_0),
                KeyRowBytes = cache.KeyWidth / BlockQ8_0.Elements * sizeof(BlockQ8_0),
                ValuesQ8_0 = valuesQ8_0 == null ? null : valuesQ8_0 + (long)kvHead * (valueLength / BlockQ8_0.Elements) * sizeof(BlockQ8_0),
                ValueRowBytes = cache.ValueWidth / BlockQ8_0.Elements * sizeof(BlockQ8_0),
            };
            Rows(queries, queryRowStride, rows, groupSize, source, firstPosition, scale, output, outputRowStride, scratch, keyLength, valueLength, null, 0, reference);
        }
    }

    /// <summary>
    /// The same over any cached rows (<see cref="TileSource"/>: MLA's absorbed form reads keys and values from one latent
    /// row), optionally with sparse attention's mask: row i keeps position t where <c>keep[i·keepStride + t]</c> ≠ 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(
        float* queries, int queryRowStride, int rows, int groupSize, TileSource source, int firstPosition,
        float scale, float* output, int outputRowStride, float* scratch, int keyLength, int valueLength,
        byte* keep, int keepStride, bool reference = false)
    {
        int vectors = rows * groupSize, length = firstPosition + rows, padded = Padded(length);
        float* q = scratch, scores = q + (long)vectors * keyLength, keyTile = scores + (long)vectors * padded, valueTile = keyTile + keyLength * KeyTile;
        float* maxima = valueTile + KeyTile * valueLength, sums = maxima + vectors; // online softmax state (Q8_0 values)
        bool halfKeys = source.KeysF16 != null, q8Keys = source.KeysQ8_0 != null, halfValues = source.ValuesF16 != null, q8Values = source.ValuesQ8_0 != null;
        // Few query vectors (a decode step): each value row would feed too few FMAs to pay for widening it into the
        // tile and reading it back, so the kernels widen rows straight from the cache into registers.
        bool direct = !reference && !q8Values && vectors <= DirectVectors;
        // F16 keys (and a direct block's F16 values) widen to 2^-112 times their value in three operations per eight, the
        // queries (weights) carrying 2^112: the same products, so the same bits as the reference's exact widening.
        bool scaledKeys = !reference && halfKeys && Avx2.IsSupported && keyLength % 8 == 0;
        bool scaledValues = direct && halfValues && Avx2.IsSupported;

        for (int i = 0; i < rows; i++)
        {
            float* from = queries + (long)i * queryRowStride, target = q + (long)i * groupSize * keyLength;
            if (q8Keys)
                for (int g = 0; g < groupSize; g++) Attention.QuantizeQuery(from + g * keyLength, target + g * keyLength, keyLength); // fits: 9.5 of 32 floats
            else if (halfKeys)
            {
                Attention.RoundToHalf(from, target, groupSize * keyLength);
                if (scaledKeys) Attention.Scale(target, HalfConversion.HalfScaleInverse, groupSize * keyLength);
            }
            else new ReadOnlySpan<float>(from, groupSize * keyLength).CopyTo(new Span<float>(target, groupSize * keyLength));
        }

        // A direct block's scores: each key against all its query vectors at once, the vectors in the lanes (one lane per
        // vector, in d order: the same FMA chain per score as the transposed tile's), so no key tile is transposed.
        bool keyLanes = direct && !q8Keys;
        float* queryLanes = keyTile, keyRows = keyTile + keyLength * DirectVectors; // keyLength × 8 lanes; 8 widened key rows
        float* laneScores = stackalloc float[DirectVectors * KeyTile];
        if (keyLanes)
            for (int d = 0; d < keyLength; d++)
                for (int v = 0; v < DirectVectors; v++) queryLanes[d * DirectVectors + v] = v < vectors ? q[(long)v * keyLength + d] : 0f;
        for (int t0 = 0; t0 < length; t0 += KeyTile)
        {
            int count = Math.Min(KeyTile, length - t0);
            if (keyLanes)
            {
                for (int g0 = 0; g0 < count; g0 += DirectVectors)
                {
                    int keys = Math.Min(DirectVectors, count - g0);
                    float* groupKeys = keyRows;
                    int rowStride = keyLength;
                    if (halfKeys)
                    {
                        ushort* halfRows = source.KeysF16 + (long)(t0 + g0) * source.KeyStride;
                        bool scaledRows = scaledKeys && !HalfConversion.HasInfinityOrNaN(halfRows, source.KeyStride, keys, keyLength);
                        WidenTile(halfRows, source.KeyStride, keys, keyLength, keyRows, scaledRows);
                        if (scaledKeys && !scaledRows) Attention.Scale(keyRows, HalfConversion.HalfScale, keys * keyLength); // exact
                    }
                    else
                    {
                        groupKeys = source.KeysF32 + (long)(t0 + g0) * source.KeyStride;
                        rowStride = source.KeyStride;
                    }
                    ScoreKeyLanes(queryLanes, keyLength, groupKeys, rowStride, keys, scale, laneScores);
                    for (int v = 0; v < vectors; v++) Vector256.Load(laneScores + v * KeyTile).Store(scores + (long)v * padded + t0 + g0);
                }
                continue;
            }
            // Vectors of rows that end before this tile need none of its scores.
            int firstRow = Math.Max(0, t0 - firstPosition);
            int start = firstRow * groupSize;
            if (q8Keys)
            {
                ScoreTileQ8_0(q + (long)start * keyLength, vectors - start, keyLength, source.KeysQ8_0 + (long)t0 * source.KeyRowBytes, source.KeyRowBytes, count,
                    scale, scores + (long)start * padded + t0, padded);
                continue;
            }
            ushort* tileKeys = halfKeys ? source.KeysF16 + (long)t0 * source.KeyStride : null;
            bool scaledTile = scaledKeys && !HalfConversion.HasInfinityOrNaN(tileKeys, source.KeyStride, count, keyLength);
            TransposeTile(tileKeys, halfKeys ? null : source.KeysF32 + (long)t0 * source.KeyStride, source.KeyStride, count, keyLength, keyTile, scaledTile);
            if (scaledKeys && !scaledTile) Attention.Scale(keyTile, HalfConversion.HalfScale, keyLength * KeyTile); // exact: no rounding at 2^-112
            if (reference) ScoreTileReference(q + (long)start * keyLength, vectors - start, keyLength, keyTile, scale, scores + (long)start * padded + t0, padded);
            else ScoreTile(q + (long)start * keyLength, vectors - start, keyLength, keyTile, scale, scores + (long)start * padded + t0, padded);
        }

        for (int v = 0; v < vectors; v++)
        {
            int row = v / groupSize, seen = firstPosition + row + 1;
            float* scoreRow = scores + (long)v * padded;
            if (keep != null)
                for (int t = 0; t < seen; t++)
                    if (keep[(long)row * keepStride + t] == 0) scoreRow[t] = float.NegativeInfinity;
            if (q8Values) continue; // softmax online, with the values
            if (reference) AttentionWeights.Reference(scoreRow, seen, roundToHalf: halfValues);
            else AttentionWeights.Softmax(scoreRow, seen, roundToHalf: halfValues, factor: scaledValues ? HalfConversion.HalfScaleInverse : 1f);
            new Span<float>(scoreRow + seen, padded - seen).Clear();
        }

        for (int i = 0; i < rows; i++) new Span<float>(output + (long)i * outputRowStride, groupSize * valueLength).Clear();
        if (q8Values)
        {
            new Span<float>(maxima, vectors).Fill(float.NegativeInfinity);
            new Span<float>(sums, vectors).Clear();
        }
        float** heads = stackalloc float*[DirectVectors]; // a direct block's output heads, vector by vector
        if (direct)
            for (int v = 0; v < vectors; v++) heads[v] = OutputHead(output, outputRowStride, groupSize, valueLength, v);
        for (int t0 = 0; t0 < length; t0 += KeyTile)
        {
            int count = Math.Min(KeyTile, length - t0);
            if (direct)
            {
                ushort* valueRows = halfValues ? source.ValuesF16 + (long)t0 * source.ValueStride : null;
                // Finite F16 rows widen inside the kernel (three operations per eight, registers to spare); others into the tile.
                bool inline = scaledValues && !HalfConversion.HasInfinityOrNaN(valueRows, source.ValueStride, count, valueLength);
                if (halfValues && !inline)
                {
                    WidenTile(valueRows, source.ValueStride, count, valueLength, valueTile, scaled: false);
                    if (scaledValues) Attention.Scale(valueTile, HalfConversion.HalfScale, count * valueLength); // exact
                }
                for (int v = Math.Max(0, t0 - firstPosition) * groupSize; v < vectors; )
                {
                    int take = BlockVectors(vectors - v);
                    float* w = scores + (long)v * padded + t0;
                    if (inline) AccumulateRows<ScaledHalfRows>(take, w, padded, count, valueRows, source.ValueStride, valueLength, heads + v);
                    else if (halfValues) AccumulateRows<SingleRows>(take, w, padded, count, valueTile, valueLength, valueLength, heads + v);
                    else AccumulateRows<SingleRows>(take, w, padded, count, source.ValuesF32 + (long)t0 * source.ValueStride, source.ValueStride, valueLength, heads + v);
                    v += take;
                }
                continue;
            }
            for (int t = 0; t < count; t++)
            {
                if (q8Values)
                {
                    DequantizeQ8_0((BlockQ8_0*)(source.ValuesQ8_0 + (long)(t0 + t) * source.ValueRowBytes), valueTile + t * valueLength, valueLength);
                    continue;
                }
                long at = (long)(t0 + t) * source.ValueStride;
                if (halfValues) HalfConversion.HalfToSingle((Half*)(source.ValuesF16 + at), valueTile + t * valueLength, valueLength);
                else new ReadOnlySpan<float>(source.ValuesF32 + at, valueLength).CopyTo(new Span<float>(valueTile + t * valueLength, valueLength));
            }
            int firstRow = Math.Max(0, t0 - firstPosition);
            if (q8Values)
            {
                for (int v = firstRow * groupSize; v < vectors; v++)
                    OnlineTile(scores + (long)v * padded + t0, Math.Min(count, firstPosition + v / groupSize + 1 - t0), valueTile, valueLength,
                        OutputHead(output, outputRowStride, groupSize, valueLength, v), ref maxima[v], ref sums[v]);
                continue;
            }
            for (int v = firstRow * groupSize; v < vectors; )
            {
                int take = Math.Min(3, vectors - v);
                float* o0 = OutputHead(output, outputRowStride, groupSize, valueLength, v);
                float* o1 = take > 1 ? OutputHead(output, outputRowStride, groupSize, valueLength, v + 1) : null;
                float* o2 = take > 2 ? OutputHead(output, outputRowStride, groupSize, valueLength, v + 2) : null;
                float* w = scores + (long)v * padded + t0;
                if (reference) AccumulateTileReference(w, padded, take, count, valueTile, valueLength, o0, o1, o2);
                else AccumulateTile(w, padded, take, count, valueTile, valueLength, o0, o1, o2);
                v += take;
            }
        }
        if (q8Values)
            for (int v = 0; v < vectors; v++)
                Attention.Scale(OutputHead(output, outputRowStride, groupSize, valueLength, v), sums[v] == 0f ? 0f : 1f / sums[v], valueLength);
    }

    /// <summary>
    /// Scores of the query vectors (Q8_0, as <see cref="Attention.QuantizeQuery"/> lays one out in each vector's keyLength
    /// floats) against <paramref name="count"/> Q8_0 key rows: the integer block dots of <see cref="Attention.Head"/>, four
    /// key rows per call (bit for bit the one-row kernel), each key row read from L1 for every vector of the block.
    /// </summary>
    private static void ScoreTileQ8_0(float* q, int vectors, int keyLength, byte* keys, int rowBytes, int count, float scale, float* scores, int stride)
    {
        int blocks = keyLength / BlockQ8_0.Elements;
        for (int v = 0; v < vectors; v++)
        {
            float* scales = q + (long)v * keyLength, row = scores + (long)v * stride;
            byte* blocks8 = (byte*)(scales + blocks);
            int t = 0;
            for (; t + 4 <= count; t += 4)
            {
                Block32Dot<Avx2Ops, Vector256<byte>, Vector256<byte>>.Q8_0ScaledFourRows(keys + (long)t * rowBytes, rowBytes, blocks8, scales, keyLength, row + t, 1);
                for (int k = t; k < t + 4; k++) row[k] *= scale;
            }
            for (; t < count; t++) row[t] = Block32Dot<Avx2Ops, Vector256<byte>, Vector256<byte>>.Q8_0Scaled(keys + (long)t * rowBytes, blocks8, scales, keyLength) * scale;
        }
    }

    /// <summary>x = q·d per element of a row of Q8_0 blocks: the value <see cref="Attention.AccumulateQ8_0"/> multiplies by the weight.</summary>
    private static void DequantizeQ8_0(BlockQ8_0* row, float* target, int n)
    {
        for (int b = 0; b < n / BlockQ8_0.Elements; b++, target += BlockQ8_0.Elements)
        {
            Vector256<float> d = Vector256.Create((float)row[b].D);
            sbyte* quants = row[b].Qs;
            for (int j = 0; j < BlockQ8_0.Elements; j += 8)
                (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(quants + j)) * d).Store(target + j);
        }
    }

    /// <summary>
    /// <see cref="Attention.OnlineSoftmaxQ8_0"/>'s steps for positions t0…t0+count−1 of one vector, the value rows already
    /// dequantized: a new maximum rescales the output and the sum, each row enters with its weight, in position order.
    /// </summary>
    private static void OnlineTile(float* scores, int count, float* tile, int valueLength, float* output, ref float maximum, ref float sum)
    {
        for (int t = 0; t < count; t++)
        {
            float score = scores[t], rescale = 1f, weight = 1f;
            if (score > maximum)
            {
                float previous = maximum;
                maximum = score;
                rescale = MathF.Exp(previous - maximum);
                Attention.Scale(output, rescale, valueLength);
            }
            else
            {
                weight = MathF.Exp(score - maximum);
            }
            Attention.Accumulate(weight, tile + t * valueLength, output, valueLength);
            sum = sum * rescale + weight;
        }
    }

    private static float* OutputHead(float* output, int outputRowStride, int groupSize, int valueLength, int vector) =>
        output + (long)(vector / groupSize) * outputRowStride + (long)(vector % groupSize) * valueLength;

    /// <summary>Key rows t0…t0+count−1 of one head, widened to F32, as tile[d·KeyTile + t]; lanes past count are zero. F16
    /// rows come out times 2^-112 if <paramref name="scaled"/> (finite rows, a key length of whole vectors, AVX2).</summary>
    internal static void TransposeTile(ushort* half, float* single, int stride, int count, int keyLength, float* tile, bool scaled = false)
    {
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported && keyLength % 8 == 0)
        {
            // 8 × 8 blocks: eight rows' eight elements in, eight elements' eight rows out, by unpack/shuffle/permute.
            for (int rows = 0; rows < KeyTile; rows += 8)
                for (int d = 0; d < keyLength; d += 8)
                {
                    Vector256<float> Row(int t) => t >= count ? default
                        : half != null ? HalfRow(Vector128.Load(half + (long)t * stride + d), scaled)
                        : Vector256.Load(single + (long)t * stride + d);
                    Transpose8(Row(rows), Row(rows + 1), Row(rows + 2), Row(rows + 3), Row(rows + 4), Row(rows + 5), Row(rows + 6), Row(rows + 7),
                        tile + d * KeyTile + rows);
                }
            return;
        }
        if (count < KeyTile) new Span<float>(tile, keyLength * KeyTile).Clear();
        for (int t = 0; t < count; t++)
            for (int d = 0; d < keyLength; d++)
                tile[d * KeyTile + t] = half != null ? (float)BitConverter.UInt16BitsToHalf(half[(long)t * stride + d]) : single[(long)t * stride + d];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfRow(Vector128<ushort> halves, bool scaled) =>
        scaled ? HalfConversion.FiniteHalfToScaledSingle(halves)
        : Avx2.IsSupported ? HalfConversion.HalfToSingleFast(halves) : HalfConversion.HalfToSingle(halves);

    /// <summary>Stores column k of the 8 × 8 block whose rows are r0…r7 at <c>target + k·KeyTile</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* target)
    {
        Vector256<float> a0 = Avx.UnpackLow(r0, r1), a1 = Avx.UnpackHigh(r0, r1), a2 = Avx.UnpackLow(r2, r3), a3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> a4 = Avx.UnpackLow(r4, r5), a5 = Avx.UnpackHigh(r4, r5), a6 = Avx.UnpackLow(r6, r7), a7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> b0 = Avx.Shuffle(a0, a2, 0x44), b1 = Avx.Shuffle(a0, a2, 0xEE), b2 = Avx.Shuffle(a1, a3, 0x44), b3 = Avx.Shuffle(a1, a3, 0xEE);
        Vector256<float> b4 = Avx.Shuffle(a4, a6, 0x44), b5 = Avx.Shuffle(a4, a6, 0xEE), b6 = Avx.Shuffle(a5, a7, 0x44), b7 = Avx.Shuffle(a5, a7, 0xEE);
        Avx.Permute2x128(b0, b4, 0x20).Store(target);
        Avx.Permute2x128(b1, b5, 0x20).Store(target + KeyTile);
        Avx.Permute2x128(b2, b6, 0x20).Store(target + 2 * KeyTile);
        Avx.Permute2x128(b3, b7, 0x20).Store(target + 3 * KeyTile);
        Avx.Permute2x128(b0, b4, 0x31).Store(target + 4 * KeyTile);
        Avx.Permute2x128(b1, b5, 0x31).Store(target + 5 * KeyTile);
        Avx.Permute2x128(b2, b6, 0x31).Store(target + 6 * KeyTile);
        Avx.Permute2x128(b3, b7, 0x31).Store(target + 7 * KeyTile);
    }

    /// <summary>scores[v·stride + t] = (Σ_d q[v][d]·tile[d][t]) · scale for a whole tile, four query vectors at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ScoreTile(float* q, int vectors, int keyLength, float* tile, float scale, float* scores, int stride)
    {
        Vector256<float> s = Vector256.Create(scale);
        int v = 0;
        // Seven vectors per pass where the register file holds their fourteen accumulators (AVX-512's 32 registers):
        // a decode step of a seven-head group then takes one pass, with no latency-bound one-vector passes after it.
        if (WideRegisterFile)
            for (; v + 7 <= vectors && vectors - v != 8; v += 7)
            {
                float* q0 = q + (long)v * keyLength, q1 = q0 + keyLength, q2 = q1 + keyLength, q3 = q2 + keyLength;
                float* q4 = q3 + keyLength, q5 = q4 + keyLength, q6 = q5 + keyLength;
                Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
                Vector256<float> a4 = default, b4 = default, a5 = default, b5 = default, a6 = default, b6 = default;
                for (int d = 0; d < keyLength; d++)
                {
                    Vector256<float> lo = Vector256.Load(tile + d * KeyTile), hi = Vector256.Load(tile + d * KeyTile + 8);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[d]), lo, a0); b0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[d]), hi, b0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(q1[d]), lo, a1); b1 = Vector256.FusedMultiplyAdd(Vector256.Create(q1[d]), hi, b1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Create(q2[d]), lo, a2); b2 = Vector256.FusedMultiplyAdd(Vector256.Create(q2[d]), hi, b2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Create(q3[d]), lo, a3); b3 = Vector256.FusedMultiplyAdd(Vector256.Create(q3[d]), hi, b3);
                    a4 = Vector256.FusedMultiplyAdd(Vector256.Create(q4[d]), lo, a4); b4 = Vector256.FusedMultiplyAdd(Vector256.Create(q4[d]), hi, b4);
                    a5 = Vector256.FusedMultiplyAdd(Vector256.Create(q5[d]), lo, a5); b5 = Vector256.FusedMultiplyAdd(Vector256.Create(q5[d]), hi, b5);
                    a6 = Vector256.FusedMultiplyAdd(Vector256.Create(q6[d]), lo, a6); b6 = Vector256.FusedMultiplyAdd(Vector256.Create(q6[d]), hi, b6);
                }
                float* r = scores + (long)v * stride;
                (a0 * s).Store(r); (b0 * s).Store(r + 8); r += stride;
                (a1 * s).Store(r); (b1 * s).Store(r + 8); r += stride;
                (a2 * s).Store(r); (b2 * s).Store(r + 8); r += stride;
                (a3 * s).Store(r); (b3 * s).Store(r + 8); r += stride;
                (a4 * s).Store(r); (b4 * s).Store(r + 8); r += stride;
                (a5 * s).Store(r); (b5 * s).Store(r + 8); r += stride;
                (a6 * s).Store(r); (b6 * s).Store(r + 8);
            }
        for (; v + 4 <= vectors; v += 4)
        {
            float* q0 = q + (long)v * keyLength, q1 = q0 + keyLength, q2 = q1 + keyLength, q3 = q2 + keyLength;
            Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
            for (int d = 0; d < keyLength; d++)
            {
                Vector256<float> lo = Vector256.Load(tile + d * KeyTile), hi = Vector256.Load(tile + d * KeyTile + 8);
                Vector256<float> x0 = Vector256.Create(q0[d]), x1 = Vector256.Create(q1[d]), x2 = Vector256.Create(q2[d]), x3 = Vector256.Create(q3[d]);
                a0 = Vector256.FusedMultiplyAdd(x0, lo, a0); b0 = Vector256.FusedMultiplyAdd(x0, hi, b0);
                a1 = Vector256.FusedMultiplyAdd(x1, lo, a1); b1 = Vector256.FusedMultiplyAdd(x1, hi, b1);
                a2 = Vector256.FusedMultiplyAdd(x2, lo, a2); b2 = Vector256.FusedMultiplyAdd(x2, hi, b2);
                a3 = Vector256.FusedMultiplyAdd(x3, lo, a3); b3 = Vector256.FusedMultiplyAdd(x3, hi, b3);
            }
            float* r = scores + (long)v * stride;
            (a0 * s).Store(r); (b0 * s).Store(r + 8); r += stride;
            (a1 * s).Store(r); (b1 * s).Store(r + 8); r += stride;
            (a2 * s).Store(r); (b2 * s).Store(r + 8); r += stride;
            (a3 * s).Store(r); (b3 * s).Store(r + 8);
        }
        for (; v < vectors; v++)
        {
            float* q0 = q + (long)v * keyLength;
            Vector256<float> a0 = default, b0 = default;
            for (int d = 0; d < keyLength; d++)
            {
                Vector256<float> x0 = Vector256.Create(q0[d]);
                a0 = Vector256.FusedMultiplyAdd(x0, Vector256.Load(tile + d * KeyTile), a0);
                b0 = Vector256.FusedMultiplyAdd(x0, Vector256.Load(tile + d * KeyTile + 8), b0);
            }
            float* r = scores + (long)v * stride;
            (a0 * s).Store(r); (b0 * s).Store(r + 8);
        }
    }

    /// <summary>
    /// Scores of <paramref name="count"/> (≤ 8) key rows against the query vectors in the lanes of
    /// <paramref name="queryLanes"/> (d-major, 8 lanes), times <paramref name="scale"/>: per key one 8-lane FMA chain over d,
    /// the key's element broadcast, eight keys in flight; transposed out as target[v·KeyTile + t] (lanes past count are
    /// garbage, vectors past the block's too).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreKeyLanes(float* queryLanes, int keyLength, float* keys, int keyStride, int count, float scale, float* target)
    {
        float* k0 = keys, k1 = count > 1 ? k0 + keyStride : k0, k2 = count > 2 ? k1 + keyStride : k0, k3 = count > 3 ? k2 + keyStride : k0;
        float* k4 = count > 4 ? k3 + keyStride : k0, k5 = count > 5 ? k4 + keyStride : k0, k6 = count > 6 ? k5 + keyStride : k0, k7 = count > 7 ? k6 + keyStride : k0;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int d = 0; d < keyLength; d++)
        {
            Vector256<float> x = Vector256.Load(queryLanes + d * DirectVectors);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(k0[d]), x, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(k1[d]), x, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(k2[d]), x, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(k3[d]), x, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Create(k4[d]), x, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Create(k5[d]), x, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Create(k6[d]), x, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Create(k7[d]), x, a7);
        }
        Vector256<float> s = Vector256.Create(scale);
        Transpose8(a0 * s, a1 * s, a2 * s, a3 * s, a4 * s, a5 * s, a6 * s, a7 * s, target);
    }

    /// <summary>The scalar form of <see cref="ScoreTile"/>: per (vector, key) one FMA chain over d, in d order.</summary>
    private static void ScoreTileReference(float* q, int vectors, int keyLength, float* tile, float scale, float* scores, int stride)
    {
        for (int v = 0; v < vectors; v++)
            for (int t = 0; t < KeyTile; t++)
            {
                float sum = 0f;
                for (int d = 0; d < keyLength; d++) sum = MathF.FusedMultiplyAdd(q[(long)v * keyLength + d], tile[d * KeyTile + t], sum);
                scores[(long)v * stride + t] = sum * scale;
            }
    }

    /// <summary>o_j += Σ_t w[j·stride + t] · tile[t] for <paramref name="take"/> (1–3) outputs, in t order, 32 lanes at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AccumulateTile(float* w, int stride, int take, int count, float* tile, int valueLength, float* o0, float* o1, float* o2)
    {
        float* w0 = w, w1 = w + stride, w2 = w1 + stride;
        int c = 0;
        if (take == 3)
        {
            for (; c + 32 <= valueLength; c += 32)
            {
                Vector256<float> p0 = Vector256.Load(o0 + c), p1 = Vector256.Load(o0 + c + 8), p2 = Vector256.Load(o0 + c + 16), p3 = Vector256.Load(o0 + c + 24);
                Vector256<float> q0 = Vector256.Load(o1 + c), q1 = Vector256.Load(o1 + c + 8), q2 = Vector256.Load(o1 + c + 16), q3 = Vector256.Load(o1 + c + 24);
                Vector256<float> r0 = Vector256.Load(o2 + c), r1 = Vector256.Load(o2 + c + 8), r2 = Vector256.Load(o2 + c + 16), r3 = Vector256.Load(o2 + c + 24);
                for (int t = 0; t < count; t++)
                {
                    float* row = tile + t * valueLength + c;
                    Vector256<float> v0 = Vector256.Load(row), v1 = Vector256.Load(row + 8), v2 = Vector256.Load(row + 16), v3 = Vector256.Load(row + 24);
                    Vector256<float> x = Vector256.Create(w0[t]), y = Vector256.Create(w1[t]), z = Vector256.Create(w2[t]);
                    p0 = Vector256.FusedMultiplyAdd(x, v0, p0); p1 = Vector256.FusedMultiplyAdd(x, v1, p1); p2 = Vector256.FusedMultiplyAdd(x, v2, p2); p3 = Vector256.FusedMultiplyAdd(x, v3, p3);
                    q0 = Vector256.FusedMultiplyAdd(y, v0, q0); q1 = Vector256.FusedMultiplyAdd(y, v1, q1); q2 = Vector256.FusedMultiplyAdd(y, v2, q2); q3 = Vector256.FusedMultiplyAdd(y, v3, q3);
                    r0 = Vector256.FusedMultiplyAdd(z, v0, r0); r1 = Vector256.FusedMultiplyAdd(z, v1, r1); r2 = Vector256.FusedMultiplyAdd(z, v2, r2); r3 = Vector256.FusedMultiplyAdd(z, v3, r3);
                }
                p0.Store(o0 + c); p1.Store(o0 + c + 8); p2.Store(o0 + c + 16); p3.Store(o0 + c + 24);
                q0.Store(o1 + c); q1.Store(o1 + c + 8); q2.Store(o1 + c + 16); q3.Store(o1 + c + 24);
                r0.Store(o2 + c); r1.Store(o2 + c + 8); r2.Store(o2 + c + 16); r3.Store(o2 + c + 24);
            }
        }
        // The rest (or fewer than three outputs): one output and eight lanes at a time, the same chains.
        for (int j = 0; j < take; j++)
        {
            float* o = j == 0 ? o0 : j == 1 ? o1 : o2, wj = w + (long)j * stride;
            int e = c;
            for (; e + 8 <= valueLength; e += 8)
            {
                Vector256<float> acc = Vector256.Load(o + e);
                for (int t = 0; t < count; t++) acc = Vector256.FusedMultiplyAdd(Vector256.Create(wj[t]), Vector256.Load(tile + t * valueLength + e), acc);
                acc.Store(o + e);
            }
            for (; e < valueLength; e++)
            {
                float acc = o[e];
                for (int t = 0; t < count; t++) acc = MathF.FusedMultiplyAdd(wj[t], tile[t * valueLength + e], acc);
                o[e] = acc;
            }
        }
    }

    /// <summary>F16 rows rows[t·stride …] for t &lt; count, widened into tile[t·length …]; times 2^-112 if <paramref name="scaled"/>
    /// (finite rows only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WidenTile(ushort* rows, int stride, int count, int length, float* tile, bool scaled)
    {
        for (int t = 0; t < count; t++)
        {
            ushort* row = rows + (long)t * stride;
            float* target = tile + t * length;
            int e = 0;
            if (scaled)
                for (; e + 8 <= length; e += 8) HalfConversion.FiniteHalfToScaledSingle(Vector128.Load(row + e)).Store(target + e);
            for (; e + 8 <= length; e += 8) HalfRows.Load8(row, e).Store(target + e);
            for (; e < length; e++) target[e] = scaled ? HalfRows.Load1(row, e) * HalfConversion.HalfScale : HalfRows.Load1(row, e);
        }
    }

    /// <summary>Blocks with at most this many query vectors take the direct weights·V kernels.</summary>
    internal const int DirectVectors = 8;

    /// <summary>Query vectors the next direct block takes out of <paramref name="left"/> (at most <see cref="DirectVectors"/>):
    /// seven where the registers hold them, eight as two fours, else up to four.</summary>
    internal static int BlockVectors(int left) => left >= 7 && left != 8 && WideRegisterFile ? 7 : Math.Min(4, left);

    /// <summary><see cref="AccumulateRows{TRows, TCount}"/> for <paramref name="take"/> (1–4, or 7) outputs.</summary>
    internal static void AccumulateRows<TRows>(int take, float* w, int stride, int count, void* rows, int rowStride, int valueLength, float** outputs)
        where TRows : struct, IValueRows
    {
        switch (take)
        {
            case 1: AccumulateRows<TRows, One>(w, stride, count, rows, rowStride, valueLength, outputs); break;
            case 2: AccumulateRows<TRows, Two>(w, stride, count, rows, rowStride, valueLength, outputs); break;
            case 3: AccumulateRows<TRows, Three>(w, stride, count, rows, rowStride, valueLength, outputs); break;
            case 4: AccumulateRows<TRows, Four>(w, stride, count, rows, rowStride, valueLength, outputs); break;
            case 7: AccumulateRows<TRows, Seven>(w, stride, count, rows, rowStride, valueLength, outputs); break;
            default: throw new ArgumentOutOfRangeException(nameof(take), take, "The direct kernels take 1–4 or 7 outputs.");
        }
    }

    /// <summary>
    /// outputs[j] += Σ_t w[j·stride + t] · V[t] for TCount outputs, V[t] at <c>rows + t·rowStride</c> (elements) read and
    /// widened straight from the cache, in t order, 16 lanes at a time: per element the same FMA chain as
    /// <see cref="AccumulateTile"/>'s over a widened tile. Each widened pair of value vectors feeds 2·TCount FMAs from registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateRows<TRows, TCount>(float* w, int stride, int count, void* rows, int rowStride, int valueLength, float** outputs)
        where TRows : struct, IValueRows where TCount : struct, IVectorCount
    {
        int n = TCount.Count;
        float* w0 = w, w1 = w0 + stride, w2 = w1 + stride, w3 = w2 + stride, w4 = w3 + stride, w5 = w4 + stride, w6 = w5 + stride;
        float* o0 = outputs[0], o1 = n > 1 ? outputs[1] : null, o2 = n > 2 ? outputs[2] : null, o3 = n > 3 ? outputs[3] : null;
        float* o4 = n > 4 ? outputs[4] : null, o5 = n > 5 ? outputs[5] : null, o6 = n > 6 ? outputs[6] : null;
        int c = 0;
        for (; c + 16 <= valueLength; c += 16)
        {
            Vector256<float> a0 = Vector256.Load(o0 + c), b0 = Vector256.Load(o0 + c + 8);
            Vector256<float> a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
            Vector256<float> a4 = default, b4 = default, a5 = default, b5 = default, a6 = default, b6 = default;
            if (n > 1) { a1 = Vector256.Load(o1 + c); b1 = Vector256.Load(o1 + c + 8); }
            if (n > 2) { a2 = Vector256.Load(o2 + c); b2 = Vector256.Load(o2 + c + 8); }
            if (n > 3) { a3 = Vector256.Load(o3 + c); b3 = Vector256.Load(o3 + c + 8); }
            if (n > 4) { a4 = Vector256.Load(o4 + c); b4 = Vector256.Load(o4 + c + 8); }
            if (n > 5) { a5 = Vector256.Load(o5 + c); b5 = Vector256.Load(o5 + c + 8); }
            if (n > 6) { a6 = Vector256.Load(o6 + c); b6 = Vector256.Load(o6 + c + 8); }
            for (int t = 0; t < count; t++)
            {
                long at = (long)t * rowStride + c;
                Vector256<float> lo = TRows.Load8(rows, at), hi = TRows.Load8(rows, at + 8);
                Vector256<float> x = Vector256.Create(w0[t]);
                a0 = Vector256.FusedMultiplyAdd(x, lo, a0); b0 = Vector256.FusedMultiplyAdd(x, hi, b0);
                if (n > 1) { x = Vector256.Create(w1[t]); a1 = Vector256.FusedMultiplyAdd(x, lo, a1); b1 = Vector256.FusedMultiplyAdd(x, hi, b1); }
                if (n > 2) { x = Vector256.Create(w2[t]); a2 = Vector256.FusedMultiplyAdd(x, lo, a2); b2 = Vector256.FusedMultiplyAdd(x, hi, b2); }
                if (n > 3) { x = Vector256.Create(w3[t]); a3 = Vector256.FusedMultiplyAdd(x, lo, a3); b3 = Vector256.FusedMultiplyAdd(x, hi, b3); }
                if (n > 4) { x = Vector256.Create(w4[t]); a4 = Vector256.FusedMultiplyAdd(x, lo, a4); b4 = Vector256.FusedMultiplyAdd(x, hi, b4); }
                if (n > 5) { x = Vector256.Create(w5[t]); a5 = Vector256.FusedMultiplyAdd(x, lo, a5); b5 = Vector256.FusedMultiplyAdd(x, hi, b5); }
                if (n > 6) { x = Vector256.Create(w6[t]); a6 = Vector256.FusedMultiplyAdd(x, lo, a6); b6 = Vector256.FusedMultiplyAdd(x, hi, b6); }
            }
            a0.Store(o0 + c); b0.Store(o0 + c + 8);
            if (n > 1) { a1.Store(o1 + c); b1.Store(o1 + c + 8); }
            if (n > 2) { a2.Store(o2 + c); b2.Store(o2 + c + 8); }
            if (n > 3) { a3.Store(o3 + c); b3.Store(o3 + c + 8); }
            if (n > 4) { a4.Store(o4 + c); b4.Store(o4 + c + 8); }
            if (n > 5) { a5.Store(o5 + c); b5.Store(o5 + c + 8); }
            if (n > 6) { a6.Store(o6 + c); b6.Store(o6 + c + 8); }
        }
        // The rest: eight lanes, then one, per output; the same chains.
        for (int j = 0; j < n; j++)
        {
            float* o = outputs[j], wj = w + (long)j * stride;
            int e = c;
            for (; e + 8 <= valueLength; e += 8)
            {
                Vector256<float> acc = Vector256.Load(o + e);
                for (int t = 0; t < count; t++) acc = Vector256.FusedMultiplyAdd(Vector256.Create(wj[t]), TRows.Load8(rows, (long)t * rowStride + e), acc);
                acc.Store(o + e);
            }
            for (; e < valueLength; e++)
            {
                float acc = o[e];
                for (int t = 0; t < count; t++) acc = MathF.FusedMultiplyAdd(wj[t], TRows.Load1(rows, (long)t * rowStride + e), acc);
                o[e] = acc;
            }
        }
    }

    /// <summary>How many outputs a register-blocked kernel instance handles, a constant the JIT folds per instance.</summary>
    private interface IVectorCount { static abstract int Count { get; } }
    private readonly struct One : IVectorCount { public static int Count => 1; }
    private readonly struct Two : IVectorCount { public static int Count => 2; }
    private readonly struct Three : IVectorCount { public static int Count => 3; }
    private readonly struct Four : IVectorCount { public static int Count => 4; }
    private readonly struct Seven : IVectorCount { public static int Count => 7; }

    /// <summary>The scalar form of <see cref="AccumulateTile"/>.</summary>
    private static void AccumulateTileReference(float* w, int stride, int take, int count, float* tile, int valueLength, float* o0, float* o1, float* o2)
    {
        for (int j = 0; j < take; j++)
        {
            float* o = j == 0 ? o0 : j == 1 ? o1 : o2;
            for (int e = 0; e < valueLength; e++)
                for (int t = 0; t < count; t++) o[e] = MathF.FusedMultiplyAdd(w[(long)j * stride + t], tile[t * valueLength + e], o[e]);
        }
    }

    /// <summary>
    /// The scalar reference of <c>Rows</c>: the same tiles, lane orders and softmax, with plain FMAs in place of
    /// the vector kernels; bit for bit the vector form.
    /// </summary>
    internal static void Reference(
        float* queries, int queryRowStride, int rows, int groupSize, KvCache cache, int layer, int kvHead, int firstPosition,
        float scale, float* output, int outputRowStride, float* scratch, int keyLength, int valueLength) =>
        Rows(queries, queryRowStride, rows, groupSize, cache, layer, kvHead, firstPosition, scale, output, outputRowStride, scratch, keyLength, valueLength, reference: true);
}

/// <summary>Value rows as the direct weights·V kernels read them: eight elements widened to F32, or one.</summary>
internal unsafe interface IValueRows
{
    static abstract Vector256<float> Load8(void* rows, long element);
    static abstract float Load1(void* rows, long element);
}

/// <summary>F16 value rows, widened exactly.</summary>
internal readonly unsafe struct HalfRows : IValueRows
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* rows, long element) => Avx2.IsSupported
        ? HalfConversion.HalfToSingleFast(Vector128.Load((ushort*)rows + element))
        : HalfConversion.HalfToSingle(Vector128.Load((ushort*)rows + element));

    public static float Load1(void* rows, long element) => (float)((Half*)rows)[element];
}

/// <summary>Finite F16 value rows, widened to 2^-112 times their value (<see cref="HalfConversion.FiniteHalfToScaledSingle"/>).</summary>
internal readonly unsafe struct ScaledHalfRows : IValueRows
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* rows, long element) => HalfConversion.FiniteHalfToScaledSingle(Vector128.Load((ushort*)rows + element));

    public static float Load1(void* rows, long element) => (float)((Half*)rows)[element] * HalfConversion.HalfScale;
}

/// <summary>F32 value rows.</summary>
internal readonly unsafe struct SingleRows : IValueRows
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* rows, long element) => Vector256.Load((float*)rows + element);

    public static float Load1(void* rows, long element) => ((float*)rows)[element];
}

/// <summary>
/// Where <see cref="TiledAttention"/> reads: position t's key at <c>KeysF16/KeysF32 + t·KeyStride</c> and its value at
/// <c>ValuesF16/ValuesF32 + t·ValueStride</c>, each in F16 (its F16 pointer set), F32 or Q8_0. The caller keeps them pinned.
/// </summary>
internal readonly unsafe struct TileSource(ushort* keysF16, float* keysF32, int keyStride, ushort* valuesF16, float* valuesF32, int valueStride)
{
    /// <summary>Q8_0 keys instead (rows <see cref="KeyRowBytes"/> apart); likewise values.</summary>
    public byte* KeysQ8_0 { get; init; }
    public int KeyRowBytes { get; init; }
    public byte* ValuesQ8_0 { get; init; }
    public int ValueRowBytes { get; init; }

    public readonly ushort* KeysF16 = keysF16;
    public readonly float* KeysF32 = keysF32;
    public readonly int KeyStride = keyStride;
    public readonly ushort* ValuesF16 = valuesF16;
    public readonly float* ValuesF32 = valuesF32;
    public readonly int ValueStride = valueStride;
}
