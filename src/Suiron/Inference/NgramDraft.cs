namespace Suiron.Inference;

/// <summary>
/// Speculative decoding settings (<see cref="GenerationOptions.Speculation"/>): how many tokens a draft may propose, and
/// the n-gram sizes the prompt-lookup drafter matches.
/// </summary>
public sealed record SpeculationOptions
{
    /// <summary>Most tokens verified in one forward pass beside the last sampled one (llama.cpp's <c>--draft-max</c>).</summary>
    public int DraftMax { get; init; } = 8;

    /// <summary>Fewest tokens worth verifying; a shorter draft is not tried (<c>--draft-min</c>).</summary>
    public int DraftMin { get; init; } = 1;

    /// <summary>Longest suffix of the text so far that is looked up earlier in it.</summary>
    public int NgramMax { get; init; } = 4;

    /// <summary>Shortest such suffix (2: a single repeated token is too weak a hint to be worth a draft).</summary>
    public int NgramMin { get; init; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> for lengths out of range.</summary>
    public void Validate()
    {
        if (DraftMin < 1 || DraftMax < DraftMin || DraftMax > 64)
            throw new ArgumentException($"The draft length must satisfy 1 ≤ draft-min ≤ draft-max ≤ 64 (got {DraftMin}, {DraftMax}).");
        if (NgramMin < 1 || NgramMax < NgramMin)
            throw new ArgumentException($"The n-gram sizes must satisfy 1 ≤ min ≤ max (got {NgramMin}, {NgramMax}).");
    }
}

/// <summary>
/// Prompt-lookup drafting (no second model): the last n tokens of the sequence, for n from <see cref="SpeculationOptions.NgramMax"/>
/// down to <see cref="SpeculationOptions.NgramMin"/>, are looked up at their most recent earlier occurrence, and the tokens
/// that followed it there are the draft. Editing code or a document, or quoting a pasted text, repeats long runs of
/// the context, which is where this pays.
/// </summary>
internal static class NgramDraft
{
    /// <summary>Writes up to <paramref name="draft"/>.Length proposed tokens after <paramref name="history"/>; returns how many.</summary>
    public static int Propose(ReadOnlySpan<int> history, SpeculationOptions options, Span<int> draft)
    {
        for (int n = Math.Min(options.NgramMax, history.Length - 1); n >= options.NgramMin; n--)
        {
            ReadOnlySpan<int> key = history[^n..];
            // The most recent earlier occurrence, whose continuation is in the history (it ends before the key starts).
            for (int start = history.Length - n - 1; start >= 0; start--)
            {
                if (!history.Slice(start, n).SequenceEqual(key)) continue;
                int from = start + n, count = Math.Min(draft.Length, history.Length - from);
                history.Slice(from, count).CopyTo(draft);
                return count;
            }
        }
        return 0;
    }
}
