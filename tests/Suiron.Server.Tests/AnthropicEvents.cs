using System.Text;
using System.Text.Json;

namespace Suiron.Server.Tests;

/// <summary>One server-sent event as Anthropic names them: <c>event: NAME</c> and its <c>data:</c> JSON.</summary>
public sealed record AnthropicEvent(string Name, JsonElement Data)
{
    public string Type => Data.GetProperty("type").GetString()!;

    /// <summary>Reads a whole named-event stream; every event must have a name and one data line.</summary>
    public static async Task<List<AnthropicEvent>> ReadAllAsync(HttpResponseMessage response)
    {
        var events = new List<AnthropicEvent>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? name = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                Assert.NotNull(name);
                events.Add(new AnthropicEvent(name!, JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone()));
                name = null;
            }
            else Assert.Equal("", line);
        }
        return events;
    }

    /// <summary>
    /// Asserts the stream's grammar as Anthropic documents it: message_start first; then blocks, each a
    /// content_block_start at the next index, deltas of its own kind at that index only, and its content_block_stop;
    /// then message_delta and message_stop last; ping anywhere after message_start. Returns the blocks' types.
    /// </summary>
    public static List<string> AssertWellFormed(IReadOnlyList<AnthropicEvent> events)
    {
        Assert.True(events.Count >= 3, $"{events.Count} events");
        Assert.Equal("message_start", events[0].Name);
        Assert.Equal("message_delta", events[^2].Name);
        Assert.Equal("message_stop", events[^1].Name);
        var types = new List<string>();
        int? open = null;
        string? openType = null;
        foreach (var e in events.Skip(1).Take(events.Count - 3))
        {
            Assert.Equal(e.Name, e.Type);
            switch (e.Name)
            {
                case "ping":
                    Assert.Equal("""{"type":"ping"}""", e.Data.GetRawText());
                    break;
                case "content_block_start":
                    Assert.Null(open);
                    Assert.Equal(types.Count, e.Data.GetProperty("index").GetInt32());
                    openType = e.Data.GetProperty("content_block").GetProperty("type").GetString()!;
                    types.Add(openType);
                    open = types.Count - 1;
                    break;
                case "content_block_delta":
                    Assert.Equal(open, e.Data.GetProperty("index").GetInt32());
                    string delta = e.Data.GetProperty("delta").GetProperty("type").GetString()!;
                    string[] allowed = openType switch
                    {
                        "text" => ["text_delta"],
                        "thinking" => ["thinking_delta", "signature_delta"],
                        "tool_use" => ["input_json_delta"],
                        _ => [],
                    };
                    Assert.Contains(delta, allowed);
                    break;
                case "content_block_stop":
                    Assert.Equal(open, e.Data.GetProperty("index").GetInt32());
                    open = null;
                    break;
                default:
                    Assert.Fail($"unexpected event '{e.Name}' inside the message");
                    break;
            }
        }
        Assert.Null(open);
        Assert.Equal(JsonValueKind.String, events[^2].Data.GetProperty("delta").GetProperty("stop_reason").ValueKind);
        return types;
    }

    /// <summary>The text a stream's deltas of <paramref name="deltaType"/> add up to (text, thinking or partial_json).</summary>
    public static string Concat(IEnumerable<AnthropicEvent> events, string deltaType, int? index = null)
    {
        string field = deltaType switch { "text_delta" => "text", "thinking_delta" => "thinking", _ => "partial_json" };
        var text = new StringBuilder();
        foreach (var e in events)
            if (e.Name == "content_block_delta" && e.Data.GetProperty("delta").GetProperty("type").GetString() == deltaType
                && (index is null || e.Data.GetProperty("index").GetInt32() == index))
                text.Append(e.Data.GetProperty("delta").GetProperty(field).GetString());
        return text.ToString();
    }
}
