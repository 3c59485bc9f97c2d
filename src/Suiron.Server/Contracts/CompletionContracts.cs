using System.Text.Json;
using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>POST /v1/completions body.</summary>
public sealed class CompletionRequest : GenerationParameters
{
    /// <summary>A string, a list of one string, or a list of token ids.</summary>
    [JsonPropertyName("prompt")] public JsonElement? Prompt { get; set; }
    /// <summary>Alternatives per position (0–5 in OpenAI's API; up to 20 here).</summary>
    [JsonPropertyName("logprobs")] public int? Logprobs { get; set; }
    [JsonPropertyName("echo")] public bool? Echo { get; set; }
}

public sealed class CompletionResponse
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("object")] public string Object => "text_completion";
    [JsonPropertyName("created")] public long Created { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("system_fingerprint")] public string? SystemFingerprint { get; init; }
    [JsonPropertyName("choices")] public required List<CompletionChoice> Choices { get; init; }
    [JsonPropertyName("usage")] public Usage? Usage { get; init; }
}

public sealed class CompletionChoice
{
    [JsonPropertyName("text")] public required string Text { get; init; }
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("logprobs"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public CompletionLogprobs? Logprobs { get; init; }
    [JsonPropertyName("finish_reason"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? FinishReason { get; init; }
}

public sealed class CompletionLogprobs
{
    [JsonPropertyName("tokens")] public List<string> Tokens { get; init; } = [];
    [JsonPropertyName("token_logprobs")] public List<float> TokenLogprobs { get; init; } = [];
    [JsonPropertyName("top_logprobs")] public List<Dictionary<string, float>> TopLogprobs { get; init; } = [];
    [JsonPropertyName("text_offset")] public List<int> TextOffset { get; init; } = [];
}
