using System.Buffers;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Evaluation;

/// <summary>How <see cref="Perplexity"/> cuts and evaluates a text (llama-perplexity's <c>-c</c>, <c>-b</c>, <c>--chunks</c>).</summary>
public sealed record PerplexityOptions
{
    /// <summary>Tokens per chunk; each chunk is evaluated from an empty cache.</summary>
    public int ContextSize { get; init; } = 512;

    /// <summary>Tokens per forward pass within a chunk (at most <see cref="ContextSize"/>).</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Chunks to evaluate, or null for all the text holds.</summary>
    public int? Chunks { get; init; }
}

/// <summary>The running estimate after chunk <see cref="Index"/> (1-based), as llama-perplexity prints <c>[i]ppl,</c>.</summary>
public readonly record struct PerplexityProgress(int Index, int Chunks, double Perplexity);

/// <summary>
/// The result: <see cref="Value"/> = exp(mean negative log-likelihood) over the scored tokens, and its standard error
/// (llama-perplexity's "+/-": the standard error of the mean NLL, times the perplexity).
/// </summary>
public sealed record PerplexityResult(int Chunks, long ScoredTokens, double Value, double StandardError);

/// <summary>
/// Perplexity under llama-perplexity's protocol, so the numbers compare with llama.cpp's on the same file and text:
/// the text is tokenized with the model's special tokens, cut into chunks of <c>ContextSize</c> tokens (the tail that
/// does not fill a chunk is dropped; two chunks at least), each chunk's first token replaced by BOS where the vocabulary
/// adds one, evaluated from an empty cache, and only its second half scored: for positions j in
/// [ctx/2, ctx − 1), −log softmax(logits_j)[token_{j+1}] (the max subtracted, exponentials summed in double).
/// </summary>
public static class Perplexity
{
    /// <summary>The perplexity of <paramref name="model"/> on <paramref name="text"/>.</summary>
    public static PerplexityResult Evaluate(ILanguageModel model, Tokenizer tokenizer, string text, PerplexityOptions options,
        Action<PerplexityProgress>? progress = null, CancellationToken cancellation = default) =>
        Evaluate(model, tokenizer, text, options, progress, cancellation, saveTo: null);

    /// <summary>
    /// <see cref="Evaluate(ILanguageModel, Tokenizer, string, PerplexityOptions, Action{PerplexityProgress}?, CancellationToken)"/>
    /// that also writes every scored row's log-probabilities to <paramref name="path"/> (<see cref="LogProbabilityFile"/>):
    /// the base a quantized file is compared with by <see cref="KlDivergence"/>.
    /// </summary>
    public static PerplexityResult SaveBase(ILanguageModel model, Tokenizer tokenizer, string text, PerplexityOptions options, string path,
        Action<PerplexityProgress>? progress = null, CancellationToken cancellation = default) =>
        Evaluate(model, tokenizer, text, options, progress, cancellation, saveTo: path);

    private static PerplexityResult Evaluate(ILanguageModel model, Tokenizer tokenizer, string text, PerplexityOptions options,
        Action<PerplexityProgress>? progress, CancellationToken cancellation, string? saveTo)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text);
        int context = options.ContextSize;
        if (context < 4) throw new ArgumentException($"The context size must be at least 4 tokens (got {context}).");
        int[] tokens = tokenizer.Encode(text, addSpecial: true);
        if (tokens.Length < 2 * context)
            throw new ArgumentException($"The text has {tokens.Length} tokens; perplexity with a context of {context} needs at least {2 * context} (two chunks).");
        int available = tokens.Length / context;
        int chunks = options.Chunks is { } wanted && wanted > 0 ? Math.Min(wanted, available) : available;
        int? bos = tokenizer.Vocabulary.AddBos ? tokenizer.Vocabulary.BosId : null;
        int vocab = model.Info.VocabSize;

        BinaryWriter? writer = saveTo is null ? null : LogProbabilityFile.Create(saveTo, context, vocab, chunks, tokens.AsSpan(0, chunks * context));
        float[]? row = writer is null ? null : new float[vocab];
        ushort[]? scratch = writer is null ? null : new ushort[vocab];
        var score = new NegativeLogLikelihood();
        try
        {
            Run(model, tokens, context, options.BatchSize, chunks, bos, cancellation, (logits, target) =>
            {
                if (writer is null)
                {
                    score.Add(LogSoftmax(logits, target));
                    return;
                }
                LogSoftmaxRow(logits, row!);
                score.Add(row![target]);
                LogProbabilityFile.WriteRow(writer, row, scratch!);
            }, chunk => progress?.Invoke(new PerplexityProgress(chunk, chunks, score.Perplexity)));
        }
        finally
        {
            writer?.Dispose();
        }
        return new PerplexityResult(chunks, score.Count, score.Perplexity, score.PerplexityError);
    }

    /// <summary>
    /// The chunked evaluation both <see cref="Evaluate(ILanguageModel, Tokenizer, string, PerplexityOptions, Action{PerplexityProgress}?, CancellationToken)"/>
    /// and <see cref="KlDivergence"/> run: for each chunk and each scored row, <paramref name="row"/>(logits, next token);
    /// <paramref name="chunkDone"/>(1-based chunk) after each chunk.
    /// </summary>
    internal static void Run(ILanguageModel model, int[] tokens, int context, int batchSize, int chunks, int? bos, CancellationToken cancellation,
        RowAction row, Action<int> chunkDone)
    {
        int batch = Math.Clamp(batchSize, 1, context);
        int vocab = model.Info.VocabSize, first = context / 2;
        var cache = model.CreateCache(context);
        float[] logits = ArrayPool<float>.Shared.Rent(batch * vocab);
        int[] passTokens = new int[batch];
        try
        {
            for (int c = 0; c < chunks; c++)
            {
                cancellation.ThrowIfCancellationRequested();
                int start = c * context;
                cache.Clear();
                for (int done = 0; done < context; done += batch)
                {
                    int n = Math.Min(batch, context - done);
                    tokens.AsSpan(start + done, n).CopyTo(passTokens);
                    if (done == 0 && bos is { } b) passTokens[0] = b;
                    model.Forward(passTokens.AsSpan(0, n), cache, logits.AsSpan(0, n * vocab), allLogits: true);
                    // Score the rows j of this pass with first ≤ j < context − 1 (the last row has no next token in the chunk).
                    for (int r = 0; r < n; r++)
                    {
                        int j = done + r;
                        if (j >= first && j < context - 1) row(logits.AsSpan(r * vocab, vocab), tokens[start + j + 1]);
                    }
                }
                chunkDone(c + 1);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(logits);
        }
    }

    internal delegate void RowAction(ReadOnlySpan<float> logits, int target);

    /// <summary>log softmax(logits)[token], as llama-perplexity computes it: max subtracted, float exponentials summed in double.</summary>
    internal static double LogSoftmax(ReadOnlySpan<float> logits, int token)
    {
        float max = logits[0];
        for (int i = 1; i < logits.Length; i++) max = MathF.Max(max, logits[i]);
        double sum = 0;
        foreach (float l in logits) sum += MathF.Exp(l - max);
        return logits[token] - max - Math.Log(sum);
    }

    /// <summary>The whole row of log-probabilities, with <see cref="LogSoftmax"/>'s arithmetic.</summary>
    internal static void LogSoftmaxRow(ReadOnlySpan<float> logits, Span<float> logProbabilities)
    {
        float max = logits[0];
        for (int i = 1; i < logits.Length; i++) max = MathF.Max(max, logits[i]);
        double sum = 0;
        foreach (float l in logits) sum += MathF.Exp(l - max);
        double logSum = Math.Log(sum);
        for (int i = 0; i < logits.Length; i++) logProbabilities[i] = (float)(logits[i] - max - logSum);
    }
}

/// <summary>Σ and Σ² of −log p over scored tokens: the perplexity and llama-perplexity's error estimate of it.</summary>
internal sealed class NegativeLogLikelihood
{
    private double _sum, _squares;

    public long Count { get; private set; }

    public void Add(double logProbability)
    {
        _sum -= logProbability;
        _squares += logProbability * logProbability;
        Count++;
    }

    public double Mean => _sum / Count;

    public double Perplexity => Math.Exp(Mean);

    /// <summary>Standard error of the mean NLL, times the perplexity (llama-perplexity's "+/-").</summary>
    public double PerplexityError
    {
        get
        {
            double variance = _squares / Count - Mean * Mean;
            return variance > 0 && Count > 1 ? Math.Sqrt(variance / (Count - 1)) * Perplexity : 0;
        }
    }
}
