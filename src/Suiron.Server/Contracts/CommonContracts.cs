using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>OpenAI's error shape: <c>{"error":{"message","type","param","code"}}</c>.</summary>
public sealed class ErrorResponse
{
    [JsonPropertyName("error")] public required ErrorBody Error { get; init; }
}

public sealed class ErrorBody
{
    [JsonPropertyName("message")] public required string Message { get; init; }
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("param"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Param { get; init; }
    [JsonPropertyName("code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Code { get; init; }
}

public sealed class ModelList
{
    [JsonPropertyName("object")] public string Object => "list";
    [JsonPropertyName("data")] public required List<ModelCard> Data { get; init; }
}

public sealed class ModelCard
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("object")] public string Object => "model";
    [JsonPropertyName("created")] public long Created { get; init; }
    [JsonPropertyName("owned_by")] public string OwnedBy => "suiron";
    [JsonPropertyName("meta")] public ModelMeta? Meta { get; init; }
    /// <summary>Where the model is, on a server with several (llama-server's router mode); absent with one.</summary>
    [JsonPropertyName("status")] public RoutedModelStatusBody? Status { get; init; }
    /// <summary>Other names requests may use for the model (router mode).</summary>
    [JsonPropertyName("aliases")] public List<string>? Aliases { get; init; }
    /// <summary>What the model answers (router mode): "generation", "embedding" or "rerank".</summary>
    [JsonPropertyName("kind")] public string? Kind { get; init; }
}

/// <summary>llama-server's router status of a model: value "loaded", "loading" or "unloaded"; failed (with why) after a failed load.</summary>
public sealed class RoutedModelStatusBody
{
    [JsonPropertyName("value")] public required string Value { get; init; }
    [JsonPropertyName("failed")] public bool? Failed { get; init; }
    [JsonPropertyName("error")] public string? Error { get; init; }
    /// <summary>What the model costs against the memory budget while loaded: its file bytes plus its KV cache.</summary>
    [JsonPropertyName("memory_bytes")] public long? MemoryBytes { get; init; }
}

/// <summary>What llama.cpp's server reports beside the OpenAI fields.</summary>
public sealed class ModelMeta
{
    [JsonPropertyName("architecture")] public required string Architecture { get; init; }
    [JsonPropertyName("n_vocab")] public int VocabSize { get; init; }
    [JsonPropertyName("n_ctx_train")] public int TrainedContext { get; init; }
    [JsonPropertyName("n_ctx")] public int Context { get; init; }
    [JsonPropertyName("n_params")] public long Parameters { get; init; }
    [JsonPropertyName("slots")] public int Slots { get; init; }
}

public sealed class HealthResponse
{
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("slots_idle")] public int SlotsIdle { get; init; }
    [JsonPropertyName("slots_processing")] public int SlotsProcessing { get; init; }
    [JsonPropertyName("queue_depth")] public int QueueDepth { get; init; }
    /// <summary>The cluster's view (members, their queues, prefix hit rate) when the server is a replica in one.</summary>
    [JsonPropertyName("cluster")] public System.Text.Json.Nodes.JsonObject? Cluster { get; init; }
}
