using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>
/// An Anthropic Messages request → what <see cref="ChatTurn"/> takes: the messages in the template's shape
/// (<c>system</c> first, and system turns where the conversation has them; <c>tool_use</c> blocks as the assistant's <c>tool_calls</c>, <c>tool_result</c> blocks as
/// <c>tool</c> messages, <c>thinking</c> blocks as <c>reasoning_content</c>), the tools as functions, and the
/// thinking switch as the template's <c>enable_thinking</c>. Images and documents are refused: the models served here
/// read text. <c>cache_control</c>, <c>citations</c> and signatures are accepted and ignored. A final assistant turn
/// is the start of the reply (<see cref="TakePrefill"/>).
/// </summary>
internal static class AnthropicConversation
{
    public static JsonArray Messages(AnthropicMessagesRequest request)
    {
        if (request.Messages is not { Count: > 0 } messages) throw ApiError.BadParameter("messages", "'messages' must be a non-empty list.");
        var array = new JsonArray();
        if (request.System is { ValueKind: not JsonValueKind.Null } system)
        {
            string text = system.ValueKind == JsonValueKind.String ? system.GetString()! : TextOfBlocks(system, "system");
            array.Add((JsonNode)new JsonObject { ["role"] = "system", ["content"] = text });
        }
        for (int i = 0; i < messages.Count; i++)
        {
            string param = $"messages[{i}]";
            var m = messages[i] ?? throw ApiError.BadParameter(param, $"{param} is null.");
            if (m.Role is not ("user" or "assistant" or "system"))
                throw ApiError.BadParameter($"{param}.role", m.Role is null ? $"{param} has no 'role'." : $"{param}.role '{m.Role}' is not one of user, assistant, system.");
            if (m.Content is not { } content || content.ValueKind == JsonValueKind.Null)
                throw ApiError.BadParameter($"{param}.content", $"{param} has no 'content'.");
            if (content.ValueKind == JsonValueKind.String) array.Add((JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = content.GetString() });
            // A system turn inside the conversation (Claude Code sends them) stays where it is, so the prompt before it
            // (and its prefix cache) does not change; a template that takes system messages only first says so (400).
            else if (m.Role == "system") array.Add((JsonNode)new JsonObject { ["role"] = "system", ["content"] = TextOfBlocks(content, $"{param}.content") });
            else if (content.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter($"{param}.content", $"{param}.content must be a string or a list of content blocks.");
            else if (m.Role == "user") AddUserBlocks(array, content, $"{param}.content");
            else array.Add((JsonNode)AssistantMessage(content, $"{param}.content"));
        }
        return array;
    }

    /// <summary>A user turn's blocks in order: each <c>tool_result</c> a <c>tool</c> message, runs of text one user message.</summary>
    private static void AddUserBlocks(JsonArray array, JsonElement blocks, string param)
    {
        var text = new StringBuilder();
        bool hasText = false;
        void FlushText()
        {
            if (!hasText) return;
            array.Add((JsonNode)new JsonObject { ["role"] = "user", ["content"] = text.ToString() });
            text.Clear();
            hasText = false;
        }
        int j = 0;
        foreach (var block in blocks.EnumerateArray())
        {
            string where = $"{param}[{j++}]";
            switch (BlockType(block, where))
            {
                case "text":
                    if (hasText) text.Append('\n');
                    text.Append(TextOf(block, where));
                    hasText = true;
                    break;
                case "tool_result":
                    FlushText();
                    string id = StringField(block, "tool_use_id", where) ?? throw ApiError.BadParameter($"{where}.tool_use_id", $"{where} has no 'tool_use_id'.");
                    string result = block.TryGetProperty("content", out var c) && c.ValueKind != JsonValueKind.Null
                        ? c.ValueKind == JsonValueKind.String ? c.GetString()! : TextOfBlocks(c, $"{where}.content")
                        : "";
                    array.Add((JsonNode)new JsonObject { ["role"] = "tool", ["tool_call_id"] = id, ["content"] = result });
                    break;
                case var other:
                    throw Unsupported(other, where, "a user turn takes text and tool_result blocks");
            }
        }
        FlushText();
        if (j == 0) array.Add((JsonNode)new JsonObject { ["role"] = "user", ["content"] = "" });
    }

    /// <summary>
    /// A final assistant turn of text only is the start of the reply, which the model continues (Anthropic's prefill):
    /// it is taken out of <paramref name="messages"/> and returned, to be written after the generation prompt.
    /// </summary>
    public static string? TakePrefill(JsonArray messages)
    {
        if (messages.Count < 2 || messages[^1] is not JsonObject { } last || last["role"]?.GetValue<string>() != "assistant"
            || last.ContainsKey("tool_calls") || last.ContainsKey("reasoning_content"))
            return null;
        string text = last["content"]?.GetValue<string>() ?? "";
        messages.RemoveAt(messages.Count - 1);
        return text;
    }

    /// <summary>An assistant turn: text blocks its content, thinking its reasoning_content, tool_use blocks its tool_calls (input as the arguments object templates iterate).</summary>
    private static JsonObject AssistantMessage(JsonElement blocks, string param)
    {
        var text = new StringBuilder();
        var thinking = new StringBuilder();
        var calls = new JsonArray();
        int j = 0;
        foreach (var block in blocks.EnumerateArray())
        {
            string where = $"{param}[{j++}]";
            switch (BlockType(block, where))
            {
                case "text":
                    if (text.Length > 0) text.Append('\n');
                    text.Append(TextOf(block, where));
                    break;
                case "thinking":
                    thinking.Append(StringField(block, "thinking", where) ?? "");
                    break;
                case "redacted_thinking":
                    break; // encrypted by Anthropic: nothing a local model can read
                case "tool_use":
                    string id = StringField(block, "id", where) ?? throw ApiError.BadParameter($"{where}.id", $"{where} has no 'id'.");
                    string name = StringField(block, "name", where) ?? throw ApiError.BadParameter($"{where}.name", $"{where} has no 'name'.");
                    if (!block.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object)
                        throw ApiError.BadParameter($"{where}.input", $"{where}.input must be an object.");
                    calls.Add((JsonNode)new JsonObject
                    {
                        ["id"] = id, ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = name, ["arguments"] = JsonNode.Parse(input.GetRawText()) },
                    });
                    break;
                case var other:
                    throw Unsupported(other, where, "an assistant turn takes text, thinking and tool_use blocks");
            }
        }
        var message = new JsonObject { ["role"] = "assistant", ["content"] = text.ToString() };
        if (thinking.Length > 0) message["reasoning_content"] = thinking.ToString();
        if (calls.Count > 0) message["tool_calls"] = calls;
        return message;
    }

    /// <summary>The text of a list of text blocks (system, tool_result content), joined by newlines.</summary>
    private static string TextOfBlocks(JsonElement blocks, string param)
    {
        if (blocks.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter(param, $"'{param}' must be a string or a list of text blocks.");
        var text = new StringBuilder();
        int j = 0;
        foreach (var block in blocks.EnumerateArray())
        {
            string where = $"{param}[{j++}]";
            string type = BlockType(block, where);
            if (type != "text") throw Unsupported(type, where, $"'{param}' takes text blocks");
            if (text.Length > 0) text.Append('\n');
            text.Append(TextOf(block, where));
        }
        return text.ToString();
    }

    private static string BlockType(JsonElement block, string where)
    {
        if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw ApiError.BadParameter(where, $"{where} must be a content block: an object with a 'type'.");
        return type.GetString()!;
    }

    private static string TextOf(JsonElement block, string where)
        => StringField(block, "text", where) ?? throw ApiError.BadParameter($"{where}.text", $"The text block {where} has no 'text' string.");

    private static string? StringField(JsonElement block, string name, string where)
    {
        if (!block.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw ApiError.BadParameter($"{where}.{name}", $"{where}.{name} must be a string.");
        return value.GetString();
    }

    private static ApiError Unsupported(string type, string where, string what) => type switch
    {
        "image" or "document" => ApiError.BadParameter(where,
            $"{where} is a{(type == "image" ? "n image" : " document")} block; the model served here reads text only, so image and document blocks are not supported."),
        _ => ApiError.BadParameter(where, $"{where} is a '{type}' block; {what}."),
    };

    /// <summary>The request's tools as functions (custom tools only: Anthropic's server tools run on Anthropic's side) and the choice among them.</summary>
    public static ToolSelection? Tools(AnthropicMessagesRequest request)
    {
        var tools = new JsonArray();
        if (request.Tools is { ValueKind: not JsonValueKind.Null } given)
        {
            if (given.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("tools", "'tools' must be a list of tools.");
            int i = 0;
            foreach (var tool in given.EnumerateArray())
            {
                string where = $"tools[{i++}]";
                if (tool.ValueKind != JsonValueKind.Object) throw ApiError.BadParameter(where, $"{where} must be an object with 'name' and 'input_schema'.");
                if (StringField(tool, "type", where) is { } type && type != "custom")
                    throw ApiError.BadParameter($"{where}.type", $"{where} is Anthropic's server tool '{type}', which runs on Anthropic's side; only custom tools (name, description, input_schema) are supported here.");
                string name = StringField(tool, "name", where) is { Length: > 0 } n ? n : throw ApiError.BadParameter($"{where}.name", $"{where} needs a 'name'.");
                if (!tool.TryGetProperty("input_schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    throw ApiError.BadParameter($"{where}.input_schema", $"{where} needs an 'input_schema' object (a JSON Schema).");
                tools.Add((JsonNode)ToolSelection.Function(name, StringField(tool, "description", where), JsonNode.Parse(schema.GetRawText()), $"{where}.input_schema"));
            }
        }

        bool none = false, required = false;
        string? named = null;
        if (request.ToolChoice is { ValueKind: not JsonValueKind.Null } choice)
        {
            string type = choice.ValueKind == JsonValueKind.Object ? StringField(choice, "type", "tool_choice") ?? "" : "";
            switch (type)
            {
                case "auto": break;
                case "none": none = true; break;
                case "any": required = true; break;
                case "tool":
                    named = StringField(choice, "name", "tool_choice") ?? throw ApiError.BadParameter("tool_choice.name", "'tool_choice' of type tool needs a 'name'.");
                    break;
                default: throw ApiError.BadParameter("tool_choice", "'tool_choice' must be {\"type\": \"auto\" | \"any\" | \"none\"} or {\"type\": \"tool\", \"name\": …}.");
            }
            if ((required || named is not null) && tools.Count == 0) throw ApiError.BadParameter("tool_choice", $"'tool_choice' {type} needs 'tools'.");
        }
        return ToolSelection.Choose(tools, none, required, named, "tool_choice");
    }

    /// <summary>
    /// <c>thinking</c> → the template's <c>enable_thinking</c> (absent: the template's default), the reasoning budget
    /// (<c>budget_tokens</c>, below <c>max_tokens</c> as Anthropic requires; no minimum here), and whether the client
    /// asked for the thinking text to be left out of the reply (<c>display: "omitted"</c>, as Claude Code asks).
    /// </summary>
    public static ThinkingRequest Thinking(AnthropicMessagesRequest request, int? maxTokens)
    {
        var variables = new List<KeyValuePair<string, JsonNode?>>();
        if (request.Thinking is not { ValueKind: not JsonValueKind.Null } thinking) return new(variables, null, OmitText: false);
        string type = thinking.ValueKind == JsonValueKind.Object ? StringField(thinking, "type", "thinking") ?? "" : "";
        bool omit = type != "" && StringField(thinking, "display", "thinking") == "omitted";
        switch (type)
        {
            case "disabled":
                variables.Add(KeyValuePair.Create<string, JsonNode?>("enable_thinking", false));
                return new(variables, null, omit);
            case "adaptive":
                variables.Add(KeyValuePair.Create<string, JsonNode?>("enable_thinking", true));
                return new(variables, null, omit);
            case "enabled":
                variables.Add(KeyValuePair.Create<string, JsonNode?>("enable_thinking", true));
                if (!thinking.TryGetProperty("budget_tokens", out var b) || b.ValueKind != JsonValueKind.Number || !b.TryGetInt32(out int budget) || budget < 0)
                    throw ApiError.BadParameter("thinking.budget_tokens", "'thinking' of type enabled needs 'budget_tokens', a whole number ≥ 0.");
                if (maxTokens is { } max && budget >= max)
                    throw ApiError.BadParameter("thinking.budget_tokens", $"'thinking.budget_tokens' ({budget}) must be less than 'max_tokens' ({max}).");
                return new(variables, budget, omit);
            default:
                throw ApiError.BadParameter("thinking", "'thinking' must be {\"type\": \"enabled\", \"budget_tokens\": N} or {\"type\": \"disabled\"}.");
        }
    }
}

/// <summary>What a request's <c>thinking</c> asks: template variables, a reasoning budget, and whether to leave the thinking text out.</summary>
internal sealed record ThinkingRequest(List<KeyValuePair<string, JsonNode?>> Variables, int? Budget, bool OmitText);
