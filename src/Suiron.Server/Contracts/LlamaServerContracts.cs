using System.Text.Json;
using System.Text.Json.Serialization;

namespace Suiron.Server.Contracts;

/// <summary>POST /tokenize body, as llama-server takes it.</summary>
public sealed class TokenizeRequest
{
    /// <summary>A string, or a list of strings and token ids (llama-server's mixed prompt); absent: no tokens.</summary>
    [JsonPropertyName("content")] public JsonElement? Content { get; set; }
    /// <summary>Add BOS (and EOS where the vocabulary asks); default false.</summary>
    [JsonPropertyName("add_special")] public bool? AddSpecial { get; set; }
    /// <summary>Read special-token text (<c>&lt;|im_start|&gt;</c>) as those tokens; default true.</summary>
    [JsonPropertyName("parse_special")] public bool? ParseSpecial { get; set; }
    /// <summary>Return <c>{"id","piece"}</c> per token rather than bare ids; default false.</summary>
    [JsonPropertyName("with_pieces")] public bool? WithPieces { get; set; }
    [JsonPropertyName("model")] public string? Model { get; set; }
}

/// <summary>POST /detokenize body.</summary>
public sealed class DetokenizeRequest
{
    [JsonPropertyName("tokens")] public JsonElement? Tokens { get; set; }
    [JsonPropertyName("model")] public string? Model { get; set; }
}
