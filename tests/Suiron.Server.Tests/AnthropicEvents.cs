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
