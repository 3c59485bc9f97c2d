using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The tiled attention's softmax: its polynomial exp against double-precision exp (the truth) and its vector form
/// against its scalar form bit for bit; its F16 rounding against .NET's own float → Half → float conversion; the whole
/// softmax against one computed in double.
/// </summary>
public sealed unsafe class AttentionWeightsTests
{
    private static float[] Shifted(Random random, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -(float)(random.NextDouble() * 95);
        return x;
    }

    [Fact]
    public void Exp_is_within_two_ulp_of_double_exp_and_its_vector_form_equals_the_scalar_one()
    {
        var random = new Random(11);
        var x = Shifted(random, 40_000);
        float[] edges = [0f, -0f, -1e-30f, -0.34657359f, -0.3465736f, -1f, -10f, -87.29f, -87.3f, -87.31f, -88f, -150f, float.NegativeInfinity, float.NaN];
        edges.CopyTo(x, 0);
        for (int i = 0; i < x.Length; i += 8)
        {
            var lanes = System.Runtime.Intrinsics.Vector256.Create(x, i);
            var vector = AttentionWeights.Exp(lanes);
            for (int k = 0; k < 8; k++)
            {
                float scalar = AttentionWeights.Exp(x[i + k]);
                Assert.True(BitConverter.SingleToInt32Bits(scalar) == BitConverter.SingleToInt32Bits(vector.GetElement(k)) || (float.IsNaN(scalar) && float.IsNaN(vector.GetElement(k))),
                    $"exp({x[i + k]:R}): vector {vector.GetElement(k):R} vs scalar {scalar:R}");
                double truth = Math.Exp(x[i + k]);
                if (float.IsNaN(x[i + k])) { Assert.True(float.IsNaN(scalar)); continue; }
                if (x[i + k] < -87.3f) { Assert.Equal(0f, scalar); continue; }
                // One ulp of the float nearest the truth; below 2^-126 the float result is subnormal and the ulp fixed.
                double ulp = Math.Max(MathF.BitIncrement((float)truth) - (float)truth, Math.Pow(2, -149));
                Assert.True(Math.Abs(scalar - truth) <= 2 * ulp, $"exp({x[i + k]:R}) = {truth:R}, ours {scalar:R}: {Math.Abs(scalar - truth) / ulp:F2} ulp");
            }
        }
    }

    [Fact]
    public void Round_to_half_equals_the_runtime_conversion()
    {
        var random = new Random(12);
        var values = new List<float> { 0f, 1f, 0.5f, 6.1035156e-5f /* 2^-14 */, 5.9604645e-8f /* 2^-24 */, 2.9802322e-8f /* half of it: a tie to 0 */, 8.940697e-8f /* 1.5·2^-24: a tie to 2^-23 */ };
        for (int i = 0; i < 100_000; i++)
        {
            // Uniform in [0, 1], uniform exponents down to 2^-30 (through the F16 subnormals), and exact F16 ties.
            values.Add((float)random.NextDouble());
            values.Add(MathF.Pow(2, -(float)(random.NextDouble() * 30)));
            float half = (float)BitConverter.UInt16BitsToHalf((ushort)random.Next(0, 0x3C00));
            float next = (float)BitConverter.UInt16BitsToHalf((ushort)(BitConverter.HalfToUInt16Bits((Half)half) + 1));
            values.Add((half + next) / 2);
        }
        while (values.Count % 8 != 0) values.Add(0.25f);
        for (int i = 0; i < values.Count; i += 8)
        {
            var vector = AttentionWeights.RoundToHalf(System.Runtime.Intrinsics.Vector256.Create(values.ToArray(), i));
            for (int k = 0; k < 8; k++)
            {
                float x = values[i + k], expected = (float)(Half)x;
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(AttentionWeights.RoundToHalf(x)), $"{x:R}: scalar {AttentionWeights.RoundToHalf(x):R}, Half {expected:R}");
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(vector.GetElement(k)), $"{x:R}: vector {vector.GetElement(k):R}, Half {expected:R}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Softmax_vector_equals_scalar_and_double_softmax(bool roundToHalf)
    {
        var random = new Random(roundToHalf ? 14 : 13);
        foreach (int length in Enumerable.Range(0, 41).Concat([257, 4097]))
        {
            var x = new float[length];
            for (int i = 0; i < length; i++) x[i] = (float)(random.NextDouble() * 30 - 15);
            if (length > 3) x[2] = float.NegativeInfinity; // a masked position
            var vector = (float[])x.Clone();
            var scalar = (float[])x.Clone();
            fixed (float* v = vector) AttentionWeights.Softmax(v, length, roundToHalf);
            fixed (float* s = scalar) AttentionWeights.Reference(s, length, roundToHalf);
            double max = length == 0 ? 0 : x.Max(), sum = x.Sum(e => Math.Exp(e - max));
            for (int i = 0; i < length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(vector[i]) == BitConverter.SingleToInt32Bits(scalar[i]), $"length {length}, {i}: vector {vector[i]:R} vs scalar {scalar[i]:R}");
                double truth = Math.Exp(x[i] - max) / sum;
                // x − max rounded to float moves the exponent by up to half its ulp (|x − max|·2^-24), then a few float
                // roundings; or on top one F16 rounding (2^-11 relative, 2^-25 absolute below 2^-14).
                double floatError = float.IsInfinity(x[i]) ? 0 : truth * (1e-6 + Math.Abs(x[i] - max) * 6e-8) + 1e-45;
                double tolerance = roundToHalf ? Math.Max(truth * 4.9e-4, 3e-8) + floatError : floatError;
                Assert.True(Math.Abs(vector[i] - truth) <= tolerance, $"length {length}, {i}: {vector[i]:R} vs {truth:R}");
            }
        }
    }
}
