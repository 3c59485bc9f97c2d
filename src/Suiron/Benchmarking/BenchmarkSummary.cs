namespace Suiron.Benchmarking;

/// <summary>
/// The result of one test: tokens per second of every repetition and their spread. The median is the headline number
/// (robust to one run disturbed by another process); min and max show the spread honestly.
/// </summary>
public sealed record BenchmarkSummary(BenchmarkTest Test, IReadOnlyList<double> Samples)
{
    /// <summary>Median of the runs.</summary>
    public double Median { get; } = MedianOf(Samples);
    /// <summary>Fastest run.</summary>
    public double Min { get; } = Samples.Min();
    /// <summary>Slowest run.</summary>
    public double Max { get; } = Samples.Max();
    /// <summary>Mean of the runs.</summary>
    public double Mean { get; } = Samples.Average();

    /// <summary>Sample standard deviation (0 for a single repetition), as llama-bench reports it.</summary>
    public double StandardDeviation { get; } = StdDev(Samples);

    /// <summary>Tokens per second of each repetition, from the seconds each took.</summary>
    public static BenchmarkSummary FromSeconds(BenchmarkTest test, IEnumerable<double> seconds) =>
        new(test, seconds.Select(s => test.Tokens / Math.Max(s, 1e-9)).ToArray());

    private static double MedianOf(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0) throw new ArgumentException("A benchmark needs at least one sample.", nameof(samples));
        double[] sorted = samples.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static double StdDev(IReadOnlyList<double> samples)
    {
        if (samples.Count < 2) return 0;
        double mean = samples.Average();
        double sum = 0;
        foreach (double s in samples) sum += (s - mean) * (s - mean);
        return Math.Sqrt(sum / (samples.Count - 1));
    }
}
