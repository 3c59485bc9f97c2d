using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Server.Contracts;
using Suiron.Server.Endpoints;

namespace Suiron.Server.Tests;

/// <summary>
/// The reply builder on text a model could write (Qwen3's reasoning and Hermes calls), fed whole, character by
/// character and split at every position: the blocks must be the same however the text arrives, the events well
/// formed, and the streamed deltas must add up to the blocks.
/// </summary>
public sealed class AnthropicReplyBuilderTests
{
    private const string Reasoned = "<think>\nFirst the weather.\n</think>\n\nSure, 東京 it is.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"東京\", \"when\": {\"days\": [1, 2], \"note\": \"a \\\"quoted\\\" word\"}}}\n</tool_call>";

    private static (List<AnthropicContentBlock> Blocks, List<AnthropicEvent> Events, string? StopReason) Build(IEnumerable<string> pieces, bool tools = true, bool reasoning = true)
    {
        var builder = new AnthropicReplyBuilder(reasoning ? new ReasoningParser() : null, tools ? new ToolCallStreamParser(ToolCallFormat.Hermes) : null);
        var stream = new GenerationStream(1);
        var events = new List<AnthropicEvent> { Event("message_start", """{"type":"message_start","message":{}}""") };
        var list = pieces.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            bool last = i == list.Count - 1;
            foreach (var e in builder.Push(new GenerationStep(i, list[i], last ? FinishReason.Stop : null)))
            {
                var json = ServerJsonContext.Web;
                events.Add(e switch
                {
                    AnthropicBlockStarted s => Event("content_block_start", JsonSerializer.Serialize(new AnthropicContentBlockStart { Index = s.Index, ContentBlock = s.Block }, json.AnthropicContentBlockStart)),
                    AnthropicBlockGrew g => Event("content_block_delta", JsonSerializer.Serialize(new AnthropicContentBlockDelta { Index = g.Index, Delta = g.Delta }, json.AnthropicContentBlockDelta)),
                    AnthropicBlockStopped t => Event("content_block_stop", JsonSerializer.Serialize(new AnthropicContentBlockStop { Index = t.Index }, json.AnthropicContentBlockStop)),
                    _ => throw new InvalidOperationException(),
                });
            }
        }
        stream.Finish = FinishReason.Stop;
        string? reason = builder.StopReason(stream);
        events.Add(Event("message_delta", $$$"""{"type":"message_delta","delta":{"stop_reason":"{{{reason}}}","stop_sequence":null},"usage":{"output_tokens":1}}"""));
        events.Add(Event("message_stop", """{"type":"message_stop"}"""));
        return (builder.Blocks, events, reason);
    }

    private static AnthropicEvent Event(string name, string json) => new(name, JsonDocument.Parse(json).RootElement.Clone());

    private static string Show(List<AnthropicContentBlock> blocks) => JsonSerializer.Serialize(blocks, ServerJsonContext.Web.AnthropicMessage.Options);

    /// <summary>The text, whole; char by char; and cut in two at every position.</summary>
    private static IEnumerable<string[]> Splits(string text)
    {
        yield return [text];
        yield return text.Select(c => c.ToString()).ToArray();
        for (int i = 1; i < text.Length; i++) yield return [text[..i], text[i..]];
    }

    [Fact]
    public void ReasoningTextAndACallBecomeThreeBlocksHoweverTheTextArrives()
    {
        var (blocks, _, reason) = Build([Reasoned]);
        Assert.Equal(["thinking", "text", "tool_use"], blocks.Select(b => b.Type));
        Assert.Equal("First the weather.", blocks[0].Thinking);
        Assert.Equal("", blocks[0].Signature);
        Assert.Equal("Sure, 東京 it is.", blocks[1].Text); // the newline before the call is not part of the answer
        Assert.Equal("get_weather", blocks[2].Name);
        Assert.StartsWith("toolu_", blocks[2].Id);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city":"東京","when":{"days":[1,2],"note":"a \"quoted\" word"}}"""), blocks[2].Input), blocks[2].Input?.ToJsonString());
        Assert.Equal("tool_use", reason);

        string expected = Show(blocks).Replace(blocks[2].Id!, "ID", StringComparison.Ordinal);
        foreach (var pieces in Splits(Reasoned))
        {
            var (again, events, againReason) = Build(pieces);
            string shown = Show(again).Replace(again[^1].Id ?? "", "ID", StringComparison.Ordinal);
            Assert.True(expected == shown, $"split {string.Join(" | ", pieces.Take(3))}…: {shown}");
            Assert.Equal("tool_use", againReason);
            Assert.Equal(["thinking", "text", "tool_use"], AnthropicEvent.AssertWellFormed(events));
            Assert.Equal(again[0].Thinking, AnthropicEvent.Concat(events, "thinking_delta", 0));
            Assert.Equal(again[1].Text, AnthropicEvent.Concat(events, "text_delta", 1));
            Assert.True(JsonNode.DeepEquals(again[2].Input, JsonNode.Parse(AnthropicEvent.Concat(events, "input_json_delta", 2))));
        }
    }

    [Fact]
    public void TwoCallsAreTwoBlocksInOrder()
    {
        const string text = "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>";
        foreach (var pieces in Splits(text))
        {
            var (blocks, events, reason) = Build(pieces, reasoning: false);
            Assert.Equal(["a", "b"], blocks.Select(b => b.Name));
            Assert.Equal("""{"x":1}""", blocks[0].Input!.ToJsonString());
            Assert.Equal("{}", blocks[1].Input!.ToJsonString());
            Assert.NotEqual(blocks[0].Id, blocks[1].Id);
            Assert.Equal(["tool_use", "tool_use"], AnthropicEvent.AssertWellFormed(events));
            Assert.Equal("tool_use", reason);
        }
    }

    [Fact]
    public void TextKeepsItsWhitespaceWhenNothingFollowsAndWhitespaceAloneIsNoBlock()
    {
        foreach (var pieces in Splits("  Hello,\n\nworld.\n\n"))
        {
            var (blocks, events, reason) = Build(pieces, tools: false, reasoning: false);
            Assert.Equal("  Hello,\n\nworld.\n\n", Assert.Single(blocks).Text); // as chat completions return it
            Assert.Equal(["text"], AnthropicEvent.AssertWellFormed(events));
            Assert.Equal("end_turn", reason);
        }
        var (none, noEvents, _) = Build([" \n ", "\n"], tools: false, reasoning: false);
        Assert.Empty(none);
        Assert.Empty(AnthropicEvent.AssertWellFormed(noEvents));
    }

    [Fact]
    public void ACallThatNeverParsesIsNoToolUse()
    {
        var (blocks, events, reason) = Build(["Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"argu"], reasoning: false);
        Assert.DoesNotContain(blocks, b => b.Type == "tool_use");
        Assert.Equal("end_turn", reason);
        AnthropicEvent.AssertWellFormed(events);
    }
}
