namespace Suiron.Inference;

/// <summary>
/// Speculative decoding settings (<see cref="GenerationOptions.Speculation"/>): how many tokens a draft may propose, where
/// drafts come from (n-gram lookup, a draft model, the model's multi-token-prediction head), and the n-gram sizes the
/// prompt-lookup drafter matches.
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

    /// <summary>
    /// A small model of the same vocabulary (e.g. Qwen3-0.6B for Qwen3-8B) whose greedy continuation is the draft, instead
    /// of n-gram lookup; check it with <see cref="CheckDraftVocabulary"/>. It keeps its own cache, which follows the sequence.
    /// </summary>
    public Models.ILanguageModel? DraftModel { get; init; }

    /// <summary>
    /// Drafts with the model's own multi-token-prediction block (MTP/NextN: Qwen3.5, Qwen3.5-MoE and GLM-5 (glm-dsa) files with
    /// <c>nextn_predict_layers</c>) instead of n-gram lookup, as llama.cpp's <c>--spec-type draft-mtp</c>: the head drafts the
    /// token after next from the model's last hidden state, then chains on its own output. Not with <see cref="DraftModel"/>.
    /// </summary>
    public bool MultiTokenPrediction { get; init; }

    /// <summary>
    /// Refuses a draft model whose vocabulary is not the target's, as llama.cpp does: sizes within 128 tokens of each other,
    /// the same BOS/EOS, and the same text for every token id both have (from id 5 on: control tokens may differ).
    /// </summary>
    public static void CheckDraftVocabulary(Tokenization.Vocabulary target, Tokenization.Vocabulary draft)
    {
        if (Math.Abs(target.Count - draft.Count) > 128)
            throw new ArgumentException($"The draft model's vocabulary has {draft.Count} tokens, the target's {target.Count}: they differ by more than 128.");
        if (target.BosId != draft.BosId || target.EosId != draft.EosId)
            throw new ArgumentException($"The draft model's BOS/EOS ({draft.BosId}/{draft.EosId}) are not the target's ({target.BosId}/{target.EosId}).");
        for (int id = 5; id < Math.Min(target.Count, draft.Count); id++)
            if (target.Tokens[id] != draft.Tokens[id])
                throw new ArgumentException($"Token {id} is '{draft.Tokens[id]}' in the draft model but '{target.Tokens[id]}' in the target: not the same vocabulary.");
    }

    /// <summary>Throws <see cref="ArgumentException"/> for lengths out of range.</summary>
    public void Validate()
    {
        if (DraftMin < 1 || DraftMax < DraftMin || DraftMax > 64)
            throw new ArgumentException($"The draft length must satisfy 1 ≤ draft-min ≤ draft-max ≤ 64 (got {DraftMin}, {DraftMax}).");
        if (MultiTokenPrediction && DraftModel is not null)
            throw new ArgumentException("Multi-token prediction drafts with the model's own head: it does not go with a draft model.");
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
    /// <summary>Greedy continuation by the draft model: its cache is first brought up to <paramref name="history"/>
    /// (rows past the sequence's own tokens dropped), then it decodes up to <paramref name="draft"/>.Length tokens.</summary>
    public static int ProposeWithModel(Models.ILanguageModel model, KvCache cache, ReadOnlySpan<int> history, float[] logits, int targetVocab, Span<int> draft)
    {
        // Rows beyond the accepted part of the last draft do not belong to the sequence.
        cache.Truncate(Math.Min(cache.Count, history.Length - 1));
        model.Forward(history[cache.Count..], cache, logits);
        int count = 0;
        Span<int> one = stackalloc int[1];
        while (count < draft.Length)
        {
            int next = Sampling.Sampler.ArgMax(logits);
            if ((uint)next >= (uint)targetVocab) break; // a token only the draft's vocabulary has ends the draft
            draft[count++] = next;
            if (count == draft.Length || cache.Count >= cache.Capacity) break;
            one[0] = next;
            model.Forward(one, cache, logits);
        }
        return count;
    }

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
