using Suiron.Inference;

namespace Suiron.Models;

/// <summary>
/// What every decoder-style model does around its own pass: check the arguments of
/// <see cref="ILanguageModel.Forward"/> before anything is written (so a bad call never corrupts a cache), then split a
/// long prompt into passes of at most <c>maxBatch</c> tokens, asking for logits only where the caller wants them.
/// </summary>
internal static class ForwardPasses
{
    /// <summary>One pass over at most <c>maxBatch</c> tokens; <paramref name="outputRows"/> = how many final rows need logits (0, 1 or all).</summary>
    public delegate void Pass(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, int outputRows);

    public static void Run(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits,
        int vocab, int layers, int keyWidth, int valueWidth, int maxBatch, Pass pass)
    {
        Check(tokens, cache, logits.Length, allLogits, vocab, layers, keyWidth, valueWidth);
        for (int start = 0; start < tokens.Length; start += maxBatch)
        {
            int count = Math.Min(maxBatch, tokens.Length - start);
            bool isLast = start + count == tokens.Length;
            int outputRows = allLogits ? count : isLast ? 1 : 0;
            Span<float> passLogits = allLogits ? logits.Slice(start * vocab, count * vocab) : isLast ? logits[..vocab] : default;
            pass(tokens.Slice(start, count), cache, passLogits, outputRows);
        }
    }

    /// <summary>Throws, touching nothing, where <see cref="Run"/>'s arguments do not fit: empty tokens, a cache of another
    /// shape or without room, a token outside the vocabulary, too small a logits buffer.</summary>
    public static void Check(ReadOnlySpan<int> tokens, KvCache cache, int logitsLength, bool allLogits, int vocab, int layers, int keyWidth, int valueWidth)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.IsEmpty) throw new ArgumentException("No tokens to evaluate.", nameof(tokens));
        if (cache.LayerCount != layers || cache.KeyWidth != keyWidth || cache.ValueWidth != valueWidth)
            throw new ArgumentException("The cache was created by a model of another shape.", nameof(cache));
        foreach (int token in tokens)
            if ((uint)token >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {token} is outside the vocabulary of {vocab}.");
        long needed = allLogits ? (long)tokens.Length * vocab : vocab;
        if (logitsLength < needed)
            throw new ArgumentException($"The logits buffer holds {logitsLength} floats; {needed} are needed.", "logits");
        cache.EnsureRoom(tokens.Length);
    }
}
