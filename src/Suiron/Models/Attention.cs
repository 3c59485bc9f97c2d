using Suiron.Inference;

namespace Suiron.Models;

/// <summary>
/// Causal scaled dot-product attention of one query head over the cached keys and values (Vaswani et al. 2017):
/// out = softmax(q·Kᵀ · scale) · V over positions 0..length-1. Softmax subtracts the maximum before exponentiating
/// and sums in double, so long contexts neither overflow nor lose small weights.
/// With an F16 cache the query and the attention weights are rounded to F16 before their products, exactly where
/// llama.cpp's CPU path (flash attention off) rounds them: F16·F16 dot products are what its matmuls compute.
/// </summary>
internal static class Attention
{
    /// <param name="query">One query head (keyLength elements), already rotated.</param>
    /// <param name="kvHead">Index of the key/value head this query head reads (grouped-query attention).</param>
    /// <param name="length">Positions to attend to: the query's own position + 1.</param>
    /// <param name="scores">Scratch of at least <paramref name="length"/> elements.</param>
    /// <param name="queryHalf">Scratch of keyLength halves (F16 cache only).</param>
    /// <param name="output">One output head (valueLength elements).</param>
    public static void Head(
        ReadOnlySpan<float> query, KvCache cache, int layer, int kvHead, int length, float scale,
        Span<float> scores, Span<Half> queryHalf, Span<float> output)
    {
        int keyLength = query.Length, valueLength = output.Length;
        int keyStride = cache.KeyWidth, valueStride = cache.ValueWidth;
        int keyOffset = kvHead * keyLength, valueOffset = kvHead * valueLength;
        scores = scores[..length];
        bool half = cache.Type == KvCacheType.F16;

        if (half)
        {
            for (int i = 0; i < keyLength; i++) queryHalf[i] = (Half)query[i];
            ReadOnlySpan<Half> keys = cache.KeysF16(layer);
            for (int t = 0; t < length; t++)
                scores[t] = Dot(queryHalf[..keyLength], keys.Slice(t * keyStride + keyOffset, keyLength)) * scale;
        }
        else
        {
            ReadOnlySpan<float> keys = cache.KeysF32(layer);
            for (int t = 0; t < length; t++)
                scores[t] = Dot(query, keys.Slice(t * keyStride + keyOffset, keyLength)) * scale;
        }

        Softmax(scores);

        output.Clear();
        if (half)
        {
            ReadOnlySpan<Half> values = cache.ValuesF16(layer);
            for (int t = 0; t < length; t++)
            {
                float weight = (float)(Half)scores[t];
                ReadOnlySpan<Half> v = values.Slice(t * valueStride + valueOffset, valueLength);
                for (int d = 0; d < valueLength; d++) output[d] += weight * (float)v[d];
            }
        }
        else
        {
            ReadOnlySpan<float> values = cache.ValuesF32(layer);
            for (int t = 0; t < length; t++)
            {
                float weight = scores[t];
                ReadOnlySpan<float> v = values.Slice(t * valueStride + valueOffset, valueLength);
                for (int d = 0; d < valueLength; d++) output[d] += weight * v[d];
            }
        }
    }

    /// <summary>In-place softmax: exp(x − max) / Σ, the sum in double as in ggml.</summary>
    internal static void Softmax(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = MathF.Max(max, v);
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inverse = (float)(1.0 / sum);
        for (int i = 0; i < x.Length; i++) x[i] *= inverse;
    }

    private static float Dot(ReadOnlySpan<Half> a, ReadOnlySpan<Half> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (float)a[i] * (float)b[i];
        return sum;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
