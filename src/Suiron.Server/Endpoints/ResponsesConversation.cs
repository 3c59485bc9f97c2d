using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Sampling.Grammar;
using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>
/// A Responses API request → what <see cref="ChatTurn"/> takes: <c>input</c> items as template messages (messages with
/// their text parts joined, <c>function_call</c> items as the assistant's <c>tool_calls</c>, <c>function_call_output</c>
/// as <c>tool</c> messages, <c>reasoning</c> items as the next assistant turn's <c>reasoning_content</c>), function tools,
/// <c>text.format</c> as an output grammar, and <c>reasoning.effort</c> as the template's thinking switch. Output items
/// go through the same translation when a stored response is continued, so a conversation reads the same whichever
/// way its turns arrived. Images and files are refused: the models served here read text.
/// </summary>
internal static class ResponsesConversation
{
    /// <summary>
    /// The input as template messages, appended to <paramref name="into"/> (a stored conversation, or empty).
    /// A string is one user message.
    /// </summary>
    public static void AddInput(JsonArray into, JsonElement? input)
    {
        if (input is not { } element || element.ValueKind == JsonValueKind.Null) throw ApiError.BadParameter("input", "'input' is required: a string or a list of items.");
        if (element.ValueKind == JsonValueKind.String)
        {
            into.Add((JsonNode)new JsonObject { ["role"] = "user", ["content"] = element.GetString() });
            return;
        }
        if (element.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("input", "'input' must be a string or a list of items.");
        AddItems(into, JsonNode.Parse(element.GetRawText())!.AsArray(), "input");
    }

    /// <summary>Items (input items, or a response's output items) as template messages appended to <paramref name="into"/>.</summary>
    public static void AddItems(JsonArray into, JsonArray items, string param)
    {
        string? pendingReasoning = null;
        JsonObject? lastAssistant = null; // the assistant turn that function_call items and later text join
        for (int i = 0; i < items.Count; i++)
        {
            string where = $"{param}[{i}]";
            if (items[i] is not JsonObject item) throw ApiError.BadParameter(where, $"{where} must be an object (a message or an item with a 'type').");
            string type = StringField(item, "type", where) ?? (item.ContainsKey("role") ? "message" : throw ApiError.BadParameter($"{where}.type", $"{where} has no 'type'."));
            switch (type)
            {
                case "message":
                {
                    string role = StringField(item, "role", where) switch
                    {
                        "user" => "user",
                        "assistant" => "assistant",
                        "system" or "developer" => "system",
                        null => throw ApiError.BadParameter($"{where}.role", $"{where} has no 'role'."),
                        var other => throw ApiError.BadParameter($"{where}.role", $"{where}.role '{other}' is not one of user, assistant, system, developer."),
                    };
                    string text = Content(item["content"], $"{where}.content");
                    if (role == "assistant" && lastAssistant is not null && !lastAssistant.ContainsKey("tool_calls"))
                    {
                        // Several output_text messages of one turn: one assistant message.
                        lastAssistant["content"] = lastAssistant["content"]!.GetValue<string>() + text;
                        break;
                    }
                    var message = new JsonObject { ["role"] = role, ["content"] = text };
                    if (role == "assistant") TakeReasoning(message, ref pendingReasoning);
                    into.Add((JsonNode)message);
                    lastAssistant = role == "assistant" ? message : null;
                    break;
                }
                case "function_call":
                {
                    string callId = StringField(item, "call_id", where) ?? throw ApiError.BadParameter($"{where}.call_id", $"{where} has no 'call_id'.");
                    string name = StringField(item, "name", where) ?? throw ApiError.BadParameter($"{where}.name", $"{where} has no 'name'.");
                    string arguments = StringField(item, "arguments", where) ?? "{}";
                    if (lastAssistant is null)
                    {
                        lastAssistant = new JsonObject { ["role"] = "assistant", ["content"] = "" };
                        TakeReasoning(lastAssistant, ref pendingReasoning);
                        into.Add((JsonNode)lastAssistant);
                    }
                    if (lastAssistant["tool_calls"] is not JsonArray calls) lastAssistant["tool_calls"] = calls = [];
                    // Templates iterate the arguments as a mapping (HF's shape); text that does not parse stays text.
                    JsonNode? args = ToolCallFormat.TryParseArguments(arguments) is { } parsed ? parsed : JsonValue.Create(arguments);
                    calls.Add((JsonNode)new JsonObject
                    {
                        ["id"] = callId, ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = name, ["arguments"] = args },
                    });
                    break;
                }
                case "function_call_output":
                {
                    string callId = StringField(item, "call_id", where) ?? throw ApiError.BadParameter($"{where}.call_id", $"{where} has no 'call_id'.");
                    string output = item["output"] is JsonValue v && v.TryGetValue(out string? s) ? s : Content(item["output"], $"{where}.output");
                    into.Add((JsonNode)new JsonObject { ["role"] = "tool", ["tool_call_id"] = callId, ["content"] = output });
                    lastAssistant = null;
                    break;
                }
                case "reasoning":
                {
                    // The reasoning itself (reasoning_text content) where the item has it, else its summary.
                    string text = ReasoningText(item["content"], $"{where}.content");
                    if (text.Length == 0) text = ReasoningText(item["summary"], $"{where}.summary");
                    pendingReasoning = pendingReasoning is null ? text : pendingReasoning + text;
                    break;
                }
                case "item_reference":
                    throw ApiError.BadParameter(where, $"{where} is an item_reference; this server keeps no items by id — continue a stored response with 'previous_response_id', or send the items themselves.");
                default:
                    throw ApiError.BadParameter($"{where}.type", $"{where} is a '{type}' item; input takes message, function_call, function_call_output and reasoning items.");
            }
        }
    }

    private static void TakeReasoning(JsonObject assistant, ref string? pending)
    {
        if (pending is { Length: > 0 }) assistant["reasoning_content"] = pending;
        pending = null;
    }

    /// <summary>A message's content: a string, or text parts (input_text, output_text, text, refusal) joined by newlines.</summary>
    private static string Content(JsonNode? content, string param)
    {
        if (content is null) return "";
        if (content is JsonValue value && value.TryGetValue(out string? text)) return text;
        if (content is not JsonArray parts) throw ApiError.BadParameter(param, $"{param} must be a string or a list of content parts.");
        var all = new StringBuilder();
        for (int j = 0; j < parts.Count; j++)
        {
            string where = $"{param}[{j}]";
            if (parts[j] is not JsonObject part) throw ApiError.BadParameter(where, $"{where} must be a content part: an object with a 'type'.");
            string type = StringField(part, "type", where) ?? throw ApiError.BadParameter($"{where}.type", $"{where} has no 'type'.");
            string piece = type switch
            {
                "input_text" or "output_text" or "text" => StringField(part, "text", where) ?? throw ApiError.BadParameter($"{where}.text", $"The text part {where} has no 'text' string."),
                "refusal" => StringField(part, "refusal", where) ?? "",
                "input_image" or "input_file" or "input_audio" => throw ApiError.BadParameter(where,
                    $"{where} is an {type} part; the model served here reads text only, so image, file and audio inputs are not supported."),
                _ => throw ApiError.BadParameter($"{where}.type", $"{where} is a '{type}' part; messages take input_text and output_text parts."),
            };
            if (all.Length > 0) all.Append('\n');
            all.Append(piece);
        }
        return all.ToString();
    }

    private static string ReasoningText(JsonNode? parts, string param)
    {
        if (parts is null) return "";
        if (parts is not JsonArray array) throw ApiError.BadParameter(param, $"{param} must be a list of text parts.");
        var text = new StringBuilder();
        for (int j = 0; j < array.Count; j++)
            if (array[j] is JsonObject part) text.Append(StringField(part, "text", $"{param}[{j}]"));
        return text.ToString();
    }

    private static string? StringField(JsonObject node, string name, string where)
    {
        if (node[name] is not { } value || value.GetValueKind() == JsonValueKind.Null) return null;
        if (value is not JsonValue v || !v.TryGetValue(out string? text)) throw ApiError.BadParameter($"{where}.{name}", $"{where}.{name} must be a string.");
        return text;
    }

    /// <summary>
    /// The function tools in the template's shape and the choice among them. Tools of other types (web_search,
    /// file_search, code_interpreter …) run on OpenAI's side and are refused.
    /// </summary>
    public static (ToolSelection? Selection, JsonArray Echo) Tools(ResponsesRequest request)
    {
        var tools = new JsonArray();
        var echo = new JsonArray();
        if (request.Tools is { ValueKind: not JsonValueKind.Null } given)
        {
            if (given.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("tools", "'tools' must be a list of tools.");
            var array = JsonNode.Parse(given.GetRawText())!.AsArray();
            for (int i = 0; i < array.Count; i++)
            {
                string where = $"tools[{i}]";
                if (array[i] is not JsonObject tool) throw ApiError.BadParameter(where, $"{where} must be an object with \"type\": \"function\".");
                string type = StringField(tool, "type", where) ?? throw ApiError.BadParameter($"{where}.type", $"{where} has no 'type'.");
                if (type != "function")
                    throw ApiError.BadParameter($"{where}.type", $"{where} is OpenAI's built-in tool '{type}', which runs on OpenAI's side; only function tools (name, description, parameters) are supported here.");
                string name = StringField(tool, "name", where) is { Length: > 0 } n ? n : throw ApiError.BadParameter($"{where}.name", $"{where} needs a 'name'.");
                tools.Add((JsonNode)ToolSelection.Function(name, StringField(tool, "description", where), tool["parameters"], $"{where}.parameters"));
                echo.Add(tool.DeepClone());
            }
        }

        bool none = false, required = false;
        string? named = null;
        if (request.ToolChoice is { ValueKind: not JsonValueKind.Null } choice)
        {
            if (choice.ValueKind == JsonValueKind.String)
            {
                switch (choice.GetString())
                {
                    case "auto": break;
                    case "none": none = true; break;
                    case "required": required = true; break;
                    default: throw ApiError.BadParameter("tool_choice", $"'tool_choice' must be auto, none, required or {{\"type\":\"function\",\"name\":…}} (got '{choice.GetString()}').");
                }
            }
            else if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "function"
                     && choice.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
                named = n.GetString()!;
            else throw ApiError.BadParameter("tool_choice", "'tool_choice' must be auto, none, required or {\"type\":\"function\",\"name\":…}.");
            if ((required || named is not null) && tools.Count == 0) throw ApiError.BadParameter("tool_choice", "'tool_choice' needs 'tools'.");
        }
        return (ToolSelection.Choose(tools, none, required, named, "tool_choice"), echo);
    }

    /// <summary>The grammar <c>text.format</c> asks for (json_schema, json_object), null for text; and the format as echoed back.</summary>
    public static (Grammar? Grammar, JsonNode Echo) TextFormat(ResponsesRequest request)
    {
        JsonNode plain = new JsonObject { ["format"] = new JsonObject { ["type"] = "text" } };
        if (request.Text is not { ValueKind: not JsonValueKind.Null } text) return (null, plain);
        if (text.ValueKind != JsonValueKind.Object) throw ApiError.BadParameter("text", "'text' must be an object such as {\"format\":{\"type\":\"json_schema\",…}}.");
        if (!text.TryGetProperty("format", out var format) || format.ValueKind == JsonValueKind.Null) return (null, plain);
        if (format.ValueKind != JsonValueKind.Object || !format.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw ApiError.BadParameter("text.format", "'text.format' must be an object with a 'type': text, json_object or json_schema.");
        var echo = JsonNode.Parse(text.GetRawText())!;
        switch (type.GetString())
        {
            case "text":
                return (null, echo);
            case "json_object":
                return (GenerationSupport.CompileGrammar("text.format", "JSON schema", () => Grammar.Parse(JsonSchemaToGrammar.AnyJsonObject)), echo);
            case "json_schema":
                if (!format.TryGetProperty("schema", out var schema) || schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
                    throw ApiError.BadParameter("text.format.schema", "'text.format' of type json_schema needs a 'schema' object (a JSON Schema).");
                return (GenerationSupport.CompileGrammar("text.format.schema", "JSON schema", () => Grammar.FromJsonSchema(schema.GetRawText())), echo);
            default:
                throw ApiError.BadParameter("text.format.type", $"'text.format.type' must be text, json_object or json_schema (got '{type.GetString()}').");
        }
    }

    /// <summary>
    /// <c>reasoning.effort</c> → the template's <c>enable_thinking</c> (none / minimal: off; low, medium, high, xhigh:
    /// on; absent: the template's default) and <c>reasoning_effort</c> (the level itself, which gpt-oss-style templates
    /// read); whether the reasoning is also returned as a summary (<c>reasoning.summary</c> set).
    /// </summary>
    public static (List<KeyValuePair<string, JsonNode?>> Variables, ResponseReasoningSettings Echo) Reasoning(ResponsesRequest request)
    {
        var variables = request.ChatTemplateKwargs?.Select(p => KeyValuePair.Create(p.Key, JsonNode.Parse(p.Value.GetRawText()))).ToList() ?? [];
        if (request.Reasoning is not { ValueKind: not JsonValueKind.Null } reasoning) return (variables, new ResponseReasoningSettings());
        if (reasoning.ValueKind != JsonValueKind.Object) throw ApiError.BadParameter("reasoning", "'reasoning' must be an object such as {\"effort\":\"low\"}.");
        string? effort = reasoning.TryGetProperty("effort", out var e) && e.ValueKind != JsonValueKind.Null
            ? e.ValueKind == JsonValueKind.String ? e.GetString() : throw ApiError.BadParameter("reasoning.effort", "'reasoning.effort' must be a string.")
            : null;
        string? summary = reasoning.TryGetProperty("summary", out var s) && s.ValueKind != JsonValueKind.Null
            ? s.ValueKind == JsonValueKind.String ? s.GetString() : throw ApiError.BadParameter("reasoning.summary", "'reasoning.summary' must be a string.")
            : null;
        if (summary is not (null or "auto" or "concise" or "detailed"))
            throw ApiError.BadParameter("reasoning.summary", $"'reasoning.summary' must be auto, concise or detailed (got '{summary}').");
        switch (effort)
        {
            case null:
                break;
            case "none" or "minimal":
                variables.Add(KeyValuePair.Create<string, JsonNode?>("enable_thinking", false));
                variables.Add(KeyValuePair.Create<string, JsonNode?>("reasoning_effort", effort));
                break;
            case "low" or "medium" or "high" or "xhigh":
                variables.Add(KeyValuePair.Create<string, JsonNode?>("enable_thinking", true));
                variables.Add(KeyValuePair.Create<string, JsonNode?>("reasoning_effort", effort));
                break;
            default:
                throw ApiError.BadParameter("reasoning.effort", $"'reasoning.effort' must be none, minimal, low, medium, high or xhigh (got '{effort}').");
        }
        return (variables, new ResponseReasoningSettings { Effort = effort, Summary = summary });
    }
}
