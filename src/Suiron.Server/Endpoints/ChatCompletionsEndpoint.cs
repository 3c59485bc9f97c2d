using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Server.Contracts;
using Suiron.Server.Streaming;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>POST /v1/chat/completions: the conversation rendered by the model's chat template, generated, and the reasoning split from the answer.</summary>
public static class ChatCompletionsEndpoint
{
    public static RouteGroupBuilder MapChatCompletions(this RouteGroupBuilder group)
    {
        group.MapPost("/chat/completions", HandleAsync);
        return group;
    }

    private static async Task HandleAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.ChatCompletionRequest);
        CheckModel(state, request.Model);
        if (request.MaxTokens is not null && request.MaxCompletionTokens is not null && request.MaxTokens != request.MaxCompletionTokens)
            throw ApiError.BadParameter("max_completion_tokens", "Give 'max_tokens' or 'max_completion_tokens', not both with different values.");
        var options = Options(state, request, request.MaxCompletionTokens ?? request.MaxTokens, request.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens");
        int logprobs = -1;
        if (request.TopLogprobs is { } top)
        {
            if (request.Logprobs != true) throw ApiError.BadParameter("top_logprobs", "'top_logprobs' needs 'logprobs': true.");
            if (top is < 0 or > 20) throw ApiError.BadParameter("top_logprobs", $"'top_logprobs' must be between 0 and 20 (got {top}).");
        }
        if (request.Logprobs == true) logprobs = request.TopLogprobs ?? 0;

        var tools = ReadTools(request);
        var messages = Messages(request.Messages);
        var variables = request.ChatTemplateKwargs?.Select(p => KeyValuePair.Create(p.Key, JsonSerializerNode(p.Value))).ToList() ?? [];
        var turn = ChatTurn.Start(state, messages, tools, variables, options, logprobs, "messages", "tool_choice",
            RequestedReasoningBudget(state, request.ReasoningBudgetTokens ?? request.ThinkingBudgetTokens), context.RequestAborted);
        var stream = turn.Stream;
        try
        {
            if (request.Stream == true)
                await StreamAsync(context, state, stream, turn.NewReasoningParser(), turn.NewToolCallParser(), request.StreamOptions?.IncludeUsage == true);
            else
                await RespondAsync(context, state, stream, turn.SplitsReasoning, turn.StartsInReasoning, logprobs >= 0, turn.ToolFormat);
        }
        finally
        {
            state.Metrics.RecordGeneration(stream);
        }
    }

    internal static JsonNode? JsonSerializerNode(JsonElement value) => JsonNode.Parse(value.GetRawText());

    /// <summary>The request's tools (null when there are none or tool_choice is none) and, for required / a named function, the ones one of which must be called.</summary>
    internal static ToolSelection? ReadTools(ChatCompletionRequest request)
    {
        if (request.Tools is not { ValueKind: not JsonValueKind.Null } toolsElement)
        {
            if (request.ToolChoice is { ValueKind: JsonValueKind.Object } || request.ToolChoice is { ValueKind: JsonValueKind.String } c && c.GetString() == "required")
                throw ApiError.BadParameter("tool_choice", "'tool_choice' needs 'tools'.");
            return null;
        }
        if (toolsElement.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("tools", "'tools' must be a list of tools.");
        var given = JsonNode.Parse(toolsElement.GetRawText())!.AsArray();
        var tools = new JsonArray();
        for (int i = 0; i < given.Count; i++)
        {
            if (given[i] is not JsonObject tool || tool["type"]?.GetValueKind() != JsonValueKind.String || tool["type"]!.GetValue<string>() != "function")
                throw ApiError.BadParameter($"tools[{i}]", $"tools[{i}] must be an object with \"type\": \"function\".");
            if (tool["function"] is not JsonObject function || function["name"] is not JsonValue nameValue || !nameValue.TryGetValue(out string? name) || name.Length == 0)
                throw ApiError.BadParameter($"tools[{i}].function.name", $"tools[{i}].function needs a 'name'.");
            ToolSelection.Function(name, null, function["parameters"], $"tools[{i}].function.parameters"); // checks the schema
            tools.Add(tool.DeepClone());
        }

        bool none = false, required = false;
        string? named = null;
        if (request.ToolChoice is { ValueKind: not JsonValueKind.Null } choice)
        {
            if (choice.ValueKind == JsonValueKind.String)
            {
                switch (choice.GetString())
                {
                    case "none": none = true; break;
                    case "auto": break;
                    case "required": required = true; break;
                    default: throw ApiError.BadParameter("tool_choice", $"'tool_choice' must be auto, none, required or a function (got '{choice.GetString()}').");
                }
            }
            else if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
                     && f.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
                named = n.GetString()!;
            else throw ApiError.BadParameter("tool_choice", "'tool_choice' must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":…}}.");
        }
        return ToolSelection.Choose(tools, none, required, named, "tool_choice");
    }

    /// <summary>The request's messages as the template sees them: text parts joined, developer → system, tool fields kept.</summary>
    internal static JsonArray Messages(List<ChatMessageDto>? messages)
    {
        if (messages is null || messages.Count == 0) throw ApiError.BadParameter("messages", "'messages' must be a non-empty list.");
        var array = new JsonArray();
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw ApiError.BadParameter($"messages[{i}]", $"messages[{i}] is null.");
            string role = m.Role switch
            {
                "system" or "user" or "assistant" or "tool" => m.Role,
                "developer" => "system",
                null => throw ApiError.BadParameter($"messages[{i}].role", $"messages[{i}] has no 'role'."),
                _ => throw ApiError.BadParameter($"messages[{i}].role", $"messages[{i}].role '{m.Role}' is not one of system, developer, user, assistant, tool."),
            };
            var message = new JsonObject { ["role"] = role, ["content"] = Content(m.Content, i) };
            if (m.Name is not null) message["name"] = m.Name;
            if (m.ReasoningContent is not null) message["reasoning_content"] = m.ReasoningContent;
            if (m.ToolCalls is { ValueKind: JsonValueKind.Array } calls) message["tool_calls"] = TemplateToolCalls(calls, i);
            if (m.ToolCallId is not null) message["tool_call_id"] = m.ToolCallId;
            array.Add((JsonNode)message);
        }
        return array;
    }

    /// <summary>
    /// Assistant tool calls as templates expect them (HF's shape): OpenAI sends <c>function.arguments</c> as JSON text,
    /// templates iterate it as a mapping (<c>arguments | items</c>, <c>arguments | tojson</c>), so text that parses becomes an object.
    /// </summary>
    private static JsonArray TemplateToolCalls(JsonElement calls, int message)
    {
        var array = JsonNode.Parse(calls.GetRawText())!.AsArray();
        for (int j = 0; j < array.Count; j++)
            if (array[j] is not JsonObject)
                throw ApiError.BadParameter($"messages[{message}].tool_calls[{j}]", $"messages[{message}].tool_calls[{j}] must be an object with 'id', 'type' and 'function'.");
        foreach (var call in array)
            if (call?["function"] is JsonObject function && function["arguments"] is JsonValue v && v.TryGetValue(out string? text)
                && ToolCallFormat.TryParseArguments(text) is { } parsed)
                function["arguments"] = parsed;
        return array;
    }

    private static string Content(JsonElement? content, int index)
    {
        if (content is not { } element || element.ValueKind == JsonValueKind.Null) return "";
        if (element.ValueKind == JsonValueKind.String) return element.GetString()!;
        string param = $"messages[{index}].content";
        if (element.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter(param, $"{param} must be a string or a list of content parts.");
        var text = new StringBuilder();
        foreach (var part in element.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type))
                throw ApiError.BadParameter(param, $"Each part of {param} must be an object with a 'type'.");
            if (type.ValueKind != JsonValueKind.String || type.GetString() != "text")
                throw ApiError.BadParameter(param, $"{param} has a '{type}' part; this model reads text parts only.");
            if (!part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                throw ApiError.BadParameter(param, $"A text part of {param} has no 'text' string.");
            if (text.Length > 0) text.Append('\n');
            text.Append(partText.GetString());
        }
        return text.ToString();
    }

    private static async Task RespondAsync(HttpContext context, ServerState state, GenerationStream stream, bool splitReasoning, bool startsInReasoning, bool logprobs, ToolCallFormat? format)
    {
        var text = new StringBuilder();
        var tokenLogprobs = logprobs ? new List<TokenLogprobDto>() : null;
        await foreach (var step in stream.WithCancellation(context.RequestAborted))
        {
            text.Append(step.Text);
            if (step.Logprobs is { } lp) tokenLogprobs!.Add(ChatLogprob(state, lp));
        }
        if (stream.Finish == FinishReason.Cancelled)
            throw new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError) { RetryAfterSeconds = 5 };

        var split = splitReasoning ? ReasoningParser.Split(text.ToString(), startsInReasoning, state.Model.Chat.ReasoningTags) : new ReasoningSplit("", text.ToString());
        IReadOnlyList<ToolCall> calls = [];
        if (format is not null)
        {
            var parsed = format.Parse(split.Content);
            calls = parsed.Calls;
            // Without calls the parsed content is the text less the family's answer prefix (Hunyuan's 助手：).
            split = split with { Content = calls.Count > 0 ? parsed.Content.Trim() : parsed.Content };
        }
        var response = new ChatCompletionResponse
        {
            Id = NewId(),
            Created = UnixNow(),
            Model = state.Model.Id,
            SystemFingerprint = state.SystemFingerprint,
            Choices =
            [
                new ChatChoice
                {
                    Index = 0,
                    Message = new AssistantMessage
                    {
                        Content = calls.Count > 0 && split.Content.Length == 0 ? null : split.Content,
                        ReasoningContent = split.Reasoning.Length > 0 ? split.Reasoning : null,
                        ToolCalls = calls.Count == 0 ? null : calls.Select(c => new ToolCallDto { Id = c.Id, Type = "function", Function = new FunctionCallDto { Name = c.Name, Arguments = c.Arguments } }).ToList(),
                    },
                    Logprobs = tokenLogprobs is null ? null : new ChatLogprobs { Content = tokenLogprobs },
                    FinishReason = calls.Count > 0 && stream.Finish == FinishReason.Stop ? "tool_calls" : FinishReasonText(stream.Finish),
                },
            ],
            Usage = Usage(stream),
        };
        await context.Response.WriteAsJsonAsync(response, ServerJsonContext.Web.ChatCompletionResponse, contentType: null, context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context, ServerState state, GenerationStream stream, ReasoningParser? parser, ToolCallStreamParser? tools, bool includeUsage)
    {
        var response = context.Response;
        var cancellation = context.RequestAborted;
        string id = NewId();
        long created = UnixNow();
        ChatCompletionChunk Chunk(ChatDelta delta, string? finish = null, ChatLogprobs? logprobs = null) => new()
        {
            Id = id, Created = created, Model = state.Model.Id, SystemFingerprint = state.SystemFingerprint,
            Choices = [new ChatChunkChoice { Index = 0, Delta = delta, FinishReason = finish, Logprobs = logprobs }],
        };

        int callsCompleted = 0; // a call announced that then did not parse is no call: the reply stops as text
        await ServerSentEvents.StartAsync(response);
        try
        {
            await ServerSentEvents.WriteAsync(response, Chunk(new ChatDelta { Role = "assistant", Content = "" }), ServerJsonContext.Web.ChatCompletionChunk, cancellation);
            await foreach (var step in stream.WithCancellation(cancellation))
            {
                if (step.Finish == FinishReason.Cancelled)
                {
                    var error = new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError);
                    await ServerSentEvents.WriteAsync(response, error.ToResponse(), ServerJsonContext.Web.ErrorResponse, cancellation);
                    break;
                }
                var split = parser?.Push(step.Text) ?? new ReasoningSplit("", step.Text);
                if (step.Finish is not null && parser is not null)
                {
                    var rest = parser.Flush();
                    split = new ReasoningSplit(split.Reasoning + rest.Reasoning, split.Content + rest.Content);
                }
                var logprobs = step.Logprobs is { } lp ? new ChatLogprobs { Content = [ChatLogprob(state, lp)] } : null;
                List<ToolCallDto>? callDeltas = null;
                if (tools is not null)
                {
                    // As OpenAI streams calls: the first piece of each names it (id, type, name), later ones append to its arguments.
                    var update = tools.Push(split.Content);
                    string content = update.Content;
                    IEnumerable<ToolCallDelta> pieces = update.Deltas;
                    callsCompleted += update.Calls.Count;
                    if (step.Finish is not null)
                    {
                        var rest = tools.Flush();
                        content += rest.Content;
                        pieces = [.. pieces, .. rest.Deltas];
                        callsCompleted += rest.Calls.Count;
                    }
                    split = split with { Content = content };
                    foreach (var piece in pieces)
                    {
                        callDeltas ??= [];
                        callDeltas.Add(new ToolCallDto
                        {
                            Index = piece.Index, Id = piece.Id, Type = piece.Id is null ? null : "function",
                            Function = new FunctionCallDto { Name = piece.Name, Arguments = piece.Arguments },
                        });
                    }
                }
                if (!split.IsEmpty || logprobs is not null || callDeltas is not null)
                {
                    var delta = new ChatDelta
                    {
                        Content = split.Content.Length > 0 ? split.Content : null,
                        ReasoningContent = split.Reasoning.Length > 0 ? split.Reasoning : null,
                        ToolCalls = callDeltas,
                    };
                    await ServerSentEvents.WriteAsync(response, Chunk(delta, logprobs: logprobs), ServerJsonContext.Web.ChatCompletionChunk, cancellation);
                }
                if (step.Finish is { } finish)
                {
                    string? reason = callsCompleted > 0 && finish == FinishReason.Stop ? "tool_calls" : FinishReasonText(finish);
                    await ServerSentEvents.WriteAsync(response, Chunk(new ChatDelta(), reason), ServerJsonContext.Web.ChatCompletionChunk, cancellation);
                    if (includeUsage)
                    {
                        var usage = new ChatCompletionChunk { Id = id, Created = created, Model = state.Model.Id, SystemFingerprint = state.SystemFingerprint, Choices = [], Usage = Usage(stream) };
                        await ServerSentEvents.WriteAsync(response, usage, ServerJsonContext.Web.ChatCompletionChunk, cancellation);
                    }
                }
            }
            await ServerSentEvents.WriteDoneAsync(response, cancellation);
        }
        catch (Exception e) when (cancellation.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away: the scheduler has freed the slot (the same token cancels the sequence).
        }
    }

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];
}
