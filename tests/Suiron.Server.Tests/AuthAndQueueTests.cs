using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using OpenAI.Chat;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>A server with an API key, one slot and no waiting room.</summary>
public sealed class KeyedSingleSlotFixture : ServerFixture
{
    public const string Key = "test-key-123";
    // A context far beyond what the busy stream below can fill in the moments the test needs, so the stream is surely
    // still running when the client leaves, however fast the engine is (stories260K decodes ~2,000 tokens/s).
    protected override LocalModelOptions ModelOptions => new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1, QueueLimit = 0 };
    protected override SuironServerOptions ServerOptions => new() { Port = 0, ApiKey = Key };
}

public sealed class AuthAndQueueTests(KeyedSingleSlotFixture fixture) : IClassFixture<KeyedSingleSlotFixture>
{
    [Fact]
    public async Task ApiNeedsTheKeyButHealthDoesNot()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Address };
        using var health = await anonymous.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        foreach (var auth in new AuthenticationHeaderValue?[] { null, new("Bearer", "wrong"), new("Bearer", KeyedSingleSlotFixture.Key + "x"), new("Basic", KeyedSingleSlotFixture.Key) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { Authorization = auth } };
            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("invalid_api_key", await response.Content.ReadAsStringAsync());
        }
        using (var metrics = await anonymous.GetAsync("/metrics")) Assert.Equal(HttpStatusCode.Unauthorized, metrics.StatusCode);

        var wrong = await Assert.ThrowsAsync<ClientResultException>(() => fixture.OpenAI("nope").GetChatClient("stories260K").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, wrong.Status);
        ChatCompletion ok = await fixture.OpenAI(KeyedSingleSlotFixture.Key).GetChatClient("stories260K")
            .CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 3 });
        Assert.Equal(3, ok.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task BusyServerAnswers429WithRetryAfterAndADisconnectFreesTheSlot()
    {
        // Occupy the only slot with a long stream; read its first chunk so it is surely generating.
        using var cancel = new CancellationTokenSource();
        using var busy = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"model":"default","prompt":"Once upon a time","max_tokens":32000,"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        long generatedBefore = fixture.Model.Scheduler.GeneratedTokens;
        using var stream = await fixture.Http.SendAsync(busy, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cancel.Token));
        Assert.StartsWith("data: ", await reader.ReadLineAsync(cancel.Token));
        Assert.Equal(1, fixture.Model.Scheduler.ActiveSlots);

        using var refused = await fixture.PostJsonAsync("/v1/completions", """{"model":"default","prompt":"Hi","max_tokens":2}""");
        Assert.Equal((HttpStatusCode)429, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Contains("rate_limit_exceeded", await refused.Content.ReadAsStringAsync());

        // The client goes away mid-stream: the slot is free within a step.
        cancel.Cancel();
        stream.Dispose();
        await fixture.WaitForIdleAsync();
        Assert.Equal(0, fixture.Model.Scheduler.ActiveSlots);
        Assert.True(fixture.Model.Scheduler.GeneratedTokens - generatedBefore < 30000, "the stream ran to its end instead of stopping when the client left");
        using var accepted = await fixture.PostJsonAsync("/v1/completions", """{"model":"default","prompt":"Hi","max_tokens":2}""");
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }
}

public sealed class ShutdownTests
{
    [Fact]
    public async Task StoppingTheHostEndsARunningStreamCleanly()
    {
        // Room for a stream far longer than the test lasts, so it is surely running when the host stops.
        using var model = LocalModel.Load(TestModels.Stories, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1 });
        await using var server = SuironServer.Create(model, new SuironServerOptions { Port = 0, ShutdownGrace = TimeSpan.FromMilliseconds(200) });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"model":"default","prompt":"Once upon a time","max_tokens":32000,"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<System.Text.Json.JsonElement>();
        Task stopping = Task.CompletedTask;
        // The stream ends with an error event and data: [DONE] (ReadEventsAsync throws if [DONE] is missing).
        await foreach (var e in ServerFixture.ReadEventsAsync(response))
        {
            events.Add(e);
            if (events.Count == 1) stopping = server.StopAsync();
        }
        await stopping;
        Assert.True(events[^1].TryGetProperty("error", out var error), "the last event should say the server is shutting down");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.True(events.Count < 30000, "the stream ran to its end instead of being cut by the shutdown"); // no wall-clock bound: CI may be slow
        Assert.Equal(0, model.Scheduler.ActiveSlots);
    }
}
