using Suiron.Inference;

namespace Suiron.Models;

/// <summary>
/// Consecutive rows of a pass that belong to one sequence: rows <see cref="Start"/>.. of the pass go to positions
/// <see cref="FirstPosition"/>.. of <see cref="Cache"/>. Where <see cref="Hidden"/> is not empty, the rows' normed hidden
/// states (after the output norm, Count × embedding) are wanted there too: a multi-token-prediction head reads them.
/// </summary>
internal readonly record struct SequenceSegment(KvCache Cache, int Start, int Count, int FirstPosition, Memory<float> Hidden = default)
{
    /// <summary>Σ over the segment's rows of the positions each attends to (causal): the attention work it costs.</summary>
    public long AttendedPositions => (long)Count * FirstPosition + (long)Count * (Count + 1) / 2;
}

/// <summary>A row of a pass whose logits are wanted, and the row of the step's logits buffer they go to.</summary>
internal readonly record struct OutputRow(int PassRow, int Destination);

/// <summary>
/// What every model's <see cref="ILanguageModel.ForwardBatch"/> does around its own pass (continuous batching): check
/// every item before anything is written, then lay the sequences' tokens end to end into passes of at most
/// <c>maxBatch</c> rows — one weight pass serves every sequence — and collect the logits of each item's last token.
/// </summary>
internal static class SequenceBatches
{
    /// <summary>
    /// One pass of several sequences' rows; writes the logits of each of <paramref name="outputs"/>' rows of the pass into
    /// its row of <paramref name="logits"/> (the whole step's buffer).
    /// </summary>
    public delegate void Pass(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments, ReadOnlySpan<OutputRow> outputs, Span<float> logits);

    /// <summary>Checks the items (own caches of this model's shape, room for their tokens, token ids in the vocabulary).</summary>
    public static void Validate(ReadOnlySpan<SequenceTokens> items, int logitsLength, int vocab, int layers, int keyWidth, int valueWidth)
    {
        SequenceTokens.Validate(items, logitsLength, vocab);
        foreach (var item in items)
        {
            KvCache cache = item.Cache;
            if (cache.LayerCount != layers || cache.KeyWidth != keyWidth || cache.ValueWidth != valueWidth)
                throw new ArgumentException("The cache was created by a model of another shape.", nameof(items));
            foreach (int token in item.Tokens.Span)
                if ((uint)token >= (uint)vocab)
                    throw new ArgumentOutOfRangeException(nameof(items), $"Token id {token} is outside the vocabulary of {vocab}.");
        }
    }

    /// <summary>
    /// Packs the items into passes and runs them. An item longer than the room left in a pass continues in the next
    /// one (its earlier rows are then already in its cache). <paramref name="passTokens"/> and <paramref name="segments"/>
    /// are scratch of <paramref name="maxBatch"/> entries. Where <paramref name="hidden"/> has a non-empty entry for an item
    /// (items.Length entries, each Tokens.Length × <paramref name="hiddenWidth"/>), its segments carry their share of it.
    /// </summary>
    public static void Run(ReadOnlySpan<SequenceTokens> items, Span<float> logits, int vocab, int maxBatch,
        int[] passTokens, SequenceSegment[] segments, OutputRow[] outputs, Pass pass,
        ReadOnlySpan<Memory<float>> hidden = default, int hiddenWidth = 0)
    {
        int rows = 0, segmentCount = 0, outputCount = 0, itemRow = 0;
        for (int i = 0; i < items.Length; i++)
        {
            ReadOnlySpan<int> tokens = items[i].Tokens.Span;
            KvCache cache = items[i].Cache;
            for (int done = 0; done < tokens.Length;)
            {
                int count = Math.Min(maxBatch - rows, tokens.Length - done);
                tokens.Slice(done, count).CopyTo(passTokens.AsSpan(rows));
                Memory<float> segmentHidden = hidden.IsEmpty || hidden[i].IsEmpty ? default : hidden[i].Slice(done * hiddenWidth, count * hiddenWidth);
                segments[segmentCount++] = new SequenceSegment(cache, rows, count, cache.Count, segmentHidden);
                bool itemFinished = done + count == tokens.Length;
                // Every row of an all-logits item (a draft being verified); else the item's last row, in its own pass.
                if (items[i].AllLogits)
                    for (int r = 0; r < count; r++) outputs[outputCount++] = new OutputRow(rows + r, itemRow + done + r);
                else if (itemFinished)
                    outputs[outputCount++] = new OutputRow(rows + count - 1, itemRow);
                rows += count;
                done += count;
                if (rows == maxBatch || i == items.Length - 1 && itemFinished)
                {
                    pass(passTokens.AsSpan(0, rows), segments.AsSpan(0, segmentCount), outputs.AsSpan(0, outputCount), logits);
                    rows = segmentCount = outputCount = 0;
                }
            }
            itemRow += items[i].LogitRows;
        }
    }
}
