using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Suiron.Benchmarking;
using LLama.Native;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;

namespace Suiron.Bench;

/// <summary>How one comparison is run.</summary>
internal sealed record ComparisonSettings(
    int Threads, int PromptTokens, int GeneratedTokens, int Repetitions, int Seed, bool? FlashAttention, bool SuironRss, bool LlamaCppRss, bool Verbose,
    int Depth = 0, KvCacheType KeyCacheType = KvCacheType.F16, KvCacheType ValueCacheType = KvCacheType.F16)
{
    /// <summary>Tokens a cache must hold: the depth plus the longer test.</summary>
    public int LongestTest => Depth + Math.Max(PromptTokens, GeneratedTokens);
    public string CacheTypes => $"k {KvCacheTypes.Name(KeyCacheType)}, v {KvCacheTypes.Name(ValueCacheType)}";

    public static GGMLType GgmlType(KvCacheType type) => type switch
    {
        KvCacheType.F32 => GGMLType.GGML_TYPE_F32,
        KvCacheType.Q8_0 => GGMLType.GGML_TYPE_Q8_0,
        _ => GGMLType.GGML_TYPE_F16,
    };
    public string FlashAttentionName => FlashAttention switch { true => "on", false => "off", null => "auto" };
}

/// <summary>One row of the comparison: one file, one test, both engines.</summary>
internal sealed record ComparisonRow(
    string File, string Type, string? QuantizedBy, BenchmarkSummary Suiron, BenchmarkSummary LlamaCpp, long BytesPerToken, long? SuironRssBytes, long? LlamaCppRssBytes)
{
    public double Ratio => Suiron.Median / LlamaCpp.Median;
    public bool IsGeneration => Suiron.Test.Kind == BenchmarkKind.Generation;
    public double? SuironGbPerSecond => IsGeneration ? WeightTraffic.GigabytesPerSecond(BytesPerToken, Suiron.Median) : null;
    public double? LlamaCppGbPerSecond => IsGeneration ? WeightTraffic.GigabytesPerSecond(BytesPerToken, LlamaCpp.Median) : null;
}

/// <summary>
/// Suiron against llama.cpp on the same files in one process: per file both engines loaded, same threads, same random
/// tokens, runs alternating (see <see cref="BenchmarkRunner"/>). Peak memory is measured in a child process per engine
/// (this process holds both engines, so its own peak would mix them).
/// </summary>
internal static class Comparison
{
    public static IReadOnlyList<ComparisonRow> Run(IReadOnlyList<BenchFile> files, ComparisonSettings s, TextWriter log)
    {
        var rows = new List<ComparisonRow>();
        var tests = BenchmarkTest.For(s.PromptTokens, s.GeneratedTokens, s.Depth);
        foreach (var file in files)
        {
            log.WriteLine($"{file.Label}: loading both engines…");
            IReadOnlyList<IReadOnlyList<BenchmarkSummary>> results;
            long bytesPerToken;
            string typeName;
            using (var gguf = GgufFile.Open(file.Path))
            using (var model = ModelLoader.Load(gguf, new ModelOptions
                   {
                       Threads = s.Threads, ContextSize = s.LongestTest, KeyCacheType = s.KeyCacheType, ValueCacheType = s.ValueCacheType,
                   }))
            using (var llama = new LlamaCppSubject(file.Path, s.Threads, s.LongestTest, s.FlashAttention,
                       ComparisonSettings.GgmlType(s.KeyCacheType), ComparisonSettings.GgmlType(s.ValueCacheType)))
            {
                if (llama.VocabSize != model.Info.VocabSize)
                    throw new InvalidOperationException($"{file.Label}: llama.cpp sees {llama.VocabSize} tokens, Suiron {model.Info.VocabSize}.");
                int trained = model.Info.ContextLength;
                if (s.LongestTest > trained) throw new ArgumentException($"{file.Label}: -d + -p/-n {s.LongestTest} is beyond the model's context of {trained} tokens.");
                bytesPerToken = WeightTraffic.BytesPerToken(gguf);
                typeName = ModelDescription.TypeName(gguf);
                var suiron = new SuironBenchmarkSubject(model, s.LongestTest);
                Action<string>? progress = s.Verbose ? line => log.WriteLine($"  {file.Label} {line}") : null;
                results = BenchmarkRunner.Run([suiron, llama], tests, s.Repetitions, model.Info.VocabSize, s.Seed, warmup: true, progress);
            }
            long? suironRss = s.SuironRss ? MeasureRss(file.Path, "suiron", s, log) : null;
            long? llamaRss = s.LlamaCppRss ? MeasureRss(file.Path, "llamacpp", s, log) : null;
            for (int i = 0; i < tests.Count; i++)
            {
                var row = new ComparisonRow(file.Label, typeName, file.QuantizedBy?.ToString(), results[0][i], results[1][i], bytesPerToken, suironRss, llamaRss);
                rows.Add(row);
                log.WriteLine($"  {row.Suiron.Test}: suiron {row.Suiron.Median:F2} t/s, llama.cpp {row.LlamaCpp.Median:F2} t/s, ratio {row.Ratio:F2}");
            }
        }
        return rows;
    }

    /// <summary>
    /// Runs one engine alone in a child process (this program's hidden <c>rss</c> command: load, one pp and one tg run)
    /// and returns its peak resident set.
    /// </summary>
    private static long? MeasureRss(string path, string engine, ComparisonSettings s, TextWriter log)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (string a in new[] { "rss", "--file", path, "--engine", engine, "-p", s.PromptTokens.ToString(), "-n", s.GeneratedTokens.ToString(),
                     "-t", s.Threads.ToString(), "--flash-attn", s.FlashAttentionName, "-d", s.Depth.ToString(),
                     "-ctk", KvCacheTypes.Name(s.KeyCacheType), "-ctv", KvCacheTypes.Name(s.ValueCacheType) })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 || !long.TryParse(stdout.Trim(), out long bytes))
        {
            log.WriteLine($"  peak RSS of {engine} not measured (exit {process.ExitCode}): {stderr.Result.Trim()}");
            return null;
        }
        return bytes;
    }

    /// <summary>The body of the hidden <c>rss</c> command: one engine, one warm-up-free run of each test, then VmHWM.</summary>
    public static long RssChild(string path, string engine, int promptTokens, int generatedTokens, int threads, bool? flashAttention,
        int depth = 0, KvCacheType keyType = KvCacheType.F16, KvCacheType valueType = KvCacheType.F16)
    {
        int longest = depth + Math.Max(promptTokens, generatedTokens);
        var tests = BenchmarkTest.For(promptTokens, generatedTokens, depth);
        if (engine == "suiron")
        {
            using var gguf = GgufFile.Open(path);
            using var model = ModelLoader.Load(gguf, new ModelOptions { Threads = threads, ContextSize = longest, KeyCacheType = keyType, ValueCacheType = valueType });
            BenchmarkRunner.Run([new SuironBenchmarkSubject(model, longest)], tests, 1, model.Info.VocabSize, warmup: false);
        }
        else
        {
            using var llama = new LlamaCppSubject(path, threads, longest, flashAttention, ComparisonSettings.GgmlType(keyType), ComparisonSettings.GgmlType(valueType));
            BenchmarkRunner.Run([llama], tests, 1, llama.VocabSize, warmup: false);
        }
        return PeakMemory.ResidentBytes();
    }

    public static string Table(IReadOnlyList<ComparisonRow> rows, ComparisonSettings s)
    {
        bool suironRss = rows.Any(r => r.SuironRssBytes is not null), llamaRss = rows.Any(r => r.LlamaCppRssBytes is not null);
        var header = new List<string> { "file", "test", "Suiron t/s", "llama.cpp t/s", "Suiron/llama.cpp", "bytes/token", "Suiron GB/s", "llama.cpp GB/s" };
        if (suironRss) header.Add("Suiron peak RSS");
        if (llamaRss) header.Add("llama.cpp peak RSS");
        var table = new List<string[]> { header.ToArray() };
        foreach (var r in rows)
        {
            var cells = new List<string>
            {
                r.File, r.Suiron.Test.Name,
                $"{r.Suiron.Median:F2} ± {r.Suiron.StandardDeviation:F2}", $"{r.LlamaCpp.Median:F2} ± {r.LlamaCpp.StandardDeviation:F2}", $"{r.Ratio:F2}",
                r.IsGeneration ? ModelDescription.FormatBytes(r.BytesPerToken) : "",
                r.SuironGbPerSecond?.ToString("F2") ?? "", r.LlamaCppGbPerSecond?.ToString("F2") ?? "",
            };
            if (suironRss) cells.Add(r.SuironRssBytes is long a ? ModelDescription.FormatBytes(a) : "");
            if (llamaRss) cells.Add(r.LlamaCppRssBytes is long b ? ModelDescription.FormatBytes(b) : "");
            table.Add(cells.ToArray());
        }
        var text = new StringBuilder();
        text.AppendLine(Conditions(s));
        text.AppendLine();
        AppendMarkdown(text, table, numericFrom: 2);
        text.AppendLine();
        text.AppendLine($"t/s: median ± standard deviation of {s.Repetitions} run{(s.Repetitions == 1 ? "" : "s")} per engine after one warm-up run, runs alternating between the engines.");
        text.AppendLine("GB/s: weight bytes read per decoded token × tg t/s, the same bytes for both engines: every tensor once, one embedding row, tied output counted; " +
                        "of an MoE layer's routed experts (ffn_*_exps) only the expert_used_count of expert_count experts a token goes to (router and shared experts whole).");
        if (suironRss || llamaRss) text.AppendLine("peak RSS: VmHWM of a separate process running that engine alone on the file (load, one pp and one tg run), mapped weights included.");
        return text.ToString();
    }

    /// <summary>The conditions of the run, printed above the table.</summary>
    public static string Conditions(ComparisonSettings s)
    {
        string cpu = "unknown CPU";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        string llamaSharp = LlamaSharpVersion();
        string isa = Suiron.Kernels.WideKernelChoice.CpuDescription();
        string features = string.Join(" ", LlamaCppSubject.SystemInfo().Split('|', StringSplitOptions.TrimEntries)
            .Select(f => f.Split(':')[^1].Trim()).Where(f => f.EndsWith("= 1", StringComparison.Ordinal)).Select(f => f.Split(' ')[0]).Distinct());
        return $"machine: {cpu} ({isa}), {Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; " +
               $".NET {Environment.Version}; llama.cpp via LLamaSharp {llamaSharp} (LLamaSharp.Backend.Cpu; ggml CPU features: {features})\n" +
               $"settings: threads {s.Threads}; pp{s.PromptTokens} / tg{s.GeneratedTokens}; {s.Repetitions} repetitions; KV cache {s.CacheTypes} in both" +
               (s.KeyCacheType == KvCacheType.Q8_0 || s.ValueCacheType == KvCacheType.Q8_0
                   ? ModelOptions.AttentionRotationDisabledByEnvironment
                       ? " (Hadamard attention rotation off in both: LLAMA_ATTN_ROT_DISABLE)"
                       : " (Hadamard attention rotation on in both, llama.cpp's default)"
                   : "") + "; " +
               $"llama.cpp flash attention {s.FlashAttentionName}, n_batch >= prompt, n_ubatch 512; random tokens (seed {s.Seed}); tg greedy (argmax) from " +
               (s.Depth > 0 ? $"a cache holding {s.Depth} random tokens (filled untimed)" : "an empty cache");
    }

    /// <summary>The LLamaSharp package version, from this program's deps.json (the assembly itself carries 0.0.0).</summary>
    private static string LlamaSharpVersion()
    {
        try
        {
            string deps = Path.Combine(AppContext.BaseDirectory, "Suiron.Bench.deps.json");
            var match = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(deps), "\"LLamaSharp/([^\"]+)\"");
            if (match.Success) return match.Groups[1].Value;
        }
        catch (IOException) { }
        return "?";
    }

    public static string Json(IReadOnlyList<ComparisonRow> rows, ComparisonSettings s)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("conditions", Conditions(s));
            w.WriteNumber("threads", s.Threads);
            w.WriteNumber("repetitions", s.Repetitions);
            w.WriteString("flash_attention", s.FlashAttentionName);
            w.WriteString("cache_type_k", KvCacheTypes.Name(s.KeyCacheType));
            w.WriteString("cache_type_v", KvCacheTypes.Name(s.ValueCacheType));
            w.WriteNumber("depth", s.Depth);
            w.WriteStartArray("results");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("file", r.File);
                w.WriteString("type", r.Type);
                if (r.QuantizedBy is not null) w.WriteString("quantized_by", r.QuantizedBy);
                w.WriteString("test", r.Suiron.Test.Name);
                Engine(w, "suiron", r.Suiron, r.SuironGbPerSecond, r.SuironRssBytes);
                Engine(w, "llamacpp", r.LlamaCpp, r.LlamaCppGbPerSecond, r.LlamaCppRssBytes);
                w.WriteNumber("ratio", r.Ratio);
                if (r.IsGeneration) w.WriteNumber("bytes_per_token", r.BytesPerToken);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void Engine(Utf8JsonWriter w, string name, BenchmarkSummary s, double? gbPerSecond, long? rss)
    {
        w.WriteStartObject(name);
        w.WriteNumber("tokens_per_second", s.Median);
        w.WriteNumber("min", s.Min);
        w.WriteNumber("max", s.Max);
        w.WriteNumber("stddev", s.StandardDeviation);
        w.WriteStartArray("samples");
        foreach (double x in s.Samples) w.WriteNumberValue(x);
        w.WriteEndArray();
        if (gbPerSecond is double gb) w.WriteNumber("gb_per_second", gb);
        if (rss is long bytes) w.WriteNumber("peak_rss_bytes", bytes);
        w.WriteEndObject();
    }

    private static void AppendMarkdown(StringBuilder text, List<string[]> rows, int numericFrom)
    {
        int[] widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        for (int i = 0; i < rows.Count; i++)
        {
            text.Append('|');
            for (int c = 0; c < widths.Length; c++)
                text.Append(' ').Append(c >= numericFrom ? rows[i][c].PadLeft(widths[c]) : rows[i][c].PadRight(widths[c])).Append(" |");
            text.AppendLine();
            if (i == 0)
            {
                text.Append('|');
                for (int c = 0; c < widths.Length; c++) text.Append(new string('-', widths[c] + 1)).Append(c >= numericFrom ? ":|" : " |");
                text.AppendLine();
            }
        }
    }
}
