namespace Suiron.Chat;

/// <summary>The text of a generation split into the model's reasoning and its answer.</summary>
public readonly record struct ReasoningSplit(string Reasoning, string Content)
{
    /// <summary>True when neither part holds text.</summary>
    public bool IsEmpty => Reasoning.Length == 0 && Content.Length == 0;
}

/// <summary>
/// Splits streamed output of a reasoning model (DeepSeek-R1 distills, Qwen3, QwQ …) into the thinking between
/// <c>&lt;think&gt;</c> and <c>&lt;/think&gt;</c> and the answer after it. The tags may arrive split over several
/// pieces; text that could still be part of a tag is held back until it is decided. As llama.cpp does, only a
/// reasoning block at the start of the output counts (a later <c>&lt;think&gt;</c> is answer text), whitespace around
/// the reasoning and between it and the answer is dropped, and the output may start inside the block when the prompt
/// already opened it (<see cref="ReasoningParser(bool, string, string)"/>'s <c>startsInReasoning</c>).
/// One parser per generation; not thread-safe.
/// </summary>
public sealed class ReasoningParser
{
    /// <summary>The tag that opens a reasoning block unless the template names another.</summary>
    public const string DefaultOpenTag = "<think>";
    /// <summary>The tag that closes a reasoning block unless the template names another.</summary>
    public const string DefaultCloseTag = "</think>";

    private enum State { Start, Reasoning, AfterReasoning, Content }

    private readonly string _open, _close;
    private State _state;
    private string _pending = "";
    private bool _reasoningStarted;

    /// <summary>A parser; <paramref name="startsInReasoning"/> when the prompt already opened the reasoning block.</summary>
    public ReasoningParser(bool startsInReasoning = false, string openTag = DefaultOpenTag, string closeTag = DefaultCloseTag)
    {
        ArgumentException.ThrowIfNullOrEmpty(openTag);
        ArgumentException.ThrowIfNullOrEmpty(closeTag);
        _open = openTag;
        _close = closeTag;
        _state = startsInReasoning ? State.Reasoning : State.Start;
    }

    /// <summary>Whether the generation is inside its reasoning block now.</summary>
    public bool InReasoning => _state == State.Reasoning;

    /// <summary>Splits a whole output at once.</summary>
    public static ReasoningSplit Split(string text, bool startsInReasoning = false)
    {
        var parser = new ReasoningParser(startsInReasoning);
        var a = parser.Push(text);
        var b = parser.Flush();
        return new ReasoningSplit(a.Reasoning + b.Reasoning, a.Content + b.Content);
    }

    /// <summary>Adds generated text; returns the reasoning and answer text that are now final.</summary>
    public ReasoningSplit Push(string text)
    {
        string buffer = _pending + text;
        _pending = "";
        string reasoning = "", content = "";
        while (buffer.Length > 0)
        {
            switch (_state)
            {
                case State.Start:
                    {
                        string trimmed = buffer.TrimStart();
                        if (trimmed.StartsWith(_open, StringComparison.Ordinal))
                        {
                            _state = State.Reasoning;
                            buffer = trimmed[_open.Length..];
                            continue;
                        }
                        if (trimmed.Length == 0 || _open.StartsWith(trimmed, StringComparison.Ordinal))
                        {
                            _pending = buffer; // whitespace or a partial opening tag: undecided
                            return new ReasoningSplit(reasoning, content);
                        }
                        _state = State.Content;
                        continue;
                    }
                case State.Reasoning:
                    {
                        if (!_reasoningStarted)
                        {
                            buffer = buffer.TrimStart();
                            if (buffer.Length == 0) return new ReasoningSplit(reasoning, content);
                            _reasoningStarted = true;
                        }
                        int close = buffer.IndexOf(_close, StringComparison.Ordinal);
                        if (close >= 0)
                        {
                            reasoning += buffer[..close].TrimEnd();
                            buffer = buffer[(close + _close.Length)..];
                            _state = State.AfterReasoning;
                            continue;
                        }
                        // Hold back a possible partial closing tag and the whitespace before it (dropped if the tag follows).
                        int end = buffer.Length - PartialSuffix(buffer, _close);
                        while (end > 0 && char.IsWhiteSpace(buffer[end - 1])) end--;
                        reasoning += buffer[..end];
                        _pending = buffer[end..];
                        return new ReasoningSplit(reasoning, content);
                    }
                case State.AfterReasoning:
                    buffer = buffer.TrimStart();
                    if (buffer.Length > 0) _state = State.Content;
                    continue;
                default:
                    content += buffer;
                    buffer = "";
                    break;
            }
        }
        return new ReasoningSplit(reasoning, content);
    }

    /// <summary>Releases held-back text at the end of generation (an unclosed reasoning block stays reasoning).</summary>
    public ReasoningSplit Flush()
    {
        string rest = _pending;
        _pending = "";
        return _state switch
        {
            State.Reasoning => new ReasoningSplit(_reasoningStarted ? rest.TrimEnd() : "", ""),
            State.Start => new ReasoningSplit("", rest),
            _ => new ReasoningSplit("", ""),
        };
    }

    /// <summary>Length of the longest proper prefix of <paramref name="tag"/> that <paramref name="text"/> ends with.</summary>
    private static int PartialSuffix(string text, string tag)
    {
        for (int length = Math.Min(tag.Length - 1, text.Length); length > 0; length--)
            if (text.AsSpan(text.Length - length).SequenceEqual(tag.AsSpan(0, length))) return length;
        return 0;
    }
}
