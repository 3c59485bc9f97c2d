using System.Text;
using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>What the reply builder tells a stream: a block opens (its empty form), grows, or closes.</summary>
internal abstract record AnthropicBlockEvent(int Index);
internal sealed record AnthropicBlockStarted(int Index, AnthropicContentBlock Block) : AnthropicBlockEvent(Index);
internal sealed record AnthropicBlockGrew(int Index, AnthropicBlockDelta Delta) : AnthropicBlockEvent(Index);
internal sealed record AnthropicBlockStopped(int Index) : AnthropicBlockEvent(Index);

/// <summary>
/// A generation's text → Anthropic content blocks, in the order the model wrote them: <c>thinking</c> (the reasoning
/// block), <c>text</c>, <c>tool_use</c> (one per call, its input parsed from the call's JSON). Streamed and unstreamed
/// replies are built by this one class, so they agree: the stream sends the events, the plain reply the final blocks.
/// Whitespace that ends the text before a block is dropped (as chat completions trim content beside calls), and a text
/// block is opened only for text that is not all whitespace. One per generation; not thread-safe.
/// </summary>
/// <param name="reasoning">Splits the reasoning off (null: the template knows no reasoning block).</param>
/// <param name="tools">Finds the calls (null: the request has no tools).</param>
/// <param name="omitThinking">Thinking blocks keep their place but not their text (<c>display: "omitted"</c>).</param>
internal sealed class AnthropicReplyBuilder(ReasoningParser? reasoning, ToolCallStreamParser? tools, bool omitThinking = false)
{
    private readonly ReasoningParser? _reasoning = reasoning;
    private readonly ToolCallStreamParser? _tools = tools;
    private readonly List<AnthropicContentBlock> _blocks = [];
    private readonly Dictionary<int, AnthropicContentBlock> _callBlocks = [];   // call index → its tool_use block
    private readonly HashSet<AnthropicContentBlock> _completedCalls = [];
    private readonly List<AnthropicBlockEvent> _events = [];
    private string _heldWhitespace = "";
    private AnthropicContentBlock? _open;

    /// <summary>The reply's blocks so far (after the last step: final; a call announced but never parsed is left out).</summary>
    public List<AnthropicContentBlock> Blocks => _blocks.Where(b => b.Type != "tool_use" || _completedCalls.Contains(b)).ToList();

    public bool HasToolUse => _completedCalls.Count > 0;

    /// <summary>Whether the block at <paramref name="index"/> (as the events number them) belongs to the reply: all but a call announced and never parsed.</summary>
    public bool Kept(int index) => _blocks[index].Type != "tool_use" || _completedCalls.Contains(_blocks[index]);

    /// <summary>Adds a generation step; returns the stream events it causes (the last step closes the open block).</summary>
    public IReadOnlyList<AnthropicBlockEvent> Push(GenerationStep step)
    {
        _events.Clear();
        bool last = step.Finish is not null;
        var split = _reasoning?.Push(step.Text) ?? new ReasoningSplit("", step.Text);
        if (last && _reasoning is not null)
        {
            var rest = _reasoning.Flush();
            split = new ReasoningSplit(split.Reasoning + rest.Reasoning, split.Content + rest.Content);
        }
        if (split.Reasoning.Length > 0) Thinking(split.Reasoning);
        if (_tools is null) Text(split.Content);
        else
        {
            var update = _tools.Push(split.Content);
            Calls(update);
            if (last) Calls(_tools.Flush());
        }
        if (last)
        {
            // The reply ends with text: its trailing whitespace is part of the answer, as chat completions return it.
            if (_open?.Type == "text" && _heldWhitespace.Length > 0) Append(new AnthropicBlockDelta { Type = "text_delta", Text = _heldWhitespace });
            _heldWhitespace = "";
            Close();
        }
        return _events;
    }

    /// <summary>end_turn, stop_sequence, max_tokens or tool_use, once the generation has ended.</summary>
    public string? StopReason(GenerationStream stream) => stream.Finish switch
    {
        FinishReason.Stop when HasToolUse => "tool_use",
        FinishReason.Stop when stream.StopSequence is not null => "stop_sequence",
        FinishReason.Stop => "end_turn",
        FinishReason.Length => "max_tokens",
        _ => null,
    };

    private void Calls(ToolCallUpdate update)
    {
        Text(update.Content);
        foreach (var piece in update.Deltas)
        {
            if (piece.Id is not null) StartToolUse(piece.Index, piece.Id, piece.Name ?? "");
            if (piece.Arguments.Length > 0 && _callBlocks.TryGetValue(piece.Index, out var block) && block == _open)
                Append(new AnthropicBlockDelta { Type = "input_json_delta", PartialJson = piece.Arguments });
        }
        foreach (var call in update.Calls)
        {
            var block = _callBlocks.Values.FirstOrDefault(b => b.Id == ToolUseId(call.Id));
            if (block is null)
            {
                // Reported whole, never announced in pieces: open it now with its input in one piece.
                block = StartToolUse(_callBlocks.Count == 0 ? 0 : _callBlocks.Keys.Max() + 1, call.Id, call.Name);
                Append(new AnthropicBlockDelta { Type = "input_json_delta", PartialJson = call.Arguments });
            }
            block.Input = ToolCallFormat.TryParseArguments(call.Arguments) ?? new JsonObject();
            _completedCalls.Add(block);
        }
    }

    private void Thinking(string text)
    {
        if (_open?.Type != "thinking") Open(new AnthropicContentBlock { Type = "thinking", Thinking = "", Signature = "" }, new AnthropicContentBlock { Type = "thinking", Thinking = "" });
        if (omitThinking) return;
        _open!.Thinking += text;
        _events.Add(new AnthropicBlockGrew(_blocks.Count - 1, new AnthropicBlockDelta { Type = "thinking_delta", Thinking = text }));
    }

    private void Text(string text)
    {
        if (text.Length == 0) return;
        string all = _heldWhitespace + text;
        int end = all.Length;
        while (end > 0 && char.IsWhiteSpace(all[end - 1])) end--;
        if (end == 0)
        {
            _heldWhitespace = all;
            return;
        }
        if (_open?.Type != "text") Open(new AnthropicContentBlock { Type = "text", Text = "" }, new AnthropicContentBlock { Type = "text", Text = "" });
        Append(new AnthropicBlockDelta { Type = "text_delta", Text = all[..end] });
        _heldWhitespace = all[end..];
    }

    private AnthropicContentBlock StartToolUse(int callIndex, string callId, string name)
    {
        string id = ToolUseId(callId);
        var block = new AnthropicContentBlock { Type = "tool_use", Id = id, Name = name, Input = new JsonObject() };
        Open(block, new AnthropicContentBlock { Type = "tool_use", Id = id, Name = name, Input = new JsonObject() });
        _callBlocks[callIndex] = block;
        return block;
    }

    /// <summary>Anthropic's id shape (<c>toolu_…</c>) for a parsed call's <c>call_…</c> id.</summary>
    private static string ToolUseId(string callId) => callId.StartsWith("call_", StringComparison.Ordinal) ? "toolu_" + callId[5..] : callId;

    private void Open(AnthropicContentBlock block, AnthropicContentBlock empty)
    {
        Close();
        _heldWhitespace = "";
        _blocks.Add(block);
        _open = block;
        _events.Add(new AnthropicBlockStarted(_blocks.Count - 1, empty));
    }

    private void Append(AnthropicBlockDelta delta)
    {
        if (delta.Type == "text_delta") _open!.Text += delta.Text;
        _events.Add(new AnthropicBlockGrew(_blocks.IndexOf(_open!), delta));
    }

    private void Close()
    {
        if (_open is null) return;
        int index = _blocks.IndexOf(_open);
        // Anthropic ends a thinking block with its signature; nothing is signed here, so it is empty.
        if (_open.Type == "thinking") _events.Add(new AnthropicBlockGrew(index, new AnthropicBlockDelta { Type = "signature_delta", Signature = "" }));
        _events.Add(new AnthropicBlockStopped(index));
        _open = null;
    }
}
