using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Cli.Chat;

/// <summary>How one answer went: its text split into reasoning and answer, why it ended, and what the cache saved.</summary>
/// <param name="FilledContext">The answer ended because the context had no room left (not at the per-answer limit).</param>
internal sealed record ChatTurn(string Reasoning, string Content, FinishReason Finish, int PromptTokens, int ReusedTokens, GenerationStats? Stats, bool FilledContext = false);

/// <summary>A turn that cannot run (the conversation no longer fits the context); the conversation is left as it was.</summary>
internal sealed class ChatContextFullException(string message) : Exception(message);

/// <summary>
/// One conversation with one model: every turn renders the whole conversation with the model's chat template,
/// but only the tokens after the longest prefix already in the KV cache are evaluated — a new turn usually extends
/// the previous prompt and answer, so earlier turns cost nothing. Where the rendering changed earlier text (a
/// template that drops old reasoning, a tokenization that differs from the generated tokens), the cache is cut
/// back to the shared prefix and the rest is evaluated again.
/// </summary>
internal sealed class ChatSession
{
    private readonly ILanguageModel _model;
    private readonly ChatPrompt _prompt;
    private readonly Generator _generator;
    private readonly KvCache _cache;
    private readonly JsonArray _messages = [];
    private readonly string? _system;
    private readonly bool _reuseCache;
    /// <summary>The tokens whose keys and values the cache holds, in order (the first <c>_cache.Count</c> of them count).</summary>
    private readonly List<int> _cached = [];

    public ChatSession(ILanguageModel model, Tokenizer tokenizer, ChatPrompt prompt, int contextSize, string? system, bool reuseCache = true)
    {
        _model = model;
        _prompt = prompt;
        _generator = new Generator(model, tokenizer);
        _cache = model.CreateCache(contextSize);
        _system = string.IsNullOrEmpty(system) ? null : system;
        _reuseCache = reuseCache;
        Reset();
    }

    public int ContextSize => _cache.Capacity;

    /// <summary>Tokens of the conversation in the cache now.</summary>
    public int CachedTokens => _cache.Count;

    /// <summary>Answers per turn at most (the context may end an answer sooner).</summary>
    public int MaxTokens { get; init; } = 1024;

    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Speculative decoding of the answers (prompt-lookup drafts: an answer that quotes the conversation gains most); null for none.</summary>
    public SpeculationOptions? Speculation { get; init; }

    /// <summary>Forgets the conversation (the system prompt stays) and empties the cache.</summary>
    public void Reset()
    {
        _messages.Clear();
        if (_system is not null) _messages.Add((JsonNode)Message("system", _system));
        _cache.Clear();
        _cached.Clear();
    }

    /// <summary>
    /// Adds the user's message, generates the answer and adds it to the conversation. Text is reported as it becomes
    /// final: reasoning (for models that think) and answer separately. A cancelled answer keeps what was said so far.
    /// </summary>
    public ChatTurn Send(string userText, Action<string>? onReasoning = null, Action<string>? onContent = null, CancellationToken cancellation = default)
    {
        _messages.Add((JsonNode)Message("user", userText));
        string rendered;
        int[] tokens;
        try
        {
            rendered = _prompt.Render(_messages);
            tokens = _prompt.Encode(rendered);
            if (tokens.Length >= _cache.Capacity)
                throw new ChatContextFullException($"The conversation is {tokens.Length} tokens but the context holds {_cache.Capacity}; /reset to start over, or raise --ctx-size.");
        }
        catch
        {
            _messages.RemoveAt(_messages.Count - 1);
            throw;
        }

        int reused = _reuseCache ? SharedPrefix(tokens) : 0;
        if (reused == tokens.Length) reused--; // the last prompt token must run again to give the next token's logits
        reused = _cache.ReusablePrefix(reused); // a recurrent model goes back only to a snapshot (the end of the last prompt)
        _cache.Truncate(reused);
        _cached.RemoveRange(reused, _cached.Count - reused);

        var reasoning = new System.Text.StringBuilder();
        var content = new System.Text.StringBuilder();
        var parser = _prompt.SupportsReasoning ? _prompt.NewReasoningParser(_prompt.StartsInReasoning(rendered)) : null;
        void Emit(ReasoningSplit split)
        {
            if (split.Reasoning.Length > 0) { reasoning.Append(split.Reasoning); onReasoning?.Invoke(split.Reasoning); }
            if (split.Content.Length > 0) { content.Append(split.Content); onContent?.Invoke(split.Content); }
        }

        var options = new GenerationOptions { MaxTokens = Math.Min(MaxTokens, _cache.Capacity - tokens.Length), Sampling = Sampling, Speculation = Speculation };
        var generated = new List<int>();
        FinishReason finish = FinishReason.Length;
        try
        {
            foreach (var step in _generator.Generate(tokens[reused..], options, _cache, cancellation))
            {
                if (step.Token >= 0 && step.Finish is null) generated.Add(step.Token);
                if (step.Text.Length > 0) Emit(parser is null ? new ReasoningSplit("", step.Text) : parser.Push(step.Text));
                if (step.Finish is { } f) finish = f;
            }
        }
        finally
        {
            if (parser is not null) Emit(parser.Flush());
            // The cache holds the prompt and the generated tokens that were fed back (not the final end token).
            _cached.AddRange(tokens.AsSpan(reused));
            _cached.AddRange(generated);
            if (_cached.Count > _cache.Count) _cached.RemoveRange(_cache.Count, _cached.Count - _cache.Count);
            _messages.Add((JsonNode)Message("assistant", content.ToString()));
        }
        bool filled = finish == FinishReason.Length && generated.Count < MaxTokens && tokens.Length + generated.Count >= _cache.Capacity;
        return new ChatTurn(reasoning.ToString(), content.ToString(), finish, tokens.Length, reused, _generator.LastStats, filled);
    }

    private int SharedPrefix(int[] tokens)
    {
        int limit = Math.Min(Math.Min(tokens.Length, _cached.Count), _cache.Count);
        int n = 0;
        while (n < limit && tokens[n] == _cached[n]) n++;
        return n;
    }

    private static JsonObject Message(string role, string content) => new() { ["role"] = role, ["content"] = content };
}
