namespace Suiron.Benchmarking;

/// <summary>What a benchmark test measures, as llama-bench names its tests.</summary>
public enum BenchmarkKind
{
    /// <summary>Prompt processing: one batch of tokens from an empty cache (compute-bound).</summary>
    Prompt,
    /// <summary>Text generation: tokens decoded one at a time from an empty cache (memory-bound).</summary>
    Generation,
}

/// <summary>
/// One test: <c>pp512</c> evaluates a 512-token prompt as one batch; <c>tg128</c> decodes 128 tokens one by one.
/// With a <see cref="Depth"/> (llama-bench's <c>-d</c>), the cache first holds that many tokens (filled outside the
/// timed region), so the test measures attention over a long context: <c>tg128 @ d4096</c>.
/// </summary>
public readonly record struct BenchmarkTest(BenchmarkKind Kind, int Tokens, int Depth = 0)
{
    /// <summary>A prompt-processing test of <paramref name="tokens"/> tokens (llama-bench's ppN).</summary>
    public static BenchmarkTest Prompt(int tokens) => new(BenchmarkKind.Prompt, tokens);
    /// <summary>A decode test of <paramref name="tokens"/> tokens, one at a time (llama-bench's tgN).</summary>
    public static BenchmarkTest Generation(int tokens) => new(BenchmarkKind.Generation, tokens);

    /// <summary>llama-bench's name: <c>pp512</c>, <c>tg128</c>.</summary>
    public string Name => (Kind == BenchmarkKind.Prompt ? "pp" : "tg") + Tokens + (Depth > 0 ? $" @ d{Depth}" : "");

    /// <summary>The test's llama-bench name: <c>pp512</c>, <c>tg128</c> (with <c>@ dDEPTH</c> at a depth).</summary>
    public override string ToString() => Name;

    /// <summary>The tests llama-bench runs for <c>-p</c> and <c>-n</c>: a count of 0 skips that test.</summary>
    public static IReadOnlyList<BenchmarkTest> For(int promptTokens, int generatedTokens, int depth = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(depth);
        var tests = new List<BenchmarkTest>(2);
        if (promptTokens > 0) tests.Add(new BenchmarkTest(BenchmarkKind.Prompt, promptTokens, depth));
        if (generatedTokens > 0) tests.Add(new BenchmarkTest(BenchmarkKind.Generation, generatedTokens, depth));
        return tests;
    }
}
