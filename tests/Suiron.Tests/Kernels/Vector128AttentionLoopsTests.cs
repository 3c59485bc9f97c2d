using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Attention's 128-bit inner loops (the ARM64 path; they run here too) against double-precision sums of the same
/// inputs, F16 values decoded by .NET's own Half conversion. Every length 0..40, and head sizes 64, 128, 576.
/// </summary>
public unsafe class Vector128AttentionLoopsTests
{
    private static IEnumerable<int> Lengths() => Enumerable.Range(0, 41).Concat([64, 128, 129, 576]);

    private static ushort[] Halves(float[] values) => values.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray();

    private static float FromHalf(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    [Fact]
    public void Dot_products_match_double_precision_sums()
    {
        foreach (int n in Lengths())
        {
            var q = KernelTestData.Gaussian(n, seed: n + 1);
            var k = KernelTestData.Gaussian(n, seed: n + 2);
            var kHalf = Halves(k);
            double exact = 0, exactHalf = 0, magnitude = 0, magnitudeHalf = 0;
            for (int i = 0; i < n; i++)
            {
                exact += (double)q[i] * k[i];
                magnitude += Math.Abs((double)q[i] * k[i]);
                exactHalf += (double)q[i] * FromHalf(kHalf[i]);
                magnitudeHalf += Math.Abs((double)q[i] * FromHalf(kHalf[i]));
            }
            float dot, dotHalf;
            fixed (float* qp = q) fixed (float* kp = k) fixed (ushort* hp = kHalf)
            {
                dot = Vector128AttentionLoops.Dot(qp, kp, n);
                dotHalf = Vector128AttentionLoops.DotHalf(qp, hp, n);
            }
            Assert.True(Math.Abs(dot - exact) <= 1e-6 * magnitude, $"F32 n={n}: {dot} vs {exact}");
            Assert.True(Math.Abs(dotHalf - exactHalf) <= 1e-6 * magnitudeHalf, $"F16 n={n}: {dotHalf} vs {exactHalf}");
        }
    }

    [Fact]
    public void Accumulations_match_double_precision_sums()
    {
        const float weight = 0.3779f;
        foreach (int n in Lengths())
        {
            var v = KernelTestData.Gaussian(n, seed: n + 3);
            var vHalf = Halves(v);
            var start = KernelTestData.Gaussian(n, seed: n + 4);
            var o = (float[])start.Clone();
            var oHalf = (float[])start.Clone();
            fixed (float* vp = v) fixed (ushort* hp = vHalf) fixed (float* op = o) fixed (float* ohp = oHalf)
            {
                Vector128AttentionLoops.Accumulate(weight, vp, op, n);
                Vector128AttentionLoops.AccumulateHalf(weight, hp, ohp, n);
            }
            for (int i = 0; i < n; i++)
            {
                double expected = start[i] + (double)weight * v[i];
                double expectedHalf = start[i] + (double)weight * FromHalf(vHalf[i]);
                // One float rounding of the sum (fused) or two (the scalar tail).
                Assert.True(Math.Abs(o[i] - expected) <= 2.5e-7 * (Math.Abs(start[i]) + Math.Abs(weight * v[i])), $"F32 n={n} i={i}");
                Assert.True(Math.Abs(oHalf[i] - expectedHalf) <= 2.5e-7 * (Math.Abs(start[i]) + Math.Abs(weight * FromHalf(vHalf[i]))), $"F16 n={n} i={i}");
            }
        }
    }

    [Fact]
    public void Softmax_matches_the_scalar_reference_for_every_length_up_to_257()
    {
        for (int n = 0; n <= 257; n++)
        {
            var x = KernelTestData.Gaussian(n, seed: 7 * n + 1, scale: 3f);
            var expected = (float[])x.Clone();
            VectorOpsReference.Softmax(expected);
            Vector128AttentionLoops.Softmax(x);
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(expected[i] - x[i]) <= 1e-6f * Math.Max(1f, Math.Abs(expected[i])), $"n={n} i={i}: {x[i]} vs {expected[i]}");
            if (n > 0) Assert.InRange(x.Sum(), 0.9999f, 1.0001f);
        }
    }

    [Fact]
    public void Softmax_turns_minus_infinity_into_zero()
    {
        float[] x = [1f, float.NegativeInfinity, 2f, float.NegativeInfinity, 0f, 1f, 1f, 1f, 3f, float.NegativeInfinity];
        var expected = (float[])x.Clone();
        VectorOpsReference.Softmax(expected);
        Vector128AttentionLoops.Softmax(x);
        Assert.Equal(0f, x[1]);
        Assert.Equal(0f, x[3]);
        Assert.Equal(0f, x[9]);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(expected[i] - x[i]) <= 1e-6f, $"i={i}: {x[i]} vs {expected[i]}");
    }
}
