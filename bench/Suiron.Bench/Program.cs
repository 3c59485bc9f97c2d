using System.CommandLine;
using System.Diagnostics;
using Suiron.Bench;
using Suiron.Gguf;

// Suiron.Bench: Suiron vs llama.cpp on the same GGUF files, same threads, one process, ratios.
//   dotnet run -c Release --project bench/Suiron.Bench -- [--quick] [--threads 2] [-p 512 -n 128 -r 5] [--json results.json]
//   dotnet run -c Release --project bench/Suiron.Bench -- models      (only write the model files)
LlamaCppSubject.ConfigureLogging();

var dir = new Option<string>("--dir") { Description = "Folder of the benchmark model files (written when missing)", DefaultValueFactory = _ => BenchFiles.DefaultDirectory };
var models = new Option<string>("--models") { Description = "Model shapes, comma-separated: " + string.Join(", ", BenchModelSpec.All.Select(s => s.Name)), DefaultValueFactory = _ => string.Join(",", BenchModelSpec.All.Select(s => s.Name)) };
var types = new Option<string>("--types") { Description = "File types, comma-separated: F16, Q8_0, Q4_K_M", DefaultValueFactory = _ => "Q8_0,Q4_K_M" };
var quantizers = new Option<string>("--quantizers") { Description = "Who quantizes, comma-separated: llamacpp, suiron", DefaultValueFactory = _ => "llamacpp,suiron" };
var threads = new Option<int>("--threads", "-t") { Description = "Threads for both engines (and the quantizers)", DefaultValueFactory = _ => 2 };
var files = new Option<string[]>("--file", "-f") { Description = "Compare these GGUF files instead of the generated ones (repeatable)" };
var prompt = new Option<int?>("--n-prompt", "-p") { Description = "Prompt tokens of the pp test (default 512; 32 with --quick; 0 = skip)" };
var generate = new Option<int?>("--n-gen", "-n") { Description = "Generated tokens of the tg test (default 128; 16 with --quick; 0 = skip)" };
var repetitions = new Option<int?>("--repetitions", "-r") { Description = "Timed runs per test and engine (default 5; 2 with --quick)" };
var quick = new Option<bool>("--quick") { Description = "Smoke run: small -p/-n/-r" };
var seed = new Option<int>("--seed") { Description = "Seed of the random tokens", DefaultValueFactory = _ => 1234 };
var flashAttention = new Option<string>("--flash-attn", "-fa") { Description = "llama.cpp flash attention: off (llama-bench's default), on, auto", DefaultValueFactory = _ => "off" };
var rss = new Option<string>("--rss") { Description = "Peak RSS measured in a child process for: suiron, both, none", DefaultValueFactory = _ => "suiron" };
var depth = new Option<int>("--depth", "-d") { Description = "Tokens in the cache before each test (llama-bench's -d; filled untimed)", DefaultValueFactory = _ => 0 };
var cacheTypeK = new Option<string>("--cache-type-k", "-ctk") { Description = "KV cache type of keys for both engines: f32, f16, q8_0", DefaultValueFactory = _ => "f16" };
var cacheTypeV = new Option<string>("--cache-type-v", "-ctv") { Description = "KV cache type of values for both engines: f32, f16, q8_0 (q8_0 needs --flash-attn on in llama.cpp)", DefaultValueFactory = _ => "f16" };
var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
var verbose = new Option<bool>("--verbose", "-v") { Description = "Report every run on stderr" };

var root = new RootCommand("Suiron vs llama.cpp: the same GGUF files, the same threads, pp and tg tests, ratios.")
{
    dir, models, types, quantizers, threads, files, prompt, generate, repetitions, quick, seed, flashAttention, rss, json, verbose, depth, cacheTypeK, cacheTypeV,
};
root.SetAction(result => Guard(() =>
{
    int t = result.GetValue(threads);
    bool isQuick = result.GetValue(quick);
    int p = result.GetValue(prompt) ?? (isQuick ? 32 : 512), n = result.GetValue(generate) ?? (isQuick ? 16 : 128);
    int r = result.GetValue(repetitions) ?? (isQuick ? 2 : 5);
    if (t < 1) throw new ArgumentException($"--threads must be ≥ 1 (got {t}).");
    if (p < 0 || n < 0 || p + n == 0) throw new ArgumentException("-p and -n must be ≥ 0 and not both 0.");
    if (r < 1) throw new ArgumentException($"--repetitions must be ≥ 1 (got {r}).");
    string measureRss = result.GetValue(rss)!.ToLowerInvariant();
    if (measureRss is not ("suiron" or "both" or "none")) throw new ArgumentException($"--rss must be suiron, both or none (got '{measureRss}').");
    int d = result.GetValue(depth);
    if (d < 0) throw new ArgumentException($"--depth must be ≥ 0 (got {d}).");
    var keyType = Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeK)!, "--cache-type-k");
    var valueType = Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeV)!, "--cache-type-v");
    bool? fa = ParseFlashAttention(result.GetValue(flashAttention)!);
    if (valueType == Suiron.Inference.KvCacheType.Q8_0 && fa == false)
        throw new ArgumentException("--cache-type-v q8_0 needs --flash-attn on: llama.cpp refuses a quantized V cache without flash attention.");
    var settings = new ComparisonSettings(t, p, n, r, result.GetValue(seed), fa,
        SuironRss: measureRss != "none", LlamaCppRss: measureRss == "both", Verbose: result.GetValue(verbose), Depth: d, KeyCacheType: keyType, ValueCacheType: valueType);

    var benchFiles = result.GetValue(files) is { Length: > 0 } explicitFiles
        ? explicitFiles.Select(f => File.Exists(f) ? new BenchFile(Path.GetFullPath(f), Path.GetFileNameWithoutExtension(f), default, null)
                                                   : throw new FileNotFoundException($"Model file not found: {f}")).ToList()
        : PrepareFiles(result, t);
    WarnIfDebug();
    var rows = Comparison.Run(benchFiles, settings, Console.Error);
    Console.Out.Write(Comparison.Table(rows, settings));
    if (result.GetValue(json) is { } jsonPath)
    {
        File.WriteAllText(jsonPath, Comparison.Json(rows, settings));
        Console.Error.WriteLine($"results written to {jsonPath}");
    }
    return 0;
}));

var writeModels = new Command("models", "Write the benchmark model files (random weights, real shapes) if missing, and check the quantized types")
{
    dir, models, types, quantizers, threads,
};
writeModels.SetAction(result => Guard(() =>
{
    foreach (var file in PrepareFiles(result, result.GetValue(threads)))
        Console.WriteLine($"{file.Path} ({new FileInfo(file.Path).Length / (double)(1 << 20):F0} MiB)");
    return 0;
}));
root.Subcommands.Add(writeModels);

var rssFile = new Option<string>("--file") { Required = true };
var rssEngine = new Option<string>("--engine") { Required = true };
var rssPrompt = new Option<int>("--n-prompt", "-p");
var rssGenerate = new Option<int>("--n-gen", "-n");
var rssThreads = new Option<int>("--threads", "-t") { DefaultValueFactory = _ => 2 };
var rssCommand = new Command("rss", "(internal) one engine alone: load, one pp and one tg run, print the peak resident bytes")
{
    rssFile, rssEngine, rssPrompt, rssGenerate, rssThreads, flashAttention, depth, cacheTypeK, cacheTypeV,
};
rssCommand.Hidden = true;
rssCommand.SetAction(result => Guard(() =>
{
    Console.WriteLine(Comparison.RssChild(result.GetValue(rssFile)!, result.GetValue(rssEngine)!, result.GetValue(rssPrompt), result.GetValue(rssGenerate),
        result.GetValue(rssThreads), ParseFlashAttention(result.GetValue(flashAttention)!), result.GetValue(depth),
        Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeK)!), Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeV)!)));
    return 0;
}));
root.Subcommands.Add(rssCommand);

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine($"error: {error.Message}");
    return 2;
}
return parsed.Invoke();

IReadOnlyList<BenchFile> PrepareFiles(ParseResult result, int t)
{
    var specs = Split(result.GetValue(models)!).Select(BenchModelSpec.Find).ToList();
    var fileTypes = Split(result.GetValue(types)!).Select(ParseType).ToList();
    var who = Split(result.GetValue(quantizers)!).Select(q => q.ToLowerInvariant() switch
    {
        "llamacpp" or "llama.cpp" => Quantizer.LlamaCpp,
        "suiron" => Quantizer.Suiron,
        _ => throw new ArgumentException($"Unknown quantizer '{q}' (llamacpp, suiron)."),
    }).ToList();
    var prepared = BenchFiles.Prepare(result.GetValue(dir)!, specs, fileTypes, who, t, Console.Error);
    foreach (string line in BenchFiles.CompareQuantizers(prepared)) Console.Error.WriteLine(line);
    return prepared;
}

static IEnumerable<string> Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

static BenchFileType ParseType(string name) => name.ToUpperInvariant() switch
{
    "F16" => BenchFileType.F16,
    "Q8_0" => BenchFileType.Q8_0,
    "Q4_K_M" => BenchFileType.Q4_K_M,
    _ => throw new ArgumentException($"Unknown file type '{name}' (F16, Q8_0, Q4_K_M)."),
};

static bool? ParseFlashAttention(string value) => value.ToLowerInvariant() switch
{
    "off" or "0" or "false" => false,
    "on" or "1" or "true" => true,
    "auto" => null,
    _ => throw new ArgumentException($"--flash-attn must be off, on or auto (got '{value}')."),
};

static void WarnIfDebug()
{
    if (typeof(Suiron.Models.ModelLoader).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false)
        .OfType<DebuggableAttribute>().Any(a => a.IsJITOptimizerDisabled))
        Console.Error.WriteLine("warning: Suiron is a Debug build; run with -c Release for meaningful numbers.");
}

static int Guard(Func<int> body)
{
    try
    {
        return body();
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
    catch (Exception e) when (e is FileNotFoundException or GgufException or IOException or InvalidOperationException or NotSupportedException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
}
