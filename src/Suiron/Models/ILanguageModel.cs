using Suiron.Inference;

namespace Suiron.Models;

/// <summary>
/// A causal language model: tokens in, next-token logits out, with a <see cref="KvCache"/> carrying the sequence.
/// One <see cref="Forward"/> at a time per model (the model owns its scratch buffers); sequences differ by cache.
/// </summary>
public interface ILanguageModel : IDisposable
{
    /// <summary>What the model is: architecture, sizes, context, cache cost.</summary>
    ModelInfo Info { get; }

    /// <summary>A cache for one sequence of up to <paramref name="maxTokens"/> tokens.</summary>
    KvCache CreateCache(int maxTokens);

    /// <summary>
    /// Evaluates <paramref name="tokens"/> at positions <c>cache.Count</c> onwards, appends their keys and values to
    /// <paramref name="cache"/>, and writes the logits of the last token into <paramref name="logits"/> (length
    /// <c>VocabSize</c>), or of every token when <paramref name="allLogits"/> (length <c>tokens.Length × VocabSize</c>).
    /// Throws <see cref="InvalidOperationException"/> without touching the cache when the tokens do not fit.
    /// </summary>
    void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits = false);

    /// <summary>
    /// Evaluates several sequences in one step (continuous batching): item i's tokens go at positions
    /// <c>items[i].Cache.Count</c> onwards of its own cache, and the logits of its last token land in
    /// <c>logits[i × VocabSize ..]</c>. Each item must have its own cache. The result equals one <see cref="Forward"/>
    /// per item; a model that can, runs all items' tokens through each weight matrix together (one weight pass per
    /// step for every sequence) and only attention per sequence. Throws without touching any cache when an item does not fit.
    /// </summary>
    void ForwardBatch(ReadOnlySpan<SequenceTokens> items, Span<float> logits)
    {
        int vocab = Info.VocabSize;
        SequenceTokens.Validate(items, logits.Length, vocab);
        int row = 0;
        for (int i = 0; i < items.Length; i++)
        {
            int rows = items[i].LogitRows;
            Forward(items[i].Tokens.Span, items[i].Cache, logits.Slice(row * vocab, rows * vocab), items[i].AllLogits);
            row += rows;
        }
    }
}

/// <summary>
/// One sequence's share of a <see cref="ILanguageModel.ForwardBatch"/> step: its new tokens and its cache. The logits of
/// its last token come back, or with <paramref name="AllLogits"/> those of every token (verifying a speculative draft):
/// the items' logits rows follow one another in item order.
/// </summary>
public readonly record struct SequenceTokens(ReadOnlyMemory<int> Tokens, KvCache Cache, bool AllLogits = false)
{
    /// <summary>Logits rows this item receives.</summary>
    public int LogitRows => AllLogits ? Tokens.Length : 1;

    /// <summary>Logits rows a batch of these items receives.</summary>
    public static int TotalLogitRows(ReadOnlySpan<SequenceTokens> items)
    {
        int rows = 0;
        foreach (var item in items) rows += item.LogitRows;
        return rows;
    }

    /// <summary>Checks every item before any work, so a failing batch leaves every cache as it was.</summary>
    internal static void Validate(ReadOnlySpan<SequenceTokens> items, int logitsLength, int vocab)
    {
        long needed = (long)TotalLogitRows(items) * vocab;
        if (needed > logitsLength)
            throw new ArgumentException($"The logits buffer holds {logitsLength} floats; {needed} are needed.", nameof(logitsLength));
        for (int i = 0; i < items.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(items[i].Cache);
            if (items[i].Tokens.IsEmpty) throw new ArgumentException($"Batch item {i} has no tokens to evaluate.");
            for (int j = 0; j < i; j++)
                if (ReferenceEquals(items[j].Cache, items[i].Cache))
                    throw new ArgumentException($"Batch items {j} and {i} share a cache; each sequence needs its own.");
            items[i].Cache.EnsureRoom(items[i].Tokens.Length);
        }
    }
}

/// <summary>A language model that can also return its final hidden states (what embeddings pool) instead of logits.</summary>
internal interface IHiddenStateModel
{
    /// <summary>Evaluates <paramref name="tokens"/> as <see cref="ILanguageModel.Forward"/> does and writes each token's
    /// hidden state after the output norm into <paramref name="hidden"/> (tokens.Length × embedding).</summary>
    void ForwardHidden(ReadOnlySpan<int> tokens, KvCache cache, Span<float> hidden);
}

/// <summary>
/// A model with a multi-token-prediction (MTP, NextN) block that drafts the token after next, as llama.cpp's MTP context
/// does: the block's row at position p reads token p and the model's hidden state at p − 1 (after the output norm,
/// llama.cpp's <c>h_nextn</c>; zeros before the first token), attends over its own one-layer cache, and its logits
/// propose token p + 1. Chained drafts feed the head's own normed output back as the next row's hidden state.
/// </summary>
internal interface IMultiTokenPredictor
{
    /// <summary>Whether the file carries the block (and the architecture runs it).</summary>
    bool HasPredictionHead { get; }

    /// <summary>The head's own cache (one attention layer) for up to <paramref name="maxTokens"/> positions.</summary>
    KvCache CreatePredictionCache(int maxTokens);

    /// <summary><see cref="ILanguageModel.Forward"/> that also writes every token's normed hidden state into
    /// <paramref name="hidden"/> (tokens.Length × embedding).</summary>
    void ForwardWithHidden(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits, Span<float> hidden);

    /// <summary>
    /// <see cref="ILanguageModel.ForwardBatch"/> that also writes, for each item i whose <paramref name="hidden"/>[i] is not
    /// empty, every one of its tokens' normed hidden states there (Tokens.Length × embedding), as
    /// <see cref="ForwardWithHidden"/> does for one sequence: the sequences that draft with the head keep theirs, the
    /// others cost nothing more. <paramref name="hidden"/> has one entry per item.
    /// </summary>
    void ForwardBatchWithHidden(ReadOnlySpan<SequenceTokens> items, Span<float> logits, ReadOnlySpan<Memory<float>> hidden);

    /// <summary>
    /// Runs the head on <paramref name="tokens"/> at positions <c>cache.Count</c> onwards, row i pairing token i with hidden
    /// row i (tokens.Length × embedding), appends their rows to <paramref name="cache"/>, and writes the last row's draft
    /// logits and its normed output (the hidden state a chained step takes) into <paramref name="logits"/> and <paramref name="nextHidden"/>;
    /// with empty <paramref name="logits"/> only the cache rows are made (catching up, no draft).
    /// </summary>
    void Predict(ReadOnlySpan<int> tokens, ReadOnlySpan<float> hidden, KvCache cache, Span<float> logits, Span<float> nextHidden);

    /// <summary>
    /// <see cref="Predict"/> for several sequences' heads at once (each item its own head cache): the head's weights are
    /// read once for all their rows. Item i's last row's draft logits and normed output land in
    /// <c>logits[i × VocabSize ..]</c> and <c>nextHidden[i × embedding ..]</c>. The result equals one
    /// <see cref="Predict"/> per item.
    /// </summary>
    void PredictBatch(ReadOnlySpan<HeadRows> items, Span<float> logits, Span<float> nextHidden);
}

/// <summary>One sequence's rows for its multi-token-prediction head (<see cref="IMultiTokenPredictor.PredictBatch"/>): tokens,
/// the hidden state each is paired with (Tokens.Length × embedding), and the head's cache they go to.</summary>
internal readonly record struct HeadRows(ReadOnlyMemory<int> Tokens, ReadOnlyMemory<float> Hidden, KvCache Cache);
