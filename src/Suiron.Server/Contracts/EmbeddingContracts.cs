using System.Text.Json;
using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>POST /v1/embeddings: OpenAI's request body.</summary>
public sealed class EmbeddingRequest
{
    /// <summary>A string, a list of strings, a list of token ids, or a list of lists of token ids.</summary>
    [JsonPropertyName("input")] public JsonElement? Input { get; init; }
    [JsonPropertyName("model")] public string? Model { get; init; }
    /// <summary>"float" (default) or "base64" (the float32 values, little-endian, base64-encoded).</summary>
    [JsonPropertyName("encoding_format")] public string? EncodingFormat { get; init; }
    /// <summary>Only the model's own width is supported.</summary>
    [JsonPropertyName("dimensions")] public int? Dimensions { get; init; }
    [JsonPropertyName("user")] public string? User { get; init; }
}

public sealed class EmbeddingResponse
{
    [JsonPropertyName("object")] public string Object => "list";
    [JsonPropertyName("data")] public required List<EmbeddingItem> Data { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("usage")] public required EmbeddingUsage Usage { get; init; }
}

public sealed class EmbeddingItem
{
    [JsonPropertyName("object")] public string Object => "embedding";
    [JsonPropertyName("index")] public int Index { get; init; }
    /// <summary>A float[] (encoding_format float) or a base64 string.</summary>
    [JsonPropertyName("embedding")] public required object Embedding { get; init; }
}

public sealed class EmbeddingUsage
{
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; init; }
    [JsonPropertyName("total_tokens")] public int TotalTokens { get; init; }
}
