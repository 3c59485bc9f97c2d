using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>stories260K under a template that opens &lt;think&gt; (as R1 distills do): the model never closes it, so all it writes is reasoning.</summary>
public sealed class ThinkingFixture : ServerFixture
{
    protected override string ModelPath => TestModels.StoriesWithTemplate("stories-think", TestModels.ThinkingChatMl);
}

/// <summary>Reasoning as thinking blocks, and the budget that ends it.</summary>
public sealed class AnthropicThinkingTests(ThinkingFixture fixture) : IClassFixture<ThinkingFixture>
{
    private const string User = """ "messages":[{"role":"user","content":"Once upon a time"}]""";

    [Fact]
    public async Task ReasoningComesBackAsAThinkingBlockPlainAndStreamed()
    {
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions", """{"model":"default","max_tokens":12,"temperature":0,""" + User + "}");
        string reasoning = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("reasoning_content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(reasoning));

        string body = """{"model":"default","max_tokens":12,"temperature":0,""" + User + "}";
        var (status, message) = await fixture.PostAsync("/v1/messages", body);
        Assert.Equal(200, status);
        var block = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("thinking", block.GetProperty("type").GetString());
        Assert.Equal(reasoning, block.GetProperty("thinking").GetString());
        Assert.Equal("", block.GetProperty("signature").GetString());

        using var response = await fixture.PostJsonAsync("/v1/messages", body[..^1] + ",\"stream\":true}");
        var events = await AnthropicEvent.ReadAllAsync(response);
        Assert.Equal(["thinking"], AnthropicEvent.AssertWellFormed(events));
        var start = events.Single(e => e.Name == "content_block_start").Data;
        Assert.Equal(0, start.GetProperty("index").GetInt32());
        Assert.Equal("""{"type":"thinking","thinking":""}""", start.GetProperty("content_block").GetRawText());
        Assert.Equal(reasoning, AnthropicEvent.Concat(events, "thinking_delta", index: 0));
        // The block ends as Anthropic's do: its signature, then content_block_stop.
        int stop = events.FindIndex(e => e.Name == "content_block_stop");
        Assert.Equal("""{"type":"signature_delta","signature":""}""", events[stop - 1].Data.GetProperty("delta").GetRawText());
        Assert.Equal(0, events[stop].Data.GetProperty("index").GetInt32());
    }

    [Fact]
    public async Task DisplayOmittedKeepsTheThinkingBlockButNotItsText()
    {
        // Claude Code's own request: adaptive thinking, display omitted.
        string body = """{"model":"default","max_tokens":12,"temperature":0,"thinking":{"type":"adaptive","display":"omitted"},""" + User + "}";
        var (status, message) = await fixture.PostAsync("/v1/messages", body);
        Assert.Equal(200, status);
        var block = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("""{"type":"thinking","thinking":"","signature":""}""", block.GetRawText());
        Assert.Equal(12, message.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        using var response = await fixture.PostJsonAsync("/v1/messages", body[..^1] + ",\"stream\":true}");
        var events = await AnthropicEvent.ReadAllAsync(response);
        Assert.Equal(["thinking"], AnthropicEvent.AssertWellFormed(events));
        Assert.Equal("", AnthropicEvent.Concat(events, "thinking_delta"));
        Assert.Single(events, e => e.Name == "content_block_delta"); // its signature only
    }

    [Fact]
    public async Task BudgetTokensEndTheReasoningAndTheAnswerFollows()
    {
        const int budget = 6;
        // Without a budget, the first six tokens of this (never-closed) reasoning.
        var (_, cut) = await fixture.PostAsync("/v1/messages", $$"""{"model":"default","max_tokens":{{budget}},"temperature":0,{{User}}}""");
        string firstTokens = cut.GetProperty("content")[0].GetProperty("thinking").GetString()!;

        string body = $$"""{"model":"default","max_tokens":40,"temperature":0,"thinking":{"type":"enabled","budget_tokens":{{budget}}},{{User}}}""";
        var (status, message) = await fixture.PostAsync("/v1/messages", body);
        Assert.Equal(200, status);
        var content = message.GetProperty("content");
        Assert.Equal(2, content.GetArrayLength());
        Assert.Equal("thinking", content[0].GetProperty("type").GetString());
        Assert.Equal(firstTokens, content[0].GetProperty("thinking").GetString());
        Assert.Equal("text", content[1].GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(content[1].GetProperty("text").GetString()));
        Assert.DoesNotContain("</think>", content[1].GetProperty("text").GetString());

        using var response = await fixture.PostJsonAsync("/v1/messages", body[..^1] + ",\"stream\":true}");
        var events = await AnthropicEvent.ReadAllAsync(response);
        Assert.Equal(["thinking", "text"], AnthropicEvent.AssertWellFormed(events));
        Assert.Equal(firstTokens, AnthropicEvent.Concat(events, "thinking_delta", index: 0));
        Assert.Equal(content[1].GetProperty("text").GetString(), AnthropicEvent.Concat(events, "text_delta", index: 1));
        Assert.Equal(["thinking", "text"], events.Where(e => e.Name == "content_block_start").Select(e => e.Data.GetProperty("content_block").GetProperty("type").GetString()));
        Assert.Equal([0, 1], events.Where(e => e.Name == "content_block_stop").Select(e => e.Data.GetProperty("index").GetInt32()));
    }

    [Fact]
    public async Task ABudgetOfZeroClosesTheBlockAtOnce()
    {
        var (status, message) = await fixture.PostAsync("/v1/messages",
            """{"model":"default","max_tokens":20,"temperature":0,"thinking":{"type":"enabled","budget_tokens":0},""" + User + "}");
        Assert.Equal(200, status);
        var block = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("text", block.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(block.GetProperty("text").GetString()));
    }
}

/// <summary>
/// tool_use on the tiny qwen3 (Qwen3's real tokenizer and template, random weights): tool_choice forces a call under the
/// family's grammar, and a schema that admits one value per field (const / enum) scripts what the call must say, so
/// its input is known before the model runs — Japanese text and nested objects and arrays included.
/// </summary>
public sealed class AnthropicToolUseTests(QwenToolsFixture fixture) : IClassFixture<QwenToolsFixture>
{
    private const string Schema = """
        {"type":"object","properties":{"city":{"const":"東京"},
          "options":{"type":"object","properties":{"units":{"enum":["摂氏"]},"days":{"const":3},
            "tags":{"type":"array","items":{"const":"天気 \"予報\""},"minItems":2,"maxItems":2}},"required":["units","days","tags"],"additionalProperties":false}},
         "required":["city","options"],"additionalProperties":false}
        """;
    private static readonly JsonNode ExpectedInput = JsonNode.Parse("""{"city":"東京","options":{"units":"摂氏","days":3,"tags":["天気 \"予報\"","天気 \"予報\""]}}""")!;
    private static readonly string Tools = """ "tools":[{"name":"get_time","description":"The time now","input_schema":{"type":"object","properties":{}}},{"name":"get_weather","description":"天気予報","input_schema":"""
        + Schema + "}]";
    private const string Question = """{"role":"user","content":"東京の天気は？"}""";

    [Fact]
    public async Task ANamedToolIsCalledWithItsInputParsedPlainAndStreamed()
    {
        string body = $$"""{"model":"default","max_tokens":200,"temperature":0,{{Tools}},"tool_choice":{"type":"tool","name":"get_weather"},"messages":[{{Question}}]}""";
        var (status, message) = await fixture.PostAsync("/v1/messages", body);
        Assert.Equal(200, status);
        Assert.Equal("tool_use", message.GetProperty("stop_reason").GetString());
        var call = message.GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
        Assert.StartsWith("toolu_", call.GetProperty("id").GetString());
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.True(JsonNode.DeepEquals(ExpectedInput, JsonNode.Parse(call.GetProperty("input").GetRawText())), call.GetProperty("input").GetRawText());

        using var response = await fixture.PostJsonAsync("/v1/messages", body[..^1] + ",\"stream\":true}");
        var events = await AnthropicEvent.ReadAllAsync(response);
        Assert.Equal("tool_use", AnthropicEvent.AssertWellFormed(events)[^1]);
        var start = events.Single(e => e.Name == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "tool_use").Data;
        int index = start.GetProperty("index").GetInt32();
        var block = start.GetProperty("content_block");
        Assert.Equal("get_weather", block.GetProperty("name").GetString());
        Assert.StartsWith("toolu_", block.GetProperty("id").GetString());
        Assert.Equal("{}", block.GetProperty("input").GetRawText());
        var pieces = events.Where(e => e.Name == "content_block_delta" && e.Data.GetProperty("index").GetInt32() == index).ToList();
        Assert.All(pieces, p => Assert.Equal("input_json_delta", p.Data.GetProperty("delta").GetProperty("type").GetString()));
        Assert.True(pieces.Count >= 3, $"the input came in {pieces.Count} piece(s)");
        string streamed = AnthropicEvent.Concat(events, "input_json_delta", index);
        Assert.True(JsonNode.DeepEquals(ExpectedInput, JsonNode.Parse(streamed)), streamed);
        Assert.Equal("content_block_stop", events[events.FindLastIndex(e => e.Name == "content_block_delta" && e.Data.GetProperty("index").GetInt32() == index) + 1].Name);
        var end = events.Single(e => e.Name == "message_delta").Data.GetProperty("delta");
        Assert.Equal("tool_use", end.GetProperty("stop_reason").GetString());
    }

    [Fact]
    public async Task AnyToolThenTheToolResultContinuesThroughTheTemplate()
    {
        var (status, first) = await fixture.PostAsync("/v1/messages",
            $$"""{"model":"default","max_tokens":200,"temperature":0,{{Tools}},"tool_choice":{"type":"any"},"messages":[{{Question}}]}""");
        Assert.Equal(200, status);
        Assert.Equal("tool_use", first.GetProperty("stop_reason").GetString());
        var call = first.GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
        string id = call.GetProperty("id").GetString()!, name = call.GetProperty("name").GetString()!, input = call.GetProperty("input").GetRawText();

        const string result = "晴れ、最高気温 21℃ {\"湿度\": 40}";
        string conversation = "\"messages\":[" + Question
            + $$""",{"role":"assistant","content":[{"type":"tool_use","id":"{{id}}","name":"{{name}}","input":""" + input + "}]},"
            + $$"""{"role":"user","content":[{"type":"tool_result","tool_use_id":"{{id}}","content":[{"type":"text","text":""" + JsonSerializer.Serialize(result) + "}]}]}]";
        var (_, count) = await fixture.PostAsync("/v1/messages/count_tokens", $$"""{"model":"default",{{Tools}},{{conversation}}}""");

        // The same turn as Hugging Face templates take it: the call in tool_calls, the result as a tool message.
        var messages = new JsonArray(
            JsonNode.Parse(Question),
            new JsonObject
            {
                ["role"] = "assistant", ["content"] = "",
                ["tool_calls"] = new JsonArray(new JsonObject { ["id"] = id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = name, ["arguments"] = JsonNode.Parse(input) } }),
            },
            new JsonObject { ["role"] = "tool", ["tool_call_id"] = id, ["content"] = result });
        var tools = JsonNode.Parse("""
            [{"type":"function","function":{"name":"get_time","description":"The time now","parameters":{"type":"object","properties":{}}}},
             {"type":"function","function":{"name":"get_weather","description":"天気予報","parameters":
            """ + Schema + "}}]");
        string prompt = fixture.Model.Chat.Render(messages, variables: [KeyValuePair.Create<string, JsonNode?>("tools", tools)]);
        Assert.Contains("<tool_response>\n" + result + "\n</tool_response>", prompt);
        Assert.Contains("<tool_call>\n{\"name\": \"" + name + "\"", prompt);
        int expected = fixture.Model.Chat.Encode(prompt).Length;
        Assert.Equal(expected, count.GetProperty("input_tokens").GetInt32());

        var (answerStatus, answer) = await fixture.PostAsync("/v1/messages", $$"""{"model":"default","max_tokens":6,"temperature":0,{{Tools}},{{conversation}}}""");
        Assert.Equal(200, answerStatus);
        var usage = answer.GetProperty("usage");
        Assert.Equal(expected, usage.GetProperty("input_tokens").GetInt32() + usage.GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Contains(answer.GetProperty("stop_reason").GetString(), new[] { "max_tokens", "end_turn", "tool_use" });
    }

    /// <summary>
    /// A request shaped as Claude Code sends them (abridged): <c>?beta=true</c>, its headers, system and user text
    /// blocks with cache_control, tools whose schemas carry <c>$schema</c>, metadata, streaming. The stream must be
    /// well formed whatever the random model writes (text, or a call it may or may not finish).
    /// </summary>
    [Fact]
    public async Task AClaudeCodeShapedRequestStreamsAWellFormedMessage()
    {
        const string body = """
            {"model":"default","max_tokens":120,"stream":true,"temperature":1,"metadata":{"user_id":"user_abc_account__session_1"},"service_tier":"auto","context_management":{"edits":[]},
             "system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.","cache_control":{"type":"ephemeral"}},
                       {"type":"text","text":"You are an interactive CLI tool that helps users with software engineering tasks."}],
             "tools":[{"name":"Bash","description":"Executes a given bash command","input_schema":{"type":"object","properties":{"command":{"type":"string","description":"The command to execute"},"timeout":{"type":"number","description":"Optional timeout in milliseconds (max 600000)"}},"required":["command"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}},
                      {"name":"Read","description":"Reads a file","input_schema":{"type":"object","properties":{"file_path":{"type":"string"},"offset":{"type":"number"},"limit":{"type":"number"}},"required":["file_path"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}}],
             "messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>\nAs you answer the user's questions, you can use the following context.\n</system-reminder>"},
                                                   {"type":"text","text":"list the files here","cache_control":{"type":"ephemeral"}}]}]}
            """;
        for (int seed = 1; seed <= 3; seed++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages?beta=true")
            {
                Content = new StringContent(body.Replace("\"temperature\":1", $"\"temperature\":1,\"seed\":{seed}"), System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("anthropic-version", "2023-06-01");
            request.Headers.Add("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14");
            request.Headers.TryAddWithoutValidation("User-Agent", "claude-cli/2.1.0 (external, cli)");
            request.Headers.Add("x-app", "cli");
            using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            var events = await AnthropicEvent.ReadAllAsync(response);
            AnthropicEvent.AssertWellFormed(events);
            var end = events[^2].Data;
            Assert.Contains(end.GetProperty("delta").GetProperty("stop_reason").GetString(), new[] { "end_turn", "max_tokens", "tool_use" });
            Assert.InRange(end.GetProperty("usage").GetProperty("output_tokens").GetInt32(), 1, 120);
        }
    }

    [Fact]
    public async Task ToolChoiceNoneLeavesTheToolsOutOfThePrompt()
    {
        var (_, none) = await fixture.PostAsync("/v1/messages/count_tokens", $$"""{"model":"default",{{Tools}},"tool_choice":{"type":"none"},"messages":[{{Question}}]}""");
        var (_, bare) = await fixture.PostAsync("/v1/messages/count_tokens", $$"""{"model":"default","messages":[{{Question}}]}""");
        var (_, auto) = await fixture.PostAsync("/v1/messages/count_tokens", $$"""{"model":"default",{{Tools}},"tool_choice":{"type":"auto"},"messages":[{{Question}}]}""");
        Assert.Equal(bare.GetProperty("input_tokens").GetInt32(), none.GetProperty("input_tokens").GetInt32());
        Assert.True(auto.GetProperty("input_tokens").GetInt32() > bare.GetProperty("input_tokens").GetInt32() + 50);
    }

    [Fact]
    public async Task ThinkingSwitchesTheTemplatesEnableThinking()
    {
        // Qwen3's template writes an empty think block into the prompt when enable_thinking is false.
        var (_, off) = await fixture.PostAsync("/v1/messages/count_tokens", $$"""{"model":"default","thinking":{"type":"disabled"},"messages":[{{Question}}]}""");
        var (_, on) = await fixture.PostAsync("/v1/messages/count_tokens", $$"""{"model":"default","thinking":{"type":"enabled","budget_tokens":100},"messages":[{{Question}}]}""");
        var question = new JsonArray(JsonNode.Parse(Question));
        int Rendered(bool thinking) => fixture.Model.Chat.Encode(fixture.Model.Chat.Render(question.DeepClone().AsArray(),
            variables: [KeyValuePair.Create<string, JsonNode?>("enable_thinking", thinking)])).Length;
        Assert.Equal(Rendered(false), off.GetProperty("input_tokens").GetInt32());
        Assert.Equal(Rendered(true), on.GetProperty("input_tokens").GetInt32());
        Assert.NotEqual(Rendered(false), Rendered(true));
    }

    [Fact]
    public async Task ToolUseAndToolResultBlocksGoThroughTheTemplate()
    {
        // Text beside a call, a tool_result beside text: the prompt is the one chat completions render for the OpenAI form.
        const string tools = """ "tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]""";
        var (status, count) = await fixture.PostAsync("/v1/messages/count_tokens", """
            {"model":"default",
            """ + tools + """
            ,"messages":[{"role":"user","content":"Weather in Paris?"},
             {"role":"assistant","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
             {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},{"type":"text","text":"Thanks!"}]}]}
            """);
        Assert.True(status == 200, count.ToString());
        var (chatStatus, chat) = await fixture.PostAsync("/v1/chat/completions", """
            {"model":"default","max_tokens":1,
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "messages":[{"role":"user","content":"Weather in Paris?"},
              {"role":"assistant","content":"Let me look.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"sunny"},{"role":"user","content":"Thanks!"}]}
            """);
        Assert.Equal(200, chatStatus);
        Assert.Equal(chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), count.GetProperty("input_tokens").GetInt32());
    }
}
