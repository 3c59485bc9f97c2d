namespace Suiron.Models;

/// <summary>
/// Root-mean-square layer norm (Zhang &amp; Sennrich 2019): y = x / sqrt(mean(x²) + ε) ⊙ w.
/// The sum of squares is accumulated in double, as ggml does, so long rows lose no precision.
/// </summary>
internal static class RmsNorm
{
    /// <summary>Normalizes each row of <paramref name="input"/> (rows of <c>weight.Length</c>) into <paramref name="output"/>; the two may alias.</summary>
    public static void Apply(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float epsilon, Span<float> output)
    {
        int width = weight.Length;
        for (int start = 0; start < input.Length; start += width)
            ApplyRow(input.Slice(start, width), weight, epsilon, output.Slice(start, width));
    }

    private static void ApplyRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float epsilon, Span<float> y)
    {
        double sumOfSquares = 0;
        for (int i = 0; i < x.Length; i++) sumOfSquares += x[i] * x[i];
        float mean = (float)(sumOfSquares / x.Length);
        float scale = 1f / MathF.Sqrt(mean + epsilon);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * weight[i];
    }
}
