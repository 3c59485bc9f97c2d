using Suiron.Kernels;
using Suiron.Models;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>The gated DeltaNet kernels: the vector step against the scalar reference on random data, and each piece against hand-computed values.</summary>
public sealed class GatedDeltaRuleTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(32)]
    [InlineData(128)]
    public void VectorStepMatchesTheReferenceOverManyTokens(int length)
    {
        float[] reference = KernelTestData.Gaussian(length * length, seed: 1), vector = (float[])reference.Clone();
        var expected = new float[length];
        var actual = new float[length];
        for (int token = 0; token < 20; token++)
        {
            float[] q = KernelTestData.Gaussian(length, seed: 100 + token), k = KernelTestData.Gaussian(length, seed: 200 + token);
            float[] v = KernelTestData.Gaussian(length, seed: 300 + token);
            GatedDeltaRule.L2Normalize(q, length, 1e-6f, 1f / MathF.Sqrt(length));
            GatedDeltaRule.L2Normalize(k, length, 1e-6f);
            float decay = 0.5f + token / 40f, beta = token / 20f;
            GatedDeltaRule.StepReference(reference, q, k, v, decay, beta, expected);
            GatedDeltaRule.StepVector(vector, q, k, v, decay, beta, actual);
            for (int j = 0; j < length; j++)
                Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5f * Math.Max(1f, Math.Abs(expected[j])), $"token {token} output {j}: {actual[j]} vs {expected[j]}");
        }
        for (int i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(reference[i] - vector[i]) <= 1e-5f * Math.Max(1f, Math.Abs(reference[i])), $"state {i}: {vector[i]} vs {reference[i]}");
    }

    /// <summary>
    /// A 2 × 2 state by hand: S = [[1, 2], [3, 4]], decay ½ → [[0.5, 1], [1.5, 2]]; k = (1, 0) reads S k = (0.5, 1.5);
    /// v = (1, 1), β = ½ → δ = ((1 − 0.5)/2, (1 − 1.5)/2) = (0.25, −0.25); S += δ kᵀ → [[0.75, 1], [1.25, 2]];
    /// q = (0, 1) → o = S q = (1, 2).
    /// </summary>
    [Fact]
    public void OneStepByHand()
    {
        float[] state = [1, 2, 3, 4];
        var output = new float[2];
        GatedDeltaRule.StepReference(state, [0, 1], [1, 0], [1, 1], 0.5f, 0.5f, output);
        Assert.Equal([0.75f, 1f, 1.25f, 2f], state);
        Assert.Equal([1f, 2f], output);
    }

    /// <summary>
    /// Kernel 3 over 2 channels: taps (1, 2, 3) and (−1, 0, 1); history rows (oldest first) (1, 10) and (2, 20), input
    /// (3, 30) → (1·1 + 2·2 + 3·3, −1·10 + 0·20 + 1·30) = (14, 20); the history becomes (2, 20), (3, 30).
    /// </summary>
    [Fact]
    public void ConvolutionByHand()
    {
        float[] history = [1, 10, 2, 20];
        var output = new float[2];
        GatedDeltaRule.Convolve(history, [3, 30], [1, 2, 3, -1, 0, 1], kernel: 3, output);
        Assert.Equal([14f, 20f], output);
        Assert.Equal([2f, 20f, 3f, 30f], history);
    }

    [Fact]
    public void L2NormalizeAndGatesByHand()
    {
        float[] rows = [3, 4, 0, 0];
        GatedDeltaRule.L2Normalize(rows, 2, 1e-6f);
        Assert.Equal([0.6f, 0.8f, 0f, 0f], rows); // a zero row stays zero: divided by ε, not by 0
        Assert.Equal(MathF.Log(2f), GatedDeltaRule.Softplus(0f), 6);
        Assert.Equal(25f, GatedDeltaRule.Softplus(25f));
        Assert.Equal(0.5f, GatedDeltaRule.Sigmoid(0f));
    }

    /// <summary>
    /// ggml's interleaved multi-section RoPE with sections (5, 5, 4, 2) over 16 pairs: pair i is in sector i; time takes
    /// sectors ≡ 0 (mod 3) below 15, height ≡ 1 below 15, width ≡ 2 below 12, so sectors 14 and 15 take the extra
    /// section, whose position is 0 for text. Qwen3.5's (11, 11, 10, 0) over 32 pairs leaves none still.
    /// </summary>
    [Fact]
    public void SectionStillPairsByHand()
    {
        bool[]? still = Rope.SectionStillPairs(32, [5, 5, 4, 2], interleaved: true);
        Assert.NotNull(still);
        Assert.Equal([14, 15], Enumerable.Range(0, 16).Where(i => still![i]));
        Assert.Null(Rope.SectionStillPairs(64, [11, 11, 10, 0], interleaved: true));
        bool[]? sequential = Rope.SectionStillPairs(32, [6, 5, 3, 2], interleaved: false);
        Assert.Equal([14, 15], Enumerable.Range(0, 16).Where(i => sequential![i]));
    }
}
