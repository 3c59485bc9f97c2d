using System.CommandLine;
using System.Text;
using System.Text.Json;
using Suiron.Benchmarking;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;

namespace Suiron.Cli;

/// <summary>
/// <c>suiron bench</c>: llama-bench's two tests on one model. <c>pp</c> evaluates a prompt of random tokens as one
/// batch from an empty cache; <c>tg</c> decodes tokens one at a time from an empty cache (greedy). A warm-up run, then
/// <c>-r</c> timed repetitions; the table shows the median tokens per second with the spread, the weight bandwidth
/// decode achieves, and the peak resident memory.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model file", Required = true };
        var prompt = new Option<int>("--n-prompt", "-p") { Description = "Prompt tokens of the pp test (0 = skip it)", DefaultValueFactory = _ => 512 };
        var generate = new Option<int>("--n-gen", "-n") { Description = "Generated tokens of the tg test (0 = skip it)", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Timed runs of each test", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<int>("--seed") { Description = "Seed of the random token ids", DefaultValueFactory = _ => 1234 };
        var noWarmup = new Option<bool>("--no-warmup") { Description = "Skip the warm-up run of each test" };
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of the table" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Report each run on stderr" };
        var depth = new Option<int>("--n-depth", "-d") { Description = "Tokens in the cache before each test, filled untimed (llama-bench's -d)", DefaultValueFactory = _ => 0 };
        var cacheTypes = new CacheTypeOptions();

        var command = new Command("bench", "Measure prompt processing (pp) and generation (tg) speed, as llama-bench does")
        {
            model, prompt, generate, repetitions, threads, seed, noWarmup, json, verbose, depth, cacheTypes.Key, cacheTypes.Value,
        };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int p = result.GetValue(prompt), n = result.GetValue(generate), r = result.GetValue(repetitions), t = result.GetValue(threads);
            if (p < 0) throw new UsageException($"--n-prompt must be ≥ 0 (got {p}).");
            if (n < 0) throw new UsageException($"--n-gen must be ≥ 0 (got {n}).");
            if (p == 0 && n == 0) throw new UsageException("Nothing to measure: --n-prompt and --n-gen are both 0.");
            if (r < 1) throw new UsageException($"--repetitions must be ≥ 1 (got {r}).");
            if (t < 1 || t > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {t}).");

            var fileInfo = result.GetValue(model)!;
            using var file = GgufFile.Open(fileInfo.FullName);
            int trained = TransformerHyperParameters.Parse(file).ContextLength;
            if (p > trained) throw new UsageException($"--n-prompt {p} is beyond the model's context of {trained} tokens.");
            if (n > trained) throw new UsageException($"--n-gen {n} is beyond the model's context of {trained} tokens.");
            int d = result.GetValue(depth);
            if (d < 0) throw new UsageException($"--n-depth must be ≥ 0 (got {d}).");
            int longest = d + Math.Max(p, n);
            if (longest > trained) throw new UsageException($"--n-depth {d} plus the longest test is beyond the model's context of {trained} tokens.");

            if (typeof(ModelLoader).Assembly.GetCustomAttributes(typeof(System.Diagnostics.DebuggableAttribute), false)
                    .OfType<System.Diagnostics.DebuggableAttribute>().Any(a => a.IsJITOptimizerDisabled))
                Console.Error.WriteLine("warning: the engine is a Debug build; build with -c Release for meaningful numbers.");

            using var lm = ModelLoader.Load(file, new ModelOptions
            {
                Threads = t, ContextSize = longest, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
            });
            var subject = new SuironBenchmarkSubject(lm, longest);
            Action<string>? progress = result.GetValue(verbose) ? line => Console.Error.WriteLine($"bench: {line}") : null;
            var summaries = BenchmarkRunner.Run([subject], BenchmarkTest.For(p, n, d), r, lm.Info.VocabSize, result.GetValue(seed),
                warmup: !result.GetValue(noWarmup), progress: progress)[0];

            var report = new BenchReport(ModelDescription.Of(file, lm.Info.ParameterCount), t, r, WeightTraffic.BytesPerToken(file),
                PeakMemory.ResidentBytes(), summaries)
            {
                KvCache = $"k {KvCacheTypes.Name(lm.Info.KeyCacheType)}, v {KvCacheTypes.Name(lm.Info.ValueCacheType)}",
            };
            Console.Out.Write(result.GetValue(json) ? report.ToJson() : report.ToTable(result.GetValue(seed)));
            return CliErrors.Ok;
        }));
        return command;
    }
}

/// <summary>The results of one <c>suiron bench</c> run, as a llama-bench style markdown table or a JSON array.</summary>
internal sealed record BenchReport(
    ModelDescription Model, int Threads, int Repetitions, long BytesPerToken, long PeakResidentBytes, IReadOnlyList<BenchmarkSummary> Summaries)
{
    /// <summary>The cache types, as <c>k f16, v f16</c>.</summary>
    public string KvCache { get; init; } = "k f16, v f16";

    private double? GigabytesPerSecond(BenchmarkSummary s, double tokensPerSecond) =>
        s.Test.Kind == BenchmarkKind.Generation ? WeightTraffic.GigabytesPerSecond(BytesPerToken, tokensPerSecond) : null;

    public string ToTable(int seed)
    {
        var rows = new List<string[]> { new[] { "model", "size", "params", "type", "threads", "test", "t/s", "min – max", "GB/s" } };
        foreach (var s in Summaries)
            rows.Add([
                Model.File, ModelDescription.FormatBytes(Model.SizeBytes), ModelDescription.FormatCount(Model.Parameters), Model.Type,
                Threads.ToString(), s.Test.Name, $"{s.Median:F2} ± {s.StandardDeviation:F2}", $"{s.Min:F2} – {s.Max:F2}",
                GigabytesPerSecond(s, s.Median) is double gb ? gb.ToString("F2") : "",
            ]);
        int[] widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        bool[] numeric = [false, true, true, false, true, false, true, true, true];
        var text = new StringBuilder();
        for (int i = 0; i < rows.Count; i++)
        {
            text.Append('|');
            for (int c = 0; c < widths.Length; c++)
                text.Append(' ').Append(numeric[c] ? rows[i][c].PadLeft(widths[c]) : rows[i][c].PadRight(widths[c])).Append(" |");
            text.AppendLine();
            if (i == 0)
            {
                text.Append('|');
                for (int c = 0; c < widths.Length; c++) text.Append(new string('-', widths[c] + 1)).Append(numeric[c] ? ":|" : " |");
                text.AppendLine();
            }
        }
        text.AppendLine();
        text.AppendLine($"t/s: median ± standard deviation of {Repetitions} run{(Repetitions == 1 ? "" : "s")} after a warm-up; random tokens (seed {seed}); KV cache {KvCache}; tg decodes greedily one token at a time.");
        text.AppendLine($"GB/s: weights read per decoded token ({ModelDescription.FormatBytes(BytesPerToken)}: every tensor once, one embedding row) × tg t/s.");
        text.AppendLine($"peak RSS: {ModelDescription.FormatBytes(PeakResidentBytes)} (mapped weights included).");
        return text.ToString();
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var s in Summaries)
            {
                w.WriteStartObject();
                w.WriteString("model", Model.File);
                w.WriteString("architecture", Model.Architecture);
                w.WriteString("type", Model.Type);
                w.WriteNumber("size_bytes", Model.SizeBytes);
                w.WriteNumber("params", Model.Parameters);
                w.WriteNumber("threads", Threads);
                w.WriteString("test", s.Test.Name);
                w.WriteNumber("n_prompt", s.Test.Kind == BenchmarkKind.Prompt ? s.Test.Tokens : 0);
                w.WriteNumber("n_gen", s.Test.Kind == BenchmarkKind.Generation ? s.Test.Tokens : 0);
                w.WriteNumber("repetitions", Repetitions);
                w.WriteStartArray("samples");
                foreach (double sample in s.Samples) w.WriteNumberValue(sample);
                w.WriteEndArray();
                w.WriteNumber("tokens_per_second", s.Median);
                w.WriteNumber("min", s.Min);
                w.WriteNumber("max", s.Max);
                w.WriteNumber("mean", s.Mean);
                w.WriteNumber("stddev", s.StandardDeviation);
                if (s.Test.Kind == BenchmarkKind.Generation)
                {
                    w.WriteNumber("bytes_per_token", BytesPerToken);
                    w.WriteNumber("gb_per_second", GigabytesPerSecond(s, s.Median)!.Value);
                }
                w.WriteNumber("peak_rss_bytes", PeakResidentBytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }
}
