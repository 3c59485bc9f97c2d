using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Inference;
using Suiron.Tensors;
using Avx2FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Avx2FloatOps, Suiron.Kernels.Vector256x2, System.Runtime.Intrinsics.Vector256<ushort>>;

namespace Suiron.Kernels;

/// <summary>
/// Causal scaled dot-product attention of one query head over the cached keys and values (Vaswani et al. 2017):
/// out = softmax(q·Kᵀ · scale) · V over positions 0..length-1.
/// Scores follow the key cache's type the way ggml's matmul does: with F16 keys the query is rounded to F16 and
/// dotted F16·F16; with Q8_0 keys the query is quantized to Q8_0 (ggml's CPU <c>quantize_row_q8_0</c>) and dotted
/// Q8_0·Q8_0 (integer block sums, one float scale product per block); with F32 keys, F32·F32.
/// Values: with an F16 or F32 value cache, llama.cpp's path with flash attention off: softmax subtracts the maximum
/// and sums in double, and with F16 values the weights are rounded to F16 before weights·V (an F16·F16 matmul).
/// With a Q8_0 value cache, which llama.cpp runs only with flash attention, its CPU flash-attention kernel
/// (<c>ggml_compute_forward_flash_attn_ext_f16</c>): one pass with an online softmax (running maximum M and sum S
/// in float, expf), each value row dequantized and accumulated in F32, the sum divided out at the end.
/// Q·K and weights·V run eight lanes wide (F16 widened eight at a time), four lanes wide where only 128-bit vectors
/// are accelerated (ARM64: <see cref="Vector128AttentionLoops"/>); nothing is allocated.
/// </summary>
internal static unsafe class Attention
{
    /// <param name="query">One query head (keyLength elements), already rotated.</param>
    /// <param name="kvHead">Index of the key/value head this query head reads (grouped-query attention).</param>
    /// <param name="length">Positions to attend to: the query's own position + 1.</param>
    /// <param name="scores">Scratch of at least <paramref name="length"/> elements.</param>
    /// <param name="queryScratch">Scratch of at least keyLength floats: the query rounded to F16 (F16 keys), or its
    /// Q8_0 blocks and their float scales (Q8_0 keys: 38 bytes per 32 elements, fewer than the 128 available).</param>
    /// <param name="output">One output head (valueLength elements).</param>
    /// <param name="cache">The KV cache holding the keys and values.</param>
    /// <param name="layer">The layer whose keys and values are read.</param>
    /// <param name="scale">Factor applied to the scores before the softmax (1/√head length, or the model's).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Head(
        ReadOnlySpan<float> query, KvCache cache, int layer, int kvHead, int length, float scale,
        Span<float> scores, Span<float> queryScratch, Span<float> output)
    {
        int keyLength = query.Length, valueLength = output.Length;
        scores = scores[..length];

        fixed (float* s = scores)
        fixed (float* o = output)
        fixed (float* q = query)
        fixed (float* qs = queryScratch)
        {
            Scores(q, qs, cache, layer, kvHead, length, scale, s, keyLength);
            if (cache.ValueType == KvCacheType.Q8_0)
            {
                fixed (byte* values = cache.ValuesQ8_0(layer))
                {
                    long valueRowBytes = (long)cache.ValueWidth / BlockQ8_0.Elements * sizeof(BlockQ8_0);
                    var head = (BlockQ8_0*)values + kvHead * (valueLength / BlockQ8_0.Elements);
                    OnlineSoftmaxQ8_0(s, length, (byte*)head, valueRowBytes, o, valueLength);
                }
                return;
            }

            VectorOps.Softmax(scores);

            int valueStride = cache.ValueWidth, valueOffset = kvHead * valueLength;
            output.Clear();
            if (cache.ValueType == KvCacheType.F16)
            {
                RoundToHalf(s, s, length);
                fixed (Half* values = cache.ValuesF16(layer))
                {
                    if (Avx2Dot.IsSupported)
                        for (int t = 0; t < length; t++)
                            AccumulateHalfRebiased(s[t], (ushort*)values + (long)t * valueStride + valueOffset, o, valueLength);
                    else
                        for (int t = 0; t < length; t++)
                            AccumulateHalf(s[t], (ushort*)values + (long)t * valueStride + valueOffset, o, valueLength);
                }
            }
            else
            {
                fixed (float* values = cache.ValuesF32(layer))
                {
                    for (int t = 0; t < length; t++)
                        Accumulate(s[t], values + (long)t * valueStride + valueOffset, o, valueLength);
                }
            }
        }
    }

    /// <summary>
    /// The query heads <c>kvHead·G … kvHead·G + G − 1</c> that share one key/value head (grouped-query attention), each
    /// with exactly the arithmetic of <see cref="Head"/>, but every cached key and value row is widened from F16 once for
    /// the whole group instead of once per query head: ggml's matmul reads each K/V row once for all the heads of its group
    /// too. Only for F16 keys and values on AVX2 (<see cref="SupportsGroup"/>); other caches go head by head.
    /// </summary>
    /// <param name="queries">The group's query heads, contiguous (G × keyLength).</param>
    /// <param name="scores">Scratch of at least G × <paramref name="length"/> elements.</param>
    /// <param name="rowScratch">Scratch of at least G × keyLength + max(keyLength, valueLength) floats.</param>
    /// <param name="output">The group's output heads, contiguous (G × valueLength).</param>
    /// <param name="scale">Factor applied to the scores before the softmax (1/√head length, or the model's).</param>
    /// <param name="groupSize">Query heads sharing the key/value head.</param>
    /// <param name="cache">The KV cache holding the keys and values.</param>
    /// <param name="layer">The layer whose keys and values are read.</param>
    /// <param name="kvHead">The key/value head.</param>
    /// <param name="length">Cached positions attended to.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Group(
        ReadOnlySpan<float> queries, int groupSize, KvCache cache, int layer, int kvHead, int length, float scale,
        Span<float> scores, Span<float> rowScratch, Span<float> output)
    {
        int keyLength = queries.Length / groupSize, valueLength = output.Length / groupSize;
        int keyStride = cache.KeyWidth, keyOffset = kvHead * keyLength, valueStride = cache.ValueWidth, valueOffset = kvHead * valueLength;
        fixed (float* q = queries)
        fixed (float* s = scores)
        fixed (float* scratch = rowScratch)
        fixed (float* o = output)
        fixed (Half* keys = cache.KeysF16(layer))
        fixed (Half* values = cache.ValuesF16(layer))
        {
            float* roundedQueries = scratch, row = scratch + groupSize * keyLength;
            for (int g = 0; g < groupSize; g++) RoundToHalf(q + g * keyLength, roundedQueries + g * keyLength, keyLength);
            for (int t = 0; t < length; t++)
            {
                HalfConversion.HalfToSingle(keys + (long)t * keyStride + keyOffset, row, keyLength); // exact
                for (int g = 0; g < groupSize; g++)
                    s[g * length + t] = Dot(roundedQueries + g * keyLength, row, keyLength) * scale;
            }
            for (int g = 0; g < groupSize; g++)
            {
                VectorOps.Softmax(new Span<float>(s + g * length, length));
                RoundToHalf(s + g * length, s + g * length, length);
            }
            new Span<float>(o, groupSize * valueLength).Clear();
            for (int t = 0; t < length; t++)
            {
                HalfConversion.HalfToSingle(values + (long)t * valueStride + valueOffset, row, valueLength);
                for (int g = 0; g < groupSize; g++) Accumulate(s[g * length + t], row, o + g * valueLength, valueLength);
            }
        }
    }

    /// <summary>Whether <see cref="Group"/> handles this cache (F16 keys and values, AVX2).</summary>
    internal static bool SupportsGroup(KvCache cache) =>
        Avx2Dot.IsSupported && cache.KeyType == KvCacheType.F16 && cache.ValueType == KvCacheType.F16;

    /// <summary>s[t] = (q·k_t) · scale for t in 0..length-1, with q encoded as the key cache's matmul encodes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores(float* q, float* queryScratch, KvCache cache, int layer, int kvHead, int length, float scale, float* s, int keyLength)
    {
        int keyStride = cache.KeyWidth, keyOffset = kvHead * keyLength;
        switch (cache.KeyType)
        {
            case KvCacheType.F16:
                RoundToHalf(q, queryScratch, keyLength);
                fixed (Half* keys = cache.KeysF16(layer))
                {
                    if (Avx2Dot.IsSupported)
                    {
                        // The query times 2^112 (exact) lets each key half widen in three integer operations with the
                        // same products, hence the same bits, as DotHalf (FloatDot.F16xRebiasedF32 explains why).
                        Scale(queryScratch, Avx2Dot.HalfRebias, keyLength);
                        for (int t = 0; t < length; t++)
                            s[t] = Avx2FloatDot.F16xRebiasedF32((byte*)((ushort*)keys + (long)t * keyStride + keyOffset), (byte*)queryScratch, keyLength) * scale;
                    }
                    else
                    {
                        for (int t = 0; t < length; t++)
                            s[t] = DotHalf(queryScratch, (ushort*)keys + (long)t * keyStride + keyOffset, keyLength) * scale;
                    }
                }
                break;
            case KvCacheType.F32:
                fixed (float* keys = cache.KeysF32(layer))
                {
                    for (int t = 0; t < length; t++)
                        s[t] = Dot(q, keys + (long)t * keyStride + keyOffset, keyLength) * scale;
                }
                break;
            default:
                QueryQ8_0 query = QuantizeQuery(q, queryScratch, keyLength);
                long rowBytes = (long)keyStride / BlockQ8_0.Elements * sizeof(BlockQ8_0);
                int headBytes = kvHead * query.Blocks * sizeof(BlockQ8_0);
                fixed (byte* keys = cache.KeysQ8_0(layer))
                {
                    byte* key = keys + headBytes;
                    if (Avx2Dot.IsSupported)
                        for (int t = 0; t < length; t++, key += rowBytes) s[t] = Block32Dot<Avx2Ops, Vector256<byte>, Vector256<byte>>.Q8_0Scaled(key, query.Blocks8, query.Scales, keyLength) * scale;
                    else
                        for (int t = 0; t < length; t++, key += rowBytes) s[t] = ScalarDot.Q8_0(key, query.Blocks8, keyLength) * scale;
                }
                break;
        }
    }

    /// <summary>A query head quantized to Q8_0 inside the query scratch: the block scales as floats, then the blocks.</summary>
    internal readonly struct QueryQ8_0(float* scales, byte* blocks8, int blocks)
    {
        public readonly float* Scales = scales;
        public readonly byte* Blocks8 = blocks8;
        public readonly int Blocks = blocks;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static QueryQ8_0 QuantizeQuery(float* q, float* queryScratch, int keyLength)
    {
        int blocks = keyLength / BlockQ8_0.Elements;
        float* scales = queryScratch;
        var quantized = (BlockQ8_0*)(queryScratch + blocks);
        ActivationQuantizer.Q8_0(q, quantized, blocks);
        Avx2Dot.ActivationScales(quantized, scales, blocks);
        return new QueryQ8_0(scales, (byte*)quantized, blocks);
    }

    /// <summary>
    /// ggml's CPU flash attention for one query row over Q8_0 value rows (<paramref name="values"/> = the head's blocks at
    /// position 0, rows <paramref name="rowBytes"/> apart), given the scaled scores: for each position, if its score
    /// exceeds the running maximum M the accumulator and the sum are rescaled by exp(M_old − s) and the row enters with
    /// weight 1, otherwise with weight exp(s − M); the row is dequantized and accumulated in F32; at the end the
    /// accumulator is multiplied by 1/sum. M, the sum and the weights are float, as in ggml.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void OnlineSoftmaxQ8_0(float* scores, int length, byte* values, long rowBytes, float* output, int valueLength)
    {
        int blocks = valueLength / BlockQ8_0.Elements;
        new Span<float>(output, valueLength).Clear();
        float maximum = float.NegativeInfinity, sum = 0f;
        for (int t = 0; t < length; t++, values += rowBytes)
        {
            float score = scores[t], rescale = 1f, weight = 1f;
            if (score > maximum)
            {
                float previous = maximum;
                maximum = score;
                rescale = MathF.Exp(previous - maximum);
                Scale(output, rescale, valueLength);
            }
            else
            {
                weight = MathF.Exp(score - maximum);
            }
            AccumulateQ8_0(weight, (BlockQ8_0*)values, output, blocks);
            sum = sum * rescale + weight;
        }
        Scale(output, sum == 0f ? 0f : 1f / sum, valueLength);
    }

    /// <summary>x *= factor, element-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Scale(float* x, float factor, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> f = Vector256.Create(factor);
            for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * f).Store(x + i);
        }
        for (; i < n; i++) x[i] *= factor;
    }

    /// <summary>
    /// o += weight · dequantize(v) over <paramref name="blocks"/> Q8_0 blocks: each element is q·d rounded to float
    /// (ggml's dequantize_row_q8_0), then fused-multiply-added (its ggml_vec_mad_f32). Eight lanes: sign-extend eight
    /// quants to int32, convert (exact), multiply by d, FMA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AccumulateQ8_0(float weight, BlockQ8_0* v, float* o, int blocks)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            AccumulateQ8_0Reference(weight, v, o, blocks);
            return;
        }
        Vector256<float> w = Vector256.Create(weight);
        for (int b = 0; b < blocks; b++, o += BlockQ8_0.Elements)
        {
            Vector256<float> d = Vector256.Create((float)v[b].D);
            sbyte* q = v[b].Qs;
            for (int j = 0; j < BlockQ8_0.Elements; j += 8)
            {
                Vector256<float> x = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + j)) * d;
                Fma.MultiplyAdd(w, x, Avx.LoadVector256(o + j)).Store(o + j);
            }
        }
    }

    /// <summary>The scalar spec of <see cref="AccumulateQ8_0"/>.</summary>
    internal static void AccumulateQ8_0Reference(float weight, BlockQ8_0* v, float* o, int blocks)
    {
        for (int b = 0; b < blocks; b++, o += BlockQ8_0.Elements)
        {
            float d = (float)v[b].D;
            for (int j = 0; j < BlockQ8_0.Elements; j++) o[j] = MathF.FusedMultiplyAdd(weight, v[b].Qs[j] * d, o[j]);
        }
    }

    /// <summary>dst = (float)(Half)src, element-wise (dst may be src).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RoundToHalf(float* src, float* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> v = Vector256.Load(src + i);
                if (Vector256.LessThanAll(Vector256.Abs(v), Vector256.Create(65504f)))
                {
                    HalfConversion.HalfToSingle(HalfConversion.SingleToHalf(v)).Store(dst + i);
                    continue;
                }
                for (int k = i; k < i + 8; k++) dst[k] = (float)(Half)src[k];
            }
        }
        for (; i < n; i++) dst[i] = (float)(Half)src[i];
    }

    /// <summary>Σ q[i]·k[i] with k in F16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float DotHalf(float* q, ushort* k, int n)
    {
        if (!Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated) return Vector128AttentionLoops.DotHalf(q, k, n);
        int i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
            for (; i + 16 <= n; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), HalfConversion.HalfToSingle(Vector128.Load(k + i)), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i + 8), HalfConversion.HalfToSingle(Vector128.Load(k + i + 8)), acc1);
            }
            for (; i + 8 <= n; i += 8)
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), HalfConversion.HalfToSingle(Vector128.Load(k + i)), acc0);
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += q[i] * (float)BitConverter.UInt16BitsToHalf(k[i]);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(float* q, float* k, int n)
    {
        if (!Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated) return Vector128AttentionLoops.Dot(q, k, n);
        int i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
            for (; i + 16 <= n; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), Vector256.Load(k + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i + 8), Vector256.Load(k + i + 8), acc1);
            }
            for (; i + 8 <= n; i += 8) acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), Vector256.Load(k + i), acc0);
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += q[i] * k[i];
        return sum;
    }

    /// <summary>o += weight · v, with v in F16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AccumulateHalf(float weight, ushort* v, float* o, int n)
    {
        if (!Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated)
        {
            Vector128AttentionLoops.AccumulateHalf(weight, v, o, n);
            return;
        }
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> w = Vector256.Create(weight);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(w, HalfConversion.HalfToSingle(Vector128.Load(v + i)), Vector256.Load(o + i)).Store(o + i);
        }
        for (; i < n; i++) o[i] += weight * (float)BitConverter.UInt16BitsToHalf(v[i]);
    }

    /// <summary>
    /// <see cref="AccumulateHalf"/> with the F16 widening of <see cref="FloatDot{TOps, TFloats, THalves}.F16xRebiasedF32"/>: the weight times 2^112
    /// (exact) against each value half's bits shifted into float position (h·2^-112), so every product, and so every
    /// FMA result, is the one AccumulateHalf computes, in five operations per eight values instead of thirteen. A group of
    /// eight holding an infinity or NaN (exponent 31, which the shift would turn into a finite number) takes the full
    /// conversion instead. AVX2 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AccumulateHalfRebiased(float weight, ushort* v, float* o, int n)
    {
        Vector256<float> w = Vector256.Create(weight), rebiased = Vector256.Create(weight * Avx2Dot.HalfRebias);
        Vector256<int> keptBits = Vector256.Create(unchecked((int)0x8FFFE000));
        Vector128<ushort> exponent = Vector128.Create((ushort)0x7C00);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            Vector128<ushort> raw = Vector128.Load(v + i);
            Vector256<float> sum = Vector128.EqualsAny(raw & exponent, exponent)
                ? Vector256.FusedMultiplyAdd(w, HalfConversion.HalfToSingle(raw), Vector256.Load(o + i))
                : Vector256.FusedMultiplyAdd(rebiased, Avx2Dot.ShiftedHalves(v + i, keptBits), Vector256.Load(o + i));
            sum.Store(o + i);
        }
        for (; i < n; i++) o[i] += weight * (float)BitConverter.UInt16BitsToHalf(v[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Accumulate(float weight, float* v, float* o, int n)
    {
        if (!Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated)
        {
            Vector128AttentionLoops.Accumulate(weight, v, o, n);
            return;
        }
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> w = Vector256.Create(weight);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(w, Vector256.Load(v + i), Vector256.Load(o + i)).Store(o + i);
        }
        for (; i < n; i++) o[i] += weight * v[i];
    }

    /// <summary>In-place softmax: exp(x − max) / Σ, the sum in double as in ggml.</summary>
    internal static void Softmax(Span<float> x) => VectorOps.Softmax(x);
}
