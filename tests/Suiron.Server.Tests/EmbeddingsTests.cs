using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Embeddings;
using Suiron.Embeddings;
using Suiron.Models;

namespace Suiron.Server.Tests;

/// <summary>/v1/embeddings over the served stories260K model (last-token pooling), through the OpenAI .NET SDK and raw HTTP.</summary>
[Collection(ServerCollection.Name)]
public sealed class EmbeddingsTests(ServerFixture fixture)
{
    private static readonly string[] Texts = ["Once upon a time", "Lily went to the park.", "Once upon a time"];

    /// <summary>What the engine gives in-process for the same file and text (the server must return exactly this).</summary>
    private static float[][] Expected(params string[] texts)
    {
        using var generator = SuironEmbeddingGenerator.Load(TestModels.Stories, new ModelOptions { Threads = 1, ContextSize = 256 });
        return texts.Select(t => generator.Model.Embed(generator.Tokenize(t))).ToArray();
    }

    private static int TokenCount(ServerFixture fixture, string text) => fixture.Model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true).Length;

    [Fact]
    public async Task OpenAiSdkRoundTripWithUsage()
    {
        EmbeddingClient client = fixture.OpenAI().GetEmbeddingClient("stories260K");
        OpenAIEmbeddingCollection result = await client.GenerateEmbeddingsAsync(Texts); // the SDK asks for base64
        float[][] expected = Expected(Texts);
        Assert.Equal(3, result.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(i, result[i].Index);
            Assert.Equal(expected[i], result[i].ToFloats().ToArray());
        }
        int tokens = Texts.Sum(t => TokenCount(fixture, t));
        Assert.Equal(tokens, result.Usage.InputTokenCount);
        Assert.Equal(tokens, result.Usage.TotalTokenCount);
        double norm = Math.Sqrt(result[1].ToFloats().ToArray().Sum(v => (double)v * v));
        Assert.Equal(1.0, norm, 5);

        OpenAIEmbedding single = await client.GenerateEmbeddingAsync("Lily went to the park.");
        Assert.Equal(expected[1], single.ToFloats().ToArray());
    }

    [Fact]
    public async Task MicrosoftExtensionsAiClientOverOpenAi()
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = fixture.OpenAI().GetEmbeddingClient("default").AsIEmbeddingGenerator();
        var result = await generator.GenerateAsync(["Once upon a time"]);
        Assert.Equal(Expected("Once upon a time")[0], result[0].Vector.ToArray());
    }

    [Fact]
    public async Task FloatAndBase64FormatsCarryTheSameVector()
    {
        var (status, floats) = await fixture.PostAsync("/v1/embeddings", """{"model":"default","input":"Once upon a time","encoding_format":"float"}""");
        Assert.Equal(200, status);
        Assert.Equal("list", floats.GetProperty("object").GetString());
        Assert.Equal("default", floats.GetProperty("model").GetString());
        var item = floats.GetProperty("data")[0];
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        float[] vector = item.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.Equal(Expected("Once upon a time")[0], vector);
        Assert.Equal(TokenCount(fixture, "Once upon a time"), floats.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        var (_, base64) = await fixture.PostAsync("/v1/embeddings", """{"input":["Once upon a time"],"encoding_format":"base64"}""");
        byte[] bytes = Convert.FromBase64String(base64.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        float[] decoded = new float[bytes.Length / 4];
        for (int i = 0; i < decoded.Length; i++) decoded[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        Assert.Equal(vector, decoded);
    }

    [Fact]
    public async Task TokenIdInputsEqualTextInputs()
    {
        int[] ids = fixture.Model.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: true);
        string list = string.Join(",", ids);
        var (status, one) = await fixture.PostAsync("/v1/embeddings", $$"""{"input":[{{list}}]}""");
        Assert.Equal(200, status);
        var (_, many) = await fixture.PostAsync("/v1/embeddings", $$"""{"input":[[{{list}}],[{{list}}]]}""");
        float[] expected = Expected("Once upon a time")[0];
        Assert.Equal(expected, Vector(one, 0));
        Assert.Equal(expected, Vector(many, 1));
        Assert.Equal(2 * ids.Length, many.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Theory]
    [InlineData("""{"input":""}""", 400, "empty")]
    [InlineData("""{"input":[]}""", 400, "empty")]
    [InlineData("""{"input":[[]]}""", 400, "empty")]
    [InlineData("""{"model":"gpt-4o","input":"hi"}""", 404, "does not exist")]
    [InlineData("""{"input":"hi","dimensions":8}""", 400, "dimensions")]
    [InlineData("""{"input":"hi","encoding_format":"int8"}""", 400, "encoding_format")]
    [InlineData("""{"input":[1,2,999999]}""", 400, "vocabulary")]
    [InlineData("""{"input":[1,"a"]}""", 400, "must be")]
    [InlineData("""{"input":{"text":"hi"}}""", 400, "must be")]
    [InlineData("""{}""", 400, "required")]
    public async Task BadRequestsGetOpenAiErrors(string json, int expectedStatus, string fragment)
    {
        var (status, body) = await fixture.PostAsync("/v1/embeddings", json);
        Assert.Equal(expectedStatus, status);
        var error = body.GetProperty("error");
        Assert.Contains(fragment, error.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task TooLongInputNamesTheLimit()
    {
        string text = string.Join(' ', Enumerable.Repeat("Once upon a time there was a girl.", 60));
        var (status, body) = await fixture.PostAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = text }));
        Assert.Equal(400, status);
        Assert.Contains("at most 256", body.GetProperty("error").GetProperty("message").GetString());
    }

    private static float[] Vector(JsonElement body, int index) =>
        body.GetProperty("data")[index].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
}

/// <summary>A separate embedding model (<c>suiron serve --embedding-model</c>) beside the chat model.</summary>
public sealed class SeparateEmbeddingModelTests
{
    [Fact]
    public async Task RequestsByNameOrAliasUseTheEmbeddingModel()
    {
        using var chat = Suiron.Inference.LocalModel.Load(TestModels.Stories, new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 128 }, Slots = 1 });
        using var embeddings = SuironEmbeddingGenerator.Load(TestModels.TinyRandomLlama, new ModelOptions { Threads = 1, ContextSize = 64 }, EmbeddingPooling.Mean);
        await using var server = SuironServer.Create(chat, new SuironServerOptions { Port = 0, EmbeddingModel = embeddings });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        float[] expected = embeddings.Model.Embed(embeddings.Tokenize("hello there"));
        foreach (string name in new[] { embeddings.ModelId, "default" })
        {
            using var response = await http.PostAsync("/v1/embeddings",
                new StringContent(JsonSerializer.Serialize(new { model = name, input = "hello there" }), System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(200, (int)response.StatusCode);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            float[] vector = body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.Equal(expected, vector);
        }
        await server.StopAsync();
    }
}
