using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>
/// A generation's text → Responses output items, in the order the model wrote them: <c>reasoning</c>, <c>message</c>
/// (one output_text part), <c>function_call</c>. The reply is split by the same <see cref="AnthropicReplyBuilder"/> as
/// /v1/messages (its thinking, text and tool_use blocks are these items in another dress), so both APIs cut a reply
/// the same way; this class renames its block events into the Responses stream's typed events and keeps the items.
/// Sequence numbers are left to the writer. One per generation; not thread-safe.
/// </summary>
/// <param name="summarize">The request asked for a reasoning summary: reasoning items carry their text as a summary too.</param>
internal sealed class ResponsesReply(ReasoningParser? reasoning, ToolCallStreamParser? tools, bool summarize)
{
    private readonly AnthropicReplyBuilder _blocks = new(reasoning, tools);
    private readonly List<ResponseItem> _items = [];        // by block index
    private readonly List<ResponseStreamEvent> _events = [];

    /// <summary>Generated tokens that went to reasoning.</summary>
    public int ReasoningTokens { get; private set; }

    public bool HasFunctionCall => _blocks.HasToolUse;

    /// <summary>The output items so far (after the last step: final; a call announced but never parsed is left out).</summary>
    public List<ResponseItem> Output => _items.Where((_, i) => _blocks.Kept(i)).ToList();

    /// <summary>Adds a generation step; returns the stream events it causes.</summary>
    public IReadOnlyList<ResponseStreamEvent> Push(GenerationStep step)
    {
        _events.Clear();
        bool reasoned = false, answered = false;
        foreach (var e in _blocks.Push(step))
        {
            switch (e)
            {
                case AnthropicBlockStarted started:
                    reasoned |= started.Block.Type == "thinking";
                    answered |= started.Block.Type != "thinking";
                    Start(started.Index, started.Block);
                    break;
                case AnthropicBlockGrew grew:
                    reasoned |= grew.Delta.Type == "thinking_delta";
                    answered |= grew.Delta.Type is "text_delta" or "input_json_delta";
                    Grow(grew.Index, grew.Delta);
                    break;
                case AnthropicBlockStopped stopped:
                    Stop(stopped.Index);
                    break;
            }
        }
        // A token whose text the parsers hold back (it may begin </think> or a call) shows nowhere yet: it is counted
        // with what comes out next, reasoning or answer.
        int tokens = step.Token >= 0 ? 1 : 0; // a step that only ends the generation carries no token
        if (reasoned)
        {
            ReasoningTokens += _heldSteps + tokens;
            _heldSteps = 0;
            _inReasoning = !answered;
        }
        else if (answered)
        {
            _heldSteps = 0;
            _inReasoning = false;
        }
        else if (step.Finish is not null && _inReasoning) ReasoningTokens += _heldSteps + tokens;
        else _heldSteps += tokens;
        return _events;
    }

    private int _heldSteps;
    private bool _inReasoning;

    private void Start(int index, AnthropicContentBlock block)
    {
        ResponseItem item = block.Type switch
        {
            "thinking" => new ResponseItem { Type = "reasoning", Id = NewId("rs_"), Summary = [], Content = [new ResponseContentPart { Type = "reasoning_text", Text = "" }] },
            "text" => new ResponseItem { Type = "message", Id = NewId("msg_"), Status = "in_progress", Role = "assistant", Content = [OutputText("")] },
            _ => new ResponseItem
            {
                Type = "function_call", Id = NewId("fc_"), Status = "in_progress", CallId = CallId(block.Id!), Name = block.Name, Arguments = "",
            },
        };
        _items.Add(item);
        _events.Add(new ResponseStreamEvent { Type = "response.output_item.added", OutputIndex = index, Item = Snapshot(item, empty: true) });
        if (item.Type == "message")
            _events.Add(new ResponseStreamEvent { Type = "response.content_part.added", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Part = OutputText("") });
        else if (item.Type == "reasoning")
            _events.Add(new ResponseStreamEvent
            {
                Type = "response.content_part.added", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Part = new ResponseContentPart { Type = "reasoning_text", Text = "" },
            });
    }

    private void Grow(int index, AnthropicBlockDelta delta)
    {
        var item = _items[index];
        switch (delta.Type)
        {
            case "thinking_delta":
                item.Content![0].Text += delta.Thinking;
                _events.Add(new ResponseStreamEvent { Type = "response.reasoning_text.delta", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Delta = delta.Thinking });
                break;
            case "text_delta":
                item.Content![0].Text += delta.Text;
                _events.Add(new ResponseStreamEvent { Type = "response.output_text.delta", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Delta = delta.Text, Logprobs = [] });
                break;
            case "input_json_delta":
                item.Arguments += delta.PartialJson;
                _events.Add(new ResponseStreamEvent { Type = "response.function_call_arguments.delta", ItemId = item.Id, OutputIndex = index, Delta = delta.PartialJson });
                break;
            // signature_delta: nothing is signed here.
        }
    }

    private void Stop(int index)
    {
        var item = _items[index];
        switch (item.Type)
        {
            case "reasoning":
            {
                string text = item.Content![0].Text;
                _events.Add(new ResponseStreamEvent { Type = "response.reasoning_text.done", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Text = text });
                _events.Add(new ResponseStreamEvent
                {
                    Type = "response.content_part.done", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Part = new ResponseContentPart { Type = "reasoning_text", Text = text },
                });
                if (summarize)
                {
                    // What the model reasoned is its own summary: no second model condenses it here.
                    item.Summary = [new ResponseContentPart { Type = "summary_text", Text = text }];
                    _events.Add(new ResponseStreamEvent
                    {
                        Type = "response.reasoning_summary_part.added", ItemId = item.Id, OutputIndex = index, SummaryIndex = 0, Part = new ResponseContentPart { Type = "summary_text", Text = "" },
                    });
                    _events.Add(new ResponseStreamEvent { Type = "response.reasoning_summary_text.delta", ItemId = item.Id, OutputIndex = index, SummaryIndex = 0, Delta = text });
                    _events.Add(new ResponseStreamEvent { Type = "response.reasoning_summary_text.done", ItemId = item.Id, OutputIndex = index, SummaryIndex = 0, Text = text });
                    _events.Add(new ResponseStreamEvent
                    {
                        Type = "response.reasoning_summary_part.done", ItemId = item.Id, OutputIndex = index, SummaryIndex = 0, Part = new ResponseContentPart { Type = "summary_text", Text = text },
                    });
                }
                break;
            }
            case "message":
            {
                string text = item.Content![0].Text;
                item.Status = "completed";
                _events.Add(new ResponseStreamEvent { Type = "response.output_text.done", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Text = text, Logprobs = [] });
                _events.Add(new ResponseStreamEvent { Type = "response.content_part.done", ItemId = item.Id, OutputIndex = index, ContentIndex = 0, Part = OutputText(text) });
                break;
            }
            default:
                if (_blocks.Kept(index))
                {
                    item.Status = "completed";
                    _events.Add(new ResponseStreamEvent { Type = "response.function_call_arguments.done", ItemId = item.Id, OutputIndex = index, Arguments = item.Arguments, Name = item.Name });
                }
                else item.Status = "incomplete"; // the reply ended inside the call
                break;
        }
        _events.Add(new ResponseStreamEvent { Type = "response.output_item.done", OutputIndex = index, Item = Snapshot(item, empty: false) });
    }

    private static ResponseContentPart OutputText(string text) => new() { Type = "output_text", Text = text, Annotations = [], Logprobs = [] };

    /// <summary>A copy of <paramref name="item"/> as it stands (or as it began, empty), for an event written after later steps change the item.</summary>
    private static ResponseItem Snapshot(ResponseItem item, bool empty) => new()
    {
        Type = item.Type, Id = item.Id, Status = item.Status, Role = item.Role, CallId = item.CallId, Name = item.Name,
        Arguments = item.Arguments is null ? null : empty ? "" : item.Arguments,
        Summary = item.Summary is null ? null : empty ? [] : item.Summary.Select(Copy).ToList(),
        Content = item.Content is null ? null : empty ? [] : item.Content.Select(Copy).ToList(),
    };

    private static ResponseContentPart Copy(ResponseContentPart part) => new()
    {
        Type = part.Type, Text = part.Text, Annotations = part.Annotations is null ? null : [], Logprobs = part.Logprobs is null ? null : [],
    };

    /// <summary>OpenAI's call id shape (<c>call_…</c>) for the builder's <c>toolu_…</c>.</summary>
    private static string CallId(string toolUseId) => toolUseId.StartsWith("toolu_", StringComparison.Ordinal) ? "call_" + toolUseId[6..] : toolUseId;

    internal static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..24];

    /// <summary>status / incomplete_details of a finished generation: completed, or incomplete when it ran out of tokens.</summary>
    public static (string Status, ResponseIncompleteDetails? Details) Outcome(GenerationStream stream) => stream.Finish switch
    {
        FinishReason.Length => ("incomplete", new ResponseIncompleteDetails { Reason = "max_output_tokens" }),
        FinishReason.Cancelled => ("failed", null),
        _ => ("completed", null),
    };

    /// <summary>The output items as the JSON input items they are when a conversation continues.</summary>
    public static JsonArray AsInputItems(List<ResponseItem> output)
        => System.Text.Json.JsonSerializer.SerializeToNode(output, ServerJsonContext.Web.ListResponseItem)!.AsArray();
}
