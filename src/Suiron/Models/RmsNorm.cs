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

    /// <summary>The same over the pool's threads, a range of rows each (a prompt's rows; the same bits).</summary>
    public static void Apply(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float epsilon, Span<float> output, Kernels.WorkerPool pool)
        => Kernels.ParallelVectorOps.RmsNormRows(pool, input, weight, epsilon, output);

    /// <summary>One row, eight lanes wide (<see cref="Kernels.VectorOps.RmsNorm"/>: float squares summed in double, then x · scale · w).</summary>
    private static void ApplyRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float epsilon, Span<float> y)
        => Kernels.VectorOps.RmsNorm(x, weight, epsilon, y);
}
