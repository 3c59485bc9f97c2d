namespace Suiron.Models;

/// <summary>The scale and shift of a layer norm (<c>*.weight</c>, <c>*.bias</c>).</summary>
internal sealed record LayerNormWeights(float[] Weight, float[] Bias);

/// <summary>
/// Layer normalization (Ba et al. 2016): y = (x − mean(x)) / sqrt(var(x) + ε) ⊙ w + b, per row.
/// As ggml's norm: the mean and the variance are summed in double, the scale 1/sqrt(var + ε) is a float,
/// and the weight multiply and the bias add are separate roundings (separate graph ops there).
/// </summary>
internal static class LayerNorm
{
    /// <summary>Normalizes each row of <paramref name="input"/> (rows of <c>weights.Weight.Length</c>) into <paramref name="output"/>; the two may alias.</summary>
    public static void Apply(ReadOnlySpan<float> input, LayerNormWeights weights, float epsilon, Span<float> output)
    {
        int width = weights.Weight.Length;
        for (int start = 0; start < input.Length; start += width)
            ApplyRow(input.Slice(start, width), weights.Weight, weights.Bias, epsilon, output.Slice(start, width));
    }

    private static void ApplyRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float epsilon, Span<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i];
        float mean = (float)(sum / x.Length);
        double squares = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float centered = x[i] - mean;
            y[i] = centered;
            squares += centered * centered;
        }
        float variance = (float)(squares / x.Length);
        float scale = 1f / MathF.Sqrt(variance + epsilon);
        for (int i = 0; i < y.Length; i++) y[i] = y[i] * scale * weight[i] + bias[i];
    }
}
