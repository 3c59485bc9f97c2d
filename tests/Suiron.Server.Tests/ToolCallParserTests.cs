using System.Text.Json.Nodes;
using Suiron.Chat;

namespace Suiron.Server.Tests;

/// <summary>Each family's tool-call syntax read back, whole and streamed in pieces (tags split across chunks).</summary>
public sealed class ToolCallParserTests
{
    public static TheoryData<string, string, string, string[]> Cases => new()
    {
        // format, generated text, expected content, expected calls as "name args"
        { "hermes", "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "Let me check.\n", ["get_weather {\"city\":\"Paris\"}"] },
        { "hermes", "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\":\\\"</tool\\\"}\"}\n</tool_call>", "", ["a {\"x\":1}", "b {\"y\":\"</tool\"}"] },
        { "hermes", "No tools needed: 1 < 2.", "No tools needed: 1 < 2.", [] },
        { "llama3", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", ["get_weather {\"city\":\"Paris\"}"] },
        { "llama3", "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"q\": [1, {\"z\": \"}\"}]}}", "", ["a {}", "b {\"q\":[1,{\"z\":\"}\"}]}"] },
        { "llama3", "Hello {there}", "Hello {there}", [] },
        // Llama 3.1 built-in tools, as llama.cpp's chat parser reads them: NAME.call(ARG=JSON, …).
        { "llama3", "<|python_tag|>brave_search.call(query=\"weather in Paris\")", "", ["brave_search {\"query\":\"weather in Paris\"}"] },
        { "llama3", "<|python_tag|> wolfram_alpha . call ( query = \"f(x, y)\", precision = 3, exact=true )", "", ["wolfram_alpha {\"query\":\"f(x, y)\",\"precision\":3,\"exact\":true}"] },
        { "llama3", "<|python_tag|>brave_search.call()", "", ["brave_search {}"] },
        { "llama3", "<|python_tag|>print(1)", "<|python_tag|>print(1)", [] },
        { "deepseek-r1", "Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>b\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "Sure.", ["get_weather {\"city\":\"Paris\"}", "b {}"] },
        { "deepseek-v3.1", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "", ["get_weather {\"city\":\"Paris\"}"] },
        // GLM-4.7 / GLM-5 (vLLM's glm47 parser): no newline after the name nor between the pairs; strings raw, others JSON.
        { "glm-4.5", "調べます。<tool_call>get_weather<arg_key>city</arg_key><arg_value>東京 \"駅\"\n前</arg_value><arg_key>days</arg_key><arg_value>3</arg_value><arg_key>opts</arg_key><arg_value>{\"units\": [\"摂氏\"]}</arg_value></tool_call><tool_call>now</tool_call>",
            "調べます。", ["get_weather {\"city\":\"東京 \\\"駅\\\"\\n前\",\"days\":3,\"opts\":{\"units\":[\"摂氏\"]}}", "now {}"] },
        { "glm-4.5", "Checking.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>", "Checking.\n", ["get_weather {\"city\":\"Paris\",\"days\":3}"] },
        { "kimi-k2", "天気を調べます。<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"東京\", \"opts\": {\"days\": [1, 2]}}<|tool_call_end|><|tool_call_begin|>functions.now:1<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>",
            "天気を調べます。", ["get_weather {\"city\":\"東京\",\"opts\":{\"days\":[1,2]}}", "now {}"] },
        // A call whose arguments do not parse is not a call: the text stays the answer.
        { "kimi-k2", "<|tool_calls_section_begin|><|tool_call_begin|>functions.broken:0<|tool_call_argument_begin|>{\"city\": <|tool_call_end|><|tool_calls_section_end|>",
            "<|tool_calls_section_begin|><|tool_call_begin|>functions.broken:0<|tool_call_argument_begin|>{\"city\": <|tool_call_end|><|tool_calls_section_end|>", [] },
        { "hermes", "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": }\n</tool_call>", "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": }\n</tool_call>", [] },
        { "minimax-m2", "考えます。\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">東京 & 大阪 <都市></parameter>\n<parameter name=\"days\">3</parameter>\n<parameter name=\"opts\">{\"unit\": \"c\", \"hours\": [1, 2]}</parameter>\n</invoke>\n<invoke name=\"now\">\n</invoke>\n</minimax:tool_call>",
            "考えます。\n", ["get_weather {\"city\":\"東京 & 大阪 <都市>\",\"days\":3,\"opts\":{\"unit\":\"c\",\"hours\":[1,2]}}", "now {}"] },
        { "qwen3-coder", "確認します。\n<tool_call>\n<function=write_note>\n<parameter=title>\n会議メモ\n</parameter>\n<parameter=body>\n1行目\n2行目 <b>太字</b> \"引用\"\n</parameter>\n<parameter=tags>\n[\"a\", {\"b\": 2}]\n</parameter>\n</function>\n</tool_call>",
            "確認します。\n", ["write_note {\"title\":\"会議メモ\",\"body\":\"1行目\\n2行目 <b>太字</b> \\\"引用\\\"\",\"tags\":[\"a\",{\"b\":2}]}"] },
        { "qwen3-coder", "<tool_call>\n<function=now>\n</function>\n</tool_call>", "", ["now {}"] },
        // Hunyuan-A13B: one JSON array of calls, read as vLLM's hunyuan_a13b parser reads it; a reply without calls
        // drops the 助手： its template asks for. An entry without "arguments" is a call with {} (vLLM's streaming reader
        // announces it by name; its whole-reply reader skips it: we read both ways alike).
        { "hunyuan-a13b", "<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"東京\", \"days\": 2}}]</tool_calls>", "", ["get_weather {\"city\":\"東京\",\"days\":2}"] },
        { "hunyuan-a13b", "調べます。\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"東京\"}}, {\"name\": \"book_trip\", \"arguments\": {\"route\": {\"from\": \"東京\", \"stops\": [\"名古屋\", \"大阪\"]}, \"note\": \"窓側 \\\"A\\\" 席\\n2行目 ]}</tool_calls>\\u0021\"}}]</tool_calls>",
            "調べます。\n", ["get_weather {\"city\":\"東京\"}", "book_trip {\"route\":{\"from\":\"東京\",\"stops\":[\"名古屋\",\"大阪\"]},\"note\":\"窓側 \\\"A\\\" 席\\n2行目 ]}</tool_calls>\\u0021\"}"] },
        { "hunyuan-a13b", "<tool_calls>[{\"name\": \"a\"}, {\"name\": \"b\", \"arguments\": \"{\\\"q\\\": 1}\"}, {\"name\": \"now\", \"arguments\": {}}]</tool_calls>", "", ["a {}", "b {\"q\": 1}", "now {}"] },
        { "hunyuan-a13b", "助手：今日は晴れです。", "今日は晴れです。", [] },
        { "hunyuan-a13b", "\n助手：助手：は二回", "\n助手：は二回", [] },
        { "hunyuan-a13b", "助手", "助手", [] },
        { "hunyuan-a13b", "<tool_calls>[{\"name\": \"a\", \"arguments\": {\"x\": }]</tool_calls>", "<tool_calls>[{\"name\": \"a\", \"arguments\": {\"x\": }]</tool_calls>", [] },
        { "hunyuan-a13b", "<tool_calls>{\"name\": \"a\", \"arguments\": {}}</tool_calls>", "<tool_calls>{\"name\": \"a\", \"arguments\": {}}</tool_calls>", [] },
        // ERNIE-4.5-21B-A3B-Thinking writes Hermes's syntax: vLLM's ernie45 parser test outputs, read by the Hermes reader.
        { "hermes", "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"Beijing\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_temperature_unit\", \"arguments\": {\"location\": \"Guangzhou\", \"unit\": \"c\"}}\n</tool_call>\n",
            "", ["get_current_temperature {\"location\":\"Beijing\"}", "get_temperature_unit {\"location\":\"Guangzhou\",\"unit\":\"c\"}"] },
        { "generic", "{\"tool_call\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}", "", ["get_weather {\"city\":\"Paris\"}"] },
        { "generic", "{\"answer\": 42}", "{\"answer\": 42}", [] },
    };

    private static ToolCallFormat Format(string name) => name switch
    {
        "hermes" => ToolCallFormat.Hermes,
        "llama3" => ToolCallFormat.Llama3,
        "deepseek-r1" => ToolCallFormat.DeepSeekR1,
        "deepseek-v3.1" => ToolCallFormat.DeepSeekV31,
        "glm-4.5" => ToolCallFormat.Glm45,
        "kimi-k2" => ToolCallFormat.KimiK2,
        "minimax-m2" => ToolCallFormat.MiniMaxM2,
        "qwen3-coder" => ToolCallFormat.QwenXml,
        "hunyuan-a13b" => ToolCallFormat.HunyuanA13B,
        _ => ToolCallFormat.Generic,
    };

    [Theory, MemberData(nameof(Cases))]
    public void ParsesWholeReplies(string format, string text, string content, string[] calls)
    {
        var parsed = Format(format).Parse(text);
        Assert.Equal(content, parsed.Content);
        Assert.Equal(calls, parsed.Calls.Select(c => c.Name + " " + c.Arguments));
        Assert.All(parsed.Calls, c => Assert.Matches("^call_[A-Za-z0-9]{24}$", c.Id));
    }

    [Theory, MemberData(nameof(Cases))]
    public void ParsesStreamedReplies(string format, string text, string content, string[] calls)
    {
        foreach (int size in new[] { 1, 2, 3, 7 })
        {
            var parser = new ToolCallStreamParser(Format(format));
            var streamedContent = new System.Text.StringBuilder();
            var streamedCalls = new List<ToolCall>();
            for (int i = 0; i < text.Length; i += size)
            {
                var (c, k) = parser.Push(text.Substring(i, Math.Min(size, text.Length - i)));
                streamedContent.Append(c);
                streamedCalls.AddRange(k);
            }
            var (rest, more) = parser.Flush();
            streamedContent.Append(rest);
            streamedCalls.AddRange(more);
            Assert.Equal(content, streamedContent.ToString());
            Assert.Equal(calls, streamedCalls.Select(c => c.Name + " " + c.Arguments));
        }
    }

    /// <summary>
    /// Streamed as OpenAI streams calls: each call is announced (id, name) before it has ended, its arguments follow in
    /// several pieces while it is generated, and the pieces concatenate to the final arguments. Also the non-ASCII
    /// text and the spacing inside strings survive exactly as written (only whitespace between tokens is dropped).
    /// </summary>
    [Theory]
    [InlineData("hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"São  Paulo\", \"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>")]
    [InlineData("llama3", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"São  Paulo\", \"days\": [1, 2]}}; {\"name\": \"now\", \"parameters\": {}}")]
    [InlineData("deepseek-r1", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"São  Paulo\", \"days\": [1, 2]}\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>now\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>")]
    [InlineData("deepseek-v3.1", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"São  Paulo\", \"days\": [1, 2]}<｜tool▁call▁end｜><｜tool▁call▁begin｜>now<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>")]
    [InlineData("glm-4.5", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>São  Paulo</arg_value>\n<arg_key>days</arg_key>\n<arg_value>[1, 2]</arg_value>\n</tool_call><tool_call>now\n</tool_call>")]
    [InlineData("kimi-k2", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"São  Paulo\", \"days\": [1, 2]}<|tool_call_end|><|tool_call_begin|>functions.now:1<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>")]
    [InlineData("minimax-m2", "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">São  Paulo</parameter>\n<parameter name=\"days\">[1, 2]</parameter>\n</invoke>\n<invoke name=\"now\">\n</invoke>\n</minimax:tool_call>")]
    [InlineData("qwen3-coder", "<tool_call>\n<function=get_weather>\n<parameter=city>\nSão  Paulo\n</parameter>\n<parameter=days>\n[1, 2]\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=now>\n</function>\n</tool_call>")]
    [InlineData("hunyuan-a13b", "<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"São  Paulo\", \"days\": [1, 2]}}, {\"name\": \"now\", \"arguments\": {}}]</tool_calls>")]
    public void ArgumentsStreamInPiecesThatAddUpToTheFinalArguments(string format, string text)
    {
        string[] expected = ["get_weather {\"city\":\"São  Paulo\",\"days\":[1,2]}", "now {}"];
        foreach (int size in new[] { 1, 2, 5 })
        {
            var parser = new ToolCallStreamParser(Format(format));
            var pieces = new List<(int Push, ToolCallDelta Delta)>();
            var completedAt = new Dictionary<string, int>();
            var calls = new List<ToolCall>();
            int push = 0;
            for (int i = 0; i <= text.Length; i += size, push++)
            {
                var update = i < text.Length ? parser.Push(text.Substring(i, Math.Min(size, text.Length - i))) : parser.Flush();
                Assert.Equal("", update.Content);
                pieces.AddRange(update.Deltas.Select(d => (push, d)));
                foreach (var call in update.Calls) completedAt[call.Id] = push;
                calls.AddRange(update.Calls);
            }
            Assert.Equal(expected, calls.Select(c => c.Name + " " + c.Arguments));
            for (int index = 0; index < calls.Count; index++)
            {
                var own = pieces.Where(p => p.Delta.Index == index).ToList();
                Assert.Equal(calls[index].Id, own[0].Delta.Id);
                Assert.Equal(calls[index].Name, own[0].Delta.Name);
                Assert.All(own.Skip(1), p => Assert.Null(p.Delta.Id));
                Assert.Equal(calls[index].Arguments, string.Concat(own.Select(p => p.Delta.Arguments)));
                Assert.True(own[0].Push < completedAt[calls[index].Id], "announced only when complete");
            }
            // The long call's arguments arrive over several pushes, not at once.
            Assert.True(pieces.Count(p => p.Delta.Index == 0 && p.Delta.Arguments.Length > 0) >= 3, $"chunk size {size}");
        }
    }

    [Fact]
    public void BuiltinToolCallIsAnnouncedAtDotCallAndStreamsEachArgument()
    {
        var parser = new ToolCallStreamParser(ToolCallFormat.Llama3);
        Assert.Empty(parser.Push("<|python_tag|>brave_sea").Deltas);
        var announced = Assert.Single(parser.Push("rch.call(").Deltas);
        Assert.Equal(("brave_search", "{"), (announced.Name, announced.Arguments));
        Assert.NotNull(announced.Id);
        Assert.Empty(parser.Push("query=\"Paris").Deltas); // a value streams once it has ended
        Assert.Equal("\"query\":\"Paris weather\"", Assert.Single(parser.Push(" weather\", ").Deltas).Arguments);
        Assert.Empty(parser.Push("count=3").Deltas); // 3 might go on (30)
        var last = parser.Push(")");
        Assert.Equal(",\"count\":3}", Assert.Single(last.Deltas).Arguments);
        var call = Assert.Single(last.Calls);
        Assert.Equal((announced.Id, "brave_search", "{\"query\":\"Paris weather\",\"count\":3}"), (call.Id, call.Name, call.Arguments));
    }

    [Fact]
    public void ContentBeforeACallIsSentBeforeTheCallCompletes()
    {
        var parser = new ToolCallStreamParser(ToolCallFormat.Hermes);
        Assert.Equal("Let me ", parser.Push("Let me ").Content);
        Assert.Equal("look", parser.Push("look<tool").Content); // "<tool" might open a call: held back
        var (content, calls) = parser.Push("_call>\n{\"name\": \"f\", \"arguments\": {}}");
        Assert.Equal("", content);
        Assert.Empty(calls);
        (content, calls) = parser.Push("\n</tool_call>");
        Assert.Equal("f", Assert.Single(calls).Name);
    }

    [Theory]
    [InlineData("Qwen-Qwen3-0.6B.jinja", "hermes")]
    [InlineData("Qwen-Qwen2.5-7B-Instruct.jinja", "hermes")]
    [InlineData("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes")]
    [InlineData("meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3")]
    [InlineData("deepseek-ai-DeepSeek-V3.1.jinja", "deepseek-v3.1")]
    [InlineData("llama-cpp-deepseek-r1.jinja", "deepseek-r1")]
    [InlineData("GLM-4.6.jinja", "glm-4.5")]
    [InlineData("Kimi-K2-Instruct.jinja", "kimi-k2")]
    [InlineData("moonshotai-Kimi-K2.jinja", "kimi-k2")]
    [InlineData("Kimi-K2-Thinking.jinja", "kimi-k2")]
    [InlineData("MiniMax-M2.jinja", "minimax-m2")]
    [InlineData("Qwen3-Coder.jinja", "qwen3-coder")]
    [InlineData("Qwen3.5-4B.jinja", "qwen3-coder")]
    [InlineData("google-gemma-2-2b-it.jinja", "generic")]
    [InlineData("GLM-4.7-Flash.jinja", "glm-4.5")]
    [InlineData("Apriel-1.6-15b-Thinker-fixed.jinja", "hunyuan-a13b")] // Apriel writes calls as Hunyuan-A13B does
    [InlineData("unsloth-Apriel-1.5.jinja", "hunyuan-a13b")]
    public void DetectsTheFamilyFromTheTemplate(string template, string family)
        => Assert.Equal(family, ToolCallFormat.Detect(File.ReadAllText(SharedData.Path("templates", template))).Name);

    /// <summary>The calls Apriel's template writes back into the prompt (Jinja2's rendering, an "id" member included) are read as the conversation held them.</summary>
    [Fact]
    public void AprielsRenderedCallsReadBack()
    {
        string rendered = File.ReadAllText(SharedData.Path("templates", "expected", "Apriel-1.6-15b-Thinker-fixed__tools.txt"));
        int start = rendered.LastIndexOf("<tool_calls>[", StringComparison.Ordinal);
        int end = rendered.IndexOf("</tool_calls>", start, StringComparison.Ordinal) + "</tool_calls>".Length;
        var call = Assert.Single(ToolCallFormat.HunyuanA13B.Parse(rendered[start..end]).Calls);
        Assert.Equal(("get_weather", "{\"city\":\"Tokyo\",\"unit\":\"celsius\"}"), (call.Name, call.Arguments));
    }

    /// <summary>Every family's forced-call grammar produces text its parser reads back: check by sampling strings the grammar accepts.</summary>
    [Theory]
    [InlineData("hermes")]
    [InlineData("llama3")]
    [InlineData("deepseek-r1")]
    [InlineData("deepseek-v3.1")]
    [InlineData("glm-4.5")]
    [InlineData("kimi-k2")]
    [InlineData("minimax-m2")]
    [InlineData("qwen3-coder")]
    [InlineData("hunyuan-a13b")]
    [InlineData("generic")]
    public void ForcedCallGrammarsParse(string format)
    {
        var tools = JsonNode.Parse("""
            [{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}},
             {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}]
            """)!.AsArray();
        string gbnf = Format(format).Grammar(tools);
        var grammar = Sampling.Grammar.Grammar.Parse(gbnf);
        Assert.True(grammar.RuleCount > 0);
    }
}
