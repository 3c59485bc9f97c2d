using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Evaluation;

/// <summary>
/// What a model (typically a quantized file) does to the base model's token distributions, over the rows a
/// <see cref="LogProbabilityFile"/> holds — llama-perplexity's <c>--kl-divergence</c> statistics:
/// KL(base ‖ model) = Σᵢ p_base,i (log p_base,i − log p_i) per row; how often the most likely token is the same;
/// Δp = p(token) − p_base(token) for the token that follows; and both perplexities.
/// </summary>
/// <param name="Rows">Scored rows compared.</param>
/// <param name="Perplexity">The model's perplexity on the base file's tokens, ± its error.</param>
/// <param name="BasePerplexity">The base model's, from the file.</param>
/// <param name="MeanLogPerplexityRatio">Mean of ln p_base(token) − ln p(token), ± its standard error: ln(PPL / PPL_base).</param>
/// <param name="MeanKl">Mean KL divergence, ± its standard error (<see cref="MeanKlError"/>).</param>
/// <param name="KlPercentiles">KL at 0 (min), 1, 5, 10, 50, 90, 99, 99.9 and 100 (max) percent, in that order.</param>
/// <param name="SameTop">Fraction of rows whose most likely token is the base model's, ± its standard error.</param>
/// <param name="MeanDeltaP">Mean Δp, ± its standard error; <see cref="RmsDeltaP"/> its root mean square.</param>
/// <param name="PerplexityError">Standard error of <paramref name="Perplexity"/>.</param>
/// <param name="BasePerplexityError">Standard error of <paramref name="BasePerplexity"/>.</param>
/// <param name="MeanLogPerplexityRatioError">Standard error of <paramref name="MeanLogPerplexityRatio"/>.</param>
/// <param name="MeanKlError">Standard error of <paramref name="MeanKl"/>.</param>
/// <param name="SameTopError">Standard error of <paramref name="SameTop"/>.</param>
/// <param name="MeanDeltaPError">Standard error of <paramref name="MeanDeltaP"/>.</param>
/// <param name="RmsDeltaP">Root mean square of Δp.</param>
public sealed record KlDivergenceResult(
    long Rows,
    double Perplexity, double PerplexityError,
    double BasePerplexity, double BasePerplexityError,
    double MeanLogPerplexityRatio, double MeanLogPerplexityRatioError,
    double MeanKl, double MeanKlError, double[] KlPercentiles,
    double SameTop, double SameTopError,
    double MeanDeltaP, double MeanDeltaPError, double RmsDeltaP)
{
    /// <summary>The percent levels of <see cref="KlPercentiles"/>.</summary>
    public static IReadOnlyList<double> PercentileLevels { get; } = [0, 1, 5, 10, 50, 90, 99, 99.9, 100];
}

/// <summary>KL divergence, top-token agreement and Δp of a model's log-probabilities against a base model's, as llama-perplexity prints them.</summary>
public static class KlDivergence
{
    /// <summary>
    /// Runs <paramref name="model"/> over the tokens of the base file at <paramref name="basePath"/> (same chunks, same BOS
    /// rule) and compares each scored row with the base's.
    /// </summary>
    public static KlDivergenceResult Compare(ILanguageModel model, Tokenizer tokenizer, string basePath, int batchSize = 512,
        Action<PerplexityProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (file, rows) = LogProbabilityFile.Open(basePath);
        using (rows)
        {
            int vocab = model.Info.VocabSize;
            if (file.VocabSize != vocab)
                throw new ArgumentException($"The base file was written with a vocabulary of {file.VocabSize} tokens; this model has {vocab}: they cannot be compared.");
            int? bos = tokenizer.Vocabulary.AddBos ? tokenizer.Vocabulary.BosId : null;
            var baseRow = new float[vocab];
            var ours = new float[vocab];
            var scratch = new ushort[vocab];
            var measured = new NegativeLogLikelihood();
            var baseline = new NegativeLogLikelihood();
            var kls = new List<double>(file.Chunks * file.RowsPerChunk);
            double ratioSum = 0, ratioSquares = 0, deltaSum = 0, deltaSquares = 0;
            long sameTop = 0;
            Perplexity.Run(model, file.Tokens, file.Context, batchSize, file.Chunks, bos, cancellation, (logits, target) =>
            {
                file.ReadRow(rows, baseRow, scratch);
                Perplexity.LogSoftmaxRow(logits, ours);
                double kl = 0;
                int baseTop = 0, ourTop = 0;
                for (int i = 0; i < vocab; i++)
                {
                    double p = Math.Exp(baseRow[i]);
                    kl += p * (baseRow[i] - ours[i]);
                    if (baseRow[i] > baseRow[baseTop]) baseTop = i;
                    if (ours[i] > ours[ourTop]) ourTop = i;
                }
                kls.Add(Math.Max(kl, 0)); // the 16-bit base rows can make a near-zero divergence come out a hair negative
                if (baseTop == ourTop) sameTop++;
                measured.Add(ours[target]);
                baseline.Add(baseRow[target]);
                double ratio = baseRow[target] - ours[target];
                ratioSum += ratio;
                ratioSquares += ratio * ratio;
                double delta = Math.Exp(ours[target]) - Math.Exp(baseRow[target]);
                deltaSum += delta;
                deltaSquares += delta * delta;
            }, chunk => progress?.Invoke(new PerplexityProgress(chunk, file.Chunks, measured.Perplexity)));

            long n = kls.Count;
            double meanKl = kls.Average();
            double klVariance = kls.Sum(k => (k - meanKl) * (k - meanKl)) / Math.Max(1, n - 1);
            kls.Sort();
            double[] percentiles = KlDivergenceResult.PercentileLevels.Select(level => Percentile(kls, level)).ToArray();
            double same = (double)sameTop / n;
            double meanRatio = ratioSum / n, meanDelta = deltaSum / n;
            return new KlDivergenceResult(n,
                measured.Perplexity, measured.PerplexityError, baseline.Perplexity, baseline.PerplexityError,
                meanRatio, StandardError(ratioSum, ratioSquares, n),
                meanKl, Math.Sqrt(klVariance / n), percentiles,
                same, Math.Sqrt(same * (1 - same) / Math.Max(1, n - 1)),
                meanDelta, StandardError(deltaSum, deltaSquares, n), Math.Sqrt(deltaSquares / n));
        }
    }

    /// <summary>The standard error of a mean from Σx and Σx² over n values.</summary>
    private static double StandardError(double sum, double squares, long n)
    {
        if (n < 2) return 0;
        double mean = sum / n, variance = (squares / n - mean * mean) * n / (n - 1);
        return variance > 0 ? Math.Sqrt(variance / n) : 0;
    }

    /// <summary>The value at <paramref name="percent"/> of the sorted values, interpolating linearly between neighbours.</summary>
    private static double Percentile(List<double> sorted, double percent)
    {
        double position = percent / 100 * (sorted.Count - 1);
        int below = (int)Math.Floor(position), above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
    }
}
