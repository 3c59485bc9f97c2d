using LLama.Native;
using Suiron.Embeddings;
using Suiron.Gguf;
using Suiron.Models;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// Decoder models as embedders (Qwen3-Embedding style): the tiny qwen3 model with <c>qwen3.pooling_type</c> = last
/// (and mean by override) against llama.cpp's embeddings on the same file.
/// </summary>
public sealed class DecoderEmbeddingTests(ITestOutputHelper output)
{
    private static readonly string[] Texts =
    [
        "Once upon a time, there was a little girl named Lily.",
        "She liked to play in the park with her dog.",
        "One day",
    ];

    /// <summary>
    /// Unit vectors compared; both engines keep keys, values, queries and attention weights in F16 (llama.cpp's default
    /// cache), so a value that rounds to the other F16 neighbour moves by 2⁻¹¹ relative: measured max |Δ| 6e-8..2.3e-5 (last and mean);
    /// bound 2e-3. A wrong norm, RoPE or pooling row moves components by O(0.1).
    /// </summary>
    private const double Tolerance = 2e-3;

    [Theory]
    [InlineData(LLamaPoolingType.Unspecified, EmbeddingPooling.Unspecified)] // the file says last
    [InlineData(LLamaPoolingType.Mean, EmbeddingPooling.Mean)]
    public void Qwen3EmbeddingsMatchLlamaCpp(LLamaPoolingType theirs, EmbeddingPooling ours)
    {
        string path = EmbeddingModelBuilder.WithPooling(TinyModelBuilder.F32(TinyModelOracleTests.Qwen3), (int)EmbeddingPooling.Last);
        using var oracle = new LlamaCppEmbedder(path, theirs, hasCache: true);
        using var file = GgufFile.Open(path);
        Assert.True(EmbeddingModelLoader.IsEmbeddingModel(file));
        using var model = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 2 }, ours);
        Assert.Equal(ours == EmbeddingPooling.Unspecified ? EmbeddingPooling.Last : ours, model.Pooling);
        foreach (string text in Texts)
        {
            int[] tokens = oracle.Tokenize(text);
            float[] expected = oracle.Pooled(tokens);
            EmbeddingMath.Normalize(expected);
            float[] actual = model.Embed(tokens);
            double diff = BertTests.MaxAbsDiff(expected, actual), cosine = EmbeddingMath.CosineSimilarity(expected, actual);
            output.WriteLine($"qwen3 {model.Pooling} '{text}' ({tokens.Length} tokens): max |Δ| {diff:E2}, cosine {cosine:F9}");
            Assert.True(diff <= Tolerance, $"max |Δ| {diff:E2}");
            Assert.True(cosine >= 0.9999, $"cosine {cosine}");
        }
    }

    [Fact]
    public void GenerativeFileWithoutPoolingTypeDefaultsToLastToken()
    {
        using var file = GgufFile.Open(TinyModelBuilder.F32(TinyModelOracleTests.Llama));
        Assert.False(EmbeddingModelLoader.IsEmbeddingModel(file));
        using var model = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 2 });
        Assert.Equal(EmbeddingPooling.Last, model.Pooling);
        int[] tokens = [1, 100, 200, 300];
        float[] hidden = model.EmbedTokens(tokens);
        float[] last = hidden[^model.Dimensions..];
        EmbeddingMath.Normalize(last);
        Assert.Equal(last, model.Embed(tokens));
    }
}
