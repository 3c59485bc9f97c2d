namespace Suiron.Models;

/// <summary>
/// GELU (Hendrycks &amp; Gimpel 2016) in its tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as ggml's
/// CPU backend does: inputs at or below −10 give 0, at or above 10 give x, and everything between is looked up in a
/// table of all F16 values (the input rounded to F16, the result stored as F16). Matching that rounding keeps BERT's
/// feed-forward within float noise of llama.cpp; the exact formula would differ by up to 2⁻¹¹ relative per element.
/// </summary>
internal static class Gelu
{
    private const float CoefficientA = 0.044715f;
    private const float SqrtTwoOverPi = 0.79788456080286535587989211986876f;

    // (float)GELU of every F16 input, indexed by its bit pattern: 65536 entries, 256 KB, built once.
    private static readonly Lazy<float[]> Table = new(() =>
    {
        var table = new float[1 << 16];
        for (int bits = 0; bits < table.Length; bits++)
            table[bits] = (float)(Half)Exact((float)BitConverter.UInt16BitsToHalf((ushort)bits));
        return table;
    });

    /// <summary>The reference formula in float.</summary>
    public static float Exact(float x) => 0.5f * x * (1f + MathF.Tanh(SqrtTwoOverPi * x * (1f + CoefficientA * x * x)));

    /// <summary>GELU in place, with ggml's F16 table.</summary>
    public static void Apply(Span<float> x)
    {
        float[] table = Table.Value;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            x[i] = v <= -10f ? 0f : v >= 10f ? v : table[BitConverter.HalfToUInt16Bits((Half)v)];
        }
    }
}
