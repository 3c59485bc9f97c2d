using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Suiron.Inference;
using Suiron.Kernels;

namespace Suiron.Models;

/// <summary>
/// Causal scaled dot-product attention of one query head over the cached keys and values (Vaswani et al. 2017):
/// out = softmax(q·Kᵀ · scale) · V over positions 0..length-1. Softmax subtracts the maximum before exponentiating
/// and sums in double, so long contexts neither overflow nor lose small weights.
/// With an F16 cache the query and the attention weights are rounded to F16 before their products, exactly where
/// llama.cpp's CPU path (flash attention off) rounds them: F16·F16 dot products are what its matmuls compute.
/// Q·K and weights·V run eight lanes wide (keys and values widened from F16 eight at a time), four lanes wide where
/// only 128-bit vectors are accelerated (ARM64: <see cref="Vector128AttentionLoops"/>); nothing is allocated.
/// </summary>
internal static unsafe class Attention
{
    /// <param name="query">One query head (keyLength elements), already rotated.</param>
    /// <param name="kvHead">Index of the key/value head this query head reads (grouped-query attention).</param>
    /// <param name="length">Positions to attend to: the query's own position + 1.</param>
    /// <param name="scores">Scratch of at least <paramref name="length"/> elements.</param>
    /// <param name="queryScratch">Scratch of at least keyLength floats (the query rounded to F16, F16 cache only).</param>
    /// <param name="output">One output head (valueLength elements).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Head(
        ReadOnlySpan<float> query, KvCache cache, int layer, int kvHead, int length, float scale,
        Span<float> scores, Span<float> queryScratch, Span<float> output)
    {
        int keyLength = query.Length, valueLength = output.Length;
        int keyStride = cache.KeyWidth, valueStride = cache.ValueWidth;
        int keyOffset = kvHead * keyLength, valueOffset = kvHead * valueLength;
        scores = scores[..length];
        bool half = cache.Type == KvCacheType.F16;

        fixed (float* s = scores)
        fixed (float* o = output)
        {
            if (half)
            {
                fixed (float* q = query) fixed (float* qh = queryScratch) RoundToHalf(q, qh, keyLength);
                fixed (float* q = queryScratch)
                fixed (Half* keys = cache.KeysF16(layer))
                {
                    for (int t = 0; t < length; t++)
                        s[t] = DotHalf(q, (ushort*)keys + (long)t * keyStride + keyOffset, keyLength) * scale;
                }
            }
            else
            {
                fixed (float* q = query)
                fixed (float* keys = cache.KeysF32(layer))
                {
                    for (int t = 0; t < length; t++)
                        s[t] = Dot(q, keys + (long)t * keyStride + keyOffset, keyLength) * scale;
                }
            }

            VectorOps.Softmax(scores);

            output.Clear();
            if (half)
            {
                RoundToHalf(s, s, length);
                fixed (Half* values = cache.ValuesF16(layer))
                {
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
