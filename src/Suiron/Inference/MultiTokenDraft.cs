using System.Runtime.CompilerServices;
using Suiron.Models;

namespace Suiron.Inference;

/// <summary>
/// Drafting with the model's own multi-token-prediction head (<see cref="SpeculationOptions.MultiTokenPrediction"/>), the way
/// llama.cpp's draft-mtp speculation does it. The head's cache follows the sequence's: its row at position p pairs token p
/// with the model's hidden state at p − 1, so every token the model evaluates is recorded here with its hidden state and
/// handed to the head before the next draft, in one pass with the draft's seed row (the token just sampled, with the hidden
/// state of the last evaluated one); chained rows then feed each draft token back with the head's own output state.
/// Rows of rejected draft tokens are dropped: what the head holds never depends on a rejected draft, so the drafts (not
/// the output, which the model's own logits decide) are those of llama.cpp's driver.
/// One per (model, sequence cache): a chat that keeps its cache keeps its head's cache too, and so does a serving slot
/// (<see cref="For"/>); the generator and the scheduler drive it alike.
/// </summary>
internal sealed class MultiTokenDraft
{
    private static readonly ConditionalWeakTable<KvCache, MultiTokenDraft> Drafts = new();

    private readonly IMultiTokenPredictor _head;
    private readonly ILanguageModel _model;
    private readonly KvCache _headCache;
    private readonly int _embedding;
    private readonly float[] _logits, _chained;
    private readonly float[] _pending; // the model's hidden state at position _ingested − 1; zeros where unknown (the first row, a cut-back sequence)
    // Evaluated by the model since the head last caught up: their tokens, and their hidden states row by row.
    private readonly List<int> _tokens = [];
    private float[] _hidden = [], _rows = [];
    private int[] _rowTokens = [];
    // The proposal being drafted: its tokens so far, of how many asked; the one-token row of a chained step.
    private int[] _proposal = [];
    private int _proposalLength, _proposed;
    private readonly int[] _chainToken = new int[1];
    private int _ingested;          // positions 0.._ingested − 1 hold the head's rows of evaluated tokens; rows past them are drafts'

    /// <summary>Sees a copy of every proposal, whoever drives this drafter: lets tests compare two drivers' drafts.</summary>
    internal Action<int[]>? ProposalTap { get; set; }

    private MultiTokenDraft(ILanguageModel model, IMultiTokenPredictor head, int capacity)
    {
        _model = model;
        _head = head;
        _headCache = head.CreatePredictionCache(capacity);
        _embedding = model.Info.HyperParameters.EmbeddingLength;
        _logits = new float[model.Info.VocabSize];
        _pending = new float[_embedding];
        _chained = new float[_embedding];
    }

    /// <summary>
    /// The drafter that follows <paramref name="cache"/> (made on first use). Where the sequence holds positions the head
    /// never saw (a cache filled without it), it cannot draft for this sequence and null is returned: decoding goes on
    /// without speculation. Throws when <paramref name="model"/> has no head.
    /// </summary>
    public static MultiTokenDraft? For(ILanguageModel model, KvCache cache)
    {
        if (model is not IMultiTokenPredictor { HasPredictionHead: true } head)
            throw new ArgumentException($"The model ({model.Info.Architecture}) has no multi-token-prediction block (nextn_predict_layers) that Suiron runs: MTP speculation needs a qwen35, qwen35moe or glm-dsa file that has one.");
        var draft = Drafts.GetValue(cache, c => new MultiTokenDraft(model, head, c.Capacity));
        return ReferenceEquals(draft._model, model) && draft.Resume(cache.Count) ? draft : null;
    }

    /// <summary>
    /// How many leading positions of <paramref name="cache"/> the head has seen (with their hidden states): a sequence cut
    /// back to at most this many tokens can be followed (<see cref="For"/>); 0 where no drafter follows the cache yet.
    /// </summary>
    public static int Coverage(KvCache cache) =>
        Drafts.TryGetValue(cache, out var draft) ? Math.Min(cache.Count, draft._ingested + draft._tokens.Count) : 0;

    /// <summary>
    /// <paramref name="cache"/> was cut back to its count by a user that does not draft (a request without MTP taking a
    /// slot): the head forgets what lies past it, so that tokens evaluated without it are never taken for its own.
    /// </summary>
    public static void CutBack(KvCache cache)
    {
        if (Drafts.TryGetValue(cache, out var draft)) draft.Resume(Coverage(cache));
    }

    /// <summary><paramref name="cache"/> now holds tokens from elsewhere (a restored slot): the head starts over.</summary>
    public static void Forget(KvCache cache) => Drafts.Remove(cache);

    /// <summary>Comes back to the sequence, now <paramref name="count"/> tokens long; false when the head lags behind it.</summary>
    private bool Resume(int count)
    {
        if (count < _ingested)
        {
            // Cut back (a shared prefix kept): the hidden state before the next row is no longer known.
            _ingested = count;
            Array.Clear(_pending);
        }
        int recorded = Math.Min(_tokens.Count, count - _ingested);
        _tokens.RemoveRange(recorded, _tokens.Count - recorded);
        _headCache.Truncate(Math.Min(_headCache.Count, _ingested));
        return _ingested + _tokens.Count == count;
    }

    /// <summary>The model's forward pass over <paramref name="tokens"/>, their hidden states kept for the head.</summary>
    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits)
    {
        Span<float> hidden = Record(tokens).Span;
        try
        {
            _head.ForwardWithHidden(tokens, cache, logits, allLogits, hidden);
        }
        catch
        {
            Drop(tokens.Length); // not evaluated: the cache is as it was
            throw;
        }
    }

    /// <summary>
    /// Records <paramref name="tokens"/> as evaluated by the model next and returns where their hidden states go
    /// (tokens.Length × embedding), for a pass that runs beside other sequences'
    /// (<see cref="IMultiTokenPredictor.ForwardBatchWithHidden"/>); valid until this drafter's next call.
    /// </summary>
    public Memory<float> Record(ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length, start = _tokens.Count;
        Grow(ref _hidden, (start + n) * _embedding);
        foreach (int token in tokens) _tokens.Add(token);
        return _hidden.AsMemory(start * _embedding, n * _embedding);
    }

    /// <summary>The model dropped the last <paramref name="rejected"/> tokens it evaluated (a rejected draft's).</summary>
    public void Drop(int rejected) => _tokens.RemoveRange(_tokens.Count - rejected, rejected);

    /// <summary>
    /// Hands the evaluated tokens to the head now (after a prompt, so that its rows are prompt work, not a decode step's);
    /// no draft, no logits.
    /// </summary>
    public void CatchUp()
    {
        int m = _tokens.Count, e = _embedding;
        if (m == 0 || _ingested + m > _headCache.Capacity) return;
        _headCache.Truncate(_ingested);
        Grow(ref _rowTokens, m);
        Grow(ref _rows, m * e);
        _tokens.CopyTo(_rowTokens);
        _pending.CopyTo(_rows, 0);
        _hidden.AsSpan(0, (m - 1) * e).CopyTo(_rows.AsSpan(e));
        _head.Predict(_rowTokens.AsSpan(0, m), _rows.AsSpan(0, m * e), _headCache, default, default);
        _hidden.AsSpan((m - 1) * e, e).CopyTo(_pending);
        _ingested += m;
        _tokens.Clear();
    }

    /// <summary>
    /// Catches the head up with the evaluated tokens, then drafts up to <paramref name="draft"/>.Length tokens after
    /// <paramref name="next"/> (sampled, not yet evaluated) greedily; returns how many.
    /// </summary>
    public int Propose(int next, Span<int> draft)
    {
        if (!BeginProposal(next, draft.Length, out var rows)) return 0;
        do _head.Predict(rows.Tokens.Span, rows.Hidden.Span, rows.Cache, _logits, _chained);
        while (Continue(_logits, _chained, out rows));
        Proposal.CopyTo(draft);
        return Proposal.Length;
    }

    /// <summary>
    /// Starts a proposal of <paramref name="length"/> tokens after <paramref name="next"/>, to be driven row by row
    /// (<see cref="Propose"/> for one sequence; the scheduler runs every sequence's rows in one
    /// <see cref="IMultiTokenPredictor.PredictBatch"/>): <paramref name="rows"/> are the seed rows to run (each evaluated
    /// token since the head last caught up, then the next one, each with the model's hidden state at the position before
    /// it); then <see cref="Continue"/> with their output. False when there is no room to draft.
    /// </summary>
    public bool BeginProposal(int next, int length, out HeadRows rows)
    {
        int m = _tokens.Count, e = _embedding;
        rows = default;
        if (length <= 0 || _ingested + m + length > _headCache.Capacity) return false;
        _headCache.Truncate(_ingested); // the last draft's rows
        Grow(ref _rowTokens, m + 1);
        Grow(ref _rows, (m + 1) * e);
        Grow(ref _proposal, length);
        _tokens.CopyTo(_rowTokens);
        _rowTokens[m] = next;
        _pending.CopyTo(_rows, 0);
        _hidden.AsSpan(0, m * e).CopyTo(_rows.AsSpan(e));
        if (m > 0) _hidden.AsSpan((m - 1) * e, e).CopyTo(_pending);
        _ingested += m;
        _tokens.Clear();
        (_proposalLength, _proposed) = (length, 0);
        rows = new HeadRows(_rowTokens.AsMemory(0, m + 1), _rows.AsMemory(0, (m + 1) * e), _headCache);
        return true;
    }

    /// <summary>
    /// Takes the head's output for the rows it ran (the last row's draft <paramref name="logits"/> and normed output
    /// <paramref name="nextHidden"/>): the next draft token. True with the chained row to run next (that token with the
    /// head's own output state; its row is dropped at the next proposal); false once the proposal is complete.
    /// </summary>
    public bool Continue(ReadOnlySpan<float> logits, ReadOnlySpan<float> nextHidden, out HeadRows rows)
    {
        int token = Sampling.Sampler.ArgMax(logits);
        _proposal[_proposed++] = token;
        if (_proposed == _proposalLength)
        {
            ProposalTap?.Invoke(Proposal.ToArray());
            rows = default;
            return false;
        }
        _chainToken[0] = token;
        nextHidden[.._embedding].CopyTo(_rows);
        rows = new HeadRows(_chainToken, _rows.AsMemory(0, _embedding), _headCache);
        return true;
    }

    /// <summary>The draft tokens of the proposal so far.</summary>
    public ReadOnlySpan<int> Proposal => _proposal.AsSpan(0, _proposed);

    private static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) Array.Resize(ref buffer, Math.Max(length, 2 * buffer.Length));
    }
}
