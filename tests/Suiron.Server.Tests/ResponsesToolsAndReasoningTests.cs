using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Responses;

namespace Suiron.Server.Tests;

/// <summary>Reasoning as reasoning items, the budget that ends it, and effort as the template's switch.</summary>
public sealed class ResponsesReasoningTests(ThinkingFixture fixture) : IClassFixture<ThinkingFixture>
{
    [Fact]
    public async Task ReasoningComesBackAsAReasoningItemPlainAndStreamed()
    {
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions", """{"max_tokens":12,"temperature":0,"messages":[{"role":"user","content":"Once upon a time"}]}""");
        string reasoning = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("reasoning_content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(reasoning));

        const string body = """{"max_output_tokens":12,"temperature":0,"reasoning":{"summary":"auto"},"input":"Once upon a time"}""";
        var (status, response) = await fixture.PostAsync("/v1/responses", body);
        Assert.Equal(200, status);
        var item = Assert.Single(response.GetProperty("output").EnumerateArray());
        Assert.Equal("reasoning", item.GetProperty("type").GetString());
        Assert.StartsWith("rs_", item.GetProperty("id").GetString());
        Assert.Equal(reasoning, item.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("reasoning_text", item.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("summary_text", item.GetProperty("summary")[0].GetProperty("type").GetString());
        Assert.Equal(reasoning, item.GetProperty("summary")[0].GetProperty("text").GetString());
        Assert.Equal(12, response.GetProperty("usage").GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());

        using var streamed = await fixture.PostJsonAsync("/v1/responses", body[..^1] + ",\"stream\":true}");
        var events = await AnthropicEvent.ReadAllAsync(streamed);
        Assert.Equal(reasoning, string.Concat(events.Where(e => e.Name == "response.reasoning_text.delta").Select(e => e.Data.GetProperty("delta").GetString())));
        Assert.Equal(reasoning, events.Single(e => e.Name == "response.reasoning_summary_text.done").Data.GetProperty("text").GetString());
        Assert.Equal("response.output_item.done", events[^2].Name);
        Assert.Equal(reasoning, events[^1].Data.GetProperty("response").GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
    }

    /// <summary>llama-server's per-request field and Suiron's server option both end the reasoning after N tokens.</summary>
    [Fact]
    public async Task AReasoningBudgetEndsTheReasoningAndTheAnswerFollows()
    {
        const int budget = 6;
        var (_, cut) = await fixture.PostAsync("/v1/responses", $$"""{"max_output_tokens":{{budget}},"temperature":0,"input":"Once upon a time"}""");
        string firstTokens = cut.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString()!;

        var (status, response) = await fixture.PostAsync("/v1/responses",
            $$"""{"max_output_tokens":40,"temperature":0,"reasoning_budget_tokens":{{budget}},"input":"Once upon a time"}""");
        Assert.Equal(200, status);
        var output = response.GetProperty("output");
        Assert.Equal(2, output.GetArrayLength());
        Assert.Equal(firstTokens, output[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("message", output[1].GetProperty("type").GetString());
        Assert.DoesNotContain("</think>", output[1].GetProperty("content")[0].GetProperty("text").GetString());

        // The same budget through chat completions, under llama-server's older field name.
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions",
            $$"""{"max_tokens":40,"temperature":0,"thinking_budget_tokens":{{budget}},"messages":[{"role":"user","content":"Once upon a time"}]}""");
        var message = chat.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(firstTokens, message.GetProperty("reasoning_content").GetString());
        Assert.Equal(output[1].GetProperty("content")[0].GetProperty("text").GetString(), message.GetProperty("content").GetString());
    }
}

/// <summary>A server started with <c>--reasoning-budget 0</c>: every generation's reasoning block closes at once, unless a request asks for more.</summary>
public sealed class ZeroReasoningBudgetFixture : ServerFixture
{
    protected override string ModelPath => TestModels.StoriesWithTemplate("stories-think", TestModels.ThinkingChatMl);
    protected override SuironServerOptions ServerOptions => base.ServerOptions with { ReasoningBudget = 0 };
}

public sealed class ServerReasoningBudgetTests(ZeroReasoningBudgetFixture fixture) : IClassFixture<ZeroReasoningBudgetFixture>
{
    [Fact]
    public async Task TheServersBudgetAppliesToEveryApiAndARequestsOwnOverridesIt()
    {
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions", """{"max_tokens":20,"temperature":0,"messages":[{"role":"user","content":"Once upon a time"}]}""");
        var message = chat.GetProperty("choices")[0].GetProperty("message");
        Assert.False(message.TryGetProperty("reasoning_content", out _));
        Assert.False(string.IsNullOrWhiteSpace(message.GetProperty("content").GetString()));

        var (_, response) = await fixture.PostAsync("/v1/responses", """{"max_output_tokens":20,"temperature":0,"input":"Once upon a time"}""");
        Assert.Equal("message", Assert.Single(response.GetProperty("output").EnumerateArray()).GetProperty("type").GetString());

        var (_, anthropic) = await fixture.PostAsync("/v1/messages", """{"max_tokens":20,"temperature":0,"messages":[{"role":"user","content":"Once upon a time"}]}""");
        Assert.Equal("text", Assert.Single(anthropic.GetProperty("content").EnumerateArray()).GetProperty("type").GetString());

        var (_, own) = await fixture.PostAsync("/v1/chat/completions",
            """{"max_tokens":20,"temperature":0,"reasoning_budget_tokens":4,"messages":[{"role":"user","content":"Once upon a time"}]}""");
        Assert.False(string.IsNullOrWhiteSpace(own.GetProperty("choices")[0].GetProperty("message").GetProperty("reasoning_content").GetString()));
    }
}

/// <summary>
/// Function calls on the tiny qwen3 (Qwen3's real tokenizer and template, random weights): a named tool_choice forces
/// a call under the family's grammar, and a schema that admits one value per field scripts its arguments; the
/// function_call_output goes back through the template as Hugging Face's tool message.
/// </summary>
public sealed class ResponsesFunctionCallTests(QwenToolsFixture fixture) : IClassFixture<QwenToolsFixture>
{
    private const string Schema = """
        {"type":"object","properties":{"city":{"const":"東京"},"days":{"const":3},"tags":{"type":"array","items":{"const":"天気 \"予報\""},"minItems":2,"maxItems":2}},
         "required":["city","days","tags"],"additionalProperties":false}
        """;
    private static readonly JsonNode ExpectedArguments = JsonNode.Parse("""{"city":"東京","days":3,"tags":["天気 \"予報\"","天気 \"予報\""]}""")!;
    private static readonly string Tools = """ "tools":[{"type":"function","name":"get_time","description":"The time now","parameters":{"type":"object","properties":{}}},{"type":"function","name":"get_weather","description":"天気予報","strict":true,"parameters":"""
        + Schema + "}]";

    [Fact]
    public async Task ANamedFunctionIsCalledPlainAndStreamedAndItsOutputGoesBackThroughTheTemplate()
    {
        string body = $$"""{"max_output_tokens":200,"temperature":0,{{Tools}},"tool_choice":{"type":"function","name":"get_weather"},"input":"東京の天気は？"}""";
        var (status, response) = await fixture.PostAsync("/v1/responses", body);
        Assert.Equal(200, status);
        Assert.Equal("completed", response.GetProperty("status").GetString());
        var call = response.GetProperty("output").EnumerateArray().Single(i => i.GetProperty("type").GetString() == "function_call");
        Assert.StartsWith("fc_", call.GetProperty("id").GetString());
        Assert.StartsWith("call_", call.GetProperty("call_id").GetString());
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("completed", call.GetProperty("status").GetString());
        string arguments = call.GetProperty("arguments").GetString()!;
        Assert.True(JsonNode.DeepEquals(ExpectedArguments, JsonNode.Parse(arguments)), arguments);
        Assert.Equal(2, response.GetProperty("tools").GetArrayLength());

        using (var streamed = await fixture.PostJsonAsync("/v1/responses", body[..^1] + ",\"stream\":true}"))
        {
            var events = await AnthropicEvent.ReadAllAsync(streamed);
            var added = events.Single(e => e.Name == "response.output_item.added" && e.Data.GetProperty("item").GetProperty("type").GetString() == "function_call").Data;
            string itemId = added.GetProperty("item").GetProperty("id").GetString()!;
            Assert.Equal("", added.GetProperty("item").GetProperty("arguments").GetString());
            var pieces = events.Where(e => e.Name == "response.function_call_arguments.delta").ToList();
            Assert.True(pieces.Count >= 3, $"the arguments came in {pieces.Count} piece(s)");
            Assert.All(pieces, p => Assert.Equal(itemId, p.Data.GetProperty("item_id").GetString()));
            string joined = string.Concat(pieces.Select(p => p.Data.GetProperty("delta").GetString()));
            Assert.True(JsonNode.DeepEquals(ExpectedArguments, JsonNode.Parse(joined)), joined);
            var done = events.Single(e => e.Name == "response.function_call_arguments.done").Data;
            Assert.Equal(joined, done.GetProperty("arguments").GetString());
            Assert.Equal("get_weather", done.GetProperty("name").GetString());
            Assert.Equal("response.completed", events[^1].Name);
        }

        // The round trip: the call and its output as input items; the prompt is the one the template renders for HF's form.
        string callId = call.GetProperty("call_id").GetString()!;
        const string result = "晴れ、最高気温 21℃";
        string input = $$"""
            "input":[{"role":"user","content":"東京の天気は？"},
                     {"type":"function_call","call_id":"{{callId}}","name":"get_weather","arguments":{{JsonSerializer.Serialize(arguments)}}},
                     {"type":"function_call_output","call_id":"{{callId}}","output":"{{result}}"}]
            """;
        var (answerStatus, answer) = await fixture.PostAsync("/v1/responses", $$"""{"max_output_tokens":4,"temperature":0,{{Tools}},{{input}}}""");
        Assert.Equal(200, answerStatus);
        var messages = new JsonArray(
            new JsonObject { ["role"] = "user", ["content"] = "東京の天気は？" },
            new JsonObject
            {
                ["role"] = "assistant", ["content"] = "",
                ["tool_calls"] = new JsonArray(new JsonObject { ["id"] = callId, ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_weather", ["arguments"] = JsonNode.Parse(arguments) } }),
            },
            new JsonObject { ["role"] = "tool", ["tool_call_id"] = callId, ["content"] = result });
        var tools = JsonNode.Parse("""
            [{"type":"function","function":{"name":"get_time","description":"The time now","parameters":{"type":"object","properties":{}}}},
             {"type":"function","function":{"name":"get_weather","description":"天気予報","parameters":
            """ + Schema + "}}]");
        string prompt = fixture.Model.Chat.Render(messages, variables: [KeyValuePair.Create<string, JsonNode?>("tools", tools)]);
        Assert.Contains("<tool_response>\n" + result + "\n</tool_response>", prompt);
        Assert.Equal(fixture.Model.Chat.Encode(prompt).Length, answer.GetProperty("usage").GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task EffortSwitchesTheTemplatesEnableThinking()
    {
        var question = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "東京の天気は？" });
        int Rendered(bool thinking) => fixture.Model.Chat.Encode(fixture.Model.Chat.Render(question.DeepClone().AsArray(),
            variables: [KeyValuePair.Create<string, JsonNode?>("enable_thinking", thinking)])).Length;
        Assert.NotEqual(Rendered(false), Rendered(true));
        foreach (var (effort, thinking) in new[] { ("none", false), ("minimal", false), ("low", true), ("high", true) })
        {
            var (status, response) = await fixture.PostAsync("/v1/responses",
                $$"""{"max_output_tokens":1,"temperature":0,"reasoning":{"effort":"{{effort}}"},"input":"東京の天気は？"}""");
            Assert.Equal(200, status);
            Assert.Equal(Rendered(thinking), response.GetProperty("usage").GetProperty("input_tokens").GetInt32());
            Assert.Equal(effort, response.GetProperty("reasoning").GetProperty("effort").GetString());
        }
    }

    /// <summary>The official OpenAI .NET SDK's Responses client: a forced function call, its output sent back, and previous_response_id.</summary>
    [Fact]
    public async Task TheOpenAiDotNetResponsesClientDrivesAFunctionCallRoundTrip()
    {
#pragma warning disable OPENAI001 // the Responses client is marked experimental
        var client = new ResponsesClient(new ApiKeyCredential("unused"), new ResponsesClientOptions { Endpoint = new Uri(fixture.Address, "/v1") });
        var weather = ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(Schema), strictModeEnabled: true, functionDescription: "天気予報");
        var options = new CreateResponseOptions("default", [ResponseItem.CreateUserMessageItem("東京の天気は？")])
        {
            Tools = { weather },
            ToolChoice = ResponseToolChoice.CreateFunctionChoice("get_weather"),
            MaxOutputTokenCount = 200,
            Temperature = 0,
            StoredOutputEnabled = true,
        };
        ResponseResult first = await client.CreateResponseAsync(options);
        Assert.Equal(ResponseStatus.Completed, first.Status);
        var call = Assert.Single(first.OutputItems.OfType<FunctionCallResponseItem>());
        Assert.Equal("get_weather", call.FunctionName);
        Assert.True(JsonNode.DeepEquals(ExpectedArguments, JsonNode.Parse(call.FunctionArguments.ToString())), call.FunctionArguments.ToString());

        var next = new CreateResponseOptions("default", [ResponseItem.CreateFunctionCallOutputItem(call.CallId, "晴れ")])
        {
            PreviousResponseId = first.Id,
            Tools = { weather },
            MaxOutputTokenCount = 6,
            Temperature = 0,
        };
        ResponseResult second = await client.CreateResponseAsync(next);
        Assert.Equal(first.Id, second.PreviousResponseId);
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount);
        Assert.True(second.Usage.InputTokenDetails.CachedTokenCount >= first.Usage.InputTokenCount - 1);
        Assert.Equal(6, second.Usage.OutputTokenCount);

        // Streaming: the SDK's typed updates end with the completed response, whose text is the deltas'.
        var streamed = new System.Text.StringBuilder();
        ResponseResult? completed = null;
        var plain = new CreateResponseOptions("default", [ResponseItem.CreateUserMessageItem("Say hello")]) { MaxOutputTokenCount = 8, Temperature = 0, StreamingEnabled = true };
        await foreach (var update in await client.CreateResponseStreamingAsync(plain))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) streamed.Append(delta.Delta);
            if (update is StreamingResponseIncompleteUpdate incomplete) completed = incomplete.Response;
            if (update is StreamingResponseCompletedUpdate complete) completed = complete.Response;
        }
        Assert.NotNull(completed);
        Assert.Equal(completed!.GetOutputText(), streamed.ToString());
#pragma warning restore OPENAI001
    }
}
