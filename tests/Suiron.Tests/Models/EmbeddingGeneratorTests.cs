using Microsoft.Extensions.AI;
using Suiron.Embeddings;
using Suiron.Models;
using Xunit;

namespace Suiron.Tests.Models;

/// <summary>SuironEmbeddingGenerator as a Microsoft.Extensions.AI IEmbeddingGenerator over the tiny bert model.</summary>
public sealed class EmbeddingGeneratorTests
{
    [Fact]
    public async Task GeneratesNormalizedEmbeddingsWithUsage()
    {
        using var generator = SuironEmbeddingGenerator.Load(EmbeddingModelBuilder.Bert(1), new ModelOptions { Threads = 2 });
        IEmbeddingGenerator<string, Embedding<float>> abstraction = generator;
        var metadata = abstraction.GetService<EmbeddingGeneratorMetadata>()!;
        Assert.Equal("suiron", metadata.ProviderName);
        Assert.Equal(EmbeddingModelBuilder.Embedding, metadata.DefaultModelDimensions);

        string[] texts = ["Hello world", "東京は日本の首都です。", "Hello world"];
        var result = await abstraction.GenerateAsync(texts);
        Assert.Equal(3, result.Count);
        int expectedTokens = texts.Sum(t => generator.Tokenize(t).Length);
        Assert.Equal(expectedTokens, result.Usage!.InputTokenCount);
        Assert.Equal(expectedTokens, result.Usage!.TotalTokenCount);
        foreach (var embedding in result)
        {
            Assert.Equal(EmbeddingModelBuilder.Embedding, embedding.Vector.Length);
            double norm = Math.Sqrt(embedding.Vector.ToArray().Sum(v => (double)v * v));
            Assert.Equal(1.0, norm, 5);
        }
        Assert.Equal(result[0].Vector.ToArray(), result[2].Vector.ToArray());
        Assert.Equal(generator.Model.Embed(generator.Tokenize(texts[1])), result[1].Vector.ToArray());

        float[] single = await abstraction.GenerateVectorAsync("Hello world") is var v ? v.ToArray() : [];
        Assert.Equal(result[0].Vector.ToArray(), single);

        await Assert.ThrowsAsync<NotSupportedException>(() => abstraction.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 32 }));
        await Assert.ThrowsAsync<ArgumentException>(() => abstraction.GenerateAsync([string.Join(' ', Enumerable.Repeat("word", 600))]));
    }

    [Fact]
    public void PoolingNoneIsRefused()
    {
        Assert.Throws<NotSupportedException>(() => SuironEmbeddingGenerator.Load(EmbeddingModelBuilder.Bert(0), new ModelOptions { Threads = 1 }));
        using var generator = SuironEmbeddingGenerator.Load(EmbeddingModelBuilder.Bert(0), new ModelOptions { Threads = 1 }, EmbeddingPooling.Mean);
        Assert.Equal(EmbeddingPooling.Mean, generator.Model.Pooling);
    }
}
