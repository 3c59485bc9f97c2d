using System.CommandLine;
using System.Diagnostics;
using Suiron.Bench;
using Suiron.Benchmarking;
using Suiron.Gguf;
using Suiron.Kernels;

// Suiron.Bench: Suiron vs llama.cpp on the same GGUF files, same threads, one process, ratios.
//   dotnet run -c Release --project bench/Suiron.Bench -- [--quick] [--threads 2] [-p 512 -n 128 -r 5] [--json results.json]
//   dotnet run -c Release --project bench/Suiron.Bench -- models      (only write the model files)
//   dotnet run -c Release --project bench/Suiron.Bench -- batch --dir /tmp/x -s 4   (batched vs per-sequence decode, A/B)
//   dotnet run -c Release --project bench/Suiron.Bench -- rotation -f F.gguf -d 2048 -ctk q8_0 -ctv q8_0
//                                                       (decode with vs without the quantized cache's Hadamard rotation, A/B)
//   dotnet run -c Release --project bench/Suiron.Bench -- latency -f F.gguf -p 2048   (another stream's latency during a long prompt)
//   dotnet run -c Release --project bench/Suiron.Bench -- attention -d 4096 --rows 256 --heads 14/2/64   (tiled vs row-by-row attention)
//   dotnet run -c Release --project bench/Suiron.Bench -- kernels     (dot kernels: scalar vs Vector128 vs AVX2, one thread)
//   dotnet run -c Release --project bench/Suiron.Bench -- paths       (matmuls: AVX2 vs AVX-512 kernels, A/B)
//   dotnet run -c Release --project bench/Suiron.Bench -- vocab --from F.gguf --tokenizer DIR --out G.gguf
//                                                       (a copy with a real tokenizer, for `suiron bench --json-schema`)
LlamaCppSubject.ConfigureLogging();

var dir = new Option<string>("--dir") { Description = "Folder of the benchmark model files (written when missing)", DefaultValueFactory = _ => BenchFiles.DefaultDirectory };
var models = new Option<string>("--models") { Description = "Model shapes, comma-separated: " + string.Join(", ", BenchModelSpec.Named.Select(s => s.Name)), DefaultValueFactory = _ => string.Join(",", BenchModelSpec.All.Select(s => s.Name)) };
var types = new Option<string>("--types") { Description = "File types, comma-separated: F16, Q8_0, Q4_K_M, IQ4_XS, IQ2_XXS (llama.cpp-quantized only), MXFP4_MOE", DefaultValueFactory = _ => "Q8_0,Q4_K_M" };
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
var depths = new Option<string?>("--depths") { Description = "Run the tests at each of these depths (comma-separated, e.g. 0,2048,8192), one table" };
var plot = new Option<string?>("--plot") { Description = "With --depths: write tokens/s against depth for both engines to this PNG" };
var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
var verbose = new Option<bool>("--verbose", "-v") { Description = "Report every run on stderr" };
var noBandwidth = new Option<bool>("--no-read-bandwidth") { Description = "Skip measuring the machine's read bandwidth (the yardstick for decode GB/s)" };

var root = new RootCommand("Suiron vs llama.cpp: the same GGUF files, the same threads, pp and tg tests, ratios.")
{
    dir, models, types, quantizers, threads, files, prompt, generate, repetitions, quick, seed, flashAttention, rss, json, verbose, depth, cacheTypeK, cacheTypeV,
    noBandwidth, depths, plot,
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
    int[] depthList = result.GetValue(depths) is { } list
        ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.TryParse(x, out int v) && v >= 0 ? v : throw new ArgumentException($"--depths: '{x}' is not a depth ≥ 0.")).ToArray()
        : [d];
    if (result.GetValue(plot) is not null && depthList.Length < 2) throw new ArgumentException("--plot needs --depths with at least two depths.");
    var rows = depthList.SelectMany(depthValue => Comparison.Run(benchFiles, settings with { Depth = depthValue }, Console.Error)).ToList();
    if (result.GetValue(plot) is { } plotPath)
    {
        DepthPlot.Write(rows, settings, plotPath);
        Console.Error.WriteLine($"plot written to {plotPath}");
    }
    Console.Out.Write(Comparison.Table(rows, settings));
    if (!result.GetValue(noBandwidth) && n > 0) Console.Out.Write(BandwidthShare(rows, t));
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

var batchFile = new Option<string?>("--file", "-f") { Description = "GGUF file (default: a scaled-down GLM-4.5-Air of random weights, written to --dir when missing)" };
var sequences = new Option<int>("--sequences", "-s") { Description = "Sequences decoding together", DefaultValueFactory = _ => 4 };
var steps = new Option<int>("--steps") { Description = "Decode steps per timed run", DefaultValueFactory = _ => 16 };
var batchCommand = new Command("batch", "Continuous-batching decode, A/B in one process: one Forward per sequence vs one ForwardBatch for all, alternating runs, medians")
{
    dir, batchFile, sequences, steps, threads, repetitions,
};
batchCommand.SetAction(result => Guard(() =>
{
    string path = result.GetValue(batchFile) ?? Path.Combine(result.GetValue(dir)!, "glm4moe-mini-F16.gguf");
    if (!File.Exists(path))
    {
        if (result.GetValue(batchFile) is not null) throw new FileNotFoundException($"Model file not found: {path}");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Console.Error.WriteLine($"writing {path}");
        BatchBench.WriteGlm4Moe(path);
    }
    int s = result.GetValue(sequences), n = result.GetValue(steps), r = result.GetValue(repetitions) ?? 5;
    if (s < 1 || n < 1 || r < 1) throw new ArgumentException("--sequences, --steps and --repetitions must be ≥ 1.");
    WarnIfDebug();
    BatchBench.Run(path, result.GetValue(threads), s, n, r, promptLength: 64, Console.Out);
    return 0;
}));
root.Subcommands.Add(batchCommand);
var specFile = new Option<string>("--file", "-f") { Description = "Target GGUF file", Required = true };
var specDraft = new Option<string?>("--draft-model", "-md") { Description = "Draft GGUF file (default: the target's own Q4_K_M copy; none: no draft-model row)" };
var specTokens = new Option<int>("--n-gen", "-n") { Description = "Greedy tokens per run", DefaultValueFactory = _ => 200 };
var specCommand = new Command("speculation", "Speculative decoding (n-gram, draft model, MTP head where the file has one) vs plain decoding on a text-reproduction task, same file and threads, runs alternating")
{
    specFile, specDraft, specTokens, threads, repetitions,
};
specCommand.SetAction(result => Guard(() =>
{
    string path = result.GetValue(specFile)!;
    if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: {path}");
    int n = result.GetValue(specTokens), r = result.GetValue(repetitions) ?? 5;
    if (n < 1 || r < 1) throw new ArgumentException("--n-gen and --repetitions must be ≥ 1.");
    WarnIfDebug();
    SpeculationBench.Run(path, result.GetValue(specDraft), result.GetValue(threads), n, r, Console.Out);
    return 0;
}));
root.Subcommands.Add(specCommand);
var latencyFile = new Option<string>("--file", "-f") { Description = "GGUF file", Required = true };
var latencyPrompt = new Option<int>("--n-prompt", "-p") { Description = "Tokens of client B's long prompt", DefaultValueFactory = _ => 2048 };
var latencyFactor = new Option<double>("--prefill-latency") { Description = "The pacing factor compared with no pacing", DefaultValueFactory = _ => 2.0 };
var latencyCommand = new Command("latency", "Another client's inter-token latency while a long prompt is evaluated, prefill pacing off vs on, runs alternating")
{
    latencyFile, latencyPrompt, latencyFactor, threads, repetitions,
};
latencyCommand.SetAction(result => Guard(() =>
{
    string path = result.GetValue(latencyFile)!;
    if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: {path}");
    int p = result.GetValue(latencyPrompt), r = result.GetValue(repetitions) ?? 3;
    double f = result.GetValue(latencyFactor);
    if (p < 1 || r < 1 || f < 1) throw new ArgumentException("--n-prompt and --repetitions must be ≥ 1, --prefill-latency ≥ 1.");
    WarnIfDebug();
    LatencyBench.Run(path, result.GetValue(threads), p, f, r, Console.Out);
    return 0;
}));
root.Subcommands.Add(latencyCommand);
var attentionDepth = new Option<int>("--depth", "-d") { Description = "Positions in the cache before the rows", DefaultValueFactory = _ => 4096 };
var attentionRows = new Option<int>("--rows") { Description = "Query rows (a prompt chunk)", DefaultValueFactory = _ => 256 };
var attentionHeads = new Option<string>("--heads") { Description = "Query heads / KV heads / head length", DefaultValueFactory = _ => "14/2/64" };
var attentionThreads = new Option<int>("--threads", "-t") { Description = "Also run the tiled form over a pool of this many threads, as a pass splits it", DefaultValueFactory = _ => 1 };
var attentionCommand = new Command("attention", "Attention alone (prefill block or decode step), tiled vs row by row, one thread, A/B alternating")
{
    attentionDepth, attentionRows, attentionHeads, repetitions, cacheTypeK, cacheTypeV, attentionThreads,
};
attentionCommand.SetAction(result => Guard(() =>
{
    int[] shape = result.GetValue(attentionHeads)!.Split('/').Select(int.Parse).ToArray();
    if (shape.Length != 3 || shape[0] < 1 || shape[1] < 1 || shape[0] % shape[1] != 0 || shape[2] < 1) throw new ArgumentException("--heads is H/KV/D with H a multiple of KV.");
    int d = result.GetValue(attentionDepth), rows = result.GetValue(attentionRows), r = result.GetValue(repetitions) ?? 5;
    int t = result.GetValue(attentionThreads);
    if (d < 0 || rows < 1 || r < 1 || t < 1) throw new ArgumentException("--depth ≥ 0, --rows, --repetitions and --threads ≥ 1.");
    WarnIfDebug();
    AttentionBench.Run(d, rows, shape[0], shape[1], shape[2], r,
        Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeK)!, "--cache-type-k"), Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeV)!, "--cache-type-v"), Console.Out, t);
    return 0;
}));
root.Subcommands.Add(attentionCommand);
var rotationFile = new Option<string>("--file", "-f") { Description = "GGUF file", Required = true };
var rotationDepth = new Option<int>("--depth", "-d") { Description = "Tokens in the cache before each timed run (filled untimed)", DefaultValueFactory = _ => 2048 };
var rotationCommand = new Command("rotation", "Decode cost of the Hadamard attention rotation of a quantized cache, A/B in one process: rotation on vs off, alternating runs, medians")
{
    rotationFile, rotationDepth, steps, threads, repetitions, cacheTypeK, cacheTypeV,
};
rotationCommand.SetAction(result => Guard(() =>
{
    string path = result.GetValue(rotationFile)!;
    if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: {path}");
    int d = result.GetValue(rotationDepth), n = result.GetValue(steps), r = result.GetValue(repetitions) ?? 5;
    if (d < 0 || n < 1 || r < 1) throw new ArgumentException("--depth must be ≥ 0, --steps and --repetitions ≥ 1.");
    WarnIfDebug();
    RotationBench.Run(path, result.GetValue(threads), d, n, r,
        Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeK)!, "--cache-type-k"), Suiron.Inference.KvCacheTypes.Parse(result.GetValue(cacheTypeV)!, "--cache-type-v"),
        Console.Out);
    return 0;
}));
root.Subcommands.Add(rotationCommand);
var vocabFrom = new Option<string>("--from") { Description = "The GGUF file to copy", Required = true };
var vocabTokenizer = new Option<string>("--tokenizer") { Description = "Hugging Face tokenizer folder (tokenizer.json, tokenizer_config.json)", Required = true };
var vocabPre = new Option<string>("--pre") { Description = "llama.cpp pre-tokenizer name (tokenizer.ggml.pre)", DefaultValueFactory = _ => "qwen2" };
var vocabOut = new Option<string>("--out") { Description = "The GGUF file to write", Required = true };
var vocabCommand = new Command("vocab", "Copy a GGUF file with a real Hugging Face tokenizer in place of its own (for grammar-masking benchmarks)")
{
    vocabFrom, vocabTokenizer, vocabPre, vocabOut,
};
vocabCommand.SetAction(result => Guard(() =>
{
    string destination = result.GetValue(vocabOut)!;
    VocabularySwap.Write(result.GetValue(vocabFrom)!, result.GetValue(vocabTokenizer)!, result.GetValue(vocabPre)!, destination);
    Console.WriteLine($"{destination} ({new FileInfo(destination).Length / (double)(1 << 20):F0} MiB)");
    return 0;
}));
root.Subcommands.Add(vocabCommand);

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

var kernelColumns = new Option<int>("--columns") { Description = "Elements per row (a multiple of 256)", DefaultValueFactory = _ => 4096 };
var kernelRows = new Option<int>("--rows") { Description = "Rows per pass (keep them cache-resident)", DefaultValueFactory = _ => 16 };
var kernelRounds = new Option<int>("--rounds") { Description = "Alternating turns per kernel family", DefaultValueFactory = _ => 7 };
var kernelTypes = new Option<string?>("--types") { Description = "Weight types, comma-separated (default: all)" };
var kernelTurn = new Option<int>("--turn-ms") { Description = "Milliseconds per turn", DefaultValueFactory = _ => 100 };
var kernelBest = new Option<bool>("--best") { Description = "Report each family's fastest turn instead of the median (use many short turns on a shared machine)" };
var kernelGgml = new Option<bool>("--ggml") { Description = "Add ggml's own CPU vec_dot (LLamaSharp's build for this CPU) as a column" };
var kernelsCommand = new Command("kernels", "Single-thread dot-kernel throughput per type: scalar vs Vector128 (the ARM64 path) vs AVX2, A/B in one process")
{
    kernelColumns, kernelRows, kernelRounds, kernelTypes, kernelTurn, kernelBest, kernelGgml,
};
kernelsCommand.SetAction(result => Guard(() =>
{
    int columns = result.GetValue(kernelColumns), kernelRowCount = result.GetValue(kernelRows), rounds = result.GetValue(kernelRounds);
    if (columns <= 0 || columns % 256 != 0) throw new ArgumentException($"--columns must be a positive multiple of 256 (got {columns}).");
    int turnMs = result.GetValue(kernelTurn);
    if (kernelRowCount < 1 || rounds < 1 || turnMs < 1) throw new ArgumentException("--rows, --rounds and --turn-ms must be ≥ 1.");
    var only = result.GetValue(kernelTypes) is { } list ? Split(list).Select(name => Enum.Parse<Suiron.Tensors.TensorType>(name, ignoreCase: true)).ToList() : null;
    WarnIfDebug();
    Console.Out.Write(KernelBench.Run(columns, kernelRowCount, rounds, TimeSpan.FromMilliseconds(turnMs), only, result.GetValue(kernelBest),
        result.GetValue(kernelGgml), Console.Error));
    return 0;
}));
root.Subcommands.Add(kernelsCommand);

var pathTypes = new Option<string>("--types") { Description = "Weight types, comma-separated", DefaultValueFactory = _ => "Q8_0,Q4_0,Q5_0,Q4_K,Q6_K" };
var pathColumns = new Option<int>("--columns") { Description = "Elements per row (a multiple of 256)", DefaultValueFactory = _ => 2048 };
var pathRows = new Option<int>("--rows") { Description = "Rows (2048 x 2048 Q4_K is 2.4 MB: past L2; use more rows to stream from DRAM)", DefaultValueFactory = _ => 2048 };
var pathBatches = new Option<string>("--batches") { Description = "Tokens per matmul, comma-separated (1: decode; more: the GEMM)", DefaultValueFactory = _ => "1,64" };
var pathThreads = new Option<int>("-t", "--threads") { Description = "Threads", DefaultValueFactory = _ => 1 };
var pathRounds = new Option<int>("--rounds") { Description = "Alternating turns per path", DefaultValueFactory = _ => 11 };
var pathBest = new Option<bool>("--best") { Description = "Report each path's fastest turn instead of the median" };
var pathScaleKernels = new Option<bool>("--block32-scales") { Description = "A/B the two 256-bit Block32 GEMM micro-kernels (scale products by permutes vs broadcast FMA operands) instead of AVX2 vs AVX-512" };
var pathsCommand = new Command("paths", "Matmul throughput per type on the AVX2 kernels vs the AVX-512 ones, A/B in one process (needs an AVX-512 CPU)")
{
    pathTypes, pathColumns, pathRows, pathBatches, pathThreads, pathRounds, pathScaleKernels, pathBest,
};
pathsCommand.SetAction(result => Guard(() =>
{
    int columns = result.GetValue(pathColumns), rowCount = result.GetValue(pathRows), rounds = result.GetValue(pathRounds), t = result.GetValue(pathThreads);
    if (columns <= 0 || columns % 256 != 0) throw new ArgumentException($"--columns must be a positive multiple of 256 (got {columns}).");
    if (rowCount < 1 || rounds < 1 || t < 1) throw new ArgumentException("--rows, --rounds and --threads must be ≥ 1.");
    var types = Split(result.GetValue(pathTypes)!).Select(name => Enum.Parse<Suiron.Tensors.TensorType>(name, ignoreCase: true)).ToList();
    var batchList = Split(result.GetValue(pathBatches)!).Select(int.Parse).ToList();
    WarnIfDebug();
    Console.Out.Write(PathBench.Run(types, columns, rowCount, batchList, t, rounds, TimeSpan.FromMilliseconds(150), Console.Error, result.GetValue(pathScaleKernels), result.GetValue(pathBest)));
    return 0;
}));
root.Subcommands.Add(pathsCommand);

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
    "IQ4_XS" => BenchFileType.IQ4_XS,
    "IQ2_XXS" => BenchFileType.IQ2_XXS,
    "MXFP4_MOE" => BenchFileType.MXFP4_MOE,
    _ => throw new ArgumentException($"Unknown file type '{name}' (F16, Q8_0, Q4_K_M, IQ4_XS, IQ2_XXS, MXFP4_MOE)."),
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

// The share of the machine's read bandwidth each engine's decode reaches: the "≥ 85% of read bandwidth" yardstick.
static string BandwidthShare(IReadOnlyList<ComparisonRow> rows, int threads)
{
    using var pool = new WorkerPool(threads);
    ReadBandwidthResult wall = ReadBandwidth.Measure(pool);
    var text = new System.Text.StringBuilder();
    text.AppendLine($"read bandwidth: {wall.GigabytesPerSecond:F2} GB/s ({wall.Threads} threads streaming a {wall.Bytes >> 20} MiB buffer, {wall.VectorBits}-bit loads, best of 1/2/4/8 streams per thread: {wall.StreamsPerThread}, median of {wall.Passes}); decode's share of it:");
    foreach (var row in rows.Where(r => r.IsGeneration))
        text.AppendLine($"  {row.File} {row.Suiron.Test.Name}: Suiron {row.SuironGbPerSecond / wall.GigabytesPerSecond:P0}, llama.cpp {row.LlamaCppGbPerSecond / wall.GigabytesPerSecond:P0}");
    return text.ToString();
}
