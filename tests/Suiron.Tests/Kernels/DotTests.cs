using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

public unsafe class DotTests
{
    /// <summary>The quantized dot product equals the float dot product of the decoded rows, up to float rounding.</summary>
    [Theory]
    [MemberData(nameof(KernelTestData.AllTypesData), MemberType = typeof(KernelTestData))]
    public void Dot_matches_the_dot_of_the_decoded_rows(TensorType type)
    {
        var activationType = Quantization.ActivationType(type);
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            int n = blocks * TensorTypes.QK_K;
            var weights = KernelTestData.Encode(type, KernelTestData.Gaussian(n, seed: 7 * blocks, scale: 0.05f));
            var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 11 * blocks, scale: 2f));
            var w = KernelTestData.Decode(type, weights, n);
            var a = KernelTestData.Decode(activationType, activations, n);
            double expected = 0, magnitude = 0;
            for (int i = 0; i < n; i++)
            {
                expected += (double)w[i] * a[i];
                magnitude += Math.Abs((double)w[i] * a[i]);
            }
            // Q4_1/Q5_1 use the Q8_1 block sum s = d * sum(q), stored as half: its rounding enters the min term.
            double tolerance = type is TensorType.Q4_1 or TensorType.Q5_1 ? 2e-3 : 2e-5;
            float actual = Quantization.Dot(type, weights, activations, n);
            Assert.True(Math.Abs(actual - expected) <= tolerance * magnitude,
                $"{type} x{blocks}: {actual} vs {expected} (magnitude {magnitude})");

            float scalar;
            fixed (byte* wp = weights) fixed (byte* ap = activations) scalar = DotKernels.Scalar(type)(wp, ap, n);
            Assert.True(Math.Abs(actual - scalar) <= 1e-5 * magnitude + 1e-6, $"{type} x{blocks}: SIMD {actual} vs scalar {scalar}");
        }
    }
}
