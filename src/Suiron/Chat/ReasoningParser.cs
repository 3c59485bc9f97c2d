namespace Suiron.Chat;

/// <summary>The text of a generation split into the model's reasoning and its answer.</summary>
public readonly record struct ReasoningSplit(string Reasoning, string Content)
{
    /// <summary>True when neither part holds text.</summary>
    public bool IsEmpty => Reasoning.Length == 0 && Content.Length == 0;
}

/// <summary>
/// The tags a model family marks its reasoning with: <see cref="Open"/>…<see cref="Close"/> around the thinking, and for
/// families that also wrap the answer (Hunyuan-A13B: <c>&lt;answer&gt;</c>…<c>&lt;/answer&gt;</c>) the answer's tags,
/// which are not part of the answer.
/// </summary>
public sealed record ReasoningTags(string Open, string Close, string? AnswerOpen = null, string? AnswerClose = null)
{
    /// <summary><c>&lt;think&gt;</c>…<c>&lt;/think&gt;</c>, the answer unwrapped (DeepSeek-R1, Qwen3, GLM …).</summary>
    public static ReasoningTags Think { get; } = new(ReasoningParser.DefaultOpenTag, ReasoningParser.DefaultCloseTag);

    /// <summary>Hunyuan-A13B: <c>&lt;think&gt;\n…\n&lt;/think&gt;\n&lt;answer&gt;\n…\n&lt;/answer&gt;</c>, as vLLM's hunyuan_a13b reasoning parser reads it.</summary>
    public static ReasoningTags HunyuanAnswer { get; } = new(ReasoningParser.DefaultOpenTag, ReasoningParser.DefaultCloseTag, "<answer>", "</answer>");

    /// <summary>
    /// ERNIE-4.5 Thinking: <c>…\n&lt;/think&gt;\n\n&lt;response&gt;\n…\n&lt;/response&gt;</c>, or the answer unwrapped after
    /// <c>&lt;/think&gt;</c>, as vLLM's ernie45 reasoning parser reads it.
    /// </summary>
    public static ReasoningTags ErnieResponse { get; } = new(ReasoningParser.DefaultOpenTag, ReasoningParser.DefaultCloseTag, "<response>", "</response>");

    /// <summary>
    /// The tags of the family whose chat template is <paramref name="templateSource"/>; <paramref name="hasToken"/> tells
    /// whether the model's vocabulary holds a text as one special token (ERNIE's answer tags are).
    /// </summary>
    public static ReasoningTags Detect(string templateSource, Func<string, bool>? hasToken = null)
    {
        ArgumentNullException.ThrowIfNull(templateSource);
        // Hunyuan-A13B's template, recognized by its turn markers as llama.cpp recognizes the hunyuan-moe template.
        if (templateSource.Contains("<|extra_4|>", StringComparison.Ordinal) && templateSource.Contains("<|extra_0|>", StringComparison.Ordinal))
            return HunyuanAnswer;
        // ERNIE-4.5 Thinking, recognized as vLLM's ernie45 parser finds it: <response> and </response> in the vocabulary.
        if (hasToken is not null && hasToken("<response>") && hasToken("</response>")) return ErnieResponse;
        return Think;
    }
}

/// <summary>
/// Splits streamed output of a reasoning model (DeepSeek-R1 distills, Qwen3, QwQ …) into the thinking between
/// <c>&lt;think&gt;</c> and <c>&lt;/think&gt;</c> and the answer after it. The tags may arrive split over several
/// pieces; text that could still be part of a tag is held back until it is decided. As llama.cpp does, only a
/// reasoning block at the start of the output counts (a later <c>&lt;think&gt;</c> is answer text), whitespace around
/// the reasoning and between it and the answer is dropped, and the output may start inside the block when the prompt
/// already opened it (<see cref="ReasoningParser(bool, string, string)"/>'s <c>startsInReasoning</c>). With answer tags
/// (<see cref="ReasoningTags.AnswerOpen"/>), an answer that opens with the tag loses it, the whitespace after it, its
/// closing tag and the whitespace around that.
/// One parser per generation; not thread-safe.
/// </summary>
public sealed class ReasoningParser
{
    /// <summary>The tag that opens a reasoning block unless the template names another.</summary>
    public const string DefaultOpenTag = "<think>";
    /// <summary>The tag that closes a reasoning block unless the template names another.</summary>
    public const string DefaultCloseTag = "</think>";

    private enum State { Start, Reasoning, AfterReasoning, AnswerStart, Answer, AfterAnswer, Content }

    private readonly string _open, _close;
    private readonly string? _answerOpen, _answerClose;
    private State _state;
    private string _pending = "";
    private bool _reasoningStarted, _answerStarted;

    /// <summary>A parser; <paramref name="startsInReasoning"/> when the prompt already opened the reasoning block.</summary>
    public ReasoningParser(bool startsInReasoning = false, string openTag = DefaultOpenTag, string closeTag = DefaultCloseTag)
    {
        ArgumentException.ThrowIfNullOrEmpty(openTag);
        ArgumentException.ThrowIfNullOrEmpty(closeTag);
        _open = openTag;
        _close = closeTag;
        _state = startsInReasoning ? State.Reasoning : State.Start;
    }

    /// <summary>A parser for a family's <paramref name="tags"/>; <paramref name="startsInReasoning"/> when the prompt already opened the reasoning block.</summary>
    public ReasoningParser(bool startsInReasoning, ReasoningTags tags) : this(startsInReasoning, (tags ?? throw new ArgumentNullException(nameof(tags))).Open, tags.Close)
    {
        if (tags.AnswerOpen is { Length: > 0 } && tags.AnswerClose is { Length: > 0 })
        {
            _answerOpen = tags.AnswerOpen;
            _answerClose = tags.AnswerClose;
        }
    }

    /// <summary>The state the answer starts in: deciding whether it opens with the answer tag, when the family has one.</summary>
    private State AnswerBegins => _answerOpen is null ? State.Content : State.AnswerStart;

    /// <summary>Whether the generation is inside its reasoning block now.</summary>
    public bool InReasoning => _state == State.Reasoning;

    /// <summary>Splits a whole output at once.</summary>
    public static ReasoningSplit Split(string text, bool startsInReasoning = false) => Split(text, startsInReasoning, ReasoningTags.Think);

    /// <summary>Splits a whole output of a family with <paramref name="tags"/> at once.</summary>
    public static ReasoningSplit Split(string text, bool startsInReasoning, ReasoningTags tags)
    {
        var parser = new ReasoningParser(startsInReasoning, tags);
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
                        _state = AnswerBegins;
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
                    if (buffer.Length > 0) _state = AnswerBegins;
                    continue;
                case State.AnswerStart:
                    {
                        string trimmed = buffer.TrimStart();
                        if (trimmed.StartsWith(_answerOpen!, StringComparison.Ordinal))
                        {
                            _state = State.Answer;
                            buffer = trimmed[_answerOpen!.Length..];
                            continue;
                        }
                        if (trimmed.Length == 0 || _answerOpen!.StartsWith(trimmed, StringComparison.Ordinal))
                        {
                            _pending = buffer; // whitespace or a partial answer tag: undecided
                            return new ReasoningSplit(reasoning, content);
                        }
                        _state = State.Content;
                        continue;
                    }
                case State.Answer:
                    {
                        if (!_answerStarted)
                        {
                            buffer = buffer.TrimStart();
                            if (buffer.Length == 0) return new ReasoningSplit(reasoning, content);
                            _answerStarted = true;
                        }
                        int close = buffer.IndexOf(_answerClose!, StringComparison.Ordinal);
                        if (close >= 0)
                        {
                            content += buffer[..close].TrimEnd();
                            buffer = buffer[(close + _answerClose!.Length)..];
                            _state = State.AfterAnswer;
                            continue;
                        }
                        // Hold back a possible partial closing tag and the whitespace before it (dropped if the tag follows).
                        int end = buffer.Length - PartialSuffix(buffer, _answerClose!);
                        while (end > 0 && char.IsWhiteSpace(buffer[end - 1])) end--;
                        content += buffer[..end];
                        _pending = buffer[end..];
                        return new ReasoningSplit(reasoning, content);
                    }
                case State.AfterAnswer:
                    // The line break a family writes after its closing answer tag is not answer text.
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
            State.Start or State.AnswerStart => new ReasoningSplit("", rest),
            State.Answer => new ReasoningSplit("", _answerStarted ? rest.TrimEnd() : ""),
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
