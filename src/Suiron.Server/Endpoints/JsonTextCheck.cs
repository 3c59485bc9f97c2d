using System.Text.Json;
using System.Text.Unicode;

namespace Suiron.Server.Endpoints;

/// <summary>
/// Finds a string in a JSON body that is not Unicode text: raw bytes that are not UTF-8 (<c>C0 80</c>, <c>ED A0 80</c>,
/// <c>F4 90 80 80</c>, <c>FF FE</c>) or an escape of an unpaired surrogate (<c>"\ud800"</c>). RFC 8259 requires UTF-8
/// and I-JSON (RFC 7493) forbids unpaired surrogates; System.Text.Json's reader lets both through until a string is
/// read, which then throws an InvalidOperationException deep inside an endpoint (a 500). Checked once, up front, the
/// request gets a 400 naming the field instead. Rejecting rather than replacing with U+FFFD is llama-server's
/// behaviour too (its JSON parser refuses such text), and a silent replacement would hand the model a prompt the
/// client never wrote.
/// </summary>
internal static class JsonTextCheck
{
    /// <summary>The path (<c>messages[0].content</c>) of the first string or property name that is not valid Unicode; null when all are, or when the JSON is malformed (the deserializer reports that).</summary>
    public static string? FindInvalidString(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        frames[^1].Property = null;
                        if (!IsValidText(ref reader)) return PathOf(frames) is { Length: > 0 } parent ? parent + ".(a property name)" : "(a property name)";
                        frames[^1].Property = reader.GetString();
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        Advance(frames);
                        frames.Add(new Frame { IsArray = reader.TokenType == JsonTokenType.StartArray });
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    case JsonTokenType.String:
                        Advance(frames);
                        if (!IsValidText(ref reader)) return PathOf(frames) is { Length: > 0 } path ? path : "(the request body)";
                        break;
                    default:
                        Advance(frames);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return null;
    }

    private sealed class Frame
    {
        public bool IsArray;
        public int Index = -1;
        public string? Property;
    }

    private static void Advance(List<Frame> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray) frames[^1].Index++;
    }

    private static bool IsValidText(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return Utf8.IsValid(reader.ValueSpan);
        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string PathOf(List<Frame> frames)
    {
        var path = new System.Text.StringBuilder();
        foreach (var frame in frames)
        {
            if (frame.IsArray) path.Append('[').Append(frame.Index).Append(']');
            else if (frame.Property is not null) path.Append(path.Length > 0 ? "." : "").Append(frame.Property);
        }
        return path.ToString();
    }
}
