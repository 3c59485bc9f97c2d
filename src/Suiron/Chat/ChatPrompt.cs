using System.Text.Json.Nodes;
using Suiron.Gguf;
using Suiron.Tokenization;

namespace Suiron.Chat;

/// <summary>
/// A conversation → the prompt text and tokens a model expects: the model's chat template (GGUF
/// <c>tokenizer.chat_template</c>, or ChatML when the file has none, as llama.cpp falls back to) rendered with
/// <c>bos_token</c>/<c>eos_token</c>, then tokenized with special tokens parsed. As llama.cpp does, a BOS that the
/// template writes itself is not added a second time. Thread-safe.
/// </summary>
public sealed class ChatPrompt
{
    /// <summary>The GGUF metadata key of a model's chat template.</summary>
    public const string TemplateKey = "tokenizer.chat_template";

    private readonly Tokenizer _tokenizer;
    private readonly string _bos, _eos;

    /// <summary>A prompt builder over <paramref name="template"/> that encodes with <paramref name="tokenizer"/>.</summary>
    public ChatPrompt(ChatTemplate template, Tokenizer tokenizer, bool isFallback = false)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(tokenizer);
        Template = template;
        _tokenizer = tokenizer;
        IsFallback = isFallback;
        var vocabulary = tokenizer.Vocabulary;
        _bos = vocabulary.BosId >= 0 ? vocabulary.Tokens[vocabulary.BosId] : "";
        _eos = vocabulary.EosId >= 0 ? vocabulary.Tokens[vocabulary.EosId] : "";
        SupportsReasoning = template.Source.Contains(ReasoningParser.DefaultOpenTag, StringComparison.Ordinal);
        ReasoningTags = ReasoningTags.Detect(template.Source, token => vocabulary.IdOf(token) is var id && id >= 0
            && vocabulary.Kinds[id] is TokenKind.Control or TokenKind.UserDefined);
    }

    /// <summary>The model's template, or ChatML with <see cref="IsFallback"/> set when the file has none.</summary>
    public static ChatPrompt FromGguf(GgufFile file, Tokenizer tokenizer)
    {
        string? source = file.GetStringOrNull(TemplateKey);
        return source is null ? new ChatPrompt(ChatTemplate.ChatMLFallback, tokenizer, isFallback: true) : new ChatPrompt(new ChatTemplate(source), tokenizer);
    }

    /// <summary>The chat template in use.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The file has no chat template; ChatML is used, which a model not trained on it may not follow.</summary>
    public bool IsFallback { get; }

    /// <summary>How this model writes tool calls, from its template (the generic JSON format for templates that know no tools).</summary>
    public ToolCallFormat ToolFormat => _toolFormat ??= IsFallback ? ToolCallFormat.Generic : ToolCallFormat.Detect(Template.Source);
    private ToolCallFormat? _toolFormat;

    /// <summary>The vocabulary's tokens for <see cref="ToolFormat"/>'s markers: generation prints them as text when tools are on.</summary>
    public IReadOnlySet<int> ToolTokens => _toolTokens ??= ToolFormat.MarkerTokens
        .Select(marker => _tokenizer.Vocabulary.IdOf(marker)).Where(id => id >= 0).ToHashSet();
    private IReadOnlySet<int>? _toolTokens;

    /// <summary>The template knows <c>&lt;think&gt;</c> blocks: the output's reasoning is split from its answer.</summary>
    public bool SupportsReasoning { get; }

    /// <summary>The tags this model's family marks its reasoning (and, for some, its answer) with.</summary>
    public ReasoningTags ReasoningTags { get; }

    /// <summary>A parser that splits one generation's reasoning from its answer, with this family's tags.</summary>
    public ReasoningParser NewReasoningParser(bool startsInReasoning) => new(startsInReasoning, ReasoningTags);

    /// <summary>
    /// Renders <paramref name="messages"/> (OpenAI-shaped: role, content as a string or a list of parts …) ending with
    /// the assistant's turn opened. <paramref name="variables"/> adds template variables (tools, enable_thinking …).
    /// Throws <see cref="TemplateException"/> when the template raises (e.g. roles out of order).
    /// </summary>
    public string Render(JsonArray messages, bool addGenerationPrompt = true, IEnumerable<KeyValuePair<string, JsonNode?>>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var context = new TemplateContext()
            .Set("messages", messages)
            .Set("add_generation_prompt", addGenerationPrompt)
            .Set("bos_token", _bos)
            .Set("eos_token", _eos);
        if (variables is not null)
            foreach (var (name, value) in variables) context.Set(name, value);
        string text = Template.Render(context);
        if (_tokenizer.Vocabulary.AddBos && _bos.Length > 0 && text.StartsWith(_bos, StringComparison.Ordinal)) text = text[_bos.Length..];
        return text;
    }

    /// <summary>The tokens of a rendered prompt (BOS added as the vocabulary asks, special-token text parsed).</summary>
    public int[] Encode(string renderedPrompt) => _tokenizer.Encode(renderedPrompt, addSpecial: true, parseSpecial: true);

    /// <summary>
    /// A budget of <paramref name="tokens"/> reasoning tokens for a generation from <paramref name="renderedPrompt"/>:
    /// the block is closed with <c>&lt;/think&gt;</c> (as the vocabulary tokenizes it) once they are spent.
    /// </summary>
    public Inference.ReasoningBudget ReasoningBudget(int tokens, string renderedPrompt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        return new Inference.ReasoningBudget(tokens,
            _tokenizer.Encode(ReasoningParser.DefaultOpenTag, addSpecial: false, parseSpecial: true),
            _tokenizer.Encode(ReasoningParser.DefaultCloseTag, addSpecial: false, parseSpecial: true),
            StartsInReasoning(renderedPrompt));
    }

    /// <summary>Whether generation begins inside a reasoning block: the rendered prompt itself opened <c>&lt;think&gt;</c> (R1 distills do).</summary>
    public bool StartsInReasoning(string renderedPrompt)
        => SupportsReasoning && renderedPrompt.TrimEnd().EndsWith(ReasoningParser.DefaultOpenTag, StringComparison.Ordinal);
}
