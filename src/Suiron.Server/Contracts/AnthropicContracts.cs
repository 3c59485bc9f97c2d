using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>POST /v1/messages (and /v1/messages/count_tokens) body, as Anthropic's Messages API defines it (the fields Suiron reads; others are ignored).</summary>
public sealed class AnthropicMessagesRequest
{
    [JsonPropertyName("model")] public string? Model { get; set; }
    /// <summary>Required by /v1/messages (not by count_tokens).</summary>
    [JsonPropertyName("max_tokens")] public int? MaxTokens { get; set; }
    /// <summary>A string or a list of text blocks.</summary>
    [JsonPropertyName("system")] public JsonElement? System { get; set; }
    [JsonPropertyName("messages")] public List<AnthropicMessageParam?>? Messages { get; set; }
    /// <summary><c>[{"name","description","input_schema"}]</c>.</summary>
    [JsonPropertyName("tools")] public JsonElement? Tools { get; set; }
    /// <summary><c>{"type":"auto"|"any"|"none"}</c> or <c>{"type":"tool","name":…}</c>.</summary>
    [JsonPropertyName("tool_choice")] public JsonElement? ToolChoice { get; set; }
    /// <summary><c>{"type":"enabled","budget_tokens":N}</c> or <c>{"type":"disabled"}</c>.</summary>
    [JsonPropertyName("thinking")] public JsonElement? Thinking { get; set; }
    [JsonPropertyName("stop_sequences")] public List<string?>? StopSequences { get; set; }
    [JsonPropertyName("temperature")] public float? Temperature { get; set; }
    [JsonPropertyName("top_p")] public float? TopP { get; set; }
    [JsonPropertyName("top_k")] public int? TopK { get; set; }
    /// <summary>Accepted and ignored (<c>user_id</c>).</summary>
    [JsonPropertyName("metadata")] public JsonElement? Metadata { get; set; }
    [JsonPropertyName("stream")] public bool? Stream { get; set; }
    /// <summary>Not Anthropic's: a sampling seed, as the OpenAI endpoints take it.</summary>
    [JsonPropertyName("seed")] public long? Seed { get; set; }
}

public sealed class AnthropicMessageParam
{
    [JsonPropertyName("role")] public string? Role { get; set; }
    /// <summary>A string or a list of content blocks (text, tool_use, tool_result, thinking).</summary>
    [JsonPropertyName("content")] public JsonElement? Content { get; set; }
}

/// <summary>A reply: <c>{"id":"msg_…","type":"message","role":"assistant","model","content":[…],"stop_reason","stop_sequence","usage"}</c>.</summary>
public sealed class AnthropicMessage
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("type")] public string Type => "message";
    [JsonPropertyName("role")] public string Role => "assistant";
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("content")] public required List<AnthropicContentBlock> Content { get; init; }
    /// <summary>end_turn, max_tokens, stop_sequence or tool_use; null in message_start.</summary>
    [JsonPropertyName("stop_reason"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? StopReason { get; init; }
    [JsonPropertyName("stop_sequence"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? StopSequence { get; init; }
    [JsonPropertyName("usage")] public required AnthropicUsage Usage { get; init; }
}

/// <summary>
/// A content block of a reply: <c>text</c> (<see cref="Text"/>), <c>thinking</c> (<see cref="Thinking"/> and an empty
/// <see cref="Signature"/>: nothing is signed here) or <c>tool_use</c> (<see cref="Id"/>, <see cref="Name"/>,
/// <see cref="Input"/>).
/// </summary>
public sealed class AnthropicContentBlock
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("text")] public string? Text { get; set; }
    [JsonPropertyName("thinking")] public string? Thinking { get; set; }
    [JsonPropertyName("signature")] public string? Signature { get; set; }
    [JsonPropertyName("id")] public string? Id { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("input")] public JsonNode? Input { get; set; }
}

/// <summary>
/// Token counts: <see cref="InputTokens"/> are the prompt tokens evaluated for this request, <see cref="CacheReadInputTokens"/>
/// those reused from the slot's earlier requests (prefix cache); together, the prompt.
/// </summary>
public sealed class AnthropicUsage
{
    [JsonPropertyName("input_tokens")] public int InputTokens { get; init; }
    [JsonPropertyName("output_tokens")] public int OutputTokens { get; init; }
    [JsonPropertyName("cache_creation_input_tokens")] public int CacheCreationInputTokens => 0;
    [JsonPropertyName("cache_read_input_tokens")] public int CacheReadInputTokens { get; init; }
}

/// <summary>POST /v1/messages/count_tokens reply.</summary>
public sealed class AnthropicTokenCount
{
    [JsonPropertyName("input_tokens")] public int InputTokens { get; init; }
}

/// <summary>Anthropic's error shape: <c>{"type":"error","error":{"type","message"}}</c>.</summary>
public sealed class AnthropicErrorResponse
{
    [JsonPropertyName("type")] public string Type => "error";
    [JsonPropertyName("error")] public required AnthropicErrorBody Error { get; init; }
}

public sealed class AnthropicErrorBody
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("message")] public required string Message { get; init; }
}

/// <summary>The <c>message_start</c> event.</summary>
public sealed class AnthropicMessageStart
{
    [JsonPropertyName("type")] public string Type => "message_start";
    [JsonPropertyName("message")] public required AnthropicMessage Message { get; init; }
}

/// <summary>The <c>content_block_start</c> event: the block with its fields empty (text "", thinking "", input {}).</summary>
public sealed class AnthropicContentBlockStart
{
    [JsonPropertyName("type")] public string Type => "content_block_start";
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("content_block")] public required AnthropicContentBlock ContentBlock { get; init; }
}

/// <summary>The <c>content_block_delta</c> event.</summary>
public sealed class AnthropicContentBlockDelta
{
    [JsonPropertyName("type")] public string Type => "content_block_delta";
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("delta")] public required AnthropicBlockDelta Delta { get; init; }
}

/// <summary>text_delta (<see cref="Text"/>), thinking_delta (<see cref="Thinking"/>), signature_delta (<see cref="Signature"/>) or input_json_delta (<see cref="PartialJson"/>).</summary>
public sealed class AnthropicBlockDelta
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("text")] public string? Text { get; init; }
    [JsonPropertyName("thinking")] public string? Thinking { get; init; }
    [JsonPropertyName("signature")] public string? Signature { get; init; }
    [JsonPropertyName("partial_json")] public string? PartialJson { get; init; }
}

/// <summary>The <c>content_block_stop</c> event.</summary>
public sealed class AnthropicContentBlockStop
{
    [JsonPropertyName("type")] public string Type => "content_block_stop";
    [JsonPropertyName("index")] public int Index { get; init; }
}

/// <summary>The <c>message_delta</c> event: how the message ended and the final usage.</summary>
public sealed class AnthropicMessageDelta
{
    [JsonPropertyName("type")] public string Type => "message_delta";
    [JsonPropertyName("delta")] public required AnthropicStopDelta Delta { get; init; }
    [JsonPropertyName("usage")] public required AnthropicUsage Usage { get; init; }
}

public sealed class AnthropicStopDelta
{
    [JsonPropertyName("stop_reason"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? StopReason { get; init; }
    [JsonPropertyName("stop_sequence"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? StopSequence { get; init; }
}

/// <summary>An event with nothing but its type: <c>ping</c>, <c>message_stop</c>.</summary>
public sealed class AnthropicSignal
{
    [JsonPropertyName("type")] public required string Type { get; init; }
}
