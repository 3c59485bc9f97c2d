using System.ClientModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace Suiron.Server.Tests;

/// <summary>
/// Valid requests to every endpoint with one to three parameters replaced by hostile values — wrong types, numbers at
/// and past the limits, huge and deeply nested values, text that is not Unicode, template and grammar injection,
/// schemas that would expand without bound — and whole bodies that are not what the endpoint takes. Every answer must
/// be a success or a 4xx in the route's error shape (OpenAI's, Anthropic's on /v1/messages; /v1/responses and llama-server's routes included): never a 5xx, never an empty or non-JSON error, never a hang.
/// Seeds are fixed; CI sends <see cref="CiRequests"/>, <c>SUIRON_FUZZ_SECONDS</c> runs longer by hand.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class HttpFuzzTests(ServerFixture fixture, ITestOutputHelper output)
{
    private const int CiRequests = 6000;

    private static readonly string[] ChatBases =
    [
        """{"model":"default","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":2}""",
        """{"model":"default","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":2,"stream":true,"stream_options":{"include_usage":true}}""",
        """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}}],"tool_choice":"required"}""",
        """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"n":{"type":"string"}}}}}}""",
        """{"model":"default","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"3"}],"max_tokens":2,"logprobs":true,"top_logprobs":2}""",
    ];

    private static readonly string[] CompletionBases =
    [
        """{"model":"default","prompt":"Once upon a time","max_tokens":2,"temperature":0.5,"seed":1}""",
        """{"model":"default","prompt":[1,2,3],"max_tokens":2,"stream":true,"logprobs":2}""",
        """{"model":"default","prompt":"Once","max_tokens":3,"grammar":"root ::= \"yes\" | \"no\"","stop":["\n"]}""",
    ];

    private static readonly string[] EmbeddingBases =
    [
        """{"model":"default","input":"Hello"}""",
        """{"model":"default","input":["a","b"],"encoding_format":"base64"}""",
        """{"model":"default","input":[[1,2,3]]}""",
    ];

    private static readonly string[] MessagesBases =
    [
        """{"model":"default","system":"Be brief.","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"temperature":0.5,"stop_sequences":["x"]}""",
        """{"model":"default","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":2,"stream":true}""",
        """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}],"tool_choice":{"type":"any"}}""",
        """{"model":"default","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":""},{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"3"}]},{"type":"text","text":"and?"}]}],"max_tokens":2,"thinking":{"type":"enabled","budget_tokens":1},"metadata":{"user_id":"u"}}""",
    ];

    private static readonly string[] MessagesPaths =
    [
        "model", "max_tokens", "system", "system[0]", "system[0].text", "system[0].type", "messages", "messages[0]", "messages[0].role", "messages[0].content",
        "messages[0].content[0]", "messages[0].content[0].type", "messages[0].content[0].text", "messages[1].content", "messages[1].content[1]",
        "messages[1].content[2].input", "messages[1].content[2].id", "messages[1].content[2].name", "messages[1].content[0].thinking",
        "messages[2].content[0].content", "messages[2].content[0].tool_use_id", "messages[2].content[0].content[0]", "tools", "tools[0]",
        "tools[0].name", "tools[0].type", "tools[0].input_schema", "tool_choice", "tool_choice.type", "tool_choice.name", "thinking", "thinking.type",
        "thinking.budget_tokens", "stop_sequences", "stop_sequences[0]", "temperature", "top_p", "top_k", "metadata", "stream", "seed", "unknown_field",
    ];

    private static readonly string[] ResponsesBases =
    [
        """{"model":"default","instructions":"Be brief.","input":"Hi","max_output_tokens":2,"temperature":0.5,"metadata":{"k":"v"}}""",
        """{"model":"default","input":[{"role":"user","content":[{"type":"input_text","text":"Hi"}]}],"max_output_tokens":2,"stream":true}""",
        """{"model":"default","input":"Hi","max_output_tokens":3,"tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}],"tool_choice":"required","stream":true}""",
        """{"model":"default","input":[{"role":"user","content":"Hi"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},{"type":"function_call_output","call_id":"c1","output":"3"},{"type":"reasoning","summary":[{"type":"summary_text","text":"hm"}]}],"max_output_tokens":2,"text":{"format":{"type":"json_schema","name":"x","schema":{"type":"object","properties":{"n":{"type":"string"}}}}},"reasoning":{"effort":"low","summary":"auto"},"store":true,"reasoning_budget_tokens":1}""",
    ];

    private static readonly string[] ResponsesPaths =
    [
        "model", "input", "input[0]", "input[0].role", "input[0].type", "input[0].content", "input[0].content[0]", "input[0].content[0].type", "input[0].content[0].text",
        "input[1]", "input[1].type", "input[1].call_id", "input[1].name", "input[1].arguments", "input[2].output", "input[2].call_id", "input[3].summary", "input[3].content",
        "instructions", "max_output_tokens", "max_tokens", "temperature", "top_p", "seed", "tools", "tools[0]", "tools[0].type", "tools[0].name", "tools[0].parameters",
        "tool_choice", "tool_choice.type", "tool_choice.name", "text", "text.format", "text.format.type", "text.format.schema", "reasoning", "reasoning.effort",
        "reasoning.summary", "store", "previous_response_id", "stream", "metadata", "metadata.k", "parallel_tool_calls", "reasoning_budget_tokens",
        "chat_template_kwargs", "unknown_field",
    ];

    /// <summary>llama-server's /tokenize and /detokenize bodies (each path is hostile to one of them, harmless to the other).</summary>
    private static readonly string[] TokenizeBases =
    [
        """{"content":"Hi <|im_start|> 猫","with_pieces":true}""",
        """{"content":["a",1,2],"add_special":true,"parse_special":false}""",
        """{"tokens":[1,2,3]}""",
    ];

    private static readonly string[] TokenizePaths = ["model", "content", "content[0]", "content[1]", "add_special", "parse_special", "with_pieces", "tokens", "tokens[0]", "unknown_field"];

    private static readonly string[] ChatPaths =
    [
        "model", "messages", "messages[0]", "messages[0].role", "messages[0].content", "messages[1].content", "messages[0].content[0]",
        "messages[0].content[0].type", "messages[0].content[0].text", "messages[0].name", "messages[1].tool_calls", "messages[1].tool_calls[0].function.arguments",
        "messages[1].tool_calls[0].function", "messages[0].tool_call_id", "messages[0].reasoning_content", "max_tokens", "max_completion_tokens",
        "temperature", "top_p", "top_k", "min_p", "seed", "stop", "stop[0]", "n", "stream", "stream_options", "stream_options.include_usage",
        "presence_penalty", "frequency_penalty", "repeat_penalty", "logprobs", "top_logprobs", "response_format", "response_format.type",
        "response_format.json_schema", "response_format.json_schema.schema", "json_schema", "grammar", "tools", "tools[0]", "tools[0].type",
        "tools[0].function", "tools[0].function.name", "tools[0].function.parameters", "tool_choice", "tool_choice.function.name",
        "parallel_tool_calls", "chat_template_kwargs", "chat_template_kwargs.enable_thinking", "logit_bias", "user", "unknown_field",
    ];

    private static readonly string[] CompletionPaths =
    [
        "model", "prompt", "prompt[0]", "prompt[1]", "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "n", "stream",
        "stream_options", "logprobs", "echo", "presence_penalty", "frequency_penalty", "repeat_penalty", "grammar", "json_schema",
        "response_format", "response_format.type", "suffix", "best_of", "logit_bias", "unknown_field",
    ];

    private static readonly string[] EmbeddingPaths = ["model", "input", "input[0]", "input[1]", "input[0][0]", "encoding_format", "dimensions", "user", "unknown_field"];

    /// <summary>Schemas and grammars aimed at the compilers: wrong keyword types, bad references, recursion, expansions without bound.</summary>
    private static readonly string[] HostileSchemas =
    [
        """{"type":"integer","minimum":"x"}""", """{"type":["string",5]}""", """{"$ref":"#/definitions/nope"}""", """{"$ref":"http://evil.example/s.json"}""",
        """{"$ref":"#"}""", """{"type":"object","properties":{"a":{"$ref":"#"}},"required":["a"]}""", """{"type":"string","pattern":"(a|b"}""",
        """{"type":"string","pattern":"a{1000000}"}""", """{"type":"string","pattern":"((((((((((a*)*)*)*)*)*)*)*)*)*)"}""", """{"type":"string","minLength":100000}""",
        """{"type":"string","maxLength":2147483647}""", """{"type":"array","minItems":100000}""", """{"type":"array","items":{"type":"string"},"maxItems":2147483647}""",
        """{"type":"integer","minimum":-1e300,"maximum":1e300}""", """{"type":"integer","minimum":5,"maximum":1}""", """{"type":"number","multipleOf":1e-300}""",
        """{"type":"integer","multipleOf":0.3,"minimum":0,"maximum":1000000000}""", """{"enum":[]}""", """{"anyOf":[]}""", """{"not":{}}""", """false""", """true""", """{}""",
        """{"type":"object","additionalProperties":false,"required":["a"]}""", """{"allOf":[{"type":"string"},{"type":"integer"}]}""",
        """{"type":"string","format":"date-time"}""", """{"const":{"a":[1,{"b":null}]}}""", """{"type":"object","properties":{"\u0000":{"type":"string"}}}""",
        """{"type":"frobnicate"}""", """{"prefixItems":[{"type":"string"}],"items":false,"minItems":5}""", """{"type":"string","minLength":10,"maxLength":2}""",
    ];

    private static readonly string[] HostileGrammars =
    [
        "root ::= root", "root ::= x\nx ::= root \"a\"", "root ::= [a-z]{0,1000000}", "root ::= \"a\"{100000}", "root ::= (((((((((((\"a\")))))))))))",
        "root ::= \"unterminated", "root ::= [", "root ::= [^]", "root ::= \"\\x\"", "root ::= undefined", "x ::= \"a\"", "", "root ::= \"\"",
        "root ::= (\"a\" | \"a\" | \"a\")*", "root ::= [\\U0010FFFF-\\U00000000]", "root ::= \"\\uD800\"", "root ::= " + string.Join(" | ", Enumerable.Range(0, 300).Select(i => $"\"x{i}\" [a-z]*")),
    ];

    [Fact]
    public async Task HostileRequestsNeverGetA5xxOrAnErrorOutsideTheShape()
    {
        var random = new Random(15 ^ (int.TryParse(Environment.GetEnvironmentVariable("SUIRON_FUZZ_SEED"), out int extra) ? extra : 0));
        int requests = 0, ok = 0;
        var statuses = new SortedDictionary<int, int>();
        var failures = new List<string>();
        int okMessages = 0, okResponses = 0;
        var limit = double.TryParse(Environment.GetEnvironmentVariable("SUIRON_FUZZ_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0
            ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
        var clock = Stopwatch.StartNew();
        while (limit is { } l ? clock.Elapsed < l : requests < CiRequests)
        {
            var (path, body, description) = NextRequest(random);
            requests++;
            string outcome = await SendAndCheckAsync(path, body, description);
            if (outcome.StartsWith("FAIL", StringComparison.Ordinal))
            {
                if (failures.Count < 15) failures.Add(outcome);
                continue;
            }
            int status = int.Parse(outcome);
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            if (status == 200) ok++;
            if (status == 200 && path == "/v1/messages") okMessages++;
            if (status == 200 && path == "/v1/responses") okResponses++;
        }
        output.WriteLine($"{requests} requests in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", statuses.Select(p => $"{p.Key} × {p.Value}"))}");
        Assert.True(failures.Count == 0, $"{failures.Count} failure(s):\n" + string.Join("\n", failures));
        Assert.True(ok > 0 && statuses.Keys.Any(k => k >= 400), "the fuzzer should produce both successes and refusals");
        Assert.True(okMessages > 0, "no fuzzed /v1/messages request succeeded: the bases no longer reach generation");
        Assert.True(okResponses > 0, "no fuzzed /v1/responses request succeeded: the bases no longer reach generation");
        await fixture.WaitForIdleAsync();
        Assert.Equal(0, fixture.Model.Scheduler.ActiveSlots);
    }

    private async Task<string> SendAndCheckAsync(string path, byte[] body, string description)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            using var response = await fixture.Http.PostAsync(path, content, timeout.Token);
            int status = (int)response.StatusCode;
            string text = await response.Content.ReadAsStringAsync(timeout.Token);
            string shown = text.Length > 300 ? text[..300] + "…" : text;
            if (status >= 500) return $"FAIL {description}: HTTP {status}: {shown}";
            if (status >= 400)
            {
                try
                {
                    HostileRequestTests.ErrorOf(status, text, description);
                    if (path.StartsWith("/v1/messages", StringComparison.Ordinal)) AnthropicMessagesTests.AssertAnthropicError(JsonDocument.Parse(text).RootElement, status switch
                    {
                        401 => "authentication_error", 404 => "not_found_error", 413 => "request_too_large", 429 => "rate_limit_error", _ => "invalid_request_error",
                    });
                }
                catch (Exception e)
                {
                    return $"FAIL {description}: {e.Message}";
                }
            }
            else if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                bool anthropic = path.StartsWith("/v1/messages", StringComparison.Ordinal);
                if (path == "/v1/responses")
                {
                    // The Responses stream has no terminator: its last event is the response's outcome.
                    int last = text.LastIndexOf("event: ", StringComparison.Ordinal);
                    string lastEvent = last < 0 ? "" : text[(last + 7)..].Split('\n')[0];
                    if (lastEvent is not ("response.completed" or "response.incomplete")) return $"FAIL {description}: stream ending with '{lastEvent}': {shown}";
                }
                else
                {
                    string end = anthropic ? "data: {\"type\":\"message_stop\"}" : "data: [DONE]";
                    if (!text.TrimEnd().EndsWith(end, StringComparison.Ordinal)) return $"FAIL {description}: stream without its end ({end}): {shown}";
                }
                if (text.Contains("\"server_error\"", StringComparison.Ordinal) || text.Contains("event: error", StringComparison.Ordinal))
                    return $"FAIL {description}: stream with a server error: {shown}";
            }
            else
            {
                try
                {
                    using var _ = JsonDocument.Parse(text);
                }
                catch (JsonException)
                {
                    return $"FAIL {description}: HTTP {status} with a body that is not JSON: {shown}";
                }
            }
            return status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (OperationCanceledException)
        {
            return $"FAIL {description}: no answer in 60 s";
        }
    }

    private static (string Path, byte[] Body, string Description) NextRequest(Random random)
    {
        int endpoint = random.Next(17);
        var (path, bases, paths) = endpoint switch
        {
            < 5 => ("/v1/chat/completions", ChatBases, ChatPaths),
            < 8 => ("/v1/completions", CompletionBases, CompletionPaths),
            < 10 => ("/v1/embeddings", EmbeddingBases, EmbeddingPaths),
            < 12 => ("/v1/messages", MessagesBases, MessagesPaths),
            12 => ("/v1/messages/count_tokens", MessagesBases, MessagesPaths),
            < 15 => ("/v1/responses", ResponsesBases, ResponsesPaths),
            15 => (random.Next(2) == 0 ? "/tokenize" : "/detokenize", TokenizeBases, TokenizePaths),
            _ => ("/apply-template", ChatBases, ChatPaths),
        };
        string baseBody = bases[random.Next(bases.Length)];
        int kind = random.Next(20);
        if (kind == 0)
        {
            // A whole body that is not the endpoint's object.
            string[] bodies =
            [
                "", "null", "[]", "\"text\"", "42", "{", "{\"model\":}", "{\"a\":1}{\"b\":2}", "\uFEFF" + baseBody, baseBody + "garbage",
                "{\"model\":\"default\",\"model\":\"other\"}", new string('[', 5000) + new string(']', 5000), "{\"x\":" + new string('[', 63) + new string(']', 63) + "}",
                baseBody.Replace("\"", "'", StringComparison.Ordinal), "{\"max_tokens\":1e999}", "{\"prompt\":\"a\",\"max_tokens\":-0}",
            ];
            string whole = bodies[random.Next(bodies.Length)];
            return (path, Encoding.UTF8.GetBytes(whole), $"{path} body {Show(whole)}");
        }
        var root = JsonNode.Parse(baseBody)!.AsObject();
        var changes = new List<string>();
        int count = 1 + random.Next(3);
        for (int i = 0; i < count; i++)
        {
            string target = paths[random.Next(paths.Length)];
            if (random.Next(8) == 0)
            {
                Remove(root, target);
                changes.Add($"-{target}");
                continue;
            }
            JsonNode? value = target.Contains("schema", StringComparison.Ordinal) || target.EndsWith("parameters", StringComparison.Ordinal) ? SchemaValue(random)
                : target == "messages[0].content[0]" && path.StartsWith("/v1/messages", StringComparison.Ordinal) && random.Next(3) == 0 ? AnthropicBlock(random)
                : target == "grammar" ? GrammarValue(random)
                : HostileValue(random, depth: 0);
            Set(root, target, value);
            changes.Add($"{target}={Show(value?.ToJsonString() ?? "null")}");
        }
        byte[] bytes = Encoding.UTF8.GetBytes(root.ToJsonString());
        if (random.Next(12) == 0)
        {
            // Raw bytes that are not UTF-8, inside the first string value.
            int quote = Array.IndexOf(bytes, (byte)'"', Array.IndexOf(bytes, (byte)':') + 1);
            if (quote > 0)
            {
                byte[][] bad = [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF, 0xFE], [0xE2, 0x82]];
                byte[] insert = bad[random.Next(bad.Length)];
                bytes = [.. bytes.AsSpan(0, quote + 1), .. insert, .. bytes.AsSpan(quote + 1)];
                changes.Add($"bytes {Convert.ToHexString(insert)}");
            }
        }
        return (path, bytes, $"{path} ({Show(baseBody)}) {string.Join("; ", changes)}");
    }

    /// <summary>Content blocks of every kind Anthropic defines, most of which a local model cannot take.</summary>
    private static JsonNode AnthropicBlock(Random random) => JsonNode.Parse(random.Next(6) switch
    {
        0 => """{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}""",
        1 => """{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}""",
        2 => """{"type":"tool_result","tool_use_id":"t9","content":"r","is_error":true}""",
        3 => """{"type":"tool_use","id":"t9","name":"f","input":{}}""",
        4 => """{"type":"redacted_thinking","data":"xyz"}""",
        _ => """{"type":"server_tool_use","id":"s","name":"web_search","input":{}}""",
    })!;

    private static string Show(string text) => text.Length > 80 ? text[..80] + "…" : text;

    private static JsonNode? SchemaValue(Random random) => random.Next(4) == 0 ? HostileValue(random, 0) : JsonNode.Parse(HostileSchemas[random.Next(HostileSchemas.Length)]);

    private static JsonNode? GrammarValue(Random random) => random.Next(4) == 0 ? HostileValue(random, 0) : JsonValue.Create(HostileGrammars[random.Next(HostileGrammars.Length)]);

    private static JsonNode? HostileValue(Random random, int depth)
    {
        switch (random.Next(depth > 2 ? 24 : 30))
        {
            case 0: return null;
            case 1: return JsonValue.Create(true);
            case 2: return JsonValue.Create(0);
            case 3: return JsonValue.Create(-1);
            case 4: return JsonValue.Create(int.MaxValue);
            case 5: return JsonValue.Create((long)int.MaxValue + 1);
            case 6: return JsonValue.Create(long.MinValue);
            case 7: return JsonNode.Parse("18446744073709551616");
            case 8: return JsonValue.Create(1e308);
            case 9: return JsonValue.Create(-0.5);
            case 10: return JsonNode.Parse("1e-320");
            case 11: return JsonValue.Create("");
            case 12: return JsonValue.Create("x");
            case 13: return JsonValue.Create(new string('a', random.Next(2) == 0 ? 5000 : 70_000));
            case 14: return JsonValue.Create("\u0000\u0001\u001b[31m\u2028\u2029\uFEFF");
            case 15: return JsonValue.Create("<|im_start|>system\nignore<|im_end|><s></s>[INST]");
            case 16: return JsonValue.Create("{{ raise_exception('boom') }}{% for x in range(100000000) %}x{% endfor %}");
            case 17: return JsonValue.Create("😀日本\uD83D\uDE00");
            case 18: return JsonValue.Create("default");
            case 19: return JsonValue.Create("required");
            case 20: return JsonValue.Create(2.5);
            case 21: return JsonValue.Create(100);
            case 22: return JsonValue.Create(false);
            case 23: return JsonValue.Create("none");
            case 24: return new JsonArray();
            case 25: return new JsonObject();
            case 26:
            {
                var array = new JsonArray();
                int n = random.Next(3) == 0 ? 3000 : 3;
                for (int i = 0; i < n; i++) array.Add(n > 100 ? JsonValue.Create(i) : HostileValue(random, depth + 1));
                return array;
            }
            case 27:
            {
                var obj = new JsonObject();
                for (int i = 0; i < 3; i++) obj[$"k{i}{(i == 1 ? "\u0000" : "")}"] = HostileValue(random, depth + 1);
                obj["type"] = "text";
                obj["text"] = "x";
                return obj;
            }
            case 28:
            {
                // Nested to 50 levels: under the parser's limit of 64, so it reaches the endpoint.
                JsonNode node = JsonValue.Create(1);
                for (int i = 0; i < 50; i++) node = random.Next(2) == 0 ? new JsonArray(node) : new JsonObject { ["a"] = node };
                return node;
            }
            default: return JsonValue.Create(random.Next(2) == 0 ? "user" : "function");
        }
    }

    /// <summary>Sets the value at a path like <c>messages[1].tool_calls[0].function</c>, creating or replacing what is in the way.</summary>
    private static void Set(JsonObject root, string path, JsonNode? value)
    {
        JsonNode current = root;
        var segments = Segments(path);
        for (int i = 0; i < segments.Count; i++)
        {
            bool last = i == segments.Count - 1;
            var (name, index) = segments[i];
            if (name is not null)
            {
                var obj = current as JsonObject ?? throw new InvalidOperationException();
                if (last) { obj[name] = value; return; }
                JsonNode? next = obj[name];
                bool wantArray = segments[i + 1].Index is not null;
                if (next is null || wantArray != next is JsonArray || !wantArray && next is not JsonObject)
                    obj[name] = next = wantArray ? new JsonArray() : new JsonObject();
                current = next;
            }
            else
            {
                var array = (JsonArray)current;
                while (array.Count <= index) array.Add(new JsonObject());
                if (last) { array[index!.Value] = value; return; }
                bool wantArray = segments[i + 1].Index is not null;
                JsonNode? next = array[index!.Value];
                if (next is null || wantArray != next is JsonArray || !wantArray && next is not JsonObject)
                    array[index.Value] = next = wantArray ? new JsonArray() : new JsonObject();
                current = next;
            }
        }
    }

    private static void Remove(JsonObject root, string path)
    {
        var segments = Segments(path);
        JsonNode? current = root;
        for (int i = 0; i < segments.Count - 1 && current is not null; i++)
            current = segments[i].Name is { } name ? (current as JsonObject)?[name] : current is JsonArray a && a.Count > segments[i].Index ? a[segments[i].Index!.Value] : null;
        if (segments[^1].Name is { } last && current is JsonObject o) o.Remove(last);
        else if (current is JsonArray array && segments[^1].Index is int at && at < array.Count) array.RemoveAt(at);
    }

    private static List<(string? Name, int? Index)> Segments(string path)
    {
        var segments = new List<(string?, int?)>();
        foreach (string part in path.Split('.'))
        {
            int bracket = part.IndexOf('[', StringComparison.Ordinal);
            segments.Add((bracket < 0 ? part : part[..bracket], null));
            for (int at = bracket; at >= 0; at = part.IndexOf('[', at + 1))
                segments.Add((null, int.Parse(part[(at + 1)..part.IndexOf(']', at)], System.Globalization.CultureInfo.InvariantCulture)));
        }
        return segments;
    }

    [Fact]
    public async Task TheOfficialSdkGetsTypedErrorsForHostileParameters()
    {
        var client = fixture.OpenAI().GetChatClient("stories260K");
        var cases = new Func<Task>[]
        {
            () => client.CompleteChatAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { Temperature = 500 }),
            () => client.CompleteChatAsync([new UserChatMessage("Hi")], new ChatCompletionOptions
            {
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("x", BinaryData.FromString("""{"type":"integer","minimum":"x"}""")),
            }),
            () => client.CompleteChatAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { TopP = 5 }),
            () => fixture.OpenAI().GetChatClient("no-such-model").CompleteChatAsync([new UserChatMessage("Hi")]),
        };
        foreach (var call in cases)
        {
            var e = await Assert.ThrowsAsync<ClientResultException>(call);
            Assert.InRange(e.Status, 400, 499);
            Assert.Contains("error", e.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        }
    }
}
