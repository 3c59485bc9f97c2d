using System.Text.Json;
using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>POST /v1/chat/completions body (the fields Suiron reads; others are ignored).</summary>
public sealed class ChatCompletionRequest : GenerationParameters
{
    [JsonPropertyName("messages")] public List<ChatMessageDto>? Messages { get; set; }
    /// <summary>Return the chosen tokens' log-probabilities.</summary>
    [JsonPropertyName("logprobs")] public bool? Logprobs { get; set; }
    /// <summary>Alternatives per position (0–20); needs <see cref="Logprobs"/>.</summary>
    [JsonPropertyName("top_logprobs")] public int? TopLogprobs { get; set; }
    [JsonPropertyName("max_completion_tokens")] public int? MaxCompletionTokens { get; set; }
    /// <summary>Extra template variables (e.g. <c>enable_thinking</c>), as llama.cpp's server accepts them.</summary>
    [JsonPropertyName("chat_template_kwargs")] public Dictionary<string, JsonElement>? ChatTemplateKwargs { get; set; }
    /// <summary>Functions the model may call: <c>[{"type":"function","function":{"name","description","parameters"}}]</c>.</summary>
    [JsonPropertyName("tools")] public JsonElement? Tools { get; set; }
    /// <summary><c>"auto"</c>, <c>"none"</c>, <c>"required"</c> or <c>{"type":"function","function":{"name":…}}</c>.</summary>
    [JsonPropertyName("tool_choice")] public JsonElement? ToolChoice { get; set; }
    [JsonPropertyName("parallel_tool_calls")] public bool? ParallelToolCalls { get; set; }
    /// <summary>llama-server's per-request reasoning budget in tokens (−1: the server's <c>--reasoning-budget</c>).</summary>
    [JsonPropertyName("reasoning_budget_tokens")] public int? ReasoningBudgetTokens { get; set; }
    /// <summary>The older name of <see cref="ReasoningBudgetTokens"/>.</summary>
    [JsonPropertyName("thinking_budget_tokens")] public int? ThinkingBudgetTokens { get; set; }
}

/// <summary>Sampling and control parameters common to chat and text completions.</summary>
public abstract class GenerationParameters
{
    [JsonPropertyName("model")] public string? Model { get; set; }
    [JsonPropertyName("max_tokens")] public int? MaxTokens { get; set; }
    [JsonPropertyName("temperature")] public float? Temperature { get; set; }
    [JsonPropertyName("top_p")] public float? TopP { get; set; }
    [JsonPropertyName("top_k")] public int? TopK { get; set; }
    [JsonPropertyName("min_p")] public float? MinP { get; set; }
    [JsonPropertyName("seed")] public long? Seed { get; set; }
    /// <summary>A string or a list of up to 4 strings.</summary>
    [JsonPropertyName("stop")] public JsonElement? Stop { get; set; }
    [JsonPropertyName("presence_penalty")] public float? PresencePenalty { get; set; }
    [JsonPropertyName("frequency_penalty")] public float? FrequencyPenalty { get; set; }
    /// <summary>llama.cpp extension: CTRL-style repetition penalty (1 = off).</summary>
    [JsonPropertyName("repeat_penalty")] public float? RepeatPenalty { get; set; }
    [JsonPropertyName("n")] public int? N { get; set; }
    [JsonPropertyName("stream")] public bool? Stream { get; set; }
    [JsonPropertyName("stream_options")] public StreamOptions? StreamOptions { get; set; }
    [JsonPropertyName("user")] public string? User { get; set; }
    /// <summary><c>{"type":"text"}</c>, <c>{"type":"json_object"}</c> or <c>{"type":"json_schema","json_schema":{"name","schema","strict"}}</c>.</summary>
    [JsonPropertyName("response_format")] public JsonElement? ResponseFormat { get; set; }
    /// <summary>llama.cpp extension: a GBNF grammar the output must match.</summary>
    [JsonPropertyName("grammar")] public string? Grammar { get; set; }
    /// <summary>llama.cpp extension: a JSON schema the output must match.</summary>
    [JsonPropertyName("json_schema")] public JsonElement? JsonSchema { get; set; }
    /// <summary>llama-server extension: most draft tokens per verify pass for this request (0 = no speculation).</summary>
    [JsonPropertyName("speculative.n_max")] public int? SpeculativeMax { get; set; }
    /// <summary>llama-server extension: fewest draft tokens worth a verify pass for this request.</summary>
    [JsonPropertyName("speculative.n_min")] public int? SpeculativeMin { get; set; }
    /// <summary>llama-server extension: a draft model's lowest token probability to keep drafting; range-checked, no effect on
    /// the scheduler's prompt-lookup drafts, which have no probabilities.</summary>
    [JsonPropertyName("speculative.p_min")] public float? SpeculativeMinProbability { get; set; }
    /// <summary>Suiron extension: where this request's drafts come from, <c>ngram</c> (prompt lookup) or <c>mtp</c> (the
    /// model's multi-token-prediction head); default: the server's <c>--spec</c>, else ngram.</summary>
    [JsonPropertyName("speculative.type")] public string? SpeculativeType { get; set; }
}

public sealed class StreamOptions
{
    [JsonPropertyName("include_usage")] public bool? IncludeUsage { get; set; }
}

public sealed class ChatMessageDto
{
    [JsonPropertyName("role")] public string? Role { get; set; }
    /// <summary>A string, a list of content parts (<c>{"type":"text","text":…}</c>) or null.</summary>
    [JsonPropertyName("content")] public JsonElement? Content { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("reasoning_content")] public string? ReasoningContent { get; set; }
    [JsonPropertyName("tool_calls")] public JsonElement? ToolCalls { get; set; }
    [JsonPropertyName("tool_call_id")] public string? ToolCallId { get; set; }
}

public sealed class ChatCompletionResponse
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("object")] public string Object => "chat.completion";
    [JsonPropertyName("created")] public long Created { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("system_fingerprint")] public string? SystemFingerprint { get; init; }
    [JsonPropertyName("choices")] public required List<ChatChoice> Choices { get; init; }
    [JsonPropertyName("usage")] public Usage? Usage { get; init; }
}

public sealed class ChatChoice
{
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("message")] public required AssistantMessage Message { get; init; }
    [JsonPropertyName("logprobs"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public ChatLogprobs? Logprobs { get; init; }
    [JsonPropertyName("finish_reason"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? FinishReason { get; init; }
}

public sealed class AssistantMessage
{
    [JsonPropertyName("role")] public string Role => "assistant";
    [JsonPropertyName("content"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Content { get; init; }
    [JsonPropertyName("reasoning_content")] public string? ReasoningContent { get; init; }
    [JsonPropertyName("tool_calls")] public List<ToolCallDto>? ToolCalls { get; init; }
}

public sealed class ToolCallDto
{
    /// <summary>Position of the call in the message (streamed deltas only).</summary>
    [JsonPropertyName("index")] public int? Index { get; init; }
    [JsonPropertyName("id")] public string? Id { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("function")] public required FunctionCallDto Function { get; init; }
}

public sealed class FunctionCallDto
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    /// <summary>The arguments as JSON text.</summary>
    [JsonPropertyName("arguments")] public string? Arguments { get; init; }
}

public sealed class ChatCompletionChunk
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("object")] public string Object => "chat.completion.chunk";
    [JsonPropertyName("created")] public long Created { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("system_fingerprint")] public string? SystemFingerprint { get; init; }
    [JsonPropertyName("choices")] public required List<ChatChunkChoice> Choices { get; init; }
    /// <summary>Only on the final chunk (empty choices) when stream_options.include_usage is set.</summary>
    [JsonPropertyName("usage")] public Usage? Usage { get; init; }
}

public sealed class ChatChunkChoice
{
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("delta")] public required ChatDelta Delta { get; init; }
    [JsonPropertyName("logprobs")] public ChatLogprobs? Logprobs { get; init; }
    [JsonPropertyName("finish_reason"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? FinishReason { get; init; }
}

public sealed class ChatDelta
{
    [JsonPropertyName("role")] public string? Role { get; init; }
    [JsonPropertyName("content")] public string? Content { get; init; }
    [JsonPropertyName("reasoning_content")] public string? ReasoningContent { get; init; }
    [JsonPropertyName("tool_calls")] public List<ToolCallDto>? ToolCalls { get; init; }
}

public sealed class ChatLogprobs
{
    [JsonPropertyName("content")] public required List<TokenLogprobDto> Content { get; init; }
}

public sealed class TokenLogprobDto
{
    [JsonPropertyName("token")] public required string Token { get; init; }
    [JsonPropertyName("logprob")] public float Logprob { get; init; }
    [JsonPropertyName("bytes")] public required int[] Bytes { get; init; }
    [JsonPropertyName("top_logprobs")] public List<TopLogprobDto> TopLogprobs { get; init; } = [];
}

public sealed class TopLogprobDto
{
    [JsonPropertyName("token")] public required string Token { get; init; }
    [JsonPropertyName("logprob")] public float Logprob { get; init; }
    [JsonPropertyName("bytes")] public required int[] Bytes { get; init; }
}

public sealed class Usage
{
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; init; }
    [JsonPropertyName("completion_tokens")] public int CompletionTokens { get; init; }
    [JsonPropertyName("total_tokens")] public int TotalTokens => PromptTokens + CompletionTokens;
    [JsonPropertyName("prompt_tokens_details")] public PromptTokensDetails? PromptTokensDetails { get; init; }
}

public sealed class PromptTokensDetails
{
    /// <summary>Prompt tokens whose keys and values were reused from the slot's previous request (prefix cache).</summary>
    [JsonPropertyName("cached_tokens")] public int CachedTokens { get; init; }
}
