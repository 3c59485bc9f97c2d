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
/// A piece of a tool call as it streams (OpenAI's <c>delta.tool_calls[i]</c>): the first piece of call
/// <paramref name="Index"/> carries its <paramref name="Id"/> and <paramref name="Name"/>, later ones only text to append
/// to its arguments. The pieces of a call concatenate to its final <see cref="ToolCall.Arguments"/>.
/// </summary>
public sealed record ToolCallDelta(int Index, string? Id, string? Name, string Arguments);

/// <summary>What one push of streamed text yields: content that is certain, calls completed, and call pieces to stream.</summary>
public readonly record struct ToolCallUpdate(string Content, IReadOnlyList<ToolCall> Calls, IReadOnlyList<ToolCallDelta> Deltas)
{
    /// <summary>The certain content and the completed calls (the deltas left out).</summary>
    public void Deconstruct(out string content, out IReadOnlyList<ToolCall> calls)
    {
        content = Content;
        calls = Calls;
    }
}

/// <summary>
/// A call as far as the text so far shows it: <paramref name="Name"/> once it is complete, the <paramref name="Arguments"/>
/// text that is certain (a prefix of the final arguments), <paramref name="Complete"/> once the call has ended and parsed.
/// </summary>
internal readonly record struct CallProgress(string? Name, string Arguments, bool Complete);

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
    /// <summary>
    /// Llama 3.x: <c>{"name": …, "parameters": {…}}</c> (optionally after <c>&lt;|python_tag|&gt;</c>, several separated
    /// by <c>;</c>), or a built-in tool as <c>&lt;|python_tag|&gt;brave_search.call(query="…")</c>.
    /// </summary>
    public static ToolCallFormat Llama3 { get; } = new Llama3Format();
    /// <summary>DeepSeek V3 / R1: <c>&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME\n```json\n{…}\n```&lt;｜tool▁call▁end｜&gt;</c>.</summary>
    public static ToolCallFormat DeepSeekR1 { get; } = new DeepSeekFormat(v31: false);
    /// <summary>DeepSeek V3.1: <c>&lt;｜tool▁call▁begin｜&gt;NAME&lt;｜tool▁sep｜&gt;{…}&lt;｜tool▁call▁end｜&gt;</c>.</summary>
    public static ToolCallFormat DeepSeekV31 { get; } = new DeepSeekFormat(v31: true);
    /// <summary>
    /// GLM-4.5 / 4.6: <c>&lt;tool_call&gt;NAME\n&lt;arg_key&gt;k&lt;/arg_key&gt;\n&lt;arg_value&gt;v&lt;/arg_value&gt;…&lt;/tool_call&gt;</c>;
    /// GLM-4.7 and GLM-5 write the same without the newlines.
    /// </summary>
    public static ToolCallFormat Glm45 { get; } = new GlmFormat();
    /// <summary>
    /// Kimi-K2: <c>&lt;|tool_calls_section_begin|&gt;&lt;|tool_call_begin|&gt;functions.NAME:INDEX&lt;|tool_call_argument_begin|&gt;{…}&lt;|tool_call_end|&gt;…&lt;|tool_calls_section_end|&gt;</c>.
    /// </summary>
    public static ToolCallFormat KimiK2 { get; } = new KimiK2Format();
    /// <summary>
    /// MiniMax-M2: <c>&lt;minimax:tool_call&gt;&lt;invoke name="NAME"&gt;&lt;parameter name="k"&gt;v&lt;/parameter&gt;…&lt;/invoke&gt;…&lt;/minimax:tool_call&gt;</c>,
    /// string values raw, others JSON.
    /// </summary>
    public static ToolCallFormat MiniMaxM2 { get; } = new MiniMaxM2Format();
    /// <summary>
    /// Qwen3-Coder and Qwen3.5: <c>&lt;tool_call&gt;\n&lt;function=NAME&gt;\n&lt;parameter=k&gt;\nv\n&lt;/parameter&gt;…&lt;/function&gt;\n&lt;/tool_call&gt;</c>,
    /// string values raw (over several lines if need be), objects and arrays JSON.
    /// </summary>
    public static ToolCallFormat QwenXml { get; } = new QwenXmlFormat();
    /// <summary>
    /// Hunyuan-A13B: <c>&lt;tool_calls&gt;[{"name": …, "arguments": {…}}, …]&lt;/tool_calls&gt;</c>, every call of a reply in one
    /// JSON array; a reply without calls starts with <c>助手：</c>, which is not part of the answer. Apriel 1.5 / 1.6 write
    /// calls the same way.
    /// </summary>
    public static ToolCallFormat HunyuanA13B { get; } = new HunyuanA13BFormat();
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
        if (templateSource.Contains("<|tool_calls_section_begin|>", StringComparison.Ordinal)) return KimiK2;
        if (templateSource.Contains("<minimax:tool_call>", StringComparison.Ordinal)) return MiniMaxM2;
        // Before Hermes: Apriel 1.5's instructions name <tool_call> while its template writes <tool_calls>[…].
        if (templateSource.Contains("<tool_calls>[", StringComparison.Ordinal) && templateSource.Contains("</tool_calls>", StringComparison.Ordinal))
            return HunyuanA13B;
        if (templateSource.Contains("<function=", StringComparison.Ordinal) && templateSource.Contains("<tool_call>", StringComparison.Ordinal))
            return QwenXml;
        if (templateSource.Contains("<tool_call>", StringComparison.Ordinal)) return Hermes;
        if (templateSource.Contains("<|python_tag|>", StringComparison.Ordinal)
            || templateSource.Contains("<|start_header_id|>", StringComparison.Ordinal) && templateSource.Contains("\"parameters\"", StringComparison.Ordinal))
            return Llama3;
        return Generic;
    }

    /// <summary>The format's name (the model family whose syntax it reads and writes).</summary>
    public abstract string Name { get; }

    /// <summary>The template renders the <c>tools</c> variable itself; otherwise <see cref="PrepareMessages"/> describes them.</summary>
    public virtual bool TemplateRendersTools => true;

    /// <summary>Special tokens of this syntax that must reach the parser as text even where the vocabulary marks them control tokens.</summary>
    public virtual IReadOnlyList<string> MarkerTokens => StartMarkers;

    /// <summary>Texts that open the tool-call part of a reply.</summary>
    internal abstract string[] StartMarkers { get; }

    /// <summary>Calls start only at the very beginning of the reply (after whitespace), not after some text.</summary>
    internal virtual bool StartsOnlyAtBeginning => false;

    /// <summary>Text the family's template asks a reply without calls to start with, dropped from the answer (null: none).</summary>
    internal virtual string? AnswerPrefix => null;

    /// <summary>
    /// The calls written in <paramref name="region"/> (text from a start marker on), in order: the complete ones, then
    /// the one still being written, if any, as far as it can be read. When <paramref name="final"/> the reply has ended:
    /// a last call missing only its closing tag is complete if it parses, and nothing is in progress.
    /// </summary>
    internal abstract List<CallProgress> Progress(string region, bool final);

    /// <summary>The complete calls of <paramref name="region"/> (see <see cref="Progress"/>).</summary>
    internal List<(string Name, string Arguments)> ParseCalls(string region, bool final) =>
        Progress(region, final).Where(c => c.Complete).Select(c => (c.Name!, c.Arguments)).ToList();

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

    /// <summary>
    /// Reads a call object's name and arguments (<c>arguments</c> or <c>parameters</c>: an object, kept as the model
    /// wrote it less the whitespace between tokens, or a JSON string holding the arguments).
    /// </summary>
    internal static (string Name, string Arguments)? ReadCallObject(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return ReadCallObject(document.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static (string Name, string Arguments)? ReadCallObject(JsonElement call)
    {
        if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("name", out var nameValue) || nameValue.ValueKind != JsonValueKind.String) return null;
        bool found = call.TryGetProperty("arguments", out var args) || call.TryGetProperty("parameters", out args);
        string arguments = !found ? "{}" : args.ValueKind == JsonValueKind.String ? args.GetString()! : Minify(args.GetRawText());
        return (nameValue.GetString()!, arguments);
    }

    /// <summary>JSON text without the whitespace between its tokens (strings untouched).</summary>
    internal static string Minify(string json) => MinifiedPrefix(json, 0, out _, stopAtEnd: false);

    /// <summary>
    /// The JSON value starting at <paramref name="start"/> as far as <paramref name="text"/> goes, whitespace between
    /// tokens dropped: what has arrived of it can only grow, so each call's result is a prefix of the next one's.
    /// <paramref name="end"/> is set past the value once its last bracket has arrived (-1 before).
    /// </summary>
    internal static string MinifiedPrefix(string text, int start, out int end, bool stopAtEnd = true)
    {
        var result = new StringBuilder();
        int depth = 0;
        bool inString = false, escaped = false;
        end = -1;
        for (int i = start; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                result.Append(c);
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c is ' ' or '\t' or '\n' or '\r') continue;
            result.Append(c);
            if (c == '"') inString = true;
            else if (c is '{' or '[') depth++;
            else if (c is '}' or ']' && --depth == 0 && end < 0)
            {
                end = i + 1;
                if (stopAtEnd) break;
            }
        }
        return result.ToString();
    }

    private static int SkipWhitespace(string text, int at)
    {
        while (at < text.Length && text[at] is ' ' or '\t' or '\n' or '\r') at++;
        return at;
    }

    /// <summary>The end (exclusive) of the JSON string whose opening quote is at <paramref name="start"/>, or -1.</summary>
    private static int StringEnd(string text, int start)
    {
        for (int i = start + 1; i < text.Length; i++)
        {
            if (text[i] == '\\') i++;
            else if (text[i] == '"') return i + 1;
        }
        return -1;
    }

    /// <summary>The end of the JSON value at <paramref name="start"/>, or -1 while it may still go on.</summary>
    private static int ValueEnd(string text, int start)
    {
        if (text[start] == '"') return StringEnd(text, start);
        if (text[start] is '{' or '[') return JsonObjectEnd(text, start);
        for (int i = start; i < text.Length; i++)
            if (text[i] is ',' or '}' or ']' or ' ' or '\t' or '\n' or '\r') return i;
        return -1;
    }

    private static string? Unquote(string jsonString)
    {
        try { return JsonSerializer.Deserialize(jsonString, ChatJsonContext.Default.String); }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// A call object (<c>{"name": …, "arguments": {…}}</c>) still being written at <paramref name="start"/>: its name once
    /// that string is complete, and the certain prefix of the arguments object once it has begun.
    /// </summary>
    internal static CallProgress PartialCallObject(string text, int start)
    {
        string? name = null;
        string arguments = "";
        int i = SkipWhitespace(text, start);
        if (i >= text.Length || text[i] != '{') return new(null, "", false);
        i++;
        while (true)
        {
            i = SkipWhitespace(text, i);
            if (i >= text.Length || text[i] != '"') break;
            int keyEnd = StringEnd(text, i);
            if (keyEnd < 0) break;
            string? key = Unquote(text[i..keyEnd]);
            i = SkipWhitespace(text, keyEnd);
            if (i >= text.Length || text[i] != ':') break;
            i = SkipWhitespace(text, i + 1);
            if (i >= text.Length) break;
            if (key is "arguments" or "parameters" && text[i] == '{') arguments = MinifiedPrefix(text, i, out _);
            int valueEnd = ValueEnd(text, i);
            if (key == "name" && text[i] == '"' && valueEnd >= 0) name = Unquote(text[i..valueEnd]);
            if (valueEnd < 0) break;
            i = SkipWhitespace(text, valueEnd);
            if (i >= text.Length || text[i] != ',') break;
            i++;
        }
        return new(name, arguments, false);
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

    /// <summary>
    /// Calls between <paramref name="open"/> and <paramref name="close"/> markers: <paramref name="complete"/> reads a
    /// closed body (null: not a call, skipped), <paramref name="partial"/> the body still being written (from its
    /// start index). When <paramref name="final"/>, a last unclosed body is read as complete.
    /// </summary>
    private static List<CallProgress> TaggedCalls(string region, string open, string close, bool final,
        Func<string, (string Name, string Arguments)?> complete, Func<string, int, CallProgress> partial)
    {
        var calls = new List<CallProgress>();
        int at = 0;
        while ((at = region.IndexOf(open, at, StringComparison.Ordinal)) >= 0)
        {
            int body = at + open.Length;
            int end = region.IndexOf(close, body, StringComparison.Ordinal);
            if (end < 0 && !final)
            {
                calls.Add(partial(region, body));
                break;
            }
            if (complete(end < 0 ? region[body..] : region[body..end]) is { } call) calls.Add(new(call.Name, call.Arguments, true));
            if (end < 0) break;
            at = end + close.Length;
        }
        return calls;
    }

    /// <summary>Argument text, minified, when it parses as a JSON object; otherwise null.</summary>
    internal static string? NormalizeArguments(string text) => TryParseJson(text.Trim()) is JsonObject ? Minify(text.Trim()) : null;

    private sealed class HermesFormat : ToolCallFormat
    {
        private const string Open = "<tool_call>", Close = "</tool_call>";
        public override string Name => "hermes";
        public override IReadOnlyList<string> MarkerTokens => [Open, Close];
        internal override string[] StartMarkers => [Open];

        internal override List<CallProgress> Progress(string region, bool final) =>
            TaggedCalls(region, Open, Close, final, body => ReadCallObject(body.Trim()), PartialCallObject);

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal("<tool_call>\n{\"name\": " + ChatJsonContext.Quote(name) + ", \"arguments\": ")} {argumentsRule} {Literal("}\n</tool_call>")}";
    }

    private sealed class Llama3Format : ToolCallFormat
    {
        private const string PythonTag = "<|python_tag|>";
        public override string Name => "llama3";
        internal override string[] StartMarkers => [PythonTag, "{"];
        internal override bool StartsOnlyAtBeginning => true;

        internal override List<CallProgress> Progress(string region, bool final)
        {
            var calls = new List<CallProgress>();
            int at = region.StartsWith(PythonTag, StringComparison.Ordinal) ? PythonTag.Length : 0;
            if (at > 0 && SkipWhitespace(region, at) is var first && first < region.Length && region[first] != '{')
            {
                // A built-in tool: <|python_tag|>brave_search.call(query="…").
                var builtin = BuiltinCall(region, first, final);
                if (builtin is { } call && (call.Complete || !final)) calls.Add(call);
                return calls;
            }
            while (true)
            {
                while (at < region.Length && (char.IsWhiteSpace(region[at]) || region[at] == ';')) at++;
                if (at >= region.Length || region[at] != '{') break;
                int end = JsonObjectEnd(region, at);
                if (end < 0)
                {
                    if (!final) calls.Add(PartialCallObject(region, at));
                    break;
                }
                if (ReadCallObject(region[at..end]) is { } call) calls.Add(new(call.Name, call.Arguments, true));
                else break;
                at = end;
            }
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal("{\"name\": " + ChatJsonContext.Quote(name) + ", \"parameters\": ")} {argumentsRule} {Literal("}")}";

        /// <summary>
        /// Llama 3.1's built-in tool syntax as llama.cpp's chat parser reads it: <c>NAME.call(ARG=JSON, …)</c>, the
        /// arguments becoming a JSON object. The name is certain at <c>.call(</c>; each argument streams once its value
        /// has ended. Null when the text is not (the start of) such a call.
        /// </summary>
        private static CallProgress? BuiltinCall(string text, int at, bool final)
        {
            int nameEnd = Identifier(text, at);
            if (nameEnd == at) return null;
            string name = text[at..nameEnd];
            int i = SkipWhitespace(text, nameEnd);
            foreach (string part in new[] { ".", "call", "(" })
            {
                if (i >= text.Length) return new(null, "", false);
                int available = Math.Min(part.Length, text.Length - i);
                if (string.CompareOrdinal(text, i, part, 0, available) != 0) return null;
                if (available < part.Length) return new(null, "", false);
                i = SkipWhitespace(text, i + part.Length);
            }
            var pairs = new List<string>();
            while (true)
            {
                i = SkipWhitespace(text, i);
                if (i >= text.Length) break;
                if (text[i] == ')') return new(name, "{" + string.Join(",", pairs) + "}", true);
                int argumentEnd = Identifier(text, i);
                if (argumentEnd == i) return null;
                string argument = text[i..argumentEnd];
                i = SkipWhitespace(text, argumentEnd);
                if (i >= text.Length) break;
                if (text[i] != '=') return null;
                i = SkipWhitespace(text, i + 1);
                if (i >= text.Length) break;
                int valueEnd = text[i] is '"' or '{' or '[' ? ValueEnd(text, i) : ScalarEnd(text, i);
                if (valueEnd < 0) break;
                string value = text[i..valueEnd];
                if (TryParseJson(value) is null && value.Trim() != "null") return null;
                pairs.Add(ChatJsonContext.Quote(argument) + ":" + Minify(value));
                i = SkipWhitespace(text, valueEnd);
                if (i < text.Length && text[i] == ',') i++;
            }
            return final ? null : new(name, "{" + string.Join(",", pairs), false);
        }

        private static int Identifier(string text, int at)
        {
            while (at < text.Length && (char.IsLetterOrDigit(text[at]) || text[at] == '_')) at++;
            return at;
        }

        /// <summary>The end of a number or literal: the next comma, closing parenthesis or whitespace; -1 while it may go on.</summary>
        private static int ScalarEnd(string text, int at)
        {
            for (int i = at; i < text.Length; i++)
                if (text[i] is ',' or ')' or ' ' or '\t' or '\n' or '\r') return i;
            return -1;
        }
    }

    private sealed class DeepSeekFormat(bool v31) : ToolCallFormat
    {
        private const string CallsBegin = "<｜tool▁calls▁begin｜>", CallsEnd = "<｜tool▁calls▁end｜>";
        private const string CallBegin = "<｜tool▁call▁begin｜>", CallEnd = "<｜tool▁call▁end｜>", Sep = "<｜tool▁sep｜>";
        public override string Name => v31 ? "deepseek-v3.1" : "deepseek-r1";
        internal override string[] StartMarkers => [CallsBegin, CallBegin];
        public override IReadOnlyList<string> MarkerTokens => [CallsBegin, CallsEnd, CallBegin, CallEnd, Sep];

        internal override List<CallProgress> Progress(string region, bool final)
        {
            var calls = new List<CallProgress>();
            int at = 0;
            while ((at = region.IndexOf(CallBegin, at, StringComparison.Ordinal)) >= 0)
            {
                int body = at + CallBegin.Length;
                int end = region.IndexOf(CallEnd, body, StringComparison.Ordinal);
                string inner = end < 0 ? region[body..] : region[body..end];
                if (end < 0 && !final)
                {
                    calls.Add(Partial(inner));
                    break;
                }
                if (end < 0 && inner.EndsWith(CallsEnd, StringComparison.Ordinal)) inner = inner[..^CallsEnd.Length];
                if (Split(inner) is var (name, argumentsStart) && name.Length > 0)
                {
                    string args = inner[argumentsStart..];
                    if (!v31)
                    {
                        // R1 / V3: the arguments end at the closing fence.
                        int close = args.LastIndexOf("```", StringComparison.Ordinal);
                        if (close >= 0) args = args[..close];
                    }
                    if (NormalizeArguments(args) is { } normalized) calls.Add(new(name, normalized, true));
                }
                if (end < 0) break;
                at = end + CallEnd.Length;
            }
            return calls;
        }

        /// <summary>
        /// The name and where the arguments begin, once both are certain: V3.1 writes NAME, separator, arguments; R1/V3
        /// write the type, separator, NAME on its own line, then the arguments in a ```json fence.
        /// </summary>
        private (string Name, int ArgumentsStart)? Split(string inner)
        {
            int sep = inner.IndexOf(Sep, StringComparison.Ordinal);
            if (sep < 0) return null;
            int after = sep + Sep.Length;
            if (v31) return (inner[..sep].Trim(), after);
            int fence = inner.IndexOf("```", after, StringComparison.Ordinal);
            if (fence < 0) return null;
            int start = fence + 3;
            if (string.CompareOrdinal(inner, start, "json", 0, 4) == 0) start += 4;
            else if (inner.Length - start < 4 && "json".StartsWith(inner[start..], StringComparison.Ordinal)) return null; // "json" still arriving
            return (inner[after..fence].Trim(), start);
        }

        private CallProgress Partial(string inner)
        {
            if (Split(inner) is not var (name, start) || name.Length == 0) return new(null, "", false);
            start = SkipWhitespace(inner, start);
            return new(name, start < inner.Length && inner[start] == '{' ? MinifiedPrefix(inner, start, out _) : "", false);
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

        internal override List<CallProgress> Progress(string region, bool final) =>
            TaggedCalls(region, Open, Close, final, Complete, (text, body) => Partial(text[body..]));

        private static (string Name, string Arguments)? Complete(string inner)
        {
            var (name, pairs) = Read(inner);
            return name.Length > 0 ? (name, "{" + string.Join(",", pairs) + "}") : null;
        }

        /// <summary>The name once its line has ended; the arguments object open, with every pair whose value has closed.</summary>
        private static CallProgress Partial(string inner)
        {
            int firstKey = inner.IndexOf("<arg_key>", StringComparison.Ordinal);
            int nameEnd = firstKey >= 0 ? firstKey : inner.IndexOf('\n');
            if (nameEnd < 0 || inner[..nameEnd].Trim().Length == 0) return new(null, "", false);
            var (name, pairs) = Read(inner);
            return new(name, "{" + string.Join(",", pairs), false);
        }

        /// <summary>The name (text before the first key) and each complete key/value pair as JSON <c>"key":value</c>.</summary>
        private static (string Name, List<string> Pairs) Read(string inner)
        {
            int firstKey = inner.IndexOf("<arg_key>", StringComparison.Ordinal);
            int newline = inner.IndexOf('\n');
            int nameEnd = firstKey >= 0 ? firstKey : newline >= 0 ? newline : inner.Length;
            string name = inner[..nameEnd].Trim();
            var pairs = new List<string>();
            int k = firstKey;
            while (k >= 0)
            {
                int keyEnd = inner.IndexOf("</arg_key>", k, StringComparison.Ordinal);
                int valueStart = keyEnd < 0 ? -1 : inner.IndexOf("<arg_value>", keyEnd, StringComparison.Ordinal);
                int valueEnd = valueStart < 0 ? -1 : inner.IndexOf("</arg_value>", valueStart, StringComparison.Ordinal);
                if (valueEnd < 0) break;
                string key = inner[(k + "<arg_key>".Length)..keyEnd].Trim();
                string value = inner[(valueStart + "<arg_value>".Length)..valueEnd];
                pairs.Add(JsonSerializer.Serialize(key, ChatJsonContext.Verbatim.String) + ":" + (ArgumentValue(value)?.ToJsonString(ChatJsonContext.Verbatim.Options) ?? "null"));
                k = inner.IndexOf("<arg_key>", valueEnd, StringComparison.Ordinal);
            }
            return (name, pairs);
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

    /// <summary>
    /// One call's arguments written as named parameters (MiniMax-M2, Qwen3-Coder): the JSON object of every pair whose value
    /// has closed, and whether more may follow. Strings are written raw, everything else as JSON, so a value that parses
    /// as JSON is taken as JSON (as the GLM reader does) and any other as a string.
    /// </summary>
    private static string ParameterObject(List<(string Key, string Value)> pairs, bool open) =>
        "{" + string.Join(",", pairs.Select(p => JsonSerializer.Serialize(p.Key, ChatJsonContext.Verbatim.String) + ":" + (RawOrJsonValue(p.Value)?.ToJsonString(ChatJsonContext.Verbatim.Options) ?? "null"))) + (open ? "" : "}");

    /// <summary>A parameter value written raw when a string and as JSON otherwise.</summary>
    private static JsonNode? RawOrJsonValue(string value)
    {
        string trimmed = value.Trim();
        if (trimmed.Length > 0 && (trimmed[0] is '{' or '[' or '"' or '-' || char.IsDigit(trimmed[0]) || trimmed is "true" or "false" or "null")
            && TryParseJson(trimmed) is var parsed && (parsed is not null || trimmed == "null"))
            return parsed;
        return JsonValue.Create(value);
    }

    /// <summary>
    /// The parameters of one call body: each <paramref name="open"/>KEY<paramref name="keyEnd"/>VALUE<paramref name="close"/>
    /// in order, up to the first one still unclosed.
    /// </summary>
    private static List<(string Key, string Value)> Parameters(string body, string open, string keyEnd, string close, bool trimNewlines)
    {
        var pairs = new List<(string, string)>();
        int at = 0;
        while ((at = body.IndexOf(open, at, StringComparison.Ordinal)) >= 0)
        {
            int nameEnd = body.IndexOf(keyEnd, at + open.Length, StringComparison.Ordinal);
            if (nameEnd < 0) break;
            int valueEnd = body.IndexOf(close, nameEnd + keyEnd.Length, StringComparison.Ordinal);
            if (valueEnd < 0) break;
            string value = body[(nameEnd + keyEnd.Length)..valueEnd];
            if (trimNewlines)
            {
                if (value.StartsWith('\n')) value = value[1..];
                if (value.EndsWith('\n')) value = value[..^1];
            }
            pairs.Add((body[(at + open.Length)..nameEnd], value));
            at = valueEnd + close.Length;
        }
        return pairs;
    }

    /// <summary>GBNF for one call written as named parameters: <paramref name="call"/> lays out a call from its name and (key, value rule) pairs.</summary>
    private static string ParameterGrammar(JsonArray tools, Func<string, List<(string Key, string Rule)>, string> call)
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
            return string.Join(" | ", layout.Select(f => "( " + call(f.Name, f.Keys.Select(k => (k, names[next++])).ToList()) + " )"));
        });
    }

    private sealed class KimiK2Format : ToolCallFormat
    {
        private const string SectionBegin = "<|tool_calls_section_begin|>", SectionEnd = "<|tool_calls_section_end|>";
        private const string CallBegin = "<|tool_call_begin|>", ArgumentBegin = "<|tool_call_argument_begin|>", CallEnd = "<|tool_call_end|>";
        public override string Name => "kimi-k2";
        internal override string[] StartMarkers => [SectionBegin, CallBegin];
        public override IReadOnlyList<string> MarkerTokens => [SectionBegin, SectionEnd, CallBegin, ArgumentBegin, CallEnd];

        internal override List<CallProgress> Progress(string region, bool final) =>
            TaggedCalls(region, CallBegin, CallEnd, final, Complete, (text, body) => Partial(text[body..]));

        /// <summary>"functions.NAME:INDEX" → NAME (the index only numbers the calls of a conversation).</summary>
        private static string CallName(string id)
        {
            id = id.Trim();
            if (id.StartsWith("functions.", StringComparison.Ordinal)) id = id["functions.".Length..];
            int colon = id.LastIndexOf(':');
            return colon > 0 && id[(colon + 1)..].All(char.IsAsciiDigit) ? id[..colon] : id;
        }

        private static (string Name, string Arguments)? Complete(string inner)
        {
            if (inner.EndsWith(SectionEnd, StringComparison.Ordinal)) inner = inner[..^SectionEnd.Length];
            int arguments = inner.IndexOf(ArgumentBegin, StringComparison.Ordinal);
            if (arguments < 0) return null;
            string name = CallName(inner[..arguments]);
            return name.Length > 0 && NormalizeArguments(inner[(arguments + ArgumentBegin.Length)..]) is { } normalized ? (name, normalized) : null;
        }

        private static CallProgress Partial(string inner)
        {
            int arguments = inner.IndexOf(ArgumentBegin, StringComparison.Ordinal);
            if (arguments < 0 || CallName(inner[..arguments]) is not { Length: > 0 } name) return new(null, "", false);
            int start = SkipWhitespace(inner, arguments + ArgumentBegin.Length);
            return new(name, start < inner.Length && inner[start] == '{' ? MinifiedPrefix(inner, start, out _) : "", false);
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal(SectionBegin + CallBegin + "functions." + name + ":0" + ArgumentBegin)} {argumentsRule} {Literal(CallEnd + SectionEnd)}";
    }

    private sealed class MiniMaxM2Format : ToolCallFormat
    {
        private const string Open = "<minimax:tool_call>", Close = "</minimax:tool_call>";
        private const string InvokeOpen = "<invoke name=\"", InvokeClose = "</invoke>";
        public override string Name => "minimax-m2";
        internal override string[] StartMarkers => [Open];
        public override IReadOnlyList<string> MarkerTokens => [Open, Close];

        internal override List<CallProgress> Progress(string region, bool final)
        {
            // One section may hold several invokes; each invoke is one call.
            int sectionEnd = region.IndexOf(Close, StringComparison.Ordinal);
            string section = sectionEnd < 0 ? region : region[..sectionEnd];
            return TaggedCalls(section, InvokeOpen, InvokeClose, final || sectionEnd >= 0, Complete, (text, body) => Partial(text[body..]));
        }

        private static (string Name, string Arguments)? Complete(string inner)
        {
            int nameEnd = inner.IndexOf("\">", StringComparison.Ordinal);
            if (nameEnd <= 0) return null;
            return (inner[..nameEnd], ParameterObject(Parameters(inner[(nameEnd + 2)..], "<parameter name=\"", "\">", "</parameter>", trimNewlines: false), open: false));
        }

        private static CallProgress Partial(string inner)
        {
            int nameEnd = inner.IndexOf("\">", StringComparison.Ordinal);
            if (nameEnd <= 0) return new(null, "", false);
            return new(inner[..nameEnd], ParameterObject(Parameters(inner[(nameEnd + 2)..], "<parameter name=\"", "\">", "</parameter>", trimNewlines: false), open: true), false);
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema) => throw new NotSupportedException();

        /// <summary>One invoke with a parameter per required key, each value JSON of its schema (strings quoted, which the reader unquotes).</summary>
        public override string Grammar(JsonArray tools) => ParameterGrammar(tools, (name, pairs) =>
            string.Join(" ", new[] { Literal(Open + "\n" + InvokeOpen + name + "\">\n") }
                .Concat(pairs.Select(p => $"{Literal($"<parameter name=\"{p.Key}\">")} {p.Rule} {Literal("</parameter>\n")}"))
                .Append(Literal(InvokeClose + "\n" + Close))));
    }

    private sealed class QwenXmlFormat : ToolCallFormat
    {
        private const string Open = "<tool_call>", Close = "</tool_call>";
        public override string Name => "qwen3-coder";
        internal override string[] StartMarkers => [Open];
        public override IReadOnlyList<string> MarkerTokens => [Open, Close];

        internal override List<CallProgress> Progress(string region, bool final) =>
            TaggedCalls(region, Open, Close, final, Complete, (text, body) => Partial(text[body..]));

        private static (string Name, string Arguments)? Complete(string inner)
        {
            if (Read(inner) is not var (name, body)) return null;
            int functionEnd = body.IndexOf("</function>", StringComparison.Ordinal);
            return (name, ParameterObject(Parameters(functionEnd < 0 ? body : body[..functionEnd], "<parameter=", ">", "</parameter>", trimNewlines: true), open: false));
        }

        private static CallProgress Partial(string inner) => Read(inner) is var (name, body)
            ? new(name, ParameterObject(Parameters(body, "<parameter=", ">", "</parameter>", trimNewlines: true), open: true), false)
            : new(null, "", false);

        /// <summary>The function name once its tag has closed, and the text after it.</summary>
        private static (string Name, string Body)? Read(string inner)
        {
            int open = inner.IndexOf("<function=", StringComparison.Ordinal);
            if (open < 0) return null;
            int nameEnd = inner.IndexOf('>', open);
            if (nameEnd < 0) return null;
            string name = inner[(open + "<function=".Length)..nameEnd].Trim();
            return name.Length > 0 ? (name, inner[(nameEnd + 1)..]) : null;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema) => throw new NotSupportedException();

        public override string Grammar(JsonArray tools) => ParameterGrammar(tools, (name, pairs) =>
            string.Join(" ", new[] { Literal(Open + "\n<function=" + name + ">\n") }
                .Concat(pairs.Select(p => $"{Literal($"<parameter={p.Key}>\n")} {p.Rule} {Literal("\n</parameter>\n")}"))
                .Append(Literal("</function>\n" + Close))));
    }

    private sealed class HunyuanA13BFormat : ToolCallFormat
    {
        private const string Open = "<tool_calls>", Close = "</tool_calls>";
        public override string Name => "hunyuan-a13b";
        internal override string[] StartMarkers => [Open];
        public override IReadOnlyList<string> MarkerTokens => [Open, Close];
        internal override string? AnswerPrefix => "助手：";

        /// <summary>
        /// The calls of the array after the open tag, in order: each object with a string <c>name</c> is a call (its
        /// <c>arguments</c> an object or a JSON string; absent, <c>{}</c>), announced as soon as its name is complete.
        /// </summary>
        internal override List<CallProgress> Progress(string region, bool final)
        {
            var calls = new List<CallProgress>();
            int at = SkipWhitespace(region, Open.Length);
            if (at >= region.Length || region[at] != '[') return calls;
            at++;
            while (true)
            {
                at = SkipWhitespace(region, at);
                if (at >= region.Length || region[at] != '{') break;
                int end = JsonObjectEnd(region, at);
                if (end < 0)
                {
                    if (!final) calls.Add(PartialCallObject(region, at));
                    break;
                }
                if (ReadCallObject(region[at..end]) is { } call) calls.Add(new(call.Name, call.Arguments, true));
                at = SkipWhitespace(region, end);
                if (at >= region.Length || region[at] != ',') break;
                at++;
            }
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal(Open + "[{\"name\": " + ChatJsonContext.Quote(name) + ", \"arguments\": ")} {argumentsRule} {Literal("}]" + Close)}";
    }

    private sealed class GenericFormat : ToolCallFormat
    {
        public override string Name => "generic";
        public override bool TemplateRendersTools => false;
        internal override string[] StartMarkers => ["{"];
        internal override bool StartsOnlyAtBeginning => true;

        /// <summary>Calls are reported when the whole answer object has arrived (no streaming of their arguments).</summary>
        internal override List<CallProgress> Progress(string region, bool final)
        {
            var calls = new List<CallProgress>();
            int end = JsonObjectEnd(region, 0);
            if (end < 0) return calls;
            try
            {
                using var document = JsonDocument.Parse(region[..end]);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object) return calls;
                if (root.TryGetProperty("tool_call", out var one) && ReadCallObject(one) is { } call) calls.Add(new(call.Name, call.Arguments, true));
                if (root.TryGetProperty("tool_calls", out var many) && many.ValueKind == JsonValueKind.Array)
                    foreach (var item in many.EnumerateArray())
                        if (ReadCallObject(item) is { } c) calls.Add(new(c.Name, c.Arguments, true));
            }
            catch (JsonException)
            {
            }
            return calls;
        }

        internal override string CallRule(string name, string argumentsRule, string parametersSchema)
            => $"{Literal("{\"tool_call\": {\"name\": " + ChatJsonContext.Quote(name) + ", \"arguments\": ")} {argumentsRule} {Literal("}}")}";

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
                result.Add((JsonNode)copy);
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
/// call (a possible partial start marker is held back); each call is announced (id, name) as soon as its name is
/// complete, its arguments follow in pieces as they are generated, and it is reported whole once it has ended.
/// </summary>
/// <remarks>
/// A call announced while being written that then fails to parse (only possible without a grammar) is not reported
/// whole; its streamed pieces stay as sent.
/// </remarks>
public sealed class ToolCallStreamParser(ToolCallFormat format)
{
    private readonly StringBuilder _text = new();
    private int _emitted;          // chars of _text passed on as content
    private int _callStart = -1;   // where the tool-call part begins, once seen
    private bool _noCalls;         // the reply began with text: for formats whose calls only start a reply
    private bool _prefixDecided;   // whether the reply starts with the format's answer prefix is known
    private readonly List<StreamedCall> _calls = [];

    /// <summary>A call announced to the client: its id, name, the argument text sent so far, and whether it is done.</summary>
    private sealed class StreamedCall(string id, string name)
    {
        public string Id { get; } = id;
        public string Name { get; } = name;
        public string Sent { get; set; } = "";
        public bool Done { get; set; }
    }

    /// <summary>The tool-call format being parsed.</summary>
    public ToolCallFormat Format => format;

    /// <summary>Adds generated text; returns the content that is now certain, the calls completed by it and the call pieces to stream.</summary>
    public ToolCallUpdate Push(string text)
    {
        _text.Append(text);
        string all = _text.ToString();
        if (!_prefixDecided)
        {
            if (!SkipAnswerPrefix(all)) return new("", [], []);
            all = _text.ToString();
        }
        string content = "";
        if (_callStart < 0)
        {
            int held = FindStart(all);
            if (_callStart < 0)
            {
                content = all[_emitted..held];
                _emitted = held;
                return new(content, [], []);
            }
            content = all[_emitted.._callStart];
            _emitted = _callStart;
        }
        var (calls, deltas) = Advance(all, final: false);
        return new(content, calls, deltas);
    }

    /// <summary>At the end of the reply: the rest of the text, and the calls not yet reported (an unterminated last call included).</summary>
    public ToolCallUpdate Flush()
    {
        string all = _text.ToString();
        if (_callStart < 0)
        {
            string rest = all[_emitted..];
            _emitted = all.Length;
            return new(rest, [], []);
        }
        var (calls, deltas) = Advance(all, final: true);
        if (!_calls.Any(c => c.Done))
        {
            // Nothing parsed as a call (a call may have been announced by name and then not parsed): it was text after all.
            string rest = all[_emitted..];
            _emitted = all.Length;
            return new(rest, [], []);
        }
        _emitted = all.Length;
        return new("", calls, deltas);
    }

    /// <summary>
    /// Drops the format's answer prefix when the reply starts with it (after whitespace, which stays); false while the
    /// text so far could still be its beginning.
    /// </summary>
    private bool SkipAnswerPrefix(string all)
    {
        if (format.AnswerPrefix is not { } prefix)
        {
            _prefixDecided = true;
            return true;
        }
        int first = _emitted;
        while (first < all.Length && char.IsWhiteSpace(all[first])) first++;
        if (all.Length - first >= prefix.Length && string.CompareOrdinal(all, first, prefix, 0, prefix.Length) == 0)
        {
            _text.Remove(first, prefix.Length); // nothing from here on has been passed on yet
            _prefixDecided = true;
            return true;
        }
        if (prefix.StartsWith(all[first..], StringComparison.Ordinal)) return false;
        _prefixDecided = true;
        return true;
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

    /// <summary>Announces calls whose name is now known, streams the argument text that has become certain, reports calls that have ended.</summary>
    private (List<ToolCall> Calls, List<ToolCallDelta> Deltas) Advance(string all, bool final)
    {
        var progress = format.Progress(all[_callStart..], final);
        var calls = new List<ToolCall>();
        var deltas = new List<ToolCallDelta>();
        for (int i = 0; i < progress.Count; i++)
        {
            var call = progress[i];
            if (call.Name is null) break; // not announced before the calls ahead of it
            bool announce = i == _calls.Count;
            if (announce) _calls.Add(new StreamedCall(ToolCall.NewId(), call.Name));
            var streamed = _calls[i];
            if (streamed.Done || streamed.Name != call.Name) continue;
            string piece = call.Arguments.Length > streamed.Sent.Length && call.Arguments.StartsWith(streamed.Sent, StringComparison.Ordinal)
                ? call.Arguments[streamed.Sent.Length..] : "";
            streamed.Sent += piece;
            if (announce || piece.Length > 0) deltas.Add(new ToolCallDelta(i, announce ? streamed.Id : null, announce ? streamed.Name : null, piece));
            if (call.Complete)
            {
                streamed.Done = true;
                calls.Add(new ToolCall(streamed.Id, call.Name, call.Arguments));
            }
        }
        return (calls, deltas);
    }
}
