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
/// recorded alone (before B) and while B's prompt is evaluated, with the prefill pacing off and on, runs alternating;
/// the table gives their p50 / p95, the loaded-to-unloaded p95 ratio (the target is ≤ 2) and B's time to first token.
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
        var results = new Dictionary<double, List<(double Alone, double Loaded50, double Loaded95, double Ttft)>> { [0] = [], [factor] = [] };

        for (int r = 0; r < repetitions; r++)
            foreach (double pacing in new[] { 0, factor })
            {
                using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 2, ContextSize = context, PrefillLatencyFactor = pacing });
                int[] shortPrompt = Enumerable.Range(0, 16).Select(_ => random.Next(3, vocab)).ToArray();
                int[] longTokens = Enumerable.Range(0, longPrompt).Select(_ => random.Next(3, vocab)).ToArray();
                using var stop = new CancellationTokenSource();
                var gaps = new List<(long At, double Seconds)>();
                var streamA = scheduler.Submit(new GenerationRequest(shortPrompt, options), stop.Token);
                var reader = Task.Run(async () =>
                {
                    long last = 0;
                    try
                    {
                        await foreach (var _ in streamA.WithCancellation(stop.Token))
                        {
                            long now = Stopwatch.GetTimestamp();
                            if (last != 0) lock (gaps) gaps.Add((now, Stopwatch.GetElapsedTime(last, now).TotalSeconds));
                            last = now;
                        }
                    }
                    catch (OperationCanceledException) { }
                });
                // A alone for 48 tokens (the first 16 warm it up), then B's long prompt beside it.
                while (Count(gaps) < 48) Thread.Sleep(5);
                long bStart = Stopwatch.GetTimestamp();
                var streamB = scheduler.Submit(new GenerationRequest(longTokens, options with { MaxTokens = 1 }));
                foreach (var _ in streamB.ToBlockingEnumerable()) { }
                long bEnd = Stopwatch.GetTimestamp();
                stop.Cancel();
                reader.Wait();
                double[] alone, loaded;
                lock (gaps)
                {
                    alone = gaps.Skip(16).TakeWhile(g => g.At < bStart).Select(g => g.Seconds).ToArray();
                    loaded = gaps.Where(g => g.At > bStart && g.At <= bEnd).Select(g => g.Seconds).ToArray();
                }
                if (loaded.Length == 0) loaded = [Stopwatch.GetElapsedTime(bStart, bEnd).TotalSeconds]; // A got no token during B's prompt
                results[pacing].Add((Percentile(alone, 0.95), Percentile(loaded, 0.5), Percentile(loaded, 0.95), streamB.TimeToFirstToken?.TotalSeconds ?? double.NaN));
                Console.Error.WriteLine($"  pacing {pacing}: A alone p95 {Percentile(alone, 0.95) * 1000:F1} ms; during B p50 {Percentile(loaded, 0.5) * 1000:F1} ms, p95 {Percentile(loaded, 0.95) * 1000:F1} ms ({loaded.Length} gaps); B TTFT {streamB.TimeToFirstToken?.TotalSeconds:F2} s");
            }

        output.WriteLine($"{Path.GetFileName(path)}: client A streaming, client B sends a {longPrompt}-token prompt; {threads} threads, medians of {repetitions} runs");
        output.WriteLine();
        output.WriteLine("| prefill pacing | A p95 alone (ms) | A p50 during B (ms) | A p95 during B (ms) | p95 during / alone | B time to first token (s) |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (pacing, runs) in results)
        {
            double alone = Median(runs.Select(x => x.Alone)), p50 = Median(runs.Select(x => x.Loaded50)), p95 = Median(runs.Select(x => x.Loaded95));
            output.WriteLine($"| {(pacing == 0 ? "off" : $"{pacing}×")} | {alone * 1000:F1} | {p50 * 1000:F1} | {p95 * 1000:F1} | {p95 / alone:F2} | {Median(runs.Select(x => x.Ttft)):F2} |");
        }
    }

    private static int Count(List<(long, double)> gaps) { lock (gaps) return gaps.Count; }

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    private static double Median(IEnumerable<double> values) => Percentile(values.ToArray(), 0.5);
}
