using Suiron.Kernels;
using Suiron.ModelQuantization;
using Suiron.Models;
using Suiron.Tensors;
using Suiron.Tokenization;

namespace Suiron.Evaluation;

/// <summary>How <see cref="ImportanceMatrixComputation"/> cuts the calibration text (llama-imatrix's <c>-c</c>, <c>--chunks</c>).</summary>
public sealed record ImportanceMatrixOptions
{
    /// <summary>Tokens per chunk; each chunk is evaluated from an empty cache, its first token replaced by BOS.</summary>
    public int ContextSize { get; init; } = 512;

    /// <summary>Chunks to evaluate, or null for all the text holds.</summary>
    public int? Chunks { get; init; }

    /// <summary>Also collect output.weight (llama-imatrix --process-output).</summary>
    public bool ProcessOutput { get; init; }

    /// <summary>The calibration text's name, recorded in <c>imatrix.datasets</c>.</summary>
    public string Dataset { get; init; } = "";
}

/// <summary>Progress after chunk <see cref="Index"/> (1-based) of <see cref="Chunks"/>, with the running perplexity llama-imatrix prints.</summary>
public readonly record struct ImportanceMatrixProgress(int Index, int Chunks, double Perplexity);

/// <summary>
/// Computes an importance matrix the way llama-imatrix does: the calibration text tokenized with the model's special
/// tokens, cut into chunks of <c>ContextSize</c> tokens (two at least; the tail that does not fill one is dropped), each
/// chunk's first token replaced by BOS where the vocabulary adds one and evaluated from an empty cache with every row's
/// logits, and for every weight matrix of a layer (<c>blk.*</c>) that multiplies activations, per input column, the sum
/// of the squared activations and the number of rows: dense matrices over batches of 16 rows or more, expert matrices
/// per expert over the rows routed to it. The running perplexity of the chunks (all rows from the middle on) comes for free.
/// </summary>
public static class ImportanceMatrixComputation
{
    /// <exception cref="ArgumentException">The text is too short for two chunks, or the context is below 16 tokens.</exception>
    public static ImportanceMatrix Compute(ILanguageModel model, Tokenizer tokenizer, string text, ImportanceMatrixOptions options,
        Action<ImportanceMatrixProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text);
        int context = options.ContextSize;
        // llama-imatrix ignores dense matmuls of fewer than 16 rows; a shorter chunk would collect nothing but the experts.
        if (context < 16) throw new ArgumentException($"The context size must be at least 16 tokens (got {context}).");
        int[] tokens = tokenizer.Encode(text, addSpecial: true);
        if (tokens.Length < 2 * context)
            throw new ArgumentException($"The text has {tokens.Length} tokens; an importance matrix with a context of {context} needs at least {2 * context}.");
        int available = tokens.Length / context;
        int chunks = options.Chunks is { } wanted && wanted > 0 ? Math.Min(wanted, available) : available;
        int? bos = tokenizer.Vocabulary.AddBos ? tokenizer.Vocabulary.BosId : null;

        var collector = new ImportanceMatrixCollector(options.ProcessOutput);
        double nll = 0;
        long scored = 0;
        using (MatMulInputObserver.Install(collector))
        {
            Perplexity.Run(model, tokens, context, context, chunks, bos, cancellation, (logits, target) =>
            {
                nll -= Perplexity.LogSoftmax(logits, target);
                scored++;
            }, chunk => progress?.Invoke(new ImportanceMatrixProgress(chunk, chunks, Math.Exp(nll / Math.Max(1, scored)))));
        }

        var matrix = new ImportanceMatrix { ChunkCount = chunks, ChunkSize = context };
        if (options.Dataset.Length > 0) matrix.Datasets.Add(options.Dataset);
        foreach (var (name, entry) in collector.Entries) matrix.Entries[name] = entry;
        return matrix;
    }
}

/// <summary>Accumulates llama-imatrix's statistics from the matmul inputs it is shown (float sums, in row order, as llama.cpp keeps them).</summary>
internal sealed class ImportanceMatrixCollector(bool processOutput) : MatMulInputObserver
{
    // ggml_mul_mat calls with fewer activation rows are skipped by llama-imatrix ("why are small batches ignored").
    private const int MinimumDenseRows = 16;

    private sealed class Statistics(int columns, int matrices)
    {
        public readonly float[] Sums = new float[columns * matrices];
        public readonly long[] Counts = new long[matrices];
    }

    private readonly Dictionary<string, Statistics> _statistics = new(StringComparer.Ordinal);

    public IEnumerable<(string Name, ImportanceEntry Entry)> Entries =>
        _statistics.Select(kv => (kv.Key, new ImportanceEntry(kv.Value.Sums.ToArray(), kv.Value.Counts.Select(c => (float)c).ToArray())));

    private bool Wanted(string name) => name.StartsWith("blk.", StringComparison.Ordinal) || (processOutput && name == "output.weight");

    private Statistics For(Tensor weight, int matrices)
    {
        if (!_statistics.TryGetValue(weight.Name, out var statistics))
            _statistics[weight.Name] = statistics = new Statistics(weight.Columns, matrices);
        return statistics;
    }

    public override void OnDense(Tensor weight, ReadOnlySpan<float> x, int rows)
    {
        if (rows < MinimumDenseRows || !Wanted(weight.Name)) return;
        var statistics = For(weight, 1);
        int columns = weight.Columns;
        Span<float> sums = statistics.Sums;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = x.Slice(r * columns, columns);
            for (int j = 0; j < columns; j++) sums[j] += row[j] * row[j];
        }
        statistics.Counts[0] += rows;
    }

    public override void OnRouted(Tensor weight, int matrix, ReadOnlySpan<float> row)
    {
        if (!Wanted(weight.Name)) return;
        int matrices = weight.Shape.Length > 2 ? (int)weight.Shape[2] : 1;
        var statistics = For(weight, matrices);
        int columns = weight.Columns;
        Span<float> sums = statistics.Sums.AsSpan(matrix * columns, columns);
        for (int j = 0; j < columns; j++) sums[j] += row[j] * row[j];
        statistics.Counts[matrix]++;
    }
}
