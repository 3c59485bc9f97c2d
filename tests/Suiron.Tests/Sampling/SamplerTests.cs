using Suiron.Sampling;
using Xunit;

namespace Suiron.Tests.Sampling;

public sealed class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1f];

    [Fact]
    public void GreedyPicksTheLargestLogitFirstOnTies()
    {
        var s = new Sampler(6, SamplingOptions.Greedy);
        Assert.Equal(1, s.Sample(Logits, []));
        Assert.Equal(2, new Sampler(4, SamplingOptions.Greedy).Sample([0f, 1f, 5f, 5f], []));
    }

    [Fact]
    public void TopKOfOneIsGreedyWhateverTheTemperature()
    {
        var s = new Sampler(6, new SamplingOptions { Temperature = 5f, TopK = 1, Seed = 9 });
        for (int i = 0; i < 50; i++) Assert.Equal(1, s.Sample(Logits, []));
    }

    [Fact]
    public void SameSeedSameSequenceDifferentSeedDifferentSequence()
    {
        int[] Run(ulong seed)
        {
            var s = new Sampler(6, new SamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0, Seed = seed });
            return Enumerable.Range(0, 64).Select(_ => s.Sample(Logits, [])).ToArray();
        }
        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));
    }

    [Fact]
    public void DrawsFollowTheTemperedSoftmax()
    {
        // Hand-computed truth: p_i = exp(l_i/T) / Σ exp(l_j/T).
        const float T = 0.7f;
        double[] expected = Logits.Select(l => Math.Exp(l / T)).ToArray();
        double z = expected.Sum();
        expected = expected.Select(e => e / z).ToArray();
        var s = new Sampler(6, new SamplingOptions { Temperature = T, TopK = 0, TopP = 1, MinP = 0, Seed = 7 });
        const int draws = 200_000;
        var counts = new int[6];
        for (int i = 0; i < draws; i++) counts[s.Sample(Logits, [])]++;
        for (int t = 0; t < 6; t++)
        {
            double sigma = Math.Sqrt(expected[t] * (1 - expected[t]) / draws);
            Assert.InRange((double)counts[t] / draws, expected[t] - 5 * sigma - 1e-4, expected[t] + 5 * sigma + 1e-4);
        }
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        // softmax at T=1 of [1,3,2,0.5,2.9,-1] (by hand): token 1 ≈ 0.399, token 4 ≈ 0.361, token 2 ≈ 0.147 …
        // p = 0.7 is reached by {1, 4} (0.760), so only those two can be drawn.
        var s = new Sampler(6, new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 0.7f, MinP = 0, Seed = 3 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++) seen.Add(s.Sample(Logits, []));
        Assert.Equal(new HashSet<int> { 1, 4 }, seen);
    }

    [Fact]
    public void MinPDropsTokensBelowTheFractionOfTheTop()
    {
        // p(2)/p(1) = e^-1 ≈ 0.368, p(4)/p(1) = e^-0.1 ≈ 0.905, p(0)/p(1) = e^-2 ≈ 0.135: min_p 0.3 keeps {1, 4, 2}.
        var s = new Sampler(6, new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1, MinP = 0.3f, Seed = 5 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 5000; i++) seen.Add(s.Sample(Logits, []));
        Assert.Equal(new HashSet<int> { 1, 4, 2 }, seen);
    }

    [Fact]
    public void TopKRestrictsToTheKBest()
    {
        var s = new Sampler(6, new SamplingOptions { Temperature = 3f, TopK = 3, TopP = 1, MinP = 0, Seed = 11 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 5000; i++) seen.Add(s.Sample(Logits, []));
        Assert.Equal(new HashSet<int> { 1, 4, 2 }, seen);
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits()
    {
        // Token 1 (3.0) seen → 3.0/2 = 1.5 < 2.9, so greedy moves to token 4; a second penalty on 4 → 1.45 < 2.0 → token 2.
        var opts = SamplingOptions.Greedy with { RepeatPenalty = 2f };
        Assert.Equal(4, new Sampler(6, opts).Sample(Logits, [1]));
        Assert.Equal(2, new Sampler(6, opts).Sample(Logits, [1, 4]));
        // Negative logit -1 on token 5 becomes -2, still last; with all others seen it still can't win over 0.5/2.
        Assert.Equal(2, new Sampler(6, opts).Sample(Logits, [1, 4, 5]));
    }

    [Fact]
    public void FrequencyAndPresencePenaltiesSubtractAsOpenAiDefines()
    {
        // Token 1 appears 3 times: 3.0 - 3*0.05 - 0.0 = 2.85 < 2.9 → token 4 wins.
        Assert.Equal(4, new Sampler(6, SamplingOptions.Greedy with { FrequencyPenalty = 0.05f }).Sample(Logits, [1, 1, 1]));
        // Presence 0.2 once: 3.0 - 0.2 = 2.8 < 2.9.
        Assert.Equal(4, new Sampler(6, SamplingOptions.Greedy with { PresencePenalty = 0.2f }).Sample(Logits, [1, 1, 1]));
        // Frequency 0.03 × 3 = 0.09 keeps 2.91 > 2.9.
        Assert.Equal(1, new Sampler(6, SamplingOptions.Greedy with { FrequencyPenalty = 0.03f }).Sample(Logits, [1, 1, 1]));
    }

    [Fact]
    public void PenaltyWindowOnlyLooksAtRecentTokens()
    {
        var opts = SamplingOptions.Greedy with { RepeatPenalty = 2f, PenaltyLastN = 2 };
        Assert.Equal(1, new Sampler(6, opts).Sample(Logits, [1, 0, 3]));
        Assert.Equal(4, new Sampler(6, opts).Sample(Logits, [0, 1, 3]));
    }

    [Theory]
    [InlineData(-1, 0.9f, 0.05f, "top_k")]
    [InlineData(40, 0f, 0.05f, "top_p")]
    [InlineData(40, 0.9f, 1.5f, "min_p")]
    public void InvalidSettingsAreNamed(int topK, float topP, float minP, string name)
    {
        var e = Assert.Throws<ArgumentException>(() => new Sampler(6, new SamplingOptions { TopK = topK, TopP = topP, MinP = minP }));
        Assert.Contains(name, e.Message);
    }
}
