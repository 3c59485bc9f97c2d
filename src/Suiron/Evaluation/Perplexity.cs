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
    public static PerplexityResult Evaluate(ILanguageModel model, Tokenizer tokenizer, string text, PerplexityOptions options,
        Action<PerplexityProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text);
        int context = options.ContextSize, batch = Math.Min(options.BatchSize, context);
        if (context < 4) throw new ArgumentException($"The context size must be at least 4 tokens (got {context}).");
        if (batch < 1) throw new ArgumentException($"The batch size must be at least 1 (got {options.BatchSize}).");
        int[] tokens = tokenizer.Encode(text, addSpecial: true);
        if (tokens.Length < 2 * context)
            throw new ArgumentException($"The text has {tokens.Length} tokens; perplexity with a context of {context} needs at least {2 * context} (two chunks).");
        int available = tokens.Length / context;
        int chunks = options.Chunks is { } wanted && wanted > 0 ? Math.Min(wanted, available) : available;
        int? bos = tokenizer.Vocabulary.AddBos ? tokenizer.Vocabulary.BosId : null;

        int vocab = model.Info.VocabSize, first = context / 2;
        var cache = model.CreateCache(context);
        float[] logits = ArrayPool<float>.Shared.Rent(batch * vocab);
        int[] passTokens = new int[batch];
        double nll = 0, nll2 = 0;
        long count = 0;
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
                    for (int row = 0; row < n; row++)
                    {
                        int j = done + row;
                        if (j < first || j >= context - 1) continue;
                        double logProbability = LogSoftmax(logits.AsSpan(row * vocab, vocab), tokens[start + j + 1]);
                        nll -= logProbability;
                        nll2 += logProbability * logProbability;
                        count++;
                    }
                }
                progress?.Invoke(new PerplexityProgress(c + 1, chunks, Math.Exp(nll / count)));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(logits);
        }
        double mean = nll / count, variance = nll2 / count - mean * mean;
        double perplexity = Math.Exp(mean);
        double error = variance > 0 && count > 1 ? Math.Sqrt(variance / (count - 1)) * perplexity : 0;
        return new PerplexityResult(chunks, count, perplexity, error);
    }

    /// <summary>log softmax(logits)[token], as llama-perplexity computes it: max subtracted, float exponentials summed in double.</summary>
    internal static double LogSoftmax(ReadOnlySpan<float> logits, int token)
    {
        float max = logits[0];
        for (int i = 1; i < logits.Length; i++) max = MathF.Max(max, logits[i]);
        double sum = 0;
        foreach (float l in logits) sum += MathF.Exp(l - max);
        return logits[token] - max - Math.Log(sum);
    }
}
