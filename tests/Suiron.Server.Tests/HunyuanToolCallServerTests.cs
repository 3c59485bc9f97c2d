using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>The tiny stories model behind Hunyuan-A13B-Instruct's real chat template (tests/templates), served.</summary>
public sealed class HunyuanServerFixture : ServerFixture
{
    protected override string ModelPath => TestModels.StoriesWithTemplate("hunyuan-a13b-served", File.ReadAllText(VendorTemplateTests.TemplatePath("Hunyuan-A13B-Instruct.jinja")));
    protected override LocalModelOptions ModelOptions => new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 4096 }, Slots = 1, QueueLimit = 16 };
}

/// <summary>
/// A scripted reply in Hunyuan-A13B's syntax comes back through /v1/chat/completions as OpenAI tool calls: the request's
/// <c>grammar</c> admits exactly one text, so the model writes it token by token, and the server reads it with the
/// family's parsers (tool_choice auto, so nothing but the text decides). Japanese text, nested JSON, JSON escapes and
/// two calls in one array; a malformed call and a plain answer come back as content, never as an error.
/// </summary>
public sealed class HunyuanToolCallServerTests(HunyuanServerFixture fixture) : IClassFixture<HunyuanServerFixture>
{
    private const string Tools = """
        "tools":[{"type":"function","function":{"name":"get_weather","description":"都市の天気","parameters":{"type":"object","properties":{"city":{"type":"string"},"opts":{"type":"object"}},"required":["city"]}}},
                 {"type":"function","function":{"name":"now","description":"The time now","parameters":{"type":"object","properties":{}}}}]
        """;

    private const string TwoCalls = """<tool_calls>[{"name": "get_weather", "arguments": {"city": "東京", "opts": {"days": [1, 2], "note": "窓側 \"A\" 席\n2行目 \\ </tool_calls>"}}}, {"name": "now", "arguments": {}}]</tool_calls>""";
    private static readonly JsonNode WeatherArguments = JsonNode.Parse("""{"city": "東京", "opts": {"days": [1, 2], "note": "窓側 \"A\" 席\n2行目 \\ </tool_calls>"}}""")!;

    /// <summary>A GBNF grammar whose only sentence is <paramref name="text"/>.</summary>
    private static string Only(string text)
    {
        var literal = new StringBuilder("root ::= \"");
        foreach (char c in text) literal.Append(c switch { '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", _ => c.ToString() });
        return literal.Append('"').ToString();
    }

    private static string Body(string scripted, bool stream) => $$"""
        {"model":"default","max_tokens":600,"temperature":0,"stream":{{(stream ? "true" : "false")}},{{Tools}},
         "messages":[{"role":"user","content":"東京の天気と今の時刻は？"}],"grammar":{{JsonSerializer.Serialize(Only(scripted))}}}
        """;

    [Fact]
    public void TheTemplateIsDetectedAsHunyuan()
    {
        Assert.Equal("hunyuan-a13b", fixture.Model.Chat.ToolFormat.Name);
        Assert.Same(Suiron.Chat.ReasoningTags.HunyuanAnswer, fixture.Model.Chat.ReasoningTags);
    }

    [Fact]
    public async Task TwoCallsComeBackAsToolCalls()
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", Body(TwoCalls, stream: false));
        Assert.Equal(200, status);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var calls = choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray().ToList();
        Assert.Equal(["get_weather", "now"], calls.Select(c => c.GetProperty("function").GetProperty("name").GetString()));
        Assert.True(JsonNode.DeepEquals(WeatherArguments, JsonNode.Parse(calls[0].GetProperty("function").GetProperty("arguments").GetString()!)));
        Assert.Equal("{}", calls[1].GetProperty("function").GetProperty("arguments").GetString());
        Assert.All(calls, c => Assert.StartsWith("call_", c.GetProperty("id").GetString()));
    }

    /// <summary>OpenAI's streamed <c>delta.tool_calls</c>: each call named (with its id) in its first piece, the arguments in pieces that add up.</summary>
    [Fact]
    public async Task TwoCallsStreamAsOpenAIToolCallDeltas()
    {
        // The OpenAI SDK has no field for llama.cpp's "grammar": the request and its SSE chunks go over plain HTTP.
        using var response = await fixture.PostJsonAsync("/v1/chat/completions", Body(TwoCalls, stream: true));
        Assert.Equal(200, (int)response.StatusCode);
        var names = new Dictionary<int, string>();
        var ids = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        var pieces = new Dictionary<int, int>();
        string? finish = null;
        var content = new StringBuilder();
        await foreach (var chunk in ServerFixture.ReadEventsAsync(response))
        {
            if (chunk.GetProperty("choices").GetArrayLength() == 0) continue;
            var choice = chunk.GetProperty("choices")[0];
            if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) finish = f.GetString();
            var delta = choice.GetProperty("delta");
            if (delta.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) content.Append(c.GetString());
            if (!delta.TryGetProperty("tool_calls", out var toolCalls)) continue;
            foreach (var call in toolCalls.EnumerateArray())
            {
                int index = call.GetProperty("index").GetInt32();
                var function = call.GetProperty("function");
                if (call.TryGetProperty("id", out var id))
                {
                    Assert.False(ids.ContainsKey(index), "one id per call");
                    ids[index] = id.GetString()!;
                    names[index] = function.GetProperty("name").GetString()!;
                    arguments[index] = new StringBuilder();
                    pieces[index] = 0;
                }
                if (function.TryGetProperty("arguments", out var a) && a.GetString() is { Length: > 0 } piece)
                {
                    arguments[index].Append(piece);
                    pieces[index]++;
                }
            }
        }
        Assert.Equal("tool_calls", finish);
        Assert.Equal("", content.ToString());
        Assert.Equal(["get_weather", "now"], names.OrderBy(n => n.Key).Select(n => n.Value));
        Assert.True(JsonNode.DeepEquals(WeatherArguments, JsonNode.Parse(arguments[0].ToString())), arguments[0].ToString());
        Assert.Equal("{}", arguments[1].ToString());
        Assert.True(pieces[0] >= 3, $"the arguments came in {pieces[0]} piece(s)");
    }

    [Theory]
    [InlineData("""<tool_calls>[{"name": "get_weather", "arguments": {"city": }]</tool_calls>""", """<tool_calls>[{"name": "get_weather", "arguments": {"city": }]</tool_calls>""")]
    [InlineData("""<tool_calls>[{"name": "get_weather", "arguments": {"city": "東京"}""", """<tool_calls>[{"name": "get_weather", "arguments": {"city": "東京"}""")]
    [InlineData("助手：東京は晴れです。", "東京は晴れです。")]
    public async Task TextThatIsNoCallComesBackAsContent(string scripted, string expected)
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", Body(scripted, stream: false));
        Assert.Equal(200, status);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out _));
        Assert.Equal(expected, choice.GetProperty("message").GetProperty("content").GetString());

        // Streamed, a call announced by its name before it broke stays announced (its pieces were sent); the text is the content.
        using var response = await fixture.PostJsonAsync("/v1/chat/completions", Body(scripted, stream: true));
        Assert.Equal(200, (int)response.StatusCode);
        var content = new StringBuilder();
        string? finish = null;
        await foreach (var chunk in ServerFixture.ReadEventsAsync(response))
        {
            if (chunk.GetProperty("choices").GetArrayLength() == 0) continue;
            var streamed = chunk.GetProperty("choices")[0];
            if (streamed.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) finish = f.GetString();
            var delta = streamed.GetProperty("delta");
            if (delta.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) content.Append(c.GetString());
        }
        Assert.Equal(expected, content.ToString());
        Assert.Equal("stop", finish);
    }

    /// <summary>Thinking, then the answer block holding the calls: the reasoning comes back apart, the tags in neither part.</summary>
    [Fact]
    public async Task ReasoningThenCallsInTheAnswerBlock()
    {
        string scripted = "<think>\n時刻が要る。\n</think>\n<answer>\n<tool_calls>[{\"name\": \"now\", \"arguments\": {}}]</tool_calls>\n</answer>";
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", Body(scripted, stream: false));
        Assert.Equal(200, status);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal("時刻が要る。", message.GetProperty("reasoning_content").GetString());
        Assert.Equal("now", Assert.Single(message.GetProperty("tool_calls").EnumerateArray().ToList()).GetProperty("function").GetProperty("name").GetString());
        Assert.True(!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null || content.GetString() == "", message.GetRawText());
    }
}
