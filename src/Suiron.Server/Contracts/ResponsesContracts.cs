using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>
/// POST /v1/responses body, as OpenAI's Responses API defines it (the fields Suiron reads; others are ignored). The
/// sampling fields of <see cref="GenerationParameters"/> are taken as chat completions take them.
/// </summary>
public sealed class ResponsesRequest : GenerationParameters
{
    /// <summary>A string (one user message) or a list of items: messages, function_call, function_call_output, reasoning.</summary>
    [JsonPropertyName("input")] public JsonElement? Input { get; set; }
    /// <summary>A system message put before the input (not carried over by <see cref="PreviousResponseId"/>, as OpenAI's).</summary>
    [JsonPropertyName("instructions")] public string? Instructions { get; set; }
    /// <summary><c>[{"type":"function","name","description","parameters","strict"}]</c>.</summary>
    [JsonPropertyName("tools")] public JsonElement? Tools { get; set; }
    /// <summary><c>"auto"</c>, <c>"none"</c>, <c>"required"</c> or <c>{"type":"function","name":…}</c>.</summary>
    [JsonPropertyName("tool_choice")] public JsonElement? ToolChoice { get; set; }
    /// <summary><c>{"format":{"type":"text"|"json_object"|"json_schema","name","schema","strict"}}</c>.</summary>
    [JsonPropertyName("text")] public JsonElement? Text { get; set; }
    /// <summary><c>{"effort":"none"|"minimal"|"low"|"medium"|"high","summary":"auto"|"concise"|"detailed"}</c>.</summary>
    [JsonPropertyName("reasoning")] public JsonElement? Reasoning { get; set; }
    [JsonPropertyName("max_output_tokens")] public int? MaxOutputTokens { get; set; }
    /// <summary>Keep the response (in memory, bounded) so a later request can continue it by <see cref="PreviousResponseId"/>.</summary>
    [JsonPropertyName("store")] public bool? Store { get; set; }
    [JsonPropertyName("previous_response_id")] public string? PreviousResponseId { get; set; }
    [JsonPropertyName("parallel_tool_calls")] public bool? ParallelToolCalls { get; set; }
    /// <summary>Echoed back.</summary>
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; set; }
    /// <summary>Extra template variables, as chat completions take them.</summary>
    [JsonPropertyName("chat_template_kwargs")] public Dictionary<string, JsonElement>? ChatTemplateKwargs { get; set; }
    /// <summary>llama-server's per-request reasoning budget (−1: the server's).</summary>
    [JsonPropertyName("reasoning_budget_tokens")] public int? ReasoningBudgetTokens { get; set; }
    /// <summary>The older name of <see cref="ReasoningBudgetTokens"/>.</summary>
    [JsonPropertyName("thinking_budget_tokens")] public int? ThinkingBudgetTokens { get; set; }
}

/// <summary>A response: <c>{"id":"resp_…","object":"response","status","output":[…],"usage",…}</c>, echoing the request's settings.</summary>
public sealed class ResponseObject
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("object")] public string Object => "response";
    [JsonPropertyName("created_at")] public long CreatedAt { get; init; }
    /// <summary>in_progress, completed, incomplete or failed.</summary>
    [JsonPropertyName("status")] public required string Status { get; set; }
    [JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public ResponseError? Error { get; set; }
    [JsonPropertyName("incomplete_details"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public ResponseIncompleteDetails? IncompleteDetails { get; set; }
    [JsonPropertyName("instructions"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Instructions { get; init; }
    [JsonPropertyName("max_output_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? MaxOutputTokens { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("output")] public required List<ResponseItem> Output { get; set; }
    [JsonPropertyName("parallel_tool_calls")] public bool ParallelToolCalls { get; init; }
    [JsonPropertyName("previous_response_id"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? PreviousResponseId { get; init; }
    [JsonPropertyName("reasoning")] public required ResponseReasoningSettings Reasoning { get; init; }
    [JsonPropertyName("store")] public bool Store { get; init; }
    [JsonPropertyName("temperature"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public float? Temperature { get; init; }
    [JsonPropertyName("top_p"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public float? TopP { get; init; }
    [JsonPropertyName("text")] public required JsonNode Text { get; init; }
    [JsonPropertyName("tool_choice")] public required JsonNode ToolChoice { get; init; }
    [JsonPropertyName("tools")] public required JsonArray Tools { get; init; }
    [JsonPropertyName("truncation")] public string Truncation => "disabled";
    [JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public ResponseUsage? Usage { get; set; }
    [JsonPropertyName("metadata")] public required Dictionary<string, string> Metadata { get; init; }
}

public sealed class ResponseError
{
    [JsonPropertyName("code")] public required string Code { get; init; }
    [JsonPropertyName("message")] public required string Message { get; init; }
}

public sealed class ResponseIncompleteDetails
{
    /// <summary>max_output_tokens (the reply reached the limit, or the context filled).</summary>
    [JsonPropertyName("reason")] public required string Reason { get; init; }
}

public sealed class ResponseReasoningSettings
{
    [JsonPropertyName("effort"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Effort { get; init; }
    [JsonPropertyName("summary"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Summary { get; init; }
}

/// <summary>
/// An output item: <c>message</c> (<see cref="Role"/>, <see cref="Content"/> of output_text parts), <c>function_call</c>
/// (<see cref="CallId"/>, <see cref="Name"/>, <see cref="Arguments"/> as JSON text) or <c>reasoning</c>
/// (<see cref="Summary"/>, and the reasoning itself as reasoning_text <see cref="Content"/>).
/// </summary>
public sealed class ResponseItem
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("role")] public string? Role { get; init; }
    [JsonPropertyName("summary")] public List<ResponseContentPart>? Summary { get; set; }
    [JsonPropertyName("content")] public List<ResponseContentPart>? Content { get; set; }
    [JsonPropertyName("call_id")] public string? CallId { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("arguments")] public string? Arguments { get; set; }
}

/// <summary>output_text (with its empty <see cref="Annotations"/> and <see cref="Logprobs"/>), reasoning_text or summary_text.</summary>
public sealed class ResponseContentPart
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("text")] public required string Text { get; set; }
    [JsonPropertyName("annotations")] public JsonArray? Annotations { get; init; }
    [JsonPropertyName("logprobs")] public JsonArray? Logprobs { get; init; }
}

/// <summary>Token counts: the prompt (of which <c>cached_tokens</c> came from the prefix cache) and the reply (of which reasoning).</summary>
public sealed class ResponseUsage
{
    [JsonPropertyName("input_tokens")] public int InputTokens { get; init; }
    [JsonPropertyName("input_tokens_details")] public required ResponseInputTokensDetails InputTokensDetails { get; init; }
    [JsonPropertyName("output_tokens")] public int OutputTokens { get; init; }
    [JsonPropertyName("output_tokens_details")] public required ResponseOutputTokensDetails OutputTokensDetails { get; init; }
    [JsonPropertyName("total_tokens")] public int TotalTokens => InputTokens + OutputTokens;
}

public sealed class ResponseInputTokensDetails
{
    [JsonPropertyName("cached_tokens")] public int CachedTokens { get; init; }
}

public sealed class ResponseOutputTokensDetails
{
    [JsonPropertyName("reasoning_tokens")] public int ReasoningTokens { get; init; }
}

/// <summary>
/// A streamed event, <c>{"type":"response.…","sequence_number":N,…}</c>, written as <c>event: TYPE</c> + <c>data:</c>.
/// Which fields an event carries follows its type (OpenAI's reference): the response for response.created /
/// in_progress / completed / incomplete / failed; output_index and item for output_item.added / done; item_id,
/// output_index, content_index and part, delta or text for the content events; delta, or arguments and name, for
/// function_call_arguments; code, message and param for error.
/// </summary>
public sealed class ResponseStreamEvent
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("sequence_number")] public int SequenceNumber { get; set; }
    [JsonPropertyName("response")] public ResponseObject? Response { get; init; }
    [JsonPropertyName("output_index")] public int? OutputIndex { get; init; }
    [JsonPropertyName("item_id")] public string? ItemId { get; init; }
    [JsonPropertyName("item")] public ResponseItem? Item { get; init; }
    [JsonPropertyName("content_index")] public int? ContentIndex { get; init; }
    [JsonPropertyName("summary_index")] public int? SummaryIndex { get; init; }
    [JsonPropertyName("part")] public ResponseContentPart? Part { get; init; }
    [JsonPropertyName("delta")] public string? Delta { get; init; }
    [JsonPropertyName("text")] public string? Text { get; init; }
    [JsonPropertyName("arguments")] public string? Arguments { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("logprobs")] public JsonArray? Logprobs { get; init; }
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
    [JsonPropertyName("param")] public string? Param { get; init; }
}

/// <summary>DELETE /v1/responses/{id} reply.</summary>
public sealed class ResponseDeleted
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("object")] public string Object => "response";
    [JsonPropertyName("deleted")] public bool Deleted => true;
}
