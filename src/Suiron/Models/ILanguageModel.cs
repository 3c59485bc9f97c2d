using Suiron.Inference;

namespace Suiron.Models;

/// <summary>
/// A causal language model: tokens in, next-token logits out, with a <see cref="KvCache"/> carrying the sequence.
/// One <see cref="Forward"/> at a time per model (the model owns its scratch buffers); sequences differ by cache.
/// </summary>
public interface ILanguageModel : IDisposable
{
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
        for (int i = 0; i < items.Length; i++)
            Forward(items[i].Tokens.Span, items[i].Cache, logits.Slice(i * vocab, vocab));
    }
}

/// <summary>One sequence's share of a <see cref="ILanguageModel.ForwardBatch"/> step: its new tokens and its cache.</summary>
public readonly record struct SequenceTokens(ReadOnlyMemory<int> Tokens, KvCache Cache)
{
    /// <summary>Checks every item before any work, so a failing batch leaves every cache as it was.</summary>
    internal static void Validate(ReadOnlySpan<SequenceTokens> items, int logitsLength, int vocab)
    {
        if ((long)items.Length * vocab > logitsLength)
            throw new ArgumentException($"The logits buffer holds {logitsLength} floats; {(long)items.Length * vocab} are needed.", nameof(logitsLength));
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
