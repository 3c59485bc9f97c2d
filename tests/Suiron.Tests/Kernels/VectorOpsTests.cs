using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

public class VectorOpsTests
{
    private static void AssertClose(float[] expected, float[] actual, float relative, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float tol = relative * Math.Max(1f, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}] of {expected.Length}: {actual[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void Match_the_scalar_references_for_every_length_up_to_257()
    {
        for (int n = 0; n <= 257; n++)
        {
            var a = KernelTestData.Gaussian(n, seed: n);
            var b = KernelTestData.Gaussian(n, seed: n + 1000);
            var expected = new float[n];
            var actual = new float[n];

            VectorOpsReference.RmsNorm(a, b, 1e-6f, expected);
            VectorOps.RmsNorm(a, b, 1e-6f, actual);
            AssertClose(expected, actual, 1e-6f, "RmsNorm");

            VectorOpsReference.SiluMul(a, b, expected);
            VectorOps.SiluMul(a, b, actual);
            AssertClose(expected, actual, 1e-6f, "SiluMul");

            VectorOpsReference.SigmoidMul(a, b, expected);
            VectorOps.SigmoidMul(a, b, actual);
            AssertClose(expected, actual, 1e-6f, "SigmoidMul");

            VectorOpsReference.Add(a, b, expected);
            VectorOps.Add(a, b, actual);
            Assert.Equal(expected, actual);

            VectorOpsReference.Mul(a, b, expected);
            VectorOps.Mul(a, b, actual);
            Assert.Equal(expected, actual);

            a.CopyTo(expected, 0);
            a.CopyTo(actual, 0);
            VectorOpsReference.Softmax(expected);
            VectorOps.Softmax(actual);
            AssertClose(expected, actual, 1e-6f, "Softmax");
            if (n > 0) Assert.InRange(actual.Sum(), 0.9999f, 1.0001f);
        }
    }

    [Fact]
    public void Softmax_handles_minus_infinity_masks()
    {
        float[] x = [1f, float.NegativeInfinity, 2f, float.NegativeInfinity, 0f, 1f, 1f, 1f, 3f, float.NegativeInfinity];
        VectorOps.Softmax(x);
        Assert.Equal(0f, x[1]);
        Assert.Equal(0f, x[9]);
        Assert.InRange(x.Sum(), 0.9999f, 1.0001f);
    }

    [Fact]
    public void Half_conversions_round_trip()
    {
        for (int n = 0; n <= 257; n++)
        {
            var x = KernelTestData.Gaussian(n, seed: n);
            var h = new Half[n];
            var back = new float[n];
            VectorOps.SingleToHalf(x, h);
            VectorOps.HalfToSingle(h, back);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal((Half)x[i], h[i]);
                Assert.Equal((float)h[i], back[i]);
            }
        }
    }

    /// <summary>The vector float-to-half path against the scalar cast: every exponent range (subnormal halves, ties, overflow, NaN).</summary>
    [Fact]
    public void Float_to_half_rounds_like_the_scalar_cast_everywhere()
    {
        var random = new Random(5);
        var x = new float[80_003];
        for (int i = 0; i < x.Length; i++)
        {
            int exponent = random.Next(-30, 18);
            float value = (float)(random.NextDouble() * Math.Pow(2, exponent)) * (random.Next(2) == 0 ? -1 : 1);
            if (i % 7 == 0) // exact ties between two halves, normal and subnormal
                value = (float)((random.Next(1, 2048) + 0.5) * Math.Pow(2, random.Next(-25, 5)));
            x[i] = value;
        }
        x[3] = float.NaN; x[10] = float.PositiveInfinity; x[17] = 65519f; x[18] = 65520f; x[19] = -0f; x[20] = 5.96e-8f; x[21] = 2.98e-8f;
        var h = new Half[x.Length];
        VectorOps.SingleToHalf(x, h);
        for (int i = 0; i < x.Length; i++)
            Assert.True(BitConverter.HalfToUInt16Bits((Half)x[i]) == BitConverter.HalfToUInt16Bits(h[i]) || (float.IsNaN(x[i]) && Half.IsNaN(h[i])),
                $"{x[i]:R}: {(Half)x[i]} vs {h[i]}");
    }

    [Fact]
    public unsafe void Both_vector_half_to_float_conversions_are_exact_for_all_65536_halves()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        for (int h = 0; h < 65536; h += 8)
        {
            var halves = System.Runtime.Intrinsics.Vector128.Create((ushort)h, (ushort)(h + 1), (ushort)(h + 2), (ushort)(h + 3),
                (ushort)(h + 4), (ushort)(h + 5), (ushort)(h + 6), (ushort)(h + 7));
            var exact = HalfConversion.HalfToSingle(halves);
            var fast = HalfConversion.HalfToSingleFast(halves);
            for (int k = 0; k < 8; k++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf((ushort)(h + k));
                if (float.IsNaN(expected))
                {
                    Assert.True(float.IsNaN(exact[k]) && float.IsNaN(fast[k]));
                    continue;
                }
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(exact[k]));
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(fast[k]));
                if (float.IsFinite(expected)) // the dots' two scalar block-scale conversions, subnormal halves and ±0 included
                {
                    Half half = BitConverter.UInt16BitsToHalf((ushort)(h + k));
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(Avx2Dot.Scale(half)));
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(Avx2Dot.Block32Scale(half)));
                }
            }
        }
    }
}
