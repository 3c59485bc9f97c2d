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
/// decode achieves, and the peak resident memory. <c>--json-schema</c>, <c>--json-object</c> and <c>--grammar</c> add a
/// constrained <c>tg</c> row each, run alternately with the free one, and the extra time per token they cost.
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
        var readBandwidth = new Option<bool>("--read-bandwidth") { Description = "Also measure the machine's memory read bandwidth and show the share of it decode reaches" };
        var jsonSchema = new Option<FileInfo[]>("--json-schema") { Description = "Also decode under this JSON schema (a tg row each; repeatable)" };
        var jsonObject = new Option<bool>("--json-object") { Description = "Also decode under response_format json_object's grammar (any JSON object)" };
        var grammar = new Option<FileInfo[]>("--grammar") { Description = "Also decode under this GBNF grammar (a tg row each; repeatable)" };
        var depth = new Option<int>("--n-depth", "-d") { Description = "Tokens in the cache before each test, filled untimed (llama-bench's -d)", DefaultValueFactory = _ => 0 };
        var cacheTypes = new CacheTypeOptions();

        var command = new Command("bench", "Measure prompt processing (pp) and generation (tg) speed, as llama-bench does")
        {
            model, prompt, generate, repetitions, threads, seed, noWarmup, json, verbose, depth, cacheTypes.Key, cacheTypes.Value,
            readBandwidth, jsonSchema, jsonObject, grammar,
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

            var grammars = new List<(string Name, Sampling.Grammar.Grammar Grammar)>();
            foreach (var schema in result.GetValue(jsonSchema) ?? [])
                grammars.Add(($"json-schema {schema.Name}", CompileGrammar(schema, "JSON schema", Sampling.Grammar.Grammar.FromJsonSchema)));
            if (result.GetValue(jsonObject))
                grammars.Add(("json-object", Sampling.Grammar.Grammar.Parse(Sampling.Grammar.JsonSchemaToGrammar.AnyJsonObject)));
            foreach (var gbnf in result.GetValue(grammar) ?? [])
                grammars.Add(($"grammar {gbnf.Name}", CompileGrammar(gbnf, "GBNF grammar", text => Sampling.Grammar.Grammar.Parse(text))));
            if (grammars.Count > 0 && n == 0) throw new UsageException("--json-schema, --json-object and --grammar constrain the tg test: give --n-gen > 0.");

            using var lm = ModelLoader.Load(file, new ModelOptions
            {
                Threads = t, ContextSize = longest, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
            });
            var subject = new SuironBenchmarkSubject(lm, longest);
            Action<string>? progress = result.GetValue(verbose) ? line => Console.Error.WriteLine($"bench: {line}") : null;
            var tests = BenchmarkTest.For(p, n, d);
            var summaries = BenchmarkRunner.Run([subject], tests, r, lm.Info.VocabSize, result.GetValue(seed),
                warmup: !result.GetValue(noWarmup), progress: progress)[0].ToList();

            var constrained = new List<ConstrainedSummary>();
            if (grammars.Count > 0)
            {
                // The free tg again, alternating with each constrained run on the same random first tokens, so that
                // the extra cost per token compares runs taken side by side on this machine.
                var vocabulary = Sampling.Grammar.GrammarVocabulary.FromTokenizer(Tokenization.Tokenizer.FromGguf(file));
                var subjects = grammars.Select(g => new ConstrainedGenerationSubject(g.Name, lm, longest, g.Grammar, vocabulary)).ToList();
                var results = BenchmarkRunner.Run([subject, .. subjects], [new BenchmarkTest(BenchmarkKind.Generation, n, d)], r, lm.Info.VocabSize,
                    result.GetValue(seed), warmup: !result.GetValue(noWarmup), progress: progress);
                var free = results[0][0];
                for (int i = 0; i < subjects.Count; i++)
                    constrained.Add(new ConstrainedSummary(subjects[i].Name, free, results[i + 1][0],
                        (double)subjects[i].Masks / subjects[i].Tokens, subjects[i].MaskSeconds * 1000 / Math.Max(subjects[i].Masks, 1),
                        subjects[i].SamplingSeconds * 1000 / subjects[i].Tokens));
            }

            long peakResident = PeakMemory.ResidentBytes(); // before the bandwidth probe's buffer raises it
            ReadBandwidthResult? wall = null;
            if (result.GetValue(readBandwidth))
            {
                using var pool = new Suiron.Kernels.WorkerPool(t);
                wall = ReadBandwidth.Measure(pool);
            }
            var report = new BenchReport(ModelDescription.Of(file, lm.Info.ParameterCount), t, r, WeightTraffic.BytesPerToken(file),
                peakResident, summaries, constrained, wall)
            {
                KvCache = $"k {KvCacheTypes.Name(lm.Info.KeyCacheType)}, v {KvCacheTypes.Name(lm.Info.ValueCacheType)}" +
                    (lm.Info.AttentionRotation == "off" ? "" : $", rotation {lm.Info.AttentionRotation}"),
            };
            Console.Out.Write(result.GetValue(json) ? report.ToJson() : report.ToTable(result.GetValue(seed)));
            return CliErrors.Ok;
        }));
        return command;
    }

    private static Sampling.Grammar.Grammar CompileGrammar(FileInfo source, string what, Func<string, Sampling.Grammar.Grammar> compile)
    {
        if (!source.Exists) throw new UsageException($"{what} file not found: {source.FullName}");
        try
        {
            return compile(File.ReadAllText(source.FullName));
        }
        catch (Exception e) when (e is Sampling.Grammar.GrammarException or ArgumentException or System.Text.Json.JsonException or NotSupportedException)
        {
            throw new UsageException($"{source.Name}: not a usable {what}: {e.Message}");
        }
    }
}

/// <summary>
/// A constrained tg row beside the free tg it ran alternately with. Two measures of the extra cost per token: the
/// difference of the median per-token times (end to end, but as noisy as the machine), and the grammar's own work
/// timed inside the step (constraint, checks, masks, second draw: precise, an upper bound of what the grammar adds);
/// also how often the grammar rejected the free choice so that a full mask was computed, and a mask's average cost.
/// </summary>
internal sealed record ConstrainedSummary(string Name, BenchmarkSummary Free, BenchmarkSummary Constrained, double MasksPerToken,
    double MillisecondsPerMask, double GrammarMillisecondsPerToken)
{
    public double FreeMillisecondsPerToken => 1000 / Free.Median;
    public double ExtraMillisecondsPerToken => 1000 / Constrained.Median - FreeMillisecondsPerToken;
    public double ExtraPercent => 100 * ExtraMillisecondsPerToken / FreeMillisecondsPerToken;
    public double GrammarPercent => 100 * GrammarMillisecondsPerToken / FreeMillisecondsPerToken;
}

/// <summary>The results of one <c>suiron bench</c> run, as a llama-bench style markdown table or a JSON array.</summary>
internal sealed record BenchReport(
    ModelDescription Model, int Threads, int Repetitions, long BytesPerToken, long PeakResidentBytes, IReadOnlyList<BenchmarkSummary> Summaries,
    IReadOnlyList<ConstrainedSummary>? Constrained = null, ReadBandwidthResult? ReadBandwidth = null)
{
    private IReadOnlyList<ConstrainedSummary> ConstrainedRows => Constrained ?? [];

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
        foreach (var c in ConstrainedRows)
            rows.Add([
                Model.File, ModelDescription.FormatBytes(Model.SizeBytes), ModelDescription.FormatCount(Model.Parameters), Model.Type,
                Threads.ToString(), $"{c.Constrained.Test.Name} {c.Name}", $"{c.Constrained.Median:F2} ± {c.Constrained.StandardDeviation:F2}",
                $"{c.Constrained.Min:F2} – {c.Constrained.Max:F2}", "",
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
        if (ReadBandwidth is { } wall)
        {
            text.Append($"read bandwidth: {wall.GigabytesPerSecond:F2} GB/s ({wall.Threads} threads streaming a {wall.Bytes >> 20} MiB buffer, {wall.VectorBits}-bit loads, best of 1/2/4/8 streams per thread: {wall.StreamsPerThread}, median of {wall.Passes})");
            foreach (var s in Summaries.Where(s => s.Test.Kind == BenchmarkKind.Generation))
                text.Append($"; {s.Test.Name} reaches {GigabytesPerSecond(s, s.Median)!.Value / wall.GigabytesPerSecond:P0} of it");
            text.AppendLine(".");
        }
        foreach (var c in ConstrainedRows)
            text.AppendLine($"{c.Name}: grammar work {c.GrammarMillisecondsPerToken:F3} ms/token ({c.GrammarPercent:F2}% of the free step, timed in the step); " +
                $"end to end {c.ExtraMillisecondsPerToken:+0.00;-0.00} ms/token ({c.ExtraPercent:+0.0;-0.0}%) over free tg at {c.FreeMillisecondsPerToken:F2} ms/token " +
                $"(medians of alternated runs); a full mask on {100 * c.MasksPerToken:F0}% of tokens, {c.MillisecondsPerMask:F2} ms each.");
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
                    if (ReadBandwidth is { } wall)
                    {
                        w.WriteNumber("read_bandwidth_gb_per_second", wall.GigabytesPerSecond);
                        w.WriteNumber("read_bandwidth_fraction", GigabytesPerSecond(s, s.Median)!.Value / wall.GigabytesPerSecond);
                    }
                }
                w.WriteNumber("peak_rss_bytes", PeakResidentBytes);
                w.WriteEndObject();
            }
            foreach (var c in ConstrainedRows)
            {
                w.WriteStartObject();
                w.WriteString("model", Model.File);
                w.WriteNumber("threads", Threads);
                w.WriteString("test", c.Constrained.Test.Name);
                w.WriteString("constraint", c.Name);
                w.WriteNumber("n_gen", c.Constrained.Test.Tokens);
                w.WriteNumber("repetitions", Repetitions);
                w.WriteStartArray("samples");
                foreach (double sample in c.Constrained.Samples) w.WriteNumberValue(sample);
                w.WriteEndArray();
                w.WriteNumber("tokens_per_second", c.Constrained.Median);
                w.WriteNumber("free_tokens_per_second", c.Free.Median);
                w.WriteNumber("extra_ms_per_token", c.ExtraMillisecondsPerToken);
                w.WriteNumber("extra_percent", c.ExtraPercent);
                w.WriteNumber("masks_per_token", c.MasksPerToken);
                w.WriteNumber("ms_per_mask", c.MillisecondsPerMask);
                w.WriteNumber("grammar_ms_per_token", c.GrammarMillisecondsPerToken);
                w.WriteNumber("grammar_percent", c.GrammarPercent);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }
}
