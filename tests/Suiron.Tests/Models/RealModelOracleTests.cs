using Suiron.Gguf;
using Suiron.Models;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>Real GGUF files from shared/models against llama.cpp: logits after a prompt, then 64 greedy tokens.</summary>
public sealed class RealModelOracleTests(ITestOutputHelper output)
{
    /// <summary>F32 and F16 weights: both engines compute in F32 with the same F16 roundings (activations for F16
    /// weights, queries and attention weights for the F16 cache); only summation order differs.</summary>
    private const double LogitTolerance = 1e-3;

    public static TheoryData<string, string> Cases => new()
    {
        { "stories260K.gguf", "Once upon a time" },
        { "stories260K.gguf", "Lily and Tom went to the park. They saw a big dog" },
        { "stories260K.gguf", "The little bird" },
        { "llama-2-tiny-random.gguf", "Once upon a time" },
        { "llama-2-tiny-random.gguf", "The quick brown fox jumps over the lazy dog." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesLlamaCpp(string fileName, string prompt)
    {
        const int continuation = 64;
        string path = SharedData.Path("models", fileName);
        using var oracle = new LlamaCppOracle(path);
        int[] tokens = oracle.Tokenize(prompt);
        var (theirLogits, theirTokens) = oracle.Greedy(tokens, continuation);

        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2 });
        var (ourLogits, ourTokens) = ModelAssert.Greedy(model, tokens, continuation);

        double relative = ModelAssert.MaxRelativeDifference(ourLogits, theirLogits);
        output.WriteLine($"{fileName} '{prompt}' ({tokens.Length} tokens): max relative logit difference {relative:E2}");
        output.WriteLine($"ours:   {string.Join(",", ourTokens)}");
        output.WriteLine($"theirs: {string.Join(",", theirTokens)}");
        Assert.True(relative <= LogitTolerance, $"max relative logit difference {relative:E2} > {LogitTolerance:E0}");
        Assert.Equal(theirTokens, ourTokens);
    }
}
