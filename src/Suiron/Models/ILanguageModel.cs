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
}
