using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>/v1/messages on stories260K (ChatML fallback template): the same generation as chat completions, in Anthropic's shapes.</summary>
[Collection(ServerCollection.Name)]
public sealed class AnthropicMessagesTests(ServerFixture fixture)
{
    private const string Conversation = """
        "messages":[{"role":"user","content":"Once upon a time"},{"role":"assistant","content":"there was a girl."},{"role":"user","content":"What was her name?"}]
        """;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Asserts Anthropic's error shape, exactly: <c>{"type":"error","error":{"type","message"}}</c>.</summary>
    internal static void AssertAnthropicError(JsonElement body, string type)
    {
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal(["type", "error"], body.EnumerateObject().Select(p => p.Name));
        var error = body.GetProperty("error");
        Assert.Equal(["message", "type"], error.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task GreedyTextEqualsChatCompletionsForTheSameConversation()
    {
        var (status, chat) = await fixture.PostAsync("/v1/chat/completions",
            """{"model":"default","max_tokens":24,"temperature":0,"messages":[{"role":"system","content":"Tell a story."},""" + Conversation[12..] + "}");
        Assert.Equal(200, status);
        // The same conversation in Anthropic's form: system as text blocks, a user turn as text blocks.
        var (mStatus, message) = await fixture.PostAsync("/v1/messages", """
            {"model":"stories260K","max_tokens":24,"temperature":0,"system":[{"type":"text","text":"Tell a story.","cache_control":{"type":"ephemeral"}}],
             "metadata":{"user_id":"u-1"},
             "messages":[{"role":"user","content":[{"type":"text","text":"Once upon a time"}]},{"role":"assistant","content":"there was a girl."},{"role":"user","content":"What was her name?"}]}
            """);
        Assert.Equal(200, mStatus);

        string expected = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(expected));
        Assert.StartsWith("msg_", message.GetProperty("id").GetString());
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("stories260K", message.GetProperty("model").GetString());
        var block = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("text", block.GetProperty("type").GetString());
        Assert.Equal(expected, block.GetProperty("text").GetString());
        Assert.Equal("max_tokens", message.GetProperty("stop_reason").GetString());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("stop_sequence").ValueKind);

        var usage = message.GetProperty("usage");
        var chatUsage = chat.GetProperty("usage");
        Assert.Equal(24, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(chatUsage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("input_tokens").GetInt32() + usage.GetProperty("cache_read_input_tokens").GetInt32());
        // The same prompt just ran: the prefix cache served all of it but the last token.
        Assert.Equal(chatUsage.GetProperty("prompt_tokens").GetInt32() - 1, usage.GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Matches("""suiron_requests_total\{endpoint="/v1/messages",status="200"\} [1-9]""", await fixture.MetricsAsync());
    }

    [Fact]
    public async Task StreamIsAnthropicsEventSequence()
    {
        string body = """{"model":"default","max_tokens":16,"temperature":0,""" + Conversation + "}";
        var (_, whole) = await fixture.PostAsync("/v1/messages", body);
        string text = whole.GetProperty("content")[0].GetProperty("text").GetString()!;

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Json(body[..^1] + ",\"stream\":true}") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = await AnthropicEvent.ReadAllAsync(response);

        Assert.All(events, e => Assert.Equal(e.Name, e.Type)); // the event name is the data's type
        Assert.Equal(["text"], AnthropicEvent.AssertWellFormed(events));
        string[] names = events.Select(e => e.Name).ToArray();
        Assert.Equal(["message_start", "ping", "content_block_start"], names[..3]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], names[^3..]);
        Assert.All(names[3..^3], n => Assert.Equal("content_block_delta", n));
        Assert.True(names.Length - 6 >= 5, "the text came in too few pieces");

        var start = events[0].Data.GetProperty("message");
        Assert.StartsWith("msg_", start.GetProperty("id").GetString());
        Assert.Equal("message", start.GetProperty("type").GetString());
        Assert.Equal("assistant", start.GetProperty("role").GetString());
        Assert.Equal(0, start.GetProperty("content").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, start.GetProperty("stop_reason").ValueKind);
        Assert.Equal(JsonValueKind.Null, start.GetProperty("stop_sequence").ValueKind);
        Assert.Equal(0, start.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        var blockStart = events[2].Data;
        Assert.Equal(0, blockStart.GetProperty("index").GetInt32());
        Assert.Equal("""{"type":"text","text":""}""", blockStart.GetProperty("content_block").GetRawText());
        foreach (var delta in events.Where(e => e.Name == "content_block_delta"))
        {
            Assert.Equal(0, delta.Data.GetProperty("index").GetInt32());
            Assert.Equal("text_delta", delta.Data.GetProperty("delta").GetProperty("type").GetString());
        }
        Assert.Equal(0, events[^3].Data.GetProperty("index").GetInt32());
        Assert.Equal(text, AnthropicEvent.Concat(events, "text_delta"));

        var end = events[^2].Data;
        Assert.Equal("""{"stop_reason":"max_tokens","stop_sequence":null}""", end.GetProperty("delta").GetRawText());
        Assert.Equal(16, end.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal(whole.GetProperty("usage").GetProperty("input_tokens").GetInt32() + whole.GetProperty("usage").GetProperty("cache_read_input_tokens").GetInt32(),
            end.GetProperty("usage").GetProperty("input_tokens").GetInt32() + end.GetProperty("usage").GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Equal("""{"type":"message_stop"}""", events[^1].Data.GetRawText());
    }

    [Fact]
    public async Task AFinalAssistantTurnIsTheStartOfTheReply()
    {
        // Anthropic's prefill: the model continues the assistant's text, and the reply holds only the continuation —
        // the same greedy text as /v1/completions gives for the rendered conversation with that text after it.
        const string prefill = "One day, a little";
        string rendered = fixture.Model.Chat.Render(JsonNode.Parse("""[{"role":"user","content":"Tell a story."}]""")!.AsArray()) + prefill;
        var (_, completion) = await fixture.PostAsync("/v1/completions", JsonSerializer.Serialize(new { model = "default", prompt = rendered, max_tokens = 12, temperature = 0 }));
        string expected = completion.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(expected));

        string conversation = """ "messages":[{"role":"user","content":"Tell a story."},{"role":"assistant","content":[{"type":"text","text":"One day, a little"}]}]""";
        var (status, message) = await fixture.PostAsync("/v1/messages", """{"model":"default","max_tokens":12,"temperature":0,""" + conversation + "}");
        Assert.Equal(200, status);
        Assert.Equal(expected, message.GetProperty("content")[0].GetProperty("text").GetString());
        var (_, count) = await fixture.PostAsync("/v1/messages/count_tokens", """{"model":"default",""" + conversation + "}");
        Assert.Equal(completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), count.GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task MaxTokensBeyondTheContextEndsWhenTheContextIsFull()
    {
        // Claude Code asks for 32,000 tokens whatever the model; the slot's 256-token context ends the reply first.
        var (status, message) = await fixture.PostAsync("/v1/messages", """{"model":"default","max_tokens":32000,"temperature":0,"messages":[{"role":"user","content":"Once upon a time"}]}""");
        Assert.Equal(200, status);
        Assert.Equal("max_tokens", message.GetProperty("stop_reason").GetString());
        var usage = message.GetProperty("usage");
        int prompt = usage.GetProperty("input_tokens").GetInt32() + usage.GetProperty("cache_read_input_tokens").GetInt32();
        Assert.InRange(prompt + usage.GetProperty("output_tokens").GetInt32(), fixture.Model.Scheduler.ContextSize, fixture.Model.Scheduler.ContextSize + 1);
    }

    [Fact]
    public async Task StopSequenceEndsTheReplyAndIsReported()
    {
        string body = """{"model":"default","max_tokens":40,"temperature":0,"messages":[{"role":"user","content":"Once upon a time"}]""";
        var (_, full) = await fixture.PostAsync("/v1/messages", body + "}");
        string text = full.GetProperty("content")[0].GetProperty("text").GetString()!;
        string[] words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length > 3, text);
        string stop = " " + words[2];

        var (status, stopped) = await fixture.PostAsync("/v1/messages", body + $$""","stop_sequences":["never there",{{JsonSerializer.Serialize(stop)}}]}""");
        Assert.True(status == 200, stopped.ToString());
        Assert.Equal("stop_sequence", stopped.GetProperty("stop_reason").GetString());
        Assert.Equal(stop, stopped.GetProperty("stop_sequence").GetString());
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.GetProperty("content")[0].GetProperty("text").GetString());

        using var response = await fixture.PostJsonAsync("/v1/messages", body + $$""","stop_sequences":[{{JsonSerializer.Serialize(stop)}}],"stream":true}""");
        var events = await AnthropicEvent.ReadAllAsync(response);
        AnthropicEvent.AssertWellFormed(events);
        var delta = events.Single(e => e.Name == "message_delta").Data.GetProperty("delta");
        Assert.Equal("stop_sequence", delta.GetProperty("stop_reason").GetString());
        Assert.Equal(stop, delta.GetProperty("stop_sequence").GetString());
    }

    [Fact]
    public async Task CountTokensIsThePromptTheTemplateRenders()
    {
        var (status, count) = await fixture.PostAsync("/v1/messages/count_tokens", """{"model":"default","system":"Tell a story.",""" + Conversation + "}");
        Assert.Equal(200, status);
        Assert.Equal(["input_tokens"], count.EnumerateObject().Select(p => p.Name));
        var messages = JsonNode.Parse("""
            [{"role":"system","content":"Tell a story."},{"role":"user","content":"Once upon a time"},{"role":"assistant","content":"there was a girl."},{"role":"user","content":"What was her name?"}]
            """)!.AsArray();
        int expected = fixture.Model.Chat.Encode(fixture.Model.Chat.Render(messages)).Length;
        Assert.Equal(expected, count.GetProperty("input_tokens").GetInt32());

        var (_, message) = await fixture.PostAsync("/v1/messages", """{"model":"default","max_tokens":1,"system":"Tell a story.",""" + Conversation + "}");
        var usage = message.GetProperty("usage");
        Assert.Equal(expected, usage.GetProperty("input_tokens").GetInt32() + usage.GetProperty("cache_read_input_tokens").GetInt32());
    }

    [Fact]
    public async Task ASystemTurnInsideTheConversationStaysInItsPlace()
    {
        // Claude Code sends system turns among the messages; they render where they are, as the template renders them.
        var (status, count) = await fixture.PostAsync("/v1/messages/count_tokens", """
            {"model":"default","system":"Tell a story.","messages":[{"role":"user","content":"Once upon a time"},
             {"role":"system","content":[{"type":"text","text":"Keep it short."},{"type":"text","text":"No dragons."}]},{"role":"user","content":"Go on."}]}
            """);
        Assert.Equal(200, status);
        var messages = JsonNode.Parse("""
            [{"role":"system","content":"Tell a story."},{"role":"user","content":"Once upon a time"},
             {"role":"system","content":"Keep it short.\nNo dragons."},{"role":"user","content":"Go on."}]
            """)!.AsArray();
        Assert.Equal(fixture.Model.Chat.Encode(fixture.Model.Chat.Render(messages)).Length, count.GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task BadRequestsGetAnthropicErrorsNeverA500()
    {
        const string ok = """{"model":"default","max_tokens":4,"messages":[{"role":"user","content":"hi"}]""";
        foreach (var (json, what) in new[]
        {
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}]}""", "max_tokens"),
            ("""{"model":"default","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens"),
            ("""{"model":"default","max_tokens":"many","messages":[{"role":"user","content":"hi"}]}""", "max_tokens"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]}""", "image"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}]}""", "image"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}""", "document"),
            ("""{"model":"default","max_tokens":4,"messages":[]}""", "messages"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"tool","content":"hi"}]}""", "role"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":"hi"},{"role":"system","content":[{"type":"image","source":{}}]}]}""", "image"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user"}]}""", "content"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":[{"text":"no type"}]}]}""", "type"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]}]}""", "input"),
            (ok + ""","tool_choice":{"type":"any"}}""", "tools"),
            (ok + ""","tool_choice":{"type":"sometimes"}}""", "tool_choice"),
            (ok + ""","tools":[{"name":"f"}]}""", "input_schema"),
            (ok + ""","tools":[{"type":"web_search_20250305","name":"web_search"}]}""", "server tool"),
            (ok + ""","tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"g"}}""", "'g'"),
            (ok + ""","thinking":{"type":"enabled","budget_tokens":4}}""", "budget_tokens"),
            (ok + ""","thinking":{"type":"enabled"}}""", "budget_tokens"),
            (ok + ""","thinking":{"type":"maybe"}}""", "thinking"),
            (ok + ""","temperature":-1}""", "temperature"),
            (ok + ""","stop_sequences":[""]}""", "stop_sequences"),
            ("""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":"hi"}""", "JSON"),
            ("[1,2]", "JSON"),
        })
        {
            var (status, body) = await fixture.PostAsync("/v1/messages", json);
            Assert.True(status == 400, $"{status} for {json}");
            AssertAnthropicError(body, "invalid_request_error");
            Assert.Contains(what, body.GetProperty("error").GetProperty("message").GetString());
        }

        var (notFound, model) = await fixture.PostAsync("/v1/messages", """{"model":"claude-opus-4","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(404, notFound);
        AssertAnthropicError(model, "not_found_error");
        using (var route = await fixture.PostJsonAsync("/v1/messages/batches", "{}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, route.StatusCode);
            AssertAnthropicError(JsonDocument.Parse(await route.Content.ReadAsStringAsync()).RootElement, "not_found_error");
        }
        using (var get = await fixture.Http.GetAsync("/v1/messages"))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
            AssertAnthropicError(JsonDocument.Parse(await get.Content.ReadAsStringAsync()).RootElement, "invalid_request_error");
        }
        using (var text = await fixture.Http.PostAsync("/v1/messages", new StringContent(ok + "}", Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
            AssertAnthropicError(JsonDocument.Parse(await text.Content.ReadAsStringAsync()).RootElement, "invalid_request_error");
        }
        string huge = new('a', 100 * 1024);
        var (tooLarge, large) = await fixture.PostAsync("/v1/messages", ok[..^1] + $$""",{"role":"assistant","content":"{{huge}}"}]}""");
        Assert.Equal(413, tooLarge);
        AssertAnthropicError(large, "request_too_large");
        // A prompt past the 256-token context, in Anthropic's words (Claude Code compacts when it reads them).
        string story = string.Concat(Enumerable.Repeat("Once upon a time there was a girl. ", 60));
        var (longStatus, tooLong) = await fixture.PostAsync("/v1/messages", $$"""{"model":"default","max_tokens":4,"messages":[{"role":"user","content":"{{story}}"}]}""");
        Assert.Equal(400, longStatus);
        AssertAnthropicError(tooLong, "invalid_request_error");
        Assert.Matches($"^prompt is too long: [0-9]+ tokens > {fixture.Model.Scheduler.ContextSize} maximum", tooLong.GetProperty("error").GetProperty("message").GetString());
        // Chat completions keep OpenAI's shape.
        var (_, openAi) = await fixture.PostAsync("/v1/chat/completions", """{"model":"default","messages":[]}""");
        Assert.Equal("invalid_request_error", openAi.GetProperty("error").GetProperty("type").GetString());
    }
}

/// <summary>Anthropic's headers and errors on a server with an API key, one slot and no queue.</summary>
public sealed class AnthropicAuthTests(KeyedSingleSlotFixture fixture) : IClassFixture<KeyedSingleSlotFixture>
{
    private const string Body = """{"model":"default","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}""";

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(string path, string body, params (string Name, string Value)[] headers)
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await anonymous.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task XApiKeyOrBearerIsNeededAndRefusalsAreAnthropicShaped()
    {
        foreach (var headers in new[] { Array.Empty<(string, string)>(), [("x-api-key", "wrong")], [("x-api-key", KeyedSingleSlotFixture.Key + "x")], [("Authorization", "Bearer nope")] })
        {
            var (status, body) = await SendAsync("/v1/messages", Body, headers);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            AnthropicMessagesTests.AssertAnthropicError(JsonDocument.Parse(body).RootElement, "authentication_error");
            (status, body) = await SendAsync("/v1/messages/count_tokens", Body, headers);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            AnthropicMessagesTests.AssertAnthropicError(JsonDocument.Parse(body).RootElement, "authentication_error");
        }
        foreach (var auth in new[] { ("x-api-key", KeyedSingleSlotFixture.Key), ("Authorization", "Bearer " + KeyedSingleSlotFixture.Key) })
        {
            var (status, body) = await SendAsync("/v1/messages", Body, auth, ("anthropic-version", "2023-06-01"), ("anthropic-beta", "interleaved-thinking-2025-05-14"));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(3, JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        }
        // x-api-key opens the OpenAI routes too (one key, whichever header the client sends).
        var (models, _) = await SendAsync("/v1/chat/completions", """{"model":"default","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}""", ("x-api-key", KeyedSingleSlotFixture.Key));
        Assert.Equal(HttpStatusCode.OK, models);
    }

    [Fact]
    public async Task BusyIs429RateLimitAndADisconnectMidStreamCancelsTheGeneration()
    {
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"default","max_tokens":32000,"stream":true,"messages":[{"role":"user","content":"Once upon a time"}]}""", Encoding.UTF8, "application/json"),
        };
        long generatedBefore = fixture.Model.Scheduler.GeneratedTokens;
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        Assert.Equal("event: message_start", await reader.ReadLineAsync(cancel.Token));
        while (await reader.ReadLineAsync(cancel.Token) is { } line && line != "event: content_block_delta") { } // generating now
        Assert.Equal(1, fixture.Model.Scheduler.ActiveSlots);

        var (status, body) = await SendAsync("/v1/messages", Body, ("x-api-key", KeyedSingleSlotFixture.Key));
        Assert.Equal((HttpStatusCode)429, status);
        AnthropicMessagesTests.AssertAnthropicError(JsonDocument.Parse(body).RootElement, "rate_limit_error");

        cancel.Cancel();
        response.Dispose();
        await fixture.WaitForIdleAsync();
        Assert.Equal(0, fixture.Model.Scheduler.ActiveSlots);
        Assert.True(fixture.Model.Scheduler.GeneratedTokens - generatedBefore < 30000, "the stream ran to its end instead of stopping when the client left");
    }
}

/// <summary>One slot, a waiting room, and a keep-alive short enough to observe.</summary>
public sealed class QueuedSingleSlotFixture : ServerFixture
{
    protected override LocalModelOptions ModelOptions => new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1, QueueLimit = 4 };
    protected override SuironServerOptions ServerOptions => new() { Port = 0, StreamKeepAlive = TimeSpan.FromMilliseconds(100) };
}

public sealed class AnthropicKeepAliveTests(QueuedSingleSlotFixture fixture) : IClassFixture<QueuedSingleSlotFixture>
{
    [Fact]
    public async Task AQueuedStreamIsKeptAliveWithPingsUntilItsTurn()
    {
        using var cancelFirst = new CancellationTokenSource();
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"default","max_tokens":32000,"stream":true,"messages":[{"role":"user","content":"Once upon a time"}]}""", Encoding.UTF8, "application/json"),
        };
        using var busy = await fixture.Http.SendAsync(first, HttpCompletionOption.ResponseHeadersRead, cancelFirst.Token);
        var busyReader = new StreamReader(await busy.Content.ReadAsStreamAsync(cancelFirst.Token));
        while (await busyReader.ReadLineAsync(cancelFirst.Token) is { } line && line != "event: content_block_delta") { }

        // The second request waits for the only slot: its stream opens and pings while it waits.
        using var queued = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"default","max_tokens":5,"temperature":0,"stream":true,"messages":[{"role":"user","content":"Once upon a time"}]}""", Encoding.UTF8, "application/json"),
        };
        using var second = await fixture.Http.SendAsync(queued, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await second.Content.ReadAsStreamAsync());
        var waiting = new List<string>();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (waiting.Count(l => l == "event: ping") < 4 && await reader.ReadLineAsync(timeout.Token) is { } line)
                if (line.StartsWith("event: ", StringComparison.Ordinal)) waiting.Add(line);
        Assert.Equal("data: {\"type\":\"ping\"}", await reader.ReadLineAsync());
        Assert.Equal("", await reader.ReadLineAsync());
        Assert.Equal("event: message_start", waiting[0]);
        Assert.All(waiting.Skip(1), l => Assert.Equal("event: ping", l));
        Assert.Equal(1, fixture.Model.Scheduler.QueueDepth);

        cancelFirst.Cancel();
        busy.Dispose();
        // Its turn comes: the rest of the stream is a whole message.
        var rest = new StringBuilder("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n");
        rest.Append(await reader.ReadToEndAsync());
        using var replay = new HttpResponseMessage { Content = new StringContent(rest.ToString()) };
        var events = await AnthropicEvent.ReadAllAsync(replay);
        Assert.Equal(["text"], AnthropicEvent.AssertWellFormed(events));
        Assert.Equal(5, events[^2].Data.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }
}

public sealed class AnthropicShutdownTests
{
    [Fact]
    public async Task ADrainEndsARunningStreamWithAnOverloadedErrorAndRefusesNewMessages()
    {
        using var model = LocalModel.Load(TestModels.Stories, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1 });
        // A grace long enough for the refused request below to reach the still-listening server on a busy machine,
        // short against the 32,000-token stream (stories260K decodes ~2,000 tokens/s), which is cut when it ends.
        await using var server = SuironServer.Create(model, new SuironServerOptions { Port = 0, ShutdownGrace = TimeSpan.FromSeconds(3) });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"default","max_tokens":32000,"stream":true,"messages":[{"role":"user","content":"Once upon a time"}]}""", Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line && line != "event: content_block_delta") { }

        Task stopping = server.StopAsync();
        for (int i = 0; i < 200 && !server.State.Stopping; i++) await Task.Delay(10);
        using (var refused = await new HttpClient { BaseAddress = server.Address }.PostAsync("/v1/messages",
                   new StringContent("""{"model":"default","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            AnthropicMessagesTests.AssertAnthropicError(JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement, "overloaded_error");
        }

        string rest = await reader.ReadToEndAsync();
        await stopping;
        string[] lines = rest.TrimEnd().Split('\n');
        Assert.Equal("event: error", lines[^2]);
        var error = JsonDocument.Parse(lines[^1]["data: ".Length..]).RootElement;
        AnthropicMessagesTests.AssertAnthropicError(error, "overloaded_error");
        Assert.DoesNotContain("event: message_stop", rest);
        Assert.Equal(0, model.Scheduler.ActiveSlots);
    }
}
