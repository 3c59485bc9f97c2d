using Suiron.Benchmarking;
using Xunit;

namespace Suiron.Tests.Benchmarking;

public sealed class BenchmarkSummaryTests
{
    [Fact]
    public void Median_min_max_and_spread()
    {
        var odd = new BenchmarkSummary(BenchmarkTest.Prompt(8), [3.0, 1.0, 2.0]);
        Assert.Equal((2.0, 1.0, 3.0, 2.0, 1.0), (odd.Median, odd.Min, odd.Max, odd.Mean, odd.StandardDeviation));
        var even = new BenchmarkSummary(BenchmarkTest.Generation(8), [4.0, 1.0, 2.0, 3.0]);
        Assert.Equal(2.5, even.Median);
        Assert.Equal(0, new BenchmarkSummary(BenchmarkTest.Prompt(1), [5.0]).StandardDeviation);
    }

    [Fact]
    public void Tokens_per_second_from_seconds_and_names()
    {
        var s = BenchmarkSummary.FromSeconds(BenchmarkTest.Prompt(512), [0.5, 1.0]);
        Assert.Equal([1024.0, 512.0], s.Samples);
        Assert.Equal("pp512", s.Test.Name);
        Assert.Equal("tg128", BenchmarkTest.Generation(128).Name);
        Assert.Equal(["tg4"], BenchmarkTest.For(0, 4).Select(t => t.Name));
    }

    [Fact]
    public void Random_tokens_are_seeded_and_in_range()
    {
        int[] a = BenchmarkTokens.Random(1000, 512, 7), b = BenchmarkTokens.Random(1000, 512, 7);
        Assert.Equal(a, b);
        Assert.All(a, t => Assert.InRange(t, 0, 511));
        Assert.NotEqual(a, BenchmarkTokens.Random(1000, 512, 8));
    }

    [Fact]
    public void Runner_alternates_subjects_and_gives_both_the_same_tokens()
    {
        var first = new RecordingSubject("a");
        var second = new RecordingSubject("b");
        var results = BenchmarkRunner.Run([first, second], BenchmarkTest.For(6, 3), repetitions: 2, vocabSize: 100, seed: 5);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(["pp6", "tg3"], r.Select(s => s.Test.Name)));
        // warm-up (a, b), then rep 0 (a, b), rep 1 (b, a) for each test
        Assert.Equal("ab" + "ab" + "ba" + "ab" + "ab" + "ba", string.Concat(first.Log.Concat(second.Log).OrderBy(e => e.Order).Select(e => e.Name)));
        Assert.Equal(first.Prompts, second.Prompts);
        Assert.Equal(first.FirstTokens, second.FirstTokens);
        Assert.Equal(6, first.Prompts[1].Length);
    }

    private sealed class RecordingSubject(string name) : IBenchmarkSubject
    {
        private static int _clock;
        public string Name => name;
        public List<(int Order, string Name)> Log { get; } = [];
        public List<int[]> Prompts { get; } = [];
        public List<int> FirstTokens { get; } = [];

        public double TimePrompt(ReadOnlySpan<int> context, ReadOnlySpan<int> tokens)
        {
            Log.Add((Interlocked.Increment(ref _clock), name));
            Prompts.Add(tokens.ToArray());
            return 0.01;
        }

        public double TimeGeneration(ReadOnlySpan<int> context, int firstToken, int count)
        {
            Log.Add((Interlocked.Increment(ref _clock), name));
            FirstTokens.Add(firstToken);
            return 0.01;
        }
    }
}
