using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Suiron.Chat;

/// <summary>A function call the model asked for: <paramref name="Arguments"/> is JSON text (an object).</summary>
public sealed record ToolCall(string Id, string Name, string Arguments)
{
    /// <summary>An OpenAI-style id: <c>call_</c> and 24 random letters and digits.</summary>
    public static string NewId()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return "call_" + RandomNumberGenerator.GetString(alphabet, 24);
    }
}

/// <summary>Generated text split into the answer and the tool calls written in it.</summary>
public sealed record ToolCallParse(string Content, IReadOnlyList<ToolCall> Calls);

/// <summary>
/// How one model family writes tool calls, detected from its chat template's text (as llama.cpp's common/chat.cpp
/// does): where calls start, how to read them back, and a GBNF grammar that produces exactly one call (for
/// <c>tool_choice: required</c> or a named function). Templates that do not know tools get <see cref="Generic"/>:
/// the tools and the answer format are described in a system message and the model answers with JSON.
/// </summary>
public abstract class ToolCallFormat
{
    /// <summary>Qwen 2.5 / Qwen 3 / Hermes: <c>&lt;tool_call&gt;{"name": …, "arguments": {…}}&lt;/tool_call&gt;</c>.</summary>
    public static ToolCallFormat Hermes { get; } = new HermesFormat();
    /// <summary>Llama 3.x: <c>{"name": …, "parameters": {…}}</c> (optionally after <c>&lt;|python_tag|&gt;</c>).</summary>
    public static ToolCallFormat Llama3 { get; } = new Llama3Format();
    /// <summary>DeepSeek V3 / R1: <c>&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME\n```json\n{…}\n```&lt;｜tool▁call▁end｜&gt;</c>.</summary>
    public static ToolCallFormat DeepSeekR1 { get; } = new DeepSeekFormat(v31: false);
    /// <summary>DeepSeek V3.1: <c>&lt;｜tool▁call▁begin｜&gt;NAME&lt;｜tool▁sep｜&gt;{…}&lt;｜tool▁call▁end｜&gt;</c>.</summary>
    public static ToolCallFormat DeepSeekV31 { get; } = new DeepSeekFormat(v31: true);
    /// <summary>GLM-4.5 / 4.6: <c>&lt;tool_call&gt;NAME\n&lt;arg_key&gt;k&lt;/arg_key&gt;\n&lt;arg_value&gt;v&lt;/arg_value&gt;…&lt;/tool_call&gt;</c>.</summary>
    public static ToolCallFormat Glm45 { get; } = new GlmFormat();
    /// <summary>Any other template: <c>{"tool_call": {"name": …, "arguments": {…}}}</c>, asked for in a system message.</summary>
    public static ToolCallFormat Generic { get; } = new GenericFormat();

    /// <summary>The family whose syntax <paramref name="templateSource"/> renders tool calls in.</summary>
    public static ToolCallFormat Detect(string templateSource)
    {
        ArgumentNullException.ThrowIfNull(templateSource);
        if (templateSource.Contains("<｜tool▁calls▁begin｜>", StringComparison.Ordinal))
            return templateSource.Contains("```json", StringComparison.Ordinal) ? DeepSeekR1 : DeepSeekV31;
        if (templateSource.Contains("<arg_key>", StringComparison.Ordinal) && templateSource.Contains("<tool_call>", StringComparison.Ordinal))
            return Glm45;
        if (templateSource.Contains("<tool_call>", StringComparison.Ordinal)) return Hermes;
        if (templateSource.Contains("<|python_tag|>", StringComparison.Ordinal)
            || templateSource.Contains("<|start_header_id|>", StringComparison.Ordinal) && templateSource.Contains("\"parameters\"", StringComparison.Ordinal))
            return Llama3;
        return Generic;
    }

    public abstract string Name { get; }

    /// <summary>The template renders the <c>tools</c> variable itself; otherwise <see cref="PrepareMessages"/> describes them.</summary>
    public virtual bool TemplateRendersTools => true;

    /// <summary>Special tokens of this syntax that must reach the parser as text even where the vocabulary marks them control tokens.</summary>
    public virtual IReadOnlyList<string> MarkerTokens => StartMarkers;

    /// <summary>Texts that open the tool-call part of a reply.</summary>
    internal abstract string[] StartMarkers { get; }

    /// <summary>Calls start only at the very beginning of the reply (after whitespace), not after some text.</summary>
    internal virtual bool StartsOnlyAtBeginning => false;

    /// <summary>
    /// The calls written in <paramref name="region"/> (text from a start marker on), in order: only the complete ones
    /// unless <paramref name="final"/>, when the reply has ended and a last call missing its closing tag still counts.
    /// </summary>
    internal abstract List<(string Name, string Arguments)> ParseCalls(string region, bool final);

    /// <summary>GBNF for one call of one of <paramref name="tools"/> (OpenAI tool objects), its arguments valid against the function's parameters.</summary>
    public virtual string Grammar(JsonArray tools)
    {
        var functions = Functions(tools);
        if (functions.Count == 0) throw new ArgumentException("No function to call.", nameof(tools));
        var schemas = functions.Select(f => ("args-" + f.Name, f.Parameters)).ToList();
        return Sampling.Grammar.JsonSchemaToGrammar.ConvertComposite(schemas,
            names => string.Join(" | ", functions.Select((f, i) => "( " + CallRule(f.Name, names[i], f.Parameters) + " )")));
    }

    /// <summary>A GBNF sequence producing one call of <paramref name="name"/> whose arguments match rule <paramref name="argumentsRule"/>.</summary>
    internal abstract string CallRule(string name, string argumentsRule, string parametersSchema);

    /// <summary>The conversation as the template should see it: unchanged, except for formats that describe the tools in a system message.</summary>
    public virtual JsonArray PrepareMessages(JsonArray messages, JsonArray tools) => messages;

    /// <summary>Splits a finished reply into its text and its tool calls; text that does not parse as calls stays text.</summary>
    public ToolCallParse Parse(string text)
    {
        var parser = new ToolCallStreamParser(this);
        var (content, calls) = parser.Push(text);
        var (rest, more) = parser.Flush();
        return new ToolCallParse(content + rest, [.. calls, .. more]);
    }

    internal static List<(string Name, string Parameters)> Functions(JsonArray tools)
    {
        var list = new List<(string, string)>();
        foreach (var tool in tools)
        {
            if (tool?["function"] is not JsonObject function || function["name"]?.GetValue<string>() is not { Length: > 0 } name) continue;
            string parameters = function["parameters"] is JsonObject p ? p.ToJsonString() : """{"type":"object"}""";
            list.Add((name, parameters));
        }
        return list;
    }

    /// <summary>A GBNF string literal matching exactly <paramref name="text"/>.</summary>
    internal static string Literal(string text)
    {
        var s = new StringBuilder("\"");
        foreach (char c in text)
            s.Append(c switch { '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c.ToString() });
        return s.Append('"').ToString();
    }

    /// <summary>Reads a call object's name and arguments (<c>arguments</c> or <c>parameters</c>, an object or a JSON string).</summary>
    internal static (string Name, string Arguments)? ReadCallObject(JsonNode? node)
    {
        if (node is not JsonObject call || call["name"] is not JsonValue nameValue || !nameValue.TryGetValue(out string? name)) return null;
        JsonNode? args = call["arguments"] ?? call["parameters"];
        string arguments = args switch
        {
            null => "{}",
            JsonValue v when v.TryGetValue(out string? s) => s,
            _ => args.ToJsonString(),
        };
        return (name, arguments);
    }

    /// <summary>The end (exclusive) of the JSON object starting at <paramref name="start"/>, or -1 if it is not complete.</summary>
    internal static int JsonObjectEnd(string text, int start)
    {
        int depth = 0;
        bool inString = false, escaped = false;
        for (int i = start; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (c is '{' or '[') depth++;
            else if (c is '}' or ']' && --depth == 0) return i + 1;
        }
        return -1;
    }

    /// <summary>Argument text parsed as a JSON object, or null when it is not one.</summary>
    public static JsonObject? TryParseArguments(string text) => TryParseJson(text) as JsonObject;

    internal static JsonNode? TryParseJson(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return null; }
    }

    /// <summary>Normalizes argument text to compact JSON when it parses; returns null when it does not.</summary>
    /// <summary>
    /// The texts between <paramref name="open"/> and <paramref name="close"/> markers, in order. A last body whose close
    /// marker has not arrived yet counts only when <paramref name="final"/> (the generation has ended).
    /// </summary>
    private static IEnumerable<string> TaggedBodies(string region, string open, string close, bool final)
    {
        int at = 0;
        while ((at = region.IndexOf(open, at, StringComparison.Ordinal)) >= 0)
        {
            int body = at + open.Length;
            int end = region.IndexOf(close, body, StringComparison.Ordinal);
            if (end < 0)
            {
                if (final) yield return region[body..];
                yield break;
            }
            yield return region[body..end];
            at = end + close.Length;
        }
    }

    internal static string? NormalizeArguments(string text) => TryParseJson(text.Trim()) is JsonObject o ? o.ToJsonString() : null;

    private sealed class HermesFormat : ToolCallFormat
    {
        private const string Open = "<tool_call>", Close = "</tool_call>";
        public override string Name => "hermes";
        public override IReadOnlyList<string> MarkerTokens => [Open, Close];
        internal override string[] StartMarkers => [Open];

        internal override List<(string Name, string Arguments)> ParseCalls(string region, bool final)
        {
            var calls = new List<(string, string)>();
            foreach (string json in TaggedBodies(region, Open, Close, final))
                if (ReadCallObject(TryParseJson(json.Trim())) is { } call) calls.Add(call);
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal("<tool_call>\n{\"name\": " + JsonSerializer.Serialize(name) + ", \"arguments\": ")} {argumentsRule} {Literal("}\n</tool_call>")}";
    }

    private sealed class Llama3Format : ToolCallFormat
    {
        private const string PythonTag = "<|python_tag|>";
        public override string Name => "llama3";
        internal override string[] StartMarkers => [PythonTag, "{"];
        internal override bool StartsOnlyAtBeginning => true;

        internal override List<(string Name, string Arguments)> ParseCalls(string region, bool final)
        {
            var calls = new List<(string, string)>();
            int at = region.StartsWith(PythonTag, StringComparison.Ordinal) ? PythonTag.Length : 0;
            while (true)
            {
                while (at < region.Length && (char.IsWhiteSpace(region[at]) || region[at] == ';')) at++;
                if (at >= region.Length || region[at] != '{') break;
                int end = JsonObjectEnd(region, at);
                if (end < 0) break;
                if (ReadCallObject(TryParseJson(region[at..end])) is { } call) calls.Add(call);
                else break;
                at = end;
            }
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal("{\"name\": " + JsonSerializer.Serialize(name) + ", \"parameters\": ")} {argumentsRule} {Literal("}")}";
    }

    private sealed class DeepSeekFormat(bool v31) : ToolCallFormat
    {
        private const string CallsBegin = "<｜tool▁calls▁begin｜>", CallsEnd = "<｜tool▁calls▁end｜>";
        private const string CallBegin = "<｜tool▁call▁begin｜>", CallEnd = "<｜tool▁call▁end｜>", Sep = "<｜tool▁sep｜>";
        public override string Name => v31 ? "deepseek-v3.1" : "deepseek-r1";
        internal override string[] StartMarkers => [CallsBegin, CallBegin];
        public override IReadOnlyList<string> MarkerTokens => [CallsBegin, CallsEnd, CallBegin, CallEnd, Sep];

        internal override List<(string Name, string Arguments)> ParseCalls(string region, bool final)
        {
            var calls = new List<(string, string)>();
            int at = 0;
            while ((at = region.IndexOf(CallBegin, at, StringComparison.Ordinal)) >= 0)
            {
                int body = at + CallBegin.Length;
                int end = region.IndexOf(CallEnd, body, StringComparison.Ordinal);
                if (end < 0 && !final) break;
                string inner = end < 0 ? region[body..] : region[body..end];
                if (end < 0 && inner.EndsWith(CallsEnd, StringComparison.Ordinal)) inner = inner[..^CallsEnd.Length];
                int sep = inner.IndexOf(Sep, StringComparison.Ordinal);
                if (sep >= 0)
                {
                    string before = inner[..sep].Trim(), after = inner[(sep + Sep.Length)..];
                    int fence = after.IndexOf("```", StringComparison.Ordinal);
                    string name, args;
                    if (fence >= 0)
                    {
                        // R1 / V3: type, separator, name on its own line, then the arguments in a ```json fence.
                        name = after[..fence].Trim();
                        string fenced = after[(fence + 3)..];
                        if (fenced.StartsWith("json", StringComparison.Ordinal)) fenced = fenced[4..];
                        int close = fenced.LastIndexOf("```", StringComparison.Ordinal);
                        args = close >= 0 ? fenced[..close] : fenced;
                    }
                    else
                    {
                        name = before;
                        args = after;
                    }
                    if (name.Length > 0 && NormalizeArguments(args) is { } normalized) calls.Add((name, normalized));
                }
                if (end < 0) break;
                at = end + CallEnd.Length;
            }
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema) => v31
            ? $"{Literal(CallsBegin + CallBegin + name + Sep)} {argumentsRule} {Literal(CallEnd + CallsEnd)}"
            : $"{Literal(CallsBegin + CallBegin + "function" + Sep + name + "\n```json\n")} {argumentsRule} {Literal("\n```" + CallEnd + CallsEnd)}";
    }

    private sealed class GlmFormat : ToolCallFormat
    {
        private const string Open = "<tool_call>", Close = "</tool_call>";
        public override string Name => "glm-4.5";
        public override IReadOnlyList<string> MarkerTokens => [Open, Close, "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>"];
        internal override string[] StartMarkers => [Open];

        internal override List<(string Name, string Arguments)> ParseCalls(string region, bool final)
        {
            var calls = new List<(string, string)>();
            foreach (string inner in TaggedBodies(region, Open, Close, final))
            {
                int firstKey = inner.IndexOf("<arg_key>", StringComparison.Ordinal);
                string name = (firstKey < 0 ? inner : inner[..firstKey]).Trim();
                var arguments = new JsonObject();
                int k = firstKey;
                while (k >= 0)
                {
                    int keyEnd = inner.IndexOf("</arg_key>", k, StringComparison.Ordinal);
                    int valueStart = keyEnd < 0 ? -1 : inner.IndexOf("<arg_value>", keyEnd, StringComparison.Ordinal);
                    int valueEnd = valueStart < 0 ? -1 : inner.IndexOf("</arg_value>", valueStart, StringComparison.Ordinal);
                    if (valueEnd < 0) break;
                    string key = inner[(k + "<arg_key>".Length)..keyEnd].Trim();
                    string value = inner[(valueStart + "<arg_value>".Length)..valueEnd];
                    arguments[key] = ArgumentValue(value);
                    k = inner.IndexOf("<arg_key>", valueEnd, StringComparison.Ordinal);
                }
                if (name.Length > 0) calls.Add((name, arguments.ToJsonString()));
            }
            return calls;
        }

        /// <summary>GLM writes strings raw and everything else as JSON.</summary>
        private static JsonNode? ArgumentValue(string value)
        {
            string trimmed = value.Trim();
            if (trimmed.Length > 0 && (trimmed[0] is '{' or '[' or '"' or '-' || char.IsDigit(trimmed[0]) || trimmed is "true" or "false" or "null")
                && TryParseJson(trimmed) is var parsed && (parsed is not null || trimmed == "null"))
                return parsed;
            return JsonValue.Create(value);
        }

        // GLM writes the arguments as key/value pairs, not one JSON object: its Grammar builds the calls itself.
        internal override string CallRule(string name, string argumentsRule, string parametersSchema) => throw new NotSupportedException();

        /// <summary>One key/value pair per required parameter, in order; each value is JSON of that parameter's schema (strings quoted, which the parser unquotes).</summary>
        public override string Grammar(JsonArray tools)
        {
            var functions = Functions(tools);
            if (functions.Count == 0) throw new ArgumentException("No function to call.", nameof(tools));
            var schemas = new List<(string, string)>();
            var layout = new List<(string Name, List<string> Keys)>();
            foreach (var (name, parameters) in functions)
            {
                var schema = TryParseJson(parameters) as JsonObject;
                var properties = schema?["properties"] as JsonObject;
                var keys = (schema?["required"] as JsonArray)?.Select(r => r?.GetValue<string>()).OfType<string>().ToList() ?? [];
                foreach (string key in keys) schemas.Add(($"{name}-{key}", properties?[key]?.ToJsonString() ?? "{}"));
                layout.Add((name, keys));
            }
            return Sampling.Grammar.JsonSchemaToGrammar.ConvertComposite(schemas, names =>
            {
                int next = 0;
                return string.Join(" | ", layout.Select(f =>
                {
                    var parts = new List<string> { Literal(Open + f.Name + "\n") };
                    foreach (string key in f.Keys)
                        parts.Add($"{Literal($"<arg_key>{key}</arg_key>\n<arg_value>")} {names[next++]} {Literal("</arg_value>\n")}");
                    parts.Add(Literal(Close));
                    return "( " + string.Join(" ", parts) + " )";
                }));
            });
        }
    }

    private sealed class GenericFormat : ToolCallFormat
    {
        public override string Name => "generic";
        public override bool TemplateRendersTools => false;
        internal override string[] StartMarkers => ["{"];
        internal override bool StartsOnlyAtBeginning => true;

        internal override List<(string Name, string Arguments)> ParseCalls(string region, bool final)
        {
            var calls = new List<(string, string)>();
            int end = JsonObjectEnd(region, 0);
            if (end < 0) return calls;
            var node = TryParseJson(region[..end]);
            if (node?["tool_call"] is JsonObject one && ReadCallObject(one) is { } call) calls.Add(call);
            if (node?["tool_calls"] is JsonArray many)
                foreach (var item in many)
                    if (ReadCallObject(item) is { } c) calls.Add(c);
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal("{\"tool_call\": {\"name\": " + JsonSerializer.Serialize(name) + ", \"arguments\": ")} {argumentsRule} {Literal("}}")}";

        public override JsonArray PrepareMessages(JsonArray messages, JsonArray tools)
        {
            var prompt = new StringBuilder();
            prompt.Append("You can call these tools:\n");
            foreach (var tool in tools)
                if (tool?["function"] is JsonObject f) prompt.Append(f.ToJsonString()).Append('\n');
            prompt.Append("To call a tool, answer with only this JSON: {\"tool_call\": {\"name\": \"<tool name>\", \"arguments\": {<arguments>}}}\n");
            prompt.Append("Otherwise answer normally.");

            var result = new JsonArray();
            bool merged = false;
            foreach (var message in messages)
            {
                var copy = message!.DeepClone().AsObject();
                if (!merged && copy["role"]?.GetValue<string>() == "system")
                {
                    copy["content"] = copy["content"]?.GetValue<string>() + "\n\n" + prompt;
                    merged = true;
                }
                // Tool rounds as plain messages: the call as the assistant's JSON, the result as a user message.
                if (copy["tool_calls"] is JsonArray toolCalls && toolCalls.Count > 0)
                {
                    var first = toolCalls[0]?["function"];
                    var args = first?["arguments"] is JsonValue v && v.TryGetValue(out string? s) ? TryParseJson(s) : first?["arguments"]?.DeepClone();
                    copy["content"] = new JsonObject { ["tool_call"] = new JsonObject { ["name"] = first?["name"]?.DeepClone(), ["arguments"] = args } }.ToJsonString();
                    copy.Remove("tool_calls");
                }
                if (copy["role"]?.GetValue<string>() == "tool")
                {
                    copy["role"] = "user";
                    copy["content"] = "Tool result: " + copy["content"]?.ToString();
                }
                result.Add(copy);
            }
            if (!merged)
            {
                // No system message: the instructions open the first user message (some templates refuse a system role).
                var firstUser = result.OfType<JsonObject>().FirstOrDefault(m => m["role"]?.GetValue<string>() == "user");
                if (firstUser is not null) firstUser["content"] = prompt + "\n\n" + firstUser["content"]?.ToString();
                else result.Insert(0, new JsonObject { ["role"] = "system", ["content"] = prompt.ToString() });
            }
            return result;
        }
    }
}

/// <summary>
/// Separates tool calls from text as a reply streams in: text is passed on as soon as it cannot be the start of a
/// call (a possible partial start marker is held back), and each call is reported once it is complete.
/// </summary>
public sealed class ToolCallStreamParser(ToolCallFormat format)
{
    private readonly StringBuilder _text = new();
    private int _emitted;          // chars of _text passed on as content
    private int _callStart = -1;   // where the tool-call part begins, once seen
    private bool _noCalls;         // the reply began with text: for formats whose calls only start a reply
    private int _callsReported;

    public ToolCallFormat Format => format;

    /// <summary>Adds generated text; returns the content that is now certain and the calls completed by it.</summary>
    public (string Content, IReadOnlyList<ToolCall> Calls) Push(string text)
    {
        _text.Append(text);
        string all = _text.ToString();
        string content = "";
        if (_callStart < 0)
        {
            int held = FindStart(all);
            if (_callStart < 0)
            {
                content = all[_emitted..held];
                _emitted = held;
                return (content, []);
            }
            content = all[_emitted.._callStart];
            _emitted = _callStart;
        }
        return (content, NewCalls(all, final: false));
    }

    /// <summary>At the end of the reply: the rest of the text, and the calls not yet reported (an unterminated last call included).</summary>
    public (string Content, IReadOnlyList<ToolCall> Calls) Flush()
    {
        string all = _text.ToString();
        if (_callStart < 0)
        {
            string rest = all[_emitted..];
            _emitted = all.Length;
            return (rest, []);
        }
        var calls = NewCalls(all, final: true);
        if (_callsReported == 0)
        {
            // Nothing parsed as a call: it was text after all.
            string rest = all[_emitted..];
            _emitted = all.Length;
            return (rest, []);
        }
        _emitted = all.Length;
        return ("", calls);
    }

    /// <summary>Sets <see cref="_callStart"/> when a start marker is found; returns how far content is certain.</summary>
    private int FindStart(string all)
    {
        if (format.StartsOnlyAtBeginning)
        {
            if (_noCalls) return all.Length;
            int first = 0;
            while (first < all.Length && char.IsWhiteSpace(all[first])) first++;
            string rest = all[first..];
            if (rest.Length == 0) return _emitted; // only whitespace so far: hold it
            foreach (string marker in format.StartMarkers)
            {
                if (rest.StartsWith(marker, StringComparison.Ordinal))
                {
                    _callStart = first;
                    return first;
                }
                if (marker.StartsWith(rest, StringComparison.Ordinal)) return _emitted;
            }
            _noCalls = true;
            return all.Length;
        }

        int best = -1;
        foreach (string marker in format.StartMarkers)
        {
            int at = all.IndexOf(marker, _emitted, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at < best)) best = at;
        }
        if (best >= 0)
        {
            _callStart = best;
            return best;
        }
        // Hold back a tail that could be the beginning of a marker.
        int hold = 0;
        foreach (string marker in format.StartMarkers)
            for (int n = Math.Min(marker.Length - 1, all.Length - _emitted); n > hold; n--)
                if (string.CompareOrdinal(all, all.Length - n, marker, 0, n) == 0)
                {
                    hold = n;
                    break;
                }
        return all.Length - hold;
    }

    private List<ToolCall> NewCalls(string all, bool final)
    {
        var parsed = format.ParseCalls(all[_callStart..], final);
        var calls = new List<ToolCall>();
        for (int i = _callsReported; i < parsed.Count; i++) calls.Add(new ToolCall(ToolCall.NewId(), parsed[i].Name, parsed[i].Arguments));
        _callsReported = Math.Max(_callsReported, parsed.Count);
        return calls;
    }
}
