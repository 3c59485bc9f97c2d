using System.Diagnostics;
using System.Text;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Inference;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>An end-of-generation token or a stop string.</summary>
    Stop,
    /// <summary>The token limit or the context was reached.</summary>
    Length,
    /// <summary>The caller's cancellation token was cancelled.</summary>
    Cancelled,
}

/// <summary>What to generate: how many tokens, how to sample them, when to stop.</summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to generate at most (the context may end generation sooner).</summary>
    public int MaxTokens { get; init; } = 128;
    /// <summary>How each token is drawn from the model's logits.</summary>
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Generation stops before any of these strings; the string itself is not emitted.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Stop at the model's end-of-generation tokens (EOS, EOT …).</summary>
    public bool StopAtEndOfGeneration { get; init; } = true;
    /// <summary>Constrains every sampled token to this grammar (JSON schema, GBNF, a tool call); null leaves sampling free.</summary>
    public Sampling.Grammar.Grammar? Grammar { get; init; }
    /// <summary>Control tokens emitted as their text rather than hidden (tool-call markers such as DeepSeek's, which the tool-call parser reads).</summary>
    public IReadOnlySet<int>? RenderedTokens { get; init; }
    /// <summary>
    /// Speculative decoding with prompt-lookup drafts (<see cref="NgramDraft"/>), a draft model's
    /// (<see cref="SpeculationOptions.DraftModel"/>) or the model's own multi-token-prediction head's
    /// (<see cref="SpeculationOptions.MultiTokenPrediction"/>), or null for one token per forward pass.
    /// Each draft is verified in one pass and every token is still drawn by the sampler from the model's own logits, so
    /// the output is token for token what it is without speculation (same seed included). Models with recurrent layers
    /// (Qwen3-Next, Qwen3.5) go back to a copy of their state from before the pass and evaluate the accepted tokens again
    /// when a draft is rejected.
    /// </summary>
    public SpeculationOptions? Speculation { get; init; }
    /// <summary>Ends the reasoning block after this many of its tokens (forcing its closing tag); null lets the model reason as long as it likes.</summary>
    public ReasoningBudget? ReasoningBudget { get; init; }

    /// <summary>The budget's per-sequence tracker, or null where none applies (no budget, or a grammar decides every token).</summary>
    internal ReasoningBudgetTracker? TrackReasoningBudget() => Grammar is null ? ReasoningBudget?.Track() : null;
}

/// <summary>One generated token: its id, the text that became final with it (may be empty while a UTF-8 character or a possible stop string is incomplete), and the finish reason on the last step.</summary>
public readonly record struct GenerationStep(int Token, string Text, FinishReason? Finish)
{
    /// <summary>The token's log-probability and the most likely alternatives, when asked for (<see cref="GenerationRequest.Logprobs"/>).</summary>
    public TokenLogprobs? Logprobs { get; init; }
}

/// <summary>Timings of the last <see cref="Generator.Generate"/> run.</summary>
public sealed record GenerationStats(int PromptTokens, int GeneratedTokens, TimeSpan PromptTime, TimeSpan GenerationTime)
{
    /// <summary>Draft tokens proposed and accepted (speculative decoding); 0 without it.</summary>
    public int DraftTokens { get; init; }
    /// <summary>Draft tokens the model confirmed (speculative decoding).</summary>
    public int AcceptedDraftTokens { get; init; }
    /// <summary>Forward passes of the generation phase.</summary>
    public int DecodePasses { get; init; }

    /// <summary>Prompt tokens evaluated per second.</summary>
    public double PromptTokensPerSecond => PromptTokens / Math.Max(PromptTime.TotalSeconds, 1e-9);
    /// <summary>Tokens generated per second.</summary>
    public double TokensPerSecond => GeneratedTokens / Math.Max(GenerationTime.TotalSeconds, 1e-9);
}

/// <summary>
/// Prompt → tokens → model → sampler → text, for one sequence: the prompt is evaluated as one batch, then one token per
/// forward pass. Text is released only when final: split UTF-8 characters and text that might begin a stop string are held back.
/// </summary>
public sealed class Generator
{
    private readonly ILanguageModel _model;
    private readonly Tokenizer _tokenizer;

    /// <summary>A generator over <paramref name="model"/> whose text comes from <paramref name="tokenizer"/>.</summary>
    public Generator(ILanguageModel model, Tokenizer tokenizer)
    {
        _model = model;
        _tokenizer = tokenizer;
    }

    /// <summary>Counts and timings of the latest <see cref="Generate"/>, once it has finished; null before.</summary>
    public GenerationStats? LastStats { get; private set; }

    /// <summary>
    /// Undoes the rejected part of a verified draft: the cache keeps the pass's first token and the <paramref name="accepted"/>
    /// draft tokens after it. A recurrent state cannot drop tokens, so it goes back to before the pass and those tokens are
    /// evaluated again (the same arithmetic as in the pass, so the same state).
    /// </summary>
    private void DropDraft(KvCache cache, int[] pass, int drafted, int accepted, MultiTokenDraft? mtp)
    {
        mtp?.Drop(drafted - accepted);
        if (cache.DropDraft(drafted - accepted)) return;
        _model.Forward(pass.AsSpan(0, accepted + 1), cache, _redo ??= new float[_model.Info.VocabSize]);
    }

    private float[]? _redo;

    /// <summary>The model's forward pass; with a multi-token-prediction drafter, through it, which keeps the hidden states.</summary>
    private void Evaluate(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits, MultiTokenDraft? mtp)
    {
        if (mtp is null) _model.Forward(tokens, cache, logits, allLogits);
        else mtp.Forward(tokens, cache, logits, allLogits);
    }

    /// <summary>
    /// Prompt tokens the model evaluates before the head takes their rows, where a head drafts: its hidden states kept stay
    /// this long however long the prompt, and the model's passes are the same as over the whole prompt at once.
    /// </summary>
    private const int PromptChunk = Models.Decoder.MaxBatch;

    /// <summary>The model's forward pass over prompt tokens (no logits wanted but the last's); with a drafting head, chunk by
    /// chunk, the head catching up after each (its rows of the prompt are prompt work).</summary>
    private void EvaluatePrompt(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, MultiTokenDraft? mtp)
    {
        if (mtp is null)
        {
            _model.Forward(tokens, cache, logits);
            return;
        }
        for (int start = 0; start < tokens.Length; start += PromptChunk)
        {
            mtp.Forward(tokens.Slice(start, Math.Min(PromptChunk, tokens.Length - start)), cache, logits, allLogits: false);
            mtp.CatchUp();
        }
    }

    private Sampling.Grammar.GrammarVocabulary? _grammarVocabulary;

    /// <summary>Evaluates <paramref name="prompt"/> after what <paramref name="cache"/> holds, then yields one step per generated token (its text UTF-8 safe); the last step carries the finish reason.</summary>
    public IEnumerable<GenerationStep> Generate(IReadOnlyList<int> prompt, GenerationOptions options, KvCache? cache = null, CancellationToken cancellation = default)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt is empty (no tokens to start from).");
        if (options.MaxTokens < 0) throw new ArgumentException($"max tokens must be ≥ 0 (got {options.MaxTokens}).");
        int vocab = _model.Info.VocabSize;
        foreach (int t in prompt)
            if ((uint)t >= (uint)vocab) throw new ArgumentException($"Token id {t} is outside the vocabulary (0..{vocab - 1}).");
        cache ??= _model.CreateCache(Math.Min(_model.Info.ContextLength, prompt.Count + options.MaxTokens));
        if (cache.Count + prompt.Count > cache.Capacity)
            throw new ArgumentException($"The prompt has {prompt.Count} tokens but the context holds {cache.Capacity - cache.Count} more; shorten the prompt or raise the context size.");

        var sampler = new Sampler(vocab, options.Sampling,
            options.Grammar is null ? null : new Sampling.Grammar.GrammarConstraint(options.Grammar, _grammarVocabulary ??= Sampling.Grammar.GrammarVocabulary.FromTokenizer(_tokenizer)));
        var decoder = new StreamingDecoder(_tokenizer, continuesText: true, renderedTokens: options.RenderedTokens);
        var stops = new StopStringMatcher(options.Stop);
        var budget = options.TrackReasoningBudget();
        var history = new List<int>(prompt.Count + options.MaxTokens);
        history.AddRange(prompt);
        var logits = new float[vocab];
        var clock = Stopwatch.StartNew();

        SpeculationOptions? speculation = options.Speculation;
        speculation?.Validate();
        // The multi-token-prediction head follows the sequence in a cache of its own and needs every evaluated token's hidden state.
        MultiTokenDraft? mtp = speculation is { MultiTokenPrediction: true } ? MultiTokenDraft.For(_model, cache) : null;
        int[] promptTokens = prompt is int[] array ? array : prompt.ToArray();
        if (cache.Recurrent is not null && promptTokens.Length > 1)
        {
            // A recurrent state goes back only to a snapshot: take one before the last prompt token, the position a
            // follow-up prompt (this one plus the answer) shares, so the next turn resumes there (KvCache.ReusablePrefix).
            EvaluatePrompt(promptTokens.AsSpan(0, promptTokens.Length - 1), cache, logits, mtp);
            cache.Checkpoint();
            EvaluatePrompt(promptTokens.AsSpan(promptTokens.Length - 1), cache, logits, mtp);
        }
        else
        {
            EvaluatePrompt(promptTokens, cache, logits, mtp);
        }
        TimeSpan promptTime = clock.Elapsed;
        clock.Restart();
        int generated = 0;
        // The draft model follows the sequence in a cache of its own; its logits may cover a slightly smaller vocabulary.
        ILanguageModel? draftModel = speculation?.DraftModel;
        if (draftModel is not null && draftModel.CreateCache(1).RecurrentBytes > 0)
            throw new ArgumentException("The draft model keeps a recurrent state, which cannot drop rejected tokens: use an attention-only draft model.");
        KvCache? draftCache = draftModel?.CreateCache(cache.Capacity);
        float[]? draftLogits = draftModel is null ? null : new float[draftModel.Info.VocabSize];
        // Logits rows waiting to be sampled: row 0 after the last forward's first token, row i after draft token i; a row
        // past the first is valid only while the tokens sampled so far equal the draft.
        int maxDraft = speculation?.DraftMax ?? 0;
        float[] rows = maxDraft == 0 ? logits : new float[(maxDraft + 1) * vocab];
        logits.CopyTo(rows, 0);
        int[] pass = new int[maxDraft + 1];
        int row = 0, drafted = 0, draftTokens = 0, acceptedTokens = 0, passes = 0;
        try
        {
            while (true)
            {
                if (cancellation.IsCancellationRequested)
                {
                    yield return new GenerationStep(-1, stops.Flush(), FinishReason.Cancelled);
                    yield break;
                }
                if (generated >= options.MaxTokens || cache.Count - (drafted - row) >= cache.Capacity) // a pending draft's rows are not held yet
                {
                    yield return new GenerationStep(-1, stops.Push(decoder.Flush()) + stops.Flush(), FinishReason.Length);
                    yield break;
                }
                int token = budget?.Forced ?? -1;
                if (token < 0) token = sampler.Sample(rows.AsSpan(row * vocab, vocab), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                budget?.Observe(token);
                generated++;
                history.Add(token);
                bool accepted = row < drafted && token == pass[row + 1];
                if (accepted) acceptedTokens++;
                if (options.StopAtEndOfGeneration && _tokenizer.Vocabulary.EndOfGeneration.Contains(token))
                {
                    yield return new GenerationStep(token, stops.Push(decoder.Flush()) + stops.Flush(), FinishReason.Stop);
                    yield break;
                }
                string text = stops.Push(decoder.Push(token));
                if (stops.Matched)
                {
                    yield return new GenerationStep(token, text, FinishReason.Stop);
                    yield break;
                }
                yield return new GenerationStep(token, text, null);
                if (accepted)
                {
                    row++; // the draft's next row was computed after this very token
                    continue;
                }
                // Drop the cache rows of the rejected draft tokens, then one pass: the token and a new draft after it.
                if (row < drafted) DropDraft(cache, pass, drafted, row, mtp);
                pass[0] = token;
                drafted = 0;
                int room = Math.Min(Math.Min(maxDraft, cache.Capacity - cache.Count - 1), options.MaxTokens - generated - 1);
                if (speculation is not null && room >= speculation.DraftMin)
                {
                    var sequence = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history);
                    drafted = mtp is not null ? mtp.Propose(token, pass.AsSpan(1, room))
                        : speculation.MultiTokenPrediction ? 0
                        : draftModel is null
                        ? NgramDraft.Propose(sequence, speculation, pass.AsSpan(1, room))
                        : NgramDraft.ProposeWithModel(draftModel, draftCache!, sequence, draftLogits!, vocab, pass.AsSpan(1, room));
                    // A lookup draft is cut before the first token the grammar rejects (the sampler could never draw it); the
                    // draft model's and the head's are left whole, their caches having run over every token they proposed.
                    if (mtp is null && draftModel is null && !speculation.MultiTokenPrediction)
                        drafted = sampler.GrammarAllowedPrefix(pass.AsSpan(1, drafted));
                    if (drafted < speculation.DraftMin) drafted = 0;
                }
                draftTokens += drafted;
                if (drafted > 0) cache.MarkDraftBase();
                Evaluate(pass.AsSpan(0, drafted + 1), cache, rows.AsSpan(0, (drafted + 1) * vocab), drafted > 0, mtp);
                passes++;
                row = 0;
            }
        }
        finally
        {
            // A caller that keeps the cache (a chat session) finds exactly the emitted tokens in it, not a rejected draft.
            if (row < drafted) DropDraft(cache, pass, drafted, row, mtp);
            LastStats = new GenerationStats(prompt.Count, generated, promptTime, clock.Elapsed)
            {
                DraftTokens = draftTokens, AcceptedDraftTokens = acceptedTokens, DecodePasses = passes,
            };
        }
    }
}

/// <summary>
/// Finds stop strings in streamed text. Text that could still turn into a stop string is held back until it
/// cannot; once a stop string appears, everything from it on is dropped.
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly StringBuilder _pending = new();

    /// <summary>A matcher for <paramref name="stops"/> (empty strings are ignored).</summary>
    public StopStringMatcher(IReadOnlyList<string> stops) => _stops = stops.Where(s => s.Length > 0).ToArray();

    /// <summary>Whether a stop string has been found.</summary>
    public bool Matched => MatchedStop is not null;

    /// <summary>The stop string found (the first in the text; the first given on a tie), or null.</summary>
    public string? MatchedStop { get; private set; }

    /// <summary>Adds text; returns what is now safe to emit.</summary>
    public string Push(string text)
    {
        if (Matched) return "";
        if (_stops.Length == 0) return text;
        _pending.Append(text);
        string buffer = _pending.ToString();
        int first = -1;
        string? matched = null;
        foreach (string stop in _stops)
        {
            int at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) (first, matched) = (at, stop);
        }
        if (first >= 0)
        {
            MatchedStop = matched;
            _pending.Clear();
            return buffer[..first];
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        int hold = 0;
        foreach (string stop in _stops)
            for (int len = Math.Min(stop.Length - 1, buffer.Length); len > hold; len--)
                if (buffer.AsSpan(buffer.Length - len).SequenceEqual(stop.AsSpan(0, len))) { hold = len; break; }
        _pending.Clear();
        _pending.Append(buffer, buffer.Length - hold, hold);
        return buffer[..^hold];
    }

    /// <summary>Releases held-back text at the end of generation.</summary>
    public string Flush()
    {
        if (Matched) return "";
        string rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
