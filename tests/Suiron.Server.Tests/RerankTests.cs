using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;
using Suiron.Embeddings;

namespace Suiron.Server.Tests;

/// <summary>A server with <c>--rerank-model</c>: the tiny random bert cross-encoder.</summary>
public sealed class RerankFixture : ServerFixture
{
    private SuironReranker? _reranker;

    protected override SuironServerOptions ServerOptions
        => base.ServerOptions with { Reranker = _reranker ??= SuironReranker.Load(TestModels.BertReranker, new Suiron.Models.ModelOptions { Threads = 1 }) };
}

/// <summary>/v1/rerank and /rerank: llama.cpp's rank-pooled scores (LLamaSharp) of llama-server's pair tokens, best first.</summary>
public sealed class RerankTests(RerankFixture fixture) : IClassFixture<RerankFixture>
{
    private static readonly string[] Documents = ["hi", "The giant panda is a bear species endemic to China.", "パンダは中国の竹林に住む熊です。", "Pandas eat bamboo."];
    private const string Query = "What is a panda?";

    /// <summary>llama.cpp's score of each document: [CLS] query [SEP] document (llama-server's form for bge's vocabulary), rank pooling.</summary>
    private static float[] LlamaCppScores()
    {
        var parameters = new ModelParams(TestModels.BertReranker)
        {
            ContextSize = 512, BatchSize = 512, UBatchSize = 512, SeqMax = 1, GpuLayerCount = 0, Threads = 1, Embeddings = true, PoolingType = LLamaPoolingType.Rank,
            FlashAttention = false, // its CPU path rounds queries to F16: ~1e-3 off the exact scores
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        // llama.cpp adds [CLS] before and [SEP] after a text: those are the pair's first and middle tokens.
        LLamaToken[] marked = context.Tokenize("a", addBos: true);
        int cls = (int)marked[0], sep = (int)marked[^1];
        return Documents.Select(document =>
        {
            int[] query = context.Tokenize(Query, addBos: true).Select(t => (int)t).ToArray()[1..^1];
            int[] doc = context.Tokenize(document, addBos: true).Select(t => (int)t).ToArray()[1..^1];
            int[] tokens = [cls, .. query, sep, .. doc];
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Length; i++) batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
            return context.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero)[0];
        }).ToArray();
    }

    [Fact]
    public async Task ScoresAreLlamaCppsBestFirst()
    {
        float[] expected = LlamaCppScores();
        var (status, body) = await fixture.PostAsync("/v1/rerank", JsonSerializer.Serialize(new { model = "bert-reranker", query = Query, documents = Documents }));
        Assert.Equal(200, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal("bert-reranker", body.GetProperty("model").GetString());
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(Documents.Length, results.Count);
        Assert.Equal(Enumerable.Range(0, Documents.Length).OrderByDescending(i => expected[i]), results.Select(r => r.GetProperty("index").GetInt32()));
        foreach (var result in results)
        {
            float score = result.GetProperty("relevance_score").GetSingle();
            Assert.True(Math.Abs(expected[result.GetProperty("index").GetInt32()] - score) <= 1e-4, $"{score} vs {expected[result.GetProperty("index").GetInt32()]}");
        }
        Assert.True(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 4 * 6);

        // top_n and return_documents; /rerank is the same endpoint.
        var (_, top) = await fixture.PostAsync("/rerank", JsonSerializer.Serialize(new { query = Query, documents = Documents, top_n = 2, return_documents = true }));
        var best = top.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, best.Count);
        Assert.Equal(results[0].GetProperty("index").GetInt32(), best[0].GetProperty("index").GetInt32());
        Assert.Equal(Documents[best[0].GetProperty("index").GetInt32()], best[0].GetProperty("document").GetProperty("text").GetString());

        // Hugging Face TEI's form: texts in, [{index, score, text}] out.
        var (_, tei) = await fixture.PostAsync("/rerank", JsonSerializer.Serialize(new { query = Query, texts = Documents, return_text = true }));
        var teiResults = tei.EnumerateArray().ToList();
        Assert.Equal(results.Select(r => r.GetProperty("index").GetInt32()), teiResults.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(Documents[teiResults[0].GetProperty("index").GetInt32()], teiResults[0].GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("""{"documents":["a"]}""", "query")]
    [InlineData("""{"query":"q","documents":[]}""", "documents")]
    [InlineData("""{"query":"q","documents":["a",3]}""", "documents[1]")]
    [InlineData("""{"query":"q","documents":["a"],"top_n":0}""", "top_n")]
    [InlineData("""{"query":"q","documents":["a"],"return_documents":"yes"}""", "return_documents")]
    public async Task BadRequestsAreRefusedClearly(string body, string param)
    {
        var (status, error) = await fixture.PostAsync("/v1/rerank", body);
        Assert.Equal(400, status);
        Assert.Equal(param, error.GetProperty("error").GetProperty("param").GetString());
    }
}

[Collection(ServerCollection.Name)]
public sealed class RerankOffTests(ServerFixture fixture)
{
    [Fact]
    public async Task WithoutARerankerTheEndpointSaysHowToGetOne()
    {
        var (status, error) = await fixture.PostAsync("/v1/rerank", """{"query":"q","documents":["a"]}""");
        Assert.Equal(501, status);
        Assert.Contains("--rerank-model", error.GetProperty("error").GetProperty("message").GetString());
    }
}
