using System.Text.Json;
using System.Text.Json.Serialization;

namespace Suiron.Chat;

/// <summary>
/// Source-generated JSON for the strings the tool-call formats quote and unquote: no reflection, so tool calls work in
/// a native AOT binary (where reflection-based serialization is off).
/// </summary>
[JsonSerializable(typeof(string))]
internal sealed partial class ChatJsonContext : JsonSerializerContext
{
    private static ChatJsonContext? _verbatim;

    /// <summary>As <see cref="Default"/>, but keeping non-ASCII text and markup characters as written (only what JSON requires is escaped).</summary>
    public static ChatJsonContext Verbatim => _verbatim ??= new(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>A JSON string literal of <paramref name="text"/>, escaped as <see cref="JsonSerializer"/> does by default.</summary>
    public static string Quote(string text) => JsonSerializer.Serialize(text, Default.String);
}
