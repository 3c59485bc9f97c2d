using System.Diagnostics;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Bench;

/// <summary>
/// What a long prompt does to another client's stream, in the scheduler the server runs: client A generates greedily
/// from a short prompt; once it streams, client B submits a long prompt of random tokens. A's inter-token gaps are
/// recorded alone (before B) and while B's prompt is evaluated, with the prefill pacing off and on, runs alternating; then
/// the same request of A runs alone, and its same gaps are A's unloaded value (A's steps grow costlier as its own context
/// grows over thousands of tokens, so the gaps before B stand only for the start). The table gives the p50 / p95, the
/// loaded-to-unloaded p95 ratio (the target is ≤ 2) and B's time to first token.
/// </summary>
internal static class LatencyBench
{
    public static void Run(string path, int threads, int longPrompt, double factor, int repetitions, TextWriter output)
    {
        using var file = GgufFile.Open(path);
        var tokenizer = Tokenizer.FromGguf(file);
        int context = longPrompt + 64;
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = threads, ContextSize = context });
        int vocab = model.Info.VocabSize;
        var random = new Random(1234);
        var options = new GenerationOptions { MaxTokens = 100_000, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        var results = new Dictionary<double, List<(double Alone, double Unloaded, double Loaded50, double Loaded95, double Ttft)>> { [0] = [], [factor] = [] };

        for (int r = 0; r < repetitions; r++)
            foreach (double pacing in new[] { 0, factor })
            {
                var schedulerOptions = new SchedulerOptions { Slots = 2, ContextSize = context, PrefillLatencyFactor = pacing };
                int[] shortPrompt = Enumerable.Range(0, 16).Select(_ => random.Next(3, vocab)).ToArray();
                int[] longTokens = Enumerable.Range(0, longPrompt).Select(_ => random.Next(3, vocab)).ToArray();
                var gaps = new List<(long At, double Seconds)>();
                long bStart, bEnd;
                double? ttft;
                using (var scheduler = new Scheduler(model, tokenizer, schedulerOptions))
                using (var stop = new CancellationTokenSource())
                {
                    var reader = ReadGaps(scheduler.Submit(new GenerationRequest(shortPrompt, options), stop.Token), gaps, stop.Token);
                    // A alone for 48 tokens (the first 16 warm it up), then B's long prompt beside it.
                    while (Count(gaps) < 48) Thread.Sleep(5);
                    bStart = Stopwatch.GetTimestamp();
                    var streamB = scheduler.Submit(new GenerationRequest(longTokens, options with { MaxTokens = 1 }));
                    foreach (var _ in streamB.ToBlockingEnumerable()) { }
                    bEnd = Stopwatch.GetTimestamp();
                    ttft = streamB.TimeToFirstToken?.TotalSeconds;
                    stop.Cancel();
                    reader.Wait();
                }
                double[] alone, loaded;
                int firstLoaded, endLoaded;
                lock (gaps)
                {
                    alone = gaps.Skip(16).TakeWhile(g => g.At < bStart).Select(g => g.Seconds).ToArray();
                    firstLoaded = gaps.FindIndex(g => g.At > bStart);
                    endLoaded = gaps.FindLastIndex(g => g.At <= bEnd) + 1;
                    loaded = firstLoaded < 0 ? [] : gaps.Skip(firstLoaded).Take(endLoaded - firstLoaded).Select(g => g.Seconds).ToArray();
                }
                if (loaded.Length == 0) loaded = [Stopwatch.GetElapsedTime(bStart, bEnd).TotalSeconds]; // A got no token during B's prompt

                // A's unloaded value: the same request alone, the same gaps (A's own context grows as it streams, and each of
                // its steps costs more with it; the gaps before B's prompt are too early to stand for the later ones).
                double[] unloaded = alone;
                if (firstLoaded >= 0 && endLoaded > firstLoaded)
                {
                    var baseline = new List<(long At, double Seconds)>();
                    using var scheduler = new Scheduler(model, tokenizer, schedulerOptions);
                    using var stop = new CancellationTokenSource();
                    var reader = ReadGaps(scheduler.Submit(new GenerationRequest(shortPrompt, options), stop.Token), baseline, stop.Token);
                    while (Count(baseline) < endLoaded && !reader.IsCompleted) Thread.Sleep(5);
                    stop.Cancel();
                    reader.Wait();
                    lock (baseline) unloaded = baseline.Skip(firstLoaded).Take(endLoaded - firstLoaded).Select(g => g.Seconds).ToArray();
                }
                results[pacing].Add((Percentile(alone, 0.95), Percentile(unloaded, 0.95), Percentile(loaded, 0.5), Percentile(loaded, 0.95), ttft ?? double.NaN));
                Console.Error.WriteLine($"  pacing {pacing}: A alone p95 {Percentile(alone, 0.95) * 1000:F1} ms, unloaded at the same tokens p95 {Percentile(unloaded, 0.95) * 1000:F1} ms; " +
                    $"during B p50 {Percentile(loaded, 0.5) * 1000:F1} ms, p95 {Percentile(loaded, 0.95) * 1000:F1} ms ({loaded.Length} gaps); B TTFT {ttft:F2} s");
            }

        output.WriteLine($"{Path.GetFileName(path)}: client A streaming, client B sends a {longPrompt}-token prompt; {threads} threads, medians of {repetitions} runs");
        output.WriteLine();
        output.WriteLine("| prefill pacing | A p95 before B (ms) | A p95 unloaded, same tokens (ms) | A p50 during B (ms) | A p95 during B (ms) | p95 during / unloaded | B time to first token (s) |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (pacing, runs) in results)
        {
            double alone = Median(runs.Select(x => x.Alone)), unloaded = Median(runs.Select(x => x.Unloaded));
            double p50 = Median(runs.Select(x => x.Loaded50)), p95 = Median(runs.Select(x => x.Loaded95));
            output.WriteLine($"| {(pacing == 0 ? "off" : $"{pacing}×")} | {alone * 1000:F1} | {unloaded * 1000:F1} | {p50 * 1000:F1} | {p95 * 1000:F1} | {p95 / unloaded:F2} | {Median(runs.Select(x => x.Ttft)):F2} |");
        }
    }

    /// <summary>Records the gaps between a stream's tokens (with the time each ended) until it ends or is cancelled.</summary>
    private static Task ReadGaps(GenerationStream stream, List<(long At, double Seconds)> gaps, CancellationToken cancellation) => Task.Run(async () =>
    {
        long last = 0;
        try
        {
            await foreach (var _ in stream.WithCancellation(cancellation))
            {
                long now = Stopwatch.GetTimestamp();
                if (last != 0) lock (gaps) gaps.Add((now, Stopwatch.GetElapsedTime(last, now).TotalSeconds));
                last = now;
            }
        }
        catch (OperationCanceledException) { }
    });

    private static int Count(List<(long, double)> gaps) { lock (gaps) return gaps.Count; }

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    private static double Median(IEnumerable<double> values) => Percentile(values.ToArray(), 0.5);
}
