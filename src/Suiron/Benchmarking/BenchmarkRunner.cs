namespace Suiron.Benchmarking;

/// <summary>
/// Runs llama-bench's protocol on one or more engines: per test a warm-up run, then <c>repetitions</c> timed runs,
/// each from a cache holding the test's depth of tokens and nothing else. With several subjects the runs alternate (the
/// order rotating every repetition), so a slow spell of a shared machine hits every engine alike. Every engine gets the
/// same seeded random tokens, and one random context per test: what the cache holds does not change the speed, and one
/// context lets an engine fill it once and cut it back to the depth after each run (llama-bench fills it again before
/// every run, which at 32k tokens of depth takes far longer than the runs themselves).
/// </summary>
public static class BenchmarkRunner
{
    /// <summary>Tokens of the warm-up generation run: enough for the JIT to settle on the single-token paths.</summary>
    public const int GenerationWarmupTokens = 16;

    /// <returns>For each subject (same order), one summary per test.</returns>
    public static IReadOnlyList<IReadOnlyList<BenchmarkSummary>> Run(
        IReadOnlyList<IBenchmarkSubject> subjects,
        IReadOnlyList<BenchmarkTest> tests,
        int repetitions,
        int vocabSize,
        int seed = 1234,
        bool warmup = true,
        Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repetitions);
        if (subjects.Count == 0) throw new ArgumentException("No engine to benchmark.", nameof(subjects));
        var results = subjects.Select(_ => new List<BenchmarkSummary>()).ToArray();
        foreach (var test in tests)
        {
            int[] context = BenchmarkTokens.Random(test.Depth, vocabSize, seed + 1000); // the same for every engine and run
            if (warmup)
            {
                progress?.Invoke($"{test}: warm-up");
                int[] warm = BenchmarkTokens.Random(test.Tokens, vocabSize, seed - 1);
                foreach (var subject in subjects) RunOnce(subject, test with { Tokens = WarmupTokens(test) }, context, warm);
            }
            var seconds = subjects.Select(_ => new List<double>()).ToArray();
            for (int rep = 0; rep < repetitions; rep++)
            {
                int[] tokens = BenchmarkTokens.Random(test.Tokens, vocabSize, seed + rep);
                for (int k = 0; k < subjects.Count; k++)
                {
                    int s = (k + rep) % subjects.Count;
                    double t = RunOnce(subjects[s], test, context, tokens);
                    seconds[s].Add(t);
                    progress?.Invoke($"{test}: {subjects[s].Name} run {rep + 1}/{repetitions}: {test.Tokens / t:F2} tok/s");
                }
            }
            for (int s = 0; s < subjects.Count; s++) results[s].Add(BenchmarkSummary.FromSeconds(test, seconds[s]));
        }
        return results;
    }

    private static int WarmupTokens(BenchmarkTest test) =>
        test.Kind == BenchmarkKind.Prompt ? test.Tokens : Math.Min(test.Tokens, GenerationWarmupTokens);

    private static double RunOnce(IBenchmarkSubject subject, BenchmarkTest test, int[] context, int[] tokens) => test.Kind switch
    {
        BenchmarkKind.Prompt => subject.TimePrompt(context, tokens.AsSpan(0, test.Tokens)),
        _ => subject.TimeGeneration(context, tokens[0], test.Tokens),
    };
}
