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

    [Fact]
    public async Task DuringTheDrainNewRequestsGet503WithRetryAfterAndHealthSaysDraining()
    {
        using var model = LocalModel.Load(TestModels.Stories, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1 });
        await using var server = SuironServer.Create(model, new SuironServerOptions { Port = 0, ShutdownGrace = TimeSpan.FromSeconds(3) });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        // A keep-alive connection opened before the drain, to check that it is answered rather than dropped.
        using (var warm = await http.GetAsync("/health")) Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"messages":[{"role":"user","content":"Tell a story"}],"max_tokens":32000,"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var streaming = new HttpClient { BaseAddress = server.Address };
        using var response = await streaming.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = ServerFixture.ReadEventsAsync(response).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync());

        Task stopping = server.StopAsync();
        for (int i = 0; i < 200 && !server.State.Stopping; i++) await Task.Delay(10);
        Assert.True(server.State.Stopping);

        foreach (var client in new[] { http, new HttpClient { BaseAddress = server.Address } })
        {
            using var refused = await client.PostAsync("/v1/completions", new StringContent("""{"prompt":"Hi","max_tokens":2}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            var error = HostileRequestTests.ErrorOf(503, await refused.Content.ReadAsStringAsync(), "drain");
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            using var models = await client.GetAsync("/v1/models");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, models.StatusCode);
            using var health = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Contains("\"status\":\"draining\"", await health.Content.ReadAsStringAsync());
        }

        // The running stream ends with an error event and data: [DONE] once the grace period is over.
        var rest = new List<System.Text.Json.JsonElement>();
        while (await events.MoveNextAsync()) rest.Add(events.Current);
        Assert.True(rest[^1].TryGetProperty("error", out var last), "the stream's last event should be the shutdown error");
        Assert.Equal("server_error", last.GetProperty("type").GetString());
        await stopping;
    }

    [Fact]
    public async Task SigtermDrainsAndExitsZero()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { System.IO.Path.Combine(AppContext.BaseDirectory, "Suiron.Cli.dll"), "serve", "--model", TestModels.Stories, "--port", "0", "--threads", "1" })
            start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = new System.Text.StringBuilder();
        var address = new TaskCompletionSource<Uri>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            var match = System.Text.RegularExpressions.Regex.Match(e.Data, @"at (http://\S+)");
            if (e.Data.StartsWith("suiron: serving", StringComparison.Ordinal) && match.Success) address.TrySetResult(new Uri(match.Groups[1].Value));
        };
        process.BeginErrorReadLine();
        _ = process.StandardOutput.ReadToEndAsync();
        try
        {
            Uri uri = await address.Task.WaitAsync(TimeSpan.FromMinutes(1));
            using var http = new HttpClient { BaseAddress = uri };
            using (var ok = await http.GetAsync("/health")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!) await kill.WaitForExitAsync();
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
            lock (stderr) Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {stderr}");
            lock (stderr) Assert.Contains("suiron: stopped", stderr.ToString());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
