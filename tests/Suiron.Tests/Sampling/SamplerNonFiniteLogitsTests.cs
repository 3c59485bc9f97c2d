using Suiron.Sampling;
using Xunit;

namespace Suiron.Tests.Sampling;

/// <summary>
/// Logits a hostile or broken model file can produce (NaN and infinite weights go through the forward pass as such):
/// the sampler must still return a token of the vocabulary, since it runs on the scheduler's thread, where any other
/// exception would end the process.
/// </summary>
public sealed class SamplerNonFiniteLogitsTests
{
    public static TheoryData<string> Cases => new() { "nan", "neg-inf", "pos-inf", "mixed" };

    private static float[] Logits(string kind, int vocab)
    {
        var random = new Random(3);
        return Enumerable.Range(0, vocab).Select(i => kind switch
        {
            "nan" => float.NaN,
            "neg-inf" => float.NegativeInfinity,
            "pos-inf" => float.PositiveInfinity,
            _ => (i % 4) switch { 0 => float.NaN, 1 => float.PositiveInfinity, 2 => float.NegativeInfinity, _ => (float)random.NextDouble() },
        }).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EverySamplerReturnsATokenOfTheVocabulary(string kind)
    {
        const int vocab = 512;
        float[] logits = Logits(kind, vocab);
        var settings = new[]
        {
            SamplingOptions.Greedy,
            new SamplingOptions { Seed = 1 },
            new SamplingOptions { Seed = 2, TopK = 0, TopP = 1, MinP = 0, Temperature = 1 },
            new SamplingOptions { Seed = 3, TopK = 400, TopP = 0.5f, MinP = 0.2f, Temperature = 0.01f },
            new SamplingOptions { Seed = 4, RepeatPenalty = 1.3f, FrequencyPenalty = 1, PresencePenalty = -2 },
        };
        foreach (var options in settings)
        {
            int token = new Sampler(vocab, options).Sample(logits, [1, 2, 3, 2]);
            Assert.InRange(token, 0, vocab - 1);
        }
    }
}
