using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Server.Contracts;

namespace Suiron.Server.Tests;

/// <summary>/v1/responses on stories260K (ChatML fallback template): the same generation as chat completions, in the Responses API's shapes.</summary>
[Collection(ServerCollection.Name)]
public sealed class ResponsesTests(ServerFixture fixture)
{
    private const string ChatConversation = """
        "messages":[{"role":"system","content":"Tell a story."},{"role":"user","content":"Once upon a time"},{"role":"assistant","content":"there was a girl."},{"role":"user","content":"What was her name?"}]
        """;

    /// <summary>OpenAI's error shape, exactly: <c>{"error":{"message","type","param","code"}}</c>.</summary>
    private static void AssertOpenAiError(JsonElement body, string? param)
    {
        Assert.Equal(["error"], body.EnumerateObject().Select(p => p.Name));
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    private static string OutputText(JsonElement response)
    {
        var message = Assert.Single(response.GetProperty("output").EnumerateArray(), i => i.GetProperty("type").GetString() == "message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        var part = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("output_text", part.GetProperty("type").GetString());
        Assert.Equal(0, part.GetProperty("annotations").GetArrayLength());
        return part.GetProperty("text").GetString()!;
    }

    [Fact]
    public async Task GreedyTextEqualsChatCompletionsForTheSameConversation()
    {
        var (status, chat) = await fixture.PostAsync("/v1/chat/completions", """{"model":"default","max_tokens":24,"temperature":0,""" + ChatConversation + "}");
        Assert.Equal(200, status);
        // The same conversation as the Responses API takes it: instructions, then items (input_text / output_text parts, a plain string).
        var (rStatus, response) = await fixture.PostAsync("/v1/responses", """
            {"model":"stories260K","max_output_tokens":24,"temperature":0,"instructions":"Tell a story.","metadata":{"k":"v"},
             "input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"Once upon a time"}]},
                      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"there was a girl.","annotations":[]}]},
                      {"role":"user","content":"What was her name?"}]}
            """);
        Assert.Equal(200, rStatus);
        string expected = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(expected));
        Assert.Equal(expected, OutputText(response));
        Assert.StartsWith("resp_", response.GetProperty("id").GetString());
        Assert.Equal("response", response.GetProperty("object").GetString());
        Assert.Equal("stories260K", response.GetProperty("model").GetString());
        // Cut by the limit: incomplete, as OpenAI reports it.
        Assert.Equal("incomplete", response.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", response.GetProperty("incomplete_details").GetProperty("reason").GetString());
        Assert.Equal("Tell a story.", response.GetProperty("instructions").GetString());
        Assert.Equal("v", response.GetProperty("metadata").GetProperty("k").GetString());
        Assert.False(response.GetProperty("store").GetBoolean());
        var usage = response.GetProperty("usage");
        Assert.Equal(chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(24, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("input_tokens").GetInt32() + 24, usage.GetProperty("total_tokens").GetInt32());
        // The same prompt just ran: the prefix cache served all of it but the last token.
        Assert.Equal(usage.GetProperty("input_tokens").GetInt32() - 1, usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Matches("""suiron_requests_total\{endpoint="/v1/responses",status="200"\} [1-9]""", await fixture.MetricsAsync());
    }

    [Fact]
    public async Task AStringInputIsOneUserMessage()
    {
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions", """{"max_tokens":10,"temperature":0,"messages":[{"role":"user","content":"Lily and Tom"}]}""");
        var (status, response) = await fixture.PostAsync("/v1/responses", """{"max_output_tokens":10,"temperature":0,"input":"Lily and Tom"}""");
        Assert.Equal(200, status);
        Assert.Equal(chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), OutputText(response));
        Assert.Equal(JsonValueKind.Null, response.GetProperty("instructions").ValueKind);
        Assert.Equal(JsonValueKind.Null, response.GetProperty("previous_response_id").ValueKind);
    }

    /// <summary>
    /// The stream's grammar as OpenAI documents it: sequence numbers 0, 1, 2 …; response.created and response.in_progress
    /// first; the message item added, its output_text part added, deltas that add up to the text, the text done, the part
    /// done, the item done; response.incomplete (max_output_tokens) last, carrying the same output as the plain reply.
    /// </summary>
    [Fact]
    public async Task StreamIsTheResponsesTypedEventSequence()
    {
        const string body = """{"max_output_tokens":16,"temperature":0,"instructions":"Tell a story.","input":"Once upon a time"}""";
        var (_, plain) = await fixture.PostAsync("/v1/responses", body);
        string text = OutputText(plain);

        using var response = await fixture.PostJsonAsync("/v1/responses", body[..^1] + ",\"stream\":true}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = await AnthropicEvent.ReadAllAsync(response);
        Assert.All(events, e => Assert.Equal(e.Name, e.Type));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Data.GetProperty("sequence_number").GetInt32()));
        var types = events.Select(e => e.Name).Where(n => n != "response.output_text.delta").ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"], types);
        var created = events[0].Data.GetProperty("response");
        Assert.Equal("in_progress", created.GetProperty("status").GetString());
        Assert.Equal(0, created.GetProperty("output").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("usage").ValueKind);

        var added = events[2].Data;
        Assert.Equal(0, added.GetProperty("output_index").GetInt32());
        string itemId = added.GetProperty("item").GetProperty("id").GetString()!;
        Assert.StartsWith("msg_", itemId);
        Assert.Equal("message", added.GetProperty("item").GetProperty("type").GetString());
        Assert.Equal(0, added.GetProperty("item").GetProperty("content").GetArrayLength());
        var deltas = events.Where(e => e.Name == "response.output_text.delta").ToList();
        Assert.True(deltas.Count >= 2);
        Assert.All(deltas, d => Assert.Equal(itemId, d.Data.GetProperty("item_id").GetString()));
        Assert.Equal(text, string.Concat(deltas.Select(d => d.Data.GetProperty("delta").GetString())));
        Assert.Equal(text, events.Single(e => e.Name == "response.output_text.done").Data.GetProperty("text").GetString());
        var done = events.Single(e => e.Name == "response.output_item.done").Data.GetProperty("item");
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal(text, done.GetProperty("content")[0].GetProperty("text").GetString());

        var final = events[^1].Data.GetProperty("response");
        Assert.Equal("incomplete", final.GetProperty("status").GetString());
        Assert.Equal(text, OutputText(final));
        Assert.Equal(16, final.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal(created.GetProperty("id").GetString(), final.GetProperty("id").GetString());
    }

    /// <summary>
    /// store + previous_response_id: the second turn's prompt is the whole conversation (first input, the stored reply,
    /// the new input) — the one chat completions renders for it, token for token — and the prefix cache serves the
    /// first turn's prompt from the slot it ran in. Instructions are not carried over, as OpenAI's are not.
    /// </summary>
    [Fact]
    public async Task StoredResponsesAreContinuedByPreviousResponseIdFromThePrefixCache()
    {
        var (status, first) = await fixture.PostAsync("/v1/responses", """{"max_output_tokens":12,"temperature":0,"store":true,"instructions":"Be brief.","input":"Tom had a red ball"}""");
        Assert.Equal(200, status);
        Assert.True(first.GetProperty("store").GetBoolean());
        string id = first.GetProperty("id").GetString()!, reply = OutputText(first);
        int firstPrompt = first.GetProperty("usage").GetProperty("input_tokens").GetInt32();

        var (status2, second) = await fixture.PostAsync("/v1/responses",
            $$"""{"max_output_tokens":12,"temperature":0,"store":true,"instructions":"Be brief.","previous_response_id":"{{id}}","input":[{"role":"user","content":"Where did it go?"}]}""");
        Assert.Equal(200, status2);
        Assert.Equal(id, second.GetProperty("previous_response_id").GetString());
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions", $$"""
            {"max_tokens":12,"temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Tom had a red ball"},
             {"role":"assistant","content":{{JsonSerializer.Serialize(reply)}}},{"role":"user","content":"Where did it go?"}]}
            """);
        var usage = second.GetProperty("usage");
        Assert.Equal(chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("input_tokens").GetInt32());
        Assert.True(usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32() >= firstPrompt,
            $"cached {usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32()} of a first prompt of {firstPrompt}");
        Assert.Equal(chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), OutputText(second));

        // Stored responses can be read back and deleted; a deleted one cannot be continued.
        using (var get = await fixture.Http.GetAsync($"/v1/responses/{id}"))
        {
            Assert.Equal(200, (int)get.StatusCode);
            var stored = JsonDocument.Parse(await get.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(reply, OutputText(stored));
        }
        using (var delete = await fixture.Http.DeleteAsync($"/v1/responses/{id}"))
        {
            Assert.Equal(200, (int)delete.StatusCode);
            Assert.True(JsonDocument.Parse(await delete.Content.ReadAsStringAsync()).RootElement.GetProperty("deleted").GetBoolean());
        }
        var (gone, error) = await fixture.PostAsync("/v1/responses", $$"""{"max_output_tokens":4,"previous_response_id":"{{id}}","input":"And then?"}""");
        Assert.Equal(400, gone);
        AssertOpenAiError(error, "previous_response_id");
        Assert.Equal("previous_response_not_found", error.GetProperty("error").GetProperty("code").GetString());

        // Without store nothing is kept.
        var (_, unstored) = await fixture.PostAsync("/v1/responses", """{"max_output_tokens":4,"input":"Hi"}""");
        using var missing = await fixture.Http.GetAsync($"/v1/responses/{unstored.GetProperty("id").GetString()}");
        Assert.Equal(404, (int)missing.StatusCode);
    }

    [Fact]
    public async Task JsonSchemaTextFormatConstrainsTheOutput()
    {
        const string schema = """{"type":"object","properties":{"name":{"const":"Lily"},"age":{"enum":[3]}},"required":["name","age"],"additionalProperties":false}""";
        var (status, response) = await fixture.PostAsync("/v1/responses",
            """{"max_output_tokens":60,"temperature":1,"seed":7,"input":"Who?","text":{"format":{"type":"json_schema","name":"person","strict":true,"schema":""" + schema + "}}}");
        Assert.Equal(200, status);
        Assert.Equal("completed", response.GetProperty("status").GetString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"Lily","age":3}"""), JsonNode.Parse(OutputText(response))), OutputText(response));
        Assert.Equal("json_schema", response.GetProperty("text").GetProperty("format").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("""{"max_output_tokens":4}""", "input")]
    [InlineData("""{"input":42}""", "input")]
    [InlineData("""{"input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png"}]}]}""", "input[0].content[0]")]
    [InlineData("""{"input":[{"type":"item_reference","id":"msg_1"}]}""", "input[0]")]
    [InlineData("""{"input":[{"role":"robot","content":"x"}]}""", "input[0].role")]
    [InlineData("""{"input":[{"type":"function_call","name":"f","arguments":"{}"}]}""", "input[0].call_id")]
    [InlineData("""{"input":"x","tools":[{"type":"web_search"}]}""", "tools[0].type")]
    [InlineData("""{"input":"x","tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":{"type":"function","name":"g"}}""", "tool_choice")]
    [InlineData("""{"input":"x","tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"input":"x","reasoning":{"effort":"extreme"}}""", "reasoning.effort")]
    [InlineData("""{"input":"x","text":{"format":{"type":"json_schema","name":"n"}}}""", "text.format.schema")]
    [InlineData("""{"input":"x","text":{"format":{"type":"json_schema","name":"n","schema":{"type":"object","properties":{"a":{"type":"string","pattern":"(("}}}}}}""", "text.format.schema")]
    [InlineData("""{"input":"x","max_output_tokens":0}""", "max_output_tokens")]
    [InlineData("""{"input":"x","previous_response_id":"resp_nope"}""", "previous_response_id")]
    [InlineData("""{"input":"x","model":"gpt-5"}""", "model")]
    public async Task BadRequestsGetOpenAiErrorsNeverA500(string body, string param)
    {
        var (status, error) = await fixture.PostAsync("/v1/responses", body);
        Assert.Equal(param == "model" ? 404 : 400, status);
        AssertOpenAiError(error, param);
    }

    [Fact]
    public void TheStoreKeepsTheMostRecentlyUsedWithinItsCapacity()
    {
        var store = new ResponseStore(2);
        ResponseObject Response(string id) => new()
        {
            Id = id, Status = "completed", Model = "m", Output = [], Reasoning = new ResponseReasoningSettings(), Text = new JsonObject(), ToolChoice = "auto",
            Tools = [], Metadata = [],
        };
        store.Add(Response("a"), [new JsonObject { ["role"] = "user", ["content"] = "1" }]);
        store.Add(Response("b"), []);
        Assert.True(store.TryGet("a", out var conversation, out _)); // a is now the most recently used
        conversation.Add(new JsonObject()); // a copy: the stored one does not change
        store.Add(Response("c"), []);
        Assert.Equal(2, store.Count);
        Assert.False(store.TryGet("b", out _, out _));
        Assert.True(store.TryGet("a", out var again, out _));
        Assert.Single(again);
        Assert.True(store.TryGet("c", out _, out _));
        Assert.True(store.Remove("c"));
        Assert.False(store.Remove("c"));
        var none = new ResponseStore(0);
        none.Add(Response("x"), []);
        Assert.False(none.TryGet("x", out _, out _));
    }
}

public sealed class ResponsesShutdownTests
{
    /// <summary>
    /// A drain cuts a running Responses stream with an <c>error</c> event and then <c>response.failed</c> (status failed,
    /// its error, the text so far), and new requests get 503 in OpenAI's shape; a client that leaves frees its slot.
    /// </summary>
    [Fact]
    public async Task ADrainEndsARunningStreamWithErrorThenResponseFailed()
    {
        using var model = Suiron.Inference.LocalModel.Load(TestModels.Stories,
            new Suiron.Inference.LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1 });
        await using var server = SuironServer.Create(model, new SuironServerOptions { Port = 0, ShutdownGrace = TimeSpan.FromSeconds(3) });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        const string body = """{"max_output_tokens":32000,"stream":true,"input":"Once upon a time"}""";

        // A client that goes away mid-stream: its generation is cancelled and the only slot comes free.
        using (var leaving = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") })
        using (var response = await http.SendAsync(leaving, HttpCompletionOption.ResponseHeadersRead))
        {
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line && line != "event: response.output_text.delta") { }
        }
        for (int i = 0; i < 200 && model.Scheduler.ActiveSlots > 0; i++) await Task.Delay(25);
        Assert.Equal(0, model.Scheduler.ActiveSlots);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        using var running = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = new StreamReader(await running.Content.ReadAsStreamAsync());
        while (await stream.ReadLineAsync() is { } line && line != "event: response.output_text.delta") { }

        Task stopping = server.StopAsync();
        for (int i = 0; i < 200 && !server.State.Stopping; i++) await Task.Delay(10);
        var (status, refused) = await PostAsync(server.Address, """{"max_output_tokens":2,"input":"hi"}""");
        Assert.Equal(503, status);
        Assert.Equal("server_error", refused.GetProperty("error").GetProperty("type").GetString());

        string rest = await stream.ReadToEndAsync();
        await stopping;
        var events = rest.Split('\n').Where(l => l.StartsWith("event: ", StringComparison.Ordinal)).Select(l => l[7..]).ToList();
        Assert.Equal(["error", "response.failed"], events[^2..]);
        string last = rest.TrimEnd().Split('\n')[^1];
        var failed = JsonDocument.Parse(last["data: ".Length..]).RootElement.GetProperty("response");
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Equal("server_error", failed.GetProperty("error").GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(failed.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal(0, model.Scheduler.ActiveSlots);
    }

    private static async Task<(int Status, JsonElement Body)> PostAsync(Uri address, string json)
    {
        using var http = new HttpClient { BaseAddress = address };
        using var response = await http.PostAsync("/v1/responses", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
