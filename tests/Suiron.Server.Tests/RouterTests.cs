using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Suiron.Embeddings;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Server.Routing;
using Xunit.Abstractions;

namespace Suiron.Server.Tests;

/// <summary>
/// Several models in one server (llama-server's router mode): stories260K, a tiny random qwen3 and a tiny random bert
/// embedder (both written with our GgufWriter), and a bert reranker. Each answer must equal what a server of that one
/// model answers; limits must hold while requests run concurrently, and no request may be lost.
/// </summary>
public sealed class RouterTests
{
    private static LocalModelOptions ModelOptions => new() { Model = new ModelOptions { Threads = 1, ContextSize = 128 }, Slots = 2, QueueLimit = 64 };

    private static ModelSource Stories => ModelSource.FromFile(TestModels.Stories, ["tales"]);
    private static ModelSource Qwen => ModelSource.FromFile(TestModels.Qwen3Tiny);
    private static ModelSource Embedder => ModelSource.FromFile(TestModels.BertEmbedder);
    private static ModelSource Reranker => ModelSource.FromFile(TestModels.BertReranker);

    private static string Chat(string model, string text, int maxTokens)
        => JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = text } }, max_tokens = maxTokens, temperature = 0 });

    private static string StoriesRequest => Chat("stories260K", "Once upon a time", 12);
    private static string QwenRequest => Chat("qwen3-tiny", "こんにちは、元気ですか", 8);

    private static async Task<SuironServer> StartRouterAsync(int maxLoaded, long budget, params ModelSource[] models)
    {
        var server = SuironServer.Create(new ModelRouterOptions { Models = models, MaxLoaded = maxLoaded, MemoryBudgetBytes = budget, ModelOptions = ModelOptions },
            new SuironServerOptions { Port = 0 });
        await server.StartAsync();
        return server;
    }

    private static HttpClient Client(SuironServer server) => new() { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(3) };

    private static async Task<(int Status, JsonElement Body)> PostAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static string Content(JsonElement body) => body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

    /// <summary>What a server of that model alone answers (the truth the router must match).</summary>
    private static async Task<string> OneModelServerAnswerAsync(string path, string request)
    {
        using var model = LocalModel.Load(path, ModelOptions);
        await using var server = SuironServer.Create(model, new SuironServerOptions { Port = 0 });
        await server.StartAsync();
        using var http = Client(server);
        var (status, body) = await PostAsync(http, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        await server.StopAsync();
        return Content(body);
    }

    private static float[] ExpectedEmbedding(string text)
    {
        using var generator = SuironEmbeddingGenerator.Load(TestModels.BertEmbedder, new ModelOptions { Threads = 1 });
        return generator.Model.Embed(generator.Tokenize(text));
    }

    private static float[] Vector(JsonElement body) => body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();

    private static Dictionary<string, string> Statuses(JsonElement list)
        => list.GetProperty("data").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!, m => m.GetProperty("status").GetProperty("value").GetString()!);

    [Fact]
    public async Task ThreeModelsUnderALimitOfTwoAnswerConcurrentRequestsAsOneModelServersDo()
    {
        string stories = await OneModelServerAnswerAsync(TestModels.Stories, StoriesRequest);
        string qwen = await OneModelServerAnswerAsync(TestModels.Qwen3Tiny, QwenRequest);
        float[] embedding = ExpectedEmbedding("a panda eats bamboo");

        await using var server = await StartRouterAsync(maxLoaded: 2, budget: 0, Stories, Qwen, Embedder);
        using var http = Client(server);
        var router = server.Router!;
        int mostLoaded = 0;
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                mostLoaded = Math.Max(mostLoaded, router.Models.Count(m => m.Status != RoutedModelStatus.Unloaded));
                await Task.Delay(1);
            }
        });

        var requests = new List<Task<(string Model, int Status, JsonElement Body)>>();
        for (int round = 0; round < 4; round++)
        {
            requests.Add(Send("stories260K", "/v1/chat/completions", StoriesRequest));
            requests.Add(Send("qwen3-tiny", "/v1/chat/completions", QwenRequest));
            requests.Add(Send("bert-embedder", "/v1/embeddings", JsonSerializer.Serialize(new { model = "bert-embedder", input = "a panda eats bamboo" })));
        }
        var answers = await Task.WhenAll(requests);
        watching.Cancel();
        await watcher;

        Assert.All(answers, a => Assert.True(a.Status == 200, $"{a.Model}: {a.Status} {a.Body}"));
        foreach (var (model, _, body) in answers)
        {
            if (model == "stories260K") Assert.Equal(stories, Content(body));
            else if (model == "qwen3-tiny") Assert.Equal(qwen, Content(body));
            else Assert.Equal(embedding, Vector(body));
        }
        Assert.InRange(mostLoaded, 1, 2);
        var listed = Statuses(JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement);
        Assert.Equal(["bert-embedder", "qwen3-tiny", "stories260K"], listed.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2, listed.Values.Count(v => v == "loaded"));
        await server.StopAsync();

        async Task<(string, int, JsonElement)> Send(string model, string path, string json)
        {
            var (status, body) = await PostAsync(http, path, json);
            return (model, status, body);
        }
    }

    /// <summary>Each model's cost by hand: its file bytes plus K and V of every layer, every position, every slot.</summary>
    private static long Cost(string path, bool generative)
    {
        long file = new FileInfo(path).Length;
        if (!generative) return file;
        using var model = LocalModel.Load(path, ModelOptions);
        var info = model.Model.Info;
        return file + info.KvCacheBytesPerToken * model.Scheduler.ContextSize * model.Scheduler.SlotCount;
    }

    [Fact]
    public async Task AMemoryBudgetThatFitsTwoUnloadsTheLeastRecentlyUsed()
    {
        long stories = Cost(TestModels.Stories, true), qwen = Cost(TestModels.Qwen3Tiny, true), embedder = Cost(TestModels.BertEmbedder, false);
        // Any two fit, three never do.
        long budget = stories + qwen + embedder - Math.Min(stories, Math.Min(qwen, embedder));
        await using var server = await StartRouterAsync(maxLoaded: 0, budget, Stories, Qwen, Embedder);
        using var http = Client(server);
        var router = server.Router!;
        string embed = JsonSerializer.Serialize(new { model = "bert-embedder", input = "hello" });
        // Before any load, the costs are estimated from the files' metadata: for full attention, exactly.
        Assert.Equal([stories, qwen, embedder], router.Models.Select(m => m.CostBytes));

        Assert.Equal(200, (await PostAsync(http, "/v1/chat/completions", StoriesRequest)).Status);
        Assert.Equal(200, (await PostAsync(http, "/v1/chat/completions", QwenRequest)).Status);
        var list = JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement;
        Assert.Equal(new Dictionary<string, string> { ["stories260K"] = "loaded", ["qwen3-tiny"] = "loaded", ["bert-embedder"] = "unloaded" }, Statuses(list));
        long Listed(string id) => list.GetProperty("data").EnumerateArray().First(m => m.GetProperty("id").GetString() == id).GetProperty("status").GetProperty("memory_bytes").GetInt64();
        Assert.Equal(stories, Listed("stories260K"));
        Assert.Equal(qwen, Listed("qwen3-tiny"));

        Assert.Equal(200, (await PostAsync(http, "/v1/embeddings", embed)).Status);
        // stories260K was used least recently.
        Assert.Equal(new Dictionary<string, string> { ["stories260K"] = "unloaded", ["qwen3-tiny"] = "loaded", ["bert-embedder"] = "loaded" },
            Statuses(JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement));
        Assert.Equal(qwen + embedder, router.UsedBytes);

        Assert.Equal(200, (await PostAsync(http, "/v1/chat/completions", StoriesRequest)).Status);
        Assert.Equal(new Dictionary<string, string> { ["stories260K"] = "loaded", ["qwen3-tiny"] = "unloaded", ["bert-embedder"] = "loaded" },
            Statuses(JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement));
        Assert.True(router.UsedBytes <= budget);
        await server.StopAsync();
    }

    [Fact]
    public async Task ARequestForAnUnloadedModelWaitsUntilTheBusyOneIsFree()
    {
        string qwen = await OneModelServerAnswerAsync(TestModels.Qwen3Tiny, QwenRequest);
        await using var server = await StartRouterAsync(maxLoaded: 1, budget: 0, Stories, Qwen);
        using var http = Client(server);
        var router = server.Router!;

        // A request in flight on stories260K holds it: with room for one model, qwen3-tiny cannot load until it ends.
        var held = await router.AcquireAsync("stories260K", CancellationToken.None);
        var waiting = PostAsync(http, "/v1/chat/completions", QwenRequest);
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(new Dictionary<string, string> { ["stories260K"] = "loaded", ["qwen3-tiny"] = "unloaded" },
            Statuses(JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement));

        held.Dispose();
        var (status, body) = await waiting;
        Assert.Equal(200, status);
        Assert.Equal(qwen, Content(body));
        Assert.Equal(new Dictionary<string, string> { ["stories260K"] = "unloaded", ["qwen3-tiny"] = "loaded" },
            Statuses(JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement));
        await server.StopAsync();
    }

    [Fact]
    public async Task StreamsInFlightKeepTheirModelWhileOtherModelsQueue()
    {
        string stories = await OneModelServerAnswerAsync(TestModels.Stories, StoriesRequest);
        string qwen = await OneModelServerAnswerAsync(TestModels.Qwen3Tiny, QwenRequest);
        await using var server = await StartRouterAsync(maxLoaded: 1, budget: 0, Stories, Qwen);
        using var http = Client(server);

        // Alternating streamed requests to two models with room for one: each waits for the other's to end.
        var tasks = Enumerable.Range(0, 8).Select(i => StreamAsync(i % 2 == 0 ? StoriesRequest : QwenRequest)).ToArray();
        string[] texts = await Task.WhenAll(tasks);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(i % 2 == 0 ? stories : qwen, texts[i]);
        await server.StopAsync();

        async Task<string> StreamAsync(string json)
        {
            var request = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;
            request["stream"] = JsonSerializer.SerializeToElement(true);
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(200, (int)response.StatusCode);
            var text = new StringBuilder();
            await foreach (var chunk in ServerFixture.ReadEventsAsync(response))
                if (chunk.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
                    && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                    text.Append(content.GetString());
            return text.ToString();
        }
    }

    [Fact]
    public async Task RequestsAreRoutedByNameAliasAndKindWithClearErrors()
    {
        string stories = await OneModelServerAnswerAsync(TestModels.Stories, StoriesRequest);
        await using var server = await StartRouterAsync(maxLoaded: 0, budget: 0, Stories, Embedder, Reranker);
        using var http = Client(server);

        // The alias reaches stories260K.
        var (status, body) = await PostAsync(http, "/v1/chat/completions", StoriesRequest.Replace("\"stories260K\"", "\"tales\""));
        Assert.Equal(200, status);
        Assert.Equal(stories, Content(body));

        // The other APIs reach it too, with the same greedy text as its chat completion.
        (status, body) = await PostAsync(http, "/v1/messages", JsonSerializer.Serialize(new
        {
            model = "stories260K", max_tokens = 12, temperature = 0, messages = new[] { new { role = "user", content = "Once upon a time" } },
        }));
        Assert.Equal(200, status);
        Assert.Equal(stories, body.GetProperty("content")[0].GetProperty("text").GetString());
        (status, body) = await PostAsync(http, "/v1/responses", JsonSerializer.Serialize(new { model = "tales", input = "Once upon a time", max_output_tokens = 12, temperature = 0 }));
        Assert.Equal(200, status);
        var message = Assert.Single(body.GetProperty("output").EnumerateArray(), i => i.GetProperty("type").GetString() == "message");
        Assert.Equal(stories, message.GetProperty("content")[0].GetProperty("text").GetString());
        // An unknown model on /v1/messages gets Anthropic's error shape.
        (status, body) = await PostAsync(http, "/v1/messages", JsonSerializer.Serialize(new { model = "claude-x", max_tokens = 4, messages = new[] { new { role = "user", content = "hi" } } }));
        Assert.Equal(404, status);
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal("not_found_error", body.GetProperty("error").GetProperty("type").GetString());

        (status, body) = await PostAsync(http, "/v1/chat/completions", Chat("gpt-4", "hi", 4));
        Assert.Equal(404, status);
        Assert.Equal("model_not_found", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("'gpt-4' does not exist", body.GetProperty("error").GetProperty("message").GetString());

        (status, body) = await PostAsync(http, "/v1/completions", """{"prompt": "x", "max_tokens": 2}""");
        Assert.Equal(400, status);
        Assert.Equal("model_required", body.GetProperty("error").GetProperty("code").GetString());

        (status, body) = await PostAsync(http, "/v1/chat/completions", Chat("bert-embedder", "hi", 4));
        Assert.Equal(400, status);
        Assert.Contains("answers /v1/embeddings or /v1/rerank", body.GetProperty("error").GetProperty("message").GetString());

        // The reranker's scores are the library's own for the same file.
        string[] documents = ["hi", "Pandas eat bamboo."];
        (status, body) = await PostAsync(http, "/v1/rerank", JsonSerializer.Serialize(new { model = "bert-reranker", query = "What do pandas eat?", documents }));
        Assert.Equal(200, status);
        using (var reranker = SuironReranker.Load(TestModels.BertReranker, new ModelOptions { Threads = 1 }))
            foreach (var result in body.GetProperty("results").EnumerateArray())
            {
                int index = result.GetProperty("index").GetInt32();
                Assert.Equal(reranker.Score(reranker.Tokenize("What do pandas eat?", documents[index])), result.GetProperty("relevance_score").GetSingle(), 5);
            }
        (status, body) = await PostAsync(http, "/v1/rerank", JsonSerializer.Serialize(new { model = "bert-embedder", query = "q", documents }));
        Assert.Equal(400, status);
        Assert.Contains("is not a reranker", body.GetProperty("error").GetProperty("message").GetString());

        // GET endpoints take the model as a query parameter, as llama-server's router does.
        using (var props = await http.GetAsync("/props?model=stories260K")) Assert.Equal(200, (int)props.StatusCode);

        // /models/load and /models/unload.
        (status, body) = await PostAsync(http, "/models/unload", """{"model": "stories260K"}""");
        Assert.Equal(200, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("unloaded", Statuses(JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement)["stories260K"]);
        Assert.Equal(400, (await PostAsync(http, "/models/unload", """{"model": "stories260K"}""")).Status);
        Assert.Equal(404, (await PostAsync(http, "/models/load", """{"model": "nope"}""")).Status);
        Assert.Equal(400, (await PostAsync(http, "/models/load", """{}""")).Status);
        (status, _) = await PostAsync(http, "/models/load", """{"model": "tales"}""");
        Assert.Equal(200, status);
        var listed = JsonDocument.Parse(await http.GetStringAsync("/models")).RootElement;
        Assert.Equal("loaded", Statuses(listed)["stories260K"]);
        var card = JsonDocument.Parse(await http.GetStringAsync("/v1/models/tales")).RootElement;
        Assert.Equal("stories260K", card.GetProperty("id").GetString());
        Assert.Equal("generation", card.GetProperty("kind").GetString());
        Assert.Equal(["tales"], card.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()!));
        Assert.Equal("rerank", JsonDocument.Parse(await http.GetStringAsync("/v1/models/bert-reranker")).RootElement.GetProperty("kind").GetString());
        await server.StopAsync();
    }

    [Fact]
    public async Task AModelThatFailsToLoadIsReportedAndTheOthersServe()
    {
        string dir = Directory.CreateTempSubdirectory("suiron-broken-model-").FullName;
        try
        {
            string broken = Path.Combine(dir, "broken.gguf");
            File.WriteAllBytes(broken, [.. "GGUF"u8, 3, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
            await using var server = await StartRouterAsync(maxLoaded: 1, budget: 0, ModelSource.FromFile(broken), Stories);
            using var http = Client(server);

            var (status, body) = await PostAsync(http, "/v1/chat/completions", Chat("broken", "hi", 4));
            Assert.Equal(500, status);
            Assert.Equal("model_load_failed", body.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("'broken' could not be loaded", body.GetProperty("error").GetProperty("message").GetString());
            var card = JsonDocument.Parse(await http.GetStringAsync("/v1/models/broken")).RootElement.GetProperty("status");
            Assert.Equal("unloaded", card.GetProperty("value").GetString());
            Assert.True(card.GetProperty("failed").GetBoolean());
            Assert.False(string.IsNullOrEmpty(card.GetProperty("error").GetString()));

            // The failed load took no room: the other model loads and answers.
            (status, _) = await PostAsync(http, "/v1/chat/completions", StoriesRequest);
            Assert.Equal(200, status);
            Assert.Equal(server.Router!.Models.Single(m => m.Id == "stories260K").CostBytes, server.Router.UsedBytes);
            await server.StopAsync();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ADirectoryListsEachFileAndASplitFileAsOneModel()
    {
        string dir = Directory.CreateTempSubdirectory("suiron-models-dir-").FullName;
        try
        {
            foreach (string name in new[] { "a.gguf", "big-00001-of-00002.gguf", "big-00002-of-00002.gguf", "notes.txt" }) File.WriteAllText(Path.Combine(dir, name), "");
            Directory.CreateDirectory(Path.Combine(dir, "vision"));
            File.WriteAllText(Path.Combine(dir, "vision", "model.gguf"), "");
            File.WriteAllText(Path.Combine(dir, "vision", "mmproj-f16.gguf"), "");
            var models = ModelSource.FromDirectory(dir);
            Assert.Equal(["a", "big", "vision"], models.Select(m => m.Id));
            Assert.Equal(["big-00001-of-00002.gguf", "big-00002-of-00002.gguf"], models[1].Files.Select(Path.GetFileName));
            Assert.Equal(["model.gguf"], models[2].Files.Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Runs alone: it measures the process's resident memory, which other tests' allocations would blur.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResidentMemoryCollection
{
    public const string Name = "resident memory";
}

[Collection(ResidentMemoryCollection.Name)]
public sealed class RouterMemoryTests(ITestOutputHelper output)
{
    private static long ResidentBytes()
    {
        // Aggressive: the collector also gives its free memory back to the system, so garbage does not count.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }

    /// <summary>
    /// qwen3-tiny's file is 39 MB, nearly all its tied 151,669 × 64 F32 embedding, which every token's logits read: loading
    /// and using it must raise the resident memory by about that much, and unloading must give it back.
    /// </summary>
    [Fact]
    public async Task UnloadingAModelReturnsItsMemory()
    {
        long file = new FileInfo(TestModels.Qwen3Tiny).Length;
        var options = new LocalModelOptions { Model = new ModelOptions { Threads = 1, ContextSize = 2048 }, Slots = 4 };
        await using var server = SuironServer.Create(new ModelRouterOptions { Models = [ModelSource.FromFile(TestModels.Qwen3Tiny), ModelSource.FromFile(TestModels.Stories)], ModelOptions = options },
            new SuironServerOptions { Port = 0 });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        // Warm the server's own code paths with the other model first, so that what follows measures the model alone.
        await PostAsync(http, "/v1/chat/completions", """{"model": "stories260K", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}""");
        await PostAsync(http, "/models/unload", """{"model": "stories260K"}""");

        long before = ResidentBytes();
        await PostAsync(http, "/v1/chat/completions", """{"model": "qwen3-tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}""");
        long loaded = ResidentBytes();
        await PostAsync(http, "/models/unload", """{"model": "qwen3-tiny"}""");
        long after = ResidentBytes();
        output.WriteLine($"file {file:N0} B; resident before {before:N0}, loaded {loaded:N0} (+{loaded - before:N0}), after unload {after:N0} ({after - before:+#,0;-#,0;0} from before)");

        Assert.True(loaded - before >= file * 8 / 10, $"loading raised the resident memory by {loaded - before:N0} bytes, less than the file's {file:N0}");
        Assert.True(loaded - after >= (loaded - before) * 8 / 10, $"unloading returned {loaded - after:N0} of the {loaded - before:N0} bytes loading took");
        await server.StopAsync();
    }

    private static async Task PostAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
