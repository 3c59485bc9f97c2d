using System.CommandLine;
using Suiron.Inference;
using Suiron.Server;

namespace Suiron.Cli;

/// <summary><c>suiron serve</c>: the OpenAI-compatible HTTP server (chat and text completions, streaming, continuous batching).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo[]>("--model", "-m")
        {
            Description = "GGUF model file; repeat it to serve several models, each request routed by its 'model' field",
            AllowMultipleArgumentsPerToken = false,
        };
        var modelsDir = new Option<DirectoryInfo?>("--models-dir")
        {
            Description = "Serve every model in this folder (each *.gguf; a split file's parts, or a subfolder, as one model), loaded on first use",
        };
        var alias = new Option<string[]>("--alias", "-a")
        {
            Description = "Another name for a model: NAME=MODEL (MODEL its file, file name or id; repeatable), or NAME alone with one --model",
            AllowMultipleArgumentsPerToken = false,
        };
        var modelsMax = new Option<int>("--models-max")
        {
            Description = "With several models: most loaded at once; the least recently used idle one is unloaded to load another (0 = no limit)",
            DefaultValueFactory = _ => 4,
        };
        var modelsMemory = new Option<double>("--models-memory")
        {
            Description = "With several models: GiB the loaded models may take together (file bytes plus KV cache each); 0 = no limit",
            DefaultValueFactory = _ => 0,
        };
        var host = new Option<string>("--host") { Description = "Address to listen on (loopback by default; 0.0.0.0 for every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var allowedHosts = new Option<string[]>("--allowed-host")
        {
            Description = "Host name clients may reach the server by, besides IP addresses and localhost (repeatable; '*' for any). Other names get 403, against DNS rebinding",
            AllowMultipleArgumentsPerToken = false,
        };
        var corsOrigins = new Option<string[]>("--cors-origin")
        {
            Description = "Web origin (https://app.example) whose pages may call the API from a browser (repeatable; '*' for any). Other cross-origin requests get 403",
            AllowMultipleArgumentsPerToken = false,
        };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' or 'x-api-key: KEY' on API requests (default: $SUIRON_API_KEY, else none)" };
        var chatTemplateFile = new Option<FileInfo?>("--chat-template-file") { Description = "Jinja chat template to use instead of the model's (tokenizer.chat_template)" };
        var parallel = new Option<int>("--parallel", "-np") { Description = "Sequences generated at once (slots)", DefaultValueFactory = _ => 4 };
        var contextSize = new Option<int>("--ctx-size", "-c") { Description = "Context per slot in tokens (0 = the model's, capped to 4096)", DefaultValueFactory = _ => 0 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; more get 429", DefaultValueFactory = _ => 64 };
        var embeddingModel = new Option<FileInfo?>("--embedding-model") { Description = "GGUF model for /v1/embeddings (e.g. a bert/bge file); default: the served model, last-token pooled" };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var spec = new Option<string>("--spec") { Description = "Speculative decoding for every request (answers unchanged): ngram (drafts looked up in each sequence) or mtp (the model's own multi-token-prediction block: Qwen3.5 and GLM-5 files with one)" };
        var draftMax = new Option<int>("--draft-max") { Description = "Most draft tokens verified per pass", DefaultValueFactory = _ => 8 };
        var draftMin = new Option<int>("--draft-min") { Description = "Fewest draft tokens worth verifying", DefaultValueFactory = _ => 1 };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log each request and the server's lifetime events too (default: warnings and errors only)" };
        var logFormat = new Option<string>("--log-format") { Description = "Log lines on stderr as text or json (one object per line, for log collectors)", DefaultValueFactory = _ => "text" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var prefillLatency = new Option<double>("--prefill-latency")
        {
            Description = "While other requests are generating, a step evaluating a prompt may last at most this many decode steps (their token rate drops by at most this factor); 0 = no pacing",
            DefaultValueFactory = _ => 2.0,
        };
        var reasoningBudget = new Option<int>("--reasoning-budget")
        {
            Description = "Reasoning tokens a chat reply may spend before its <think> block is closed: -1 unrestricted, 0 to close it at once (a request's own budget takes precedence)",
            DefaultValueFactory = _ => -1,
        };
        var responsesStore = new Option<int>("--responses-store")
        {
            Description = "Responses kept in memory for previous_response_id (those sent with store: true); least recently used dropped first, 0 keeps none",
            DefaultValueFactory = _ => 256,
        };
        var rerankModel = new Option<FileInfo?>("--rerank-model") { Description = "GGUF reranker for /v1/rerank: a bert cross-encoder (bge-reranker) or Qwen3-Reranker; default: none" };
        var slotSavePath = new Option<DirectoryInfo?>("--slot-save-path")
        {
            Description = "Folder for POST /slots/{id}?action=save|restore files (a slot's tokens and KV cache); created if missing. Default: save/restore off",
        };
        var cacheTypes = new CacheTypeOptions();
        var cluster = new ClusterOptions();

        var command = new Command("serve", "Serve a model (or several) over an OpenAI-compatible HTTP API")
        {
            model, modelsDir, alias, modelsMax, modelsMemory, host, port, allowedHosts, corsOrigins, apiKey, parallel, contextSize, queue, threads, embeddingModel, chatTemplateFile, cacheTypes.Key, cacheTypes.Value,
            spec, draftMax, draftMin, prefillLatency, reasoningBudget, responsesStore, slotSavePath, rerankModel, verbose, logFormat,
        };
        foreach (var option in cluster.All) command.Options.Add(option);
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int portValue = result.GetValue(port), slots = result.GetValue(parallel), ctx = result.GetValue(contextSize);
            int queueSize = result.GetValue(queue), threadCount = result.GetValue(threads);
            if (portValue is < 0 or > 65535) throw new UsageException($"--port must be between 0 and 65535 (got {portValue}).");
            if (slots is < 1 or > 256) throw new UsageException($"--parallel must be between 1 and 256 (got {slots}).");
            if (ctx < 0) throw new UsageException($"--ctx-size must be ≥ 0 (got {ctx}).");
            if (queueSize < 0) throw new UsageException($"--queue must be ≥ 0 (got {queueSize}).");
            double pacing = result.GetValue(prefillLatency);
            if (pacing != 0 && !(pacing >= 1 && pacing <= 1000)) throw new UsageException($"--prefill-latency must be 0 (off) or between 1 and 1000 (got {pacing}).");
            if (threadCount is < 1 or > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            int budget = result.GetValue(reasoningBudget), stored = result.GetValue(responsesStore);
            if (budget < -1) throw new UsageException($"--reasoning-budget must be -1 (unrestricted) or ≥ 0 (got {budget}).");
            if (stored is < 0 or > 1_000_000) throw new UsageException($"--responses-store must be between 0 and 1000000 (got {stored}).");
            string? key = result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("SUIRON_API_KEY");
            var clusterExtension = cluster.Create(result);
            Suiron.Inference.SpeculationOptions? speculation = result.GetValue(spec) switch
            {
                null => null,
                "ngram" => new Suiron.Inference.SpeculationOptions { DraftMax = result.GetValue(draftMax), DraftMin = result.GetValue(draftMin) },
                "mtp" => new Suiron.Inference.SpeculationOptions { DraftMax = result.GetValue(draftMax), DraftMin = result.GetValue(draftMin), MultiTokenPrediction = true },
                var other => throw new UsageException($"--spec '{other}' is not supported by serve (ngram, mtp)."),
            };
            try { speculation?.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            string? slotFolder = null;
            if (result.GetValue(slotSavePath) is { } slotDirectory)
            {
                try { slotFolder = Directory.CreateDirectory(slotDirectory.FullName).FullName; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UsageException($"--slot-save-path: cannot use '{slotDirectory.FullName}': {e.Message}"); }
            }
            string? template = null;
            if (result.GetValue(chatTemplateFile) is { } templateFile)
            {
                if (!templateFile.Exists) throw new UsageException($"--chat-template-file: '{templateFile.FullName}' does not exist.");
                template = File.ReadAllText(templateFile.FullName);
                try
                {
                    _ = new Suiron.Chat.ChatTemplate(template);
                }
                catch (Suiron.Chat.TemplateException e)
                {
                    throw new UsageException($"--chat-template-file: {e.Message}");
                }
            }

            var modelOptions = new LocalModelOptions
            {
                Model = new Suiron.Models.ModelOptions
                {
                    Threads = threadCount, ContextSize = ctx, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
                },
                Slots = slots, QueueLimit = queueSize, ChatTemplate = template, PrefillLatencyFactor = pacing,
            };
            FileInfo[] modelFiles = result.GetValue(model) ?? [];
            DirectoryInfo? folder = result.GetValue(modelsDir);
            string[] aliases = result.GetValue(alias) ?? [];
            if (modelFiles.Length == 0 && folder is null) throw new UsageException("Give the model to serve: --model FILE (repeatable) or --models-dir DIR.");
            var serverOptions = new SuironServerOptions
            {
                Host = result.GetValue(host)!, Port = portValue, ApiKey = key,
                Logging = true, LogLevel = result.GetValue(verbose) ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Warning,
                LogFormat = result.GetValue(logFormat) == "json" ? ServerLogFormat.Json : ServerLogFormat.Text,
                AllowedHosts = result.GetValue(allowedHosts) ?? [], CorsOrigins = result.GetValue(corsOrigins) ?? [],
                Speculation = speculation, ReasoningBudget = budget >= 0 ? budget : null, ResponseStoreCapacity = stored,
                SlotSavePath = slotFolder, Extension = clusterExtension,
            };
            if (folder is not null || modelFiles.Length > 1)
            {
                if (clusterExtension is not null) throw new UsageException("--cluster serves one model per replica: give one --model, not several or --models-dir.");
                if (template is not null) throw new UsageException("--chat-template-file applies to one model; with several, each uses its own file's template.");
                var sources = RouterSources(modelFiles, folder, aliases, result.GetValue(embeddingModel), result.GetValue(rerankModel));
                int maxLoaded = result.GetValue(modelsMax);
                double memory = result.GetValue(modelsMemory);
                if (maxLoaded < 0) throw new UsageException($"--models-max must be ≥ 0 (got {maxLoaded}).");
                if (!(memory >= 0 && memory < 1 << 20)) throw new UsageException($"--models-memory must be a number of GiB ≥ 0 (got {memory}).");
                var routerOptions = new Suiron.Server.Routing.ModelRouterOptions
                {
                    Models = sources, MaxLoaded = maxLoaded, MemoryBudgetBytes = (long)(memory * 1024 * 1024 * 1024), ModelOptions = modelOptions,
                };
                return RunRouterAsync(routerOptions, serverOptions).GetAwaiter().GetResult();
            }
            string[] singleAliases = aliases.Select(a => a.Contains('=')
                ? throw new UsageException($"--alias '{a}': with one model give the name alone (--alias NAME).")
                : a.Length == 0 ? throw new UsageException("--alias needs a name.") : a).ToArray();
            using var local = LocalModel.Load(modelFiles[0].FullName, modelOptions);
            if (speculation is { MultiTokenPrediction: true } && !local.Scheduler.HasMultiTokenPrediction)
                throw new UsageException($"--spec mtp: {modelFiles[0].FullName} ({local.Model.Info.Architecture}) has no multi-token-prediction block that Suiron runs (qwen35, qwen35moe and glm-dsa files with nextn_predict_layers).");
            if (local.Chat.IsFallback)
                Console.Error.WriteLine("warning: the model has no chat template (tokenizer.chat_template); chat requests use ChatML, which it may not follow.");
            using var embeddings = result.GetValue(embeddingModel) is { } embeddingFile
                ? Suiron.Embeddings.SuironEmbeddingGenerator.Load(embeddingFile.FullName, new Suiron.Models.ModelOptions { Threads = threadCount })
                : null;
            using var reranker = result.GetValue(rerankModel) is { } rerankFile
                ? LoadReranker(rerankFile, threadCount)
                : null;
            var options = serverOptions with { EmbeddingModel = embeddings, Reranker = reranker, ModelAliases = singleAliases };
            return RunAsync(local, options).GetAwaiter().GetResult();
        }));
        return command;
    }

    /// <summary>
    /// The router's models: each --model, every model of --models-dir, and --embedding-model / --rerank-model as models
    /// of their own; --alias NAME=MODEL names one of them (by its file path, file name or id).
    /// </summary>
    private static List<Suiron.Server.Routing.ModelSource> RouterSources(FileInfo[] files, DirectoryInfo? folder, string[] aliases, FileInfo? embedding, FileInfo? reranker)
    {
        var sources = new List<Suiron.Server.Routing.ModelSource>();
        foreach (var file in files.Concat(new[] { embedding, reranker }.OfType<FileInfo>()))
        {
            if (!file.Exists) throw new UsageException($"--model: '{file.FullName}' does not exist.");
            sources.Add(Suiron.Server.Routing.ModelSource.FromFile(file.FullName));
        }
        if (folder is not null)
        {
            if (!folder.Exists) throw new UsageException($"--models-dir: '{folder.FullName}' does not exist.");
            var found = Suiron.Server.Routing.ModelSource.FromDirectory(folder.FullName);
            if (found.Count == 0 && sources.Count == 0) throw new UsageException($"--models-dir: '{folder.FullName}' holds no .gguf file.");
            sources.AddRange(found.Where(f => !sources.Any(s => s.Files.SequenceEqual(f.Files))));
        }
        foreach (var duplicate in sources.GroupBy(s => s.Id, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            throw new UsageException($"Two models are named '{duplicate.Key}' ({string.Join(", ", duplicate.Select(d => d.Files[0]))}); rename one.");
        foreach (string entry in aliases)
        {
            int equals = entry.IndexOf('=');
            if (equals <= 0 || equals == entry.Length - 1) throw new UsageException($"--alias '{entry}': with several models give NAME=MODEL.");
            string name = entry[..equals], target = entry[(equals + 1)..];
            string full = Path.GetFullPath(target);
            int index = sources.FindIndex(s => s.Files.Contains(full) || s.Id.Equals(target, StringComparison.OrdinalIgnoreCase)
                || s.Files.Any(f => Path.GetFileName(f).Equals(target, StringComparison.OrdinalIgnoreCase)));
            if (index < 0) throw new UsageException($"--alias '{entry}': no model '{target}' is served.");
            if (sources.Any(s => s.Id.Equals(name, StringComparison.OrdinalIgnoreCase) || s.Aliases.Contains(name, StringComparer.OrdinalIgnoreCase)))
                throw new UsageException($"--alias '{entry}': the name '{name}' is taken.");
            sources[index] = sources[index] with { Aliases = [.. sources[index].Aliases, name] };
        }
        return sources;
    }

    private static async Task<int> RunRouterAsync(Suiron.Server.Routing.ModelRouterOptions models, SuironServerOptions options)
    {
        await using var server = SuironServer.Create(models, options);
        try
        {
            await server.StartAsync();
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"error: cannot listen on {options.Host}:{options.Port}: {e.Message}");
            return CliErrors.Failure;
        }
        var router = server.Router!;
        Console.Error.WriteLine($"suiron: serving {router.Models.Count} models at {server.Address}, each loaded on first use: " +
                                string.Join(", ", router.Models.Select(m => m.Aliases.Count == 0 ? m.Id : $"{m.Id} ({string.Join(", ", m.Aliases)})")));
        Console.Error.WriteLine($"suiron: at most {(models.MaxLoaded == 0 ? "all" : models.MaxLoaded.ToString(System.Globalization.CultureInfo.InvariantCulture))} loaded at once" +
                                (models.MemoryBudgetBytes > 0 ? $" within {InfoCommand.Bytes(models.MemoryBudgetBytes)} (file and KV cache each)" : "") +
                                $"; {models.ModelOptions.Slots} slots each, auth {(options.ApiKey is { Length: > 0 } ? "on" : "off")}; " +
                                "requests name their model in 'model'; GET /v1/models lists them, POST /models/load and /models/unload; Ctrl+C stops");
        Console.Error.WriteLine($"suiron: web chat at {server.Address}");
        await server.WaitForShutdownAsync();
        Console.Error.WriteLine("suiron: stopped");
        return CliErrors.Ok;
    }

    private static Suiron.Embeddings.SuironReranker LoadReranker(FileInfo file, int threads)
    {
        if (!file.Exists) throw new UsageException($"--rerank-model: '{file.FullName}' does not exist.");
        try
        {
            return Suiron.Embeddings.SuironReranker.Load(file.FullName, new Suiron.Models.ModelOptions { Threads = threads });
        }
        catch (NotSupportedException e)
        {
            throw new UsageException($"--rerank-model: {e.Message}");
        }
    }

    private static async Task<int> RunAsync(LocalModel local, SuironServerOptions options)
    {
        await using var server = SuironServer.Create(local, options);
        try
        {
            await server.StartAsync();
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"error: cannot listen on {options.Host}:{options.Port}: {e.Message}");
            return CliErrors.Failure;
        }
        catch (Exception e) when (ClusterOptions.JoinError(options.Extension, e) is { } joinError)
        {
            Console.Error.WriteLine(joinError);
            return CliErrors.Failure;
        }
        var info = local.Model.Info;
        Console.Error.WriteLine($"suiron: serving '{local.Id}' ({info.Architecture}, {info.ParameterCount / 1e6:F1}M parameters) at {server.Address}");
        Console.Error.WriteLine($"suiron: {local.Scheduler.SlotCount} slots × {local.Scheduler.ContextSize} tokens of context " +
                                $"(KV cache k {KvCacheTypes.Name(info.KeyCacheType)}, v {KvCacheTypes.Name(info.ValueCacheType)}, rotation {info.AttentionRotation}, {info.KvCacheBytesPerToken:N0} bytes per token" +
                                (info.RecurrentLayerCount > 0 ? $", recurrent state {InfoCommand.Bytes(info.RecurrentBytesPerSequence)} per slot and snapshot" : "") + $"), queue {local.Scheduler.QueueLimit}, " +
                                $"auth {(options.ApiKey is { Length: > 0 } ? "on" : "off")}; endpoints /v1/chat/completions /v1/completions /v1/embeddings /v1/messages /v1/responses /v1/rerank /v1/models /health /metrics; Ctrl+C stops");
        Console.Error.WriteLine($"suiron: web chat at {server.Address}");
        if (ClusterOptions.Banner(options.Extension) is { } clusterBanner) Console.Error.WriteLine(clusterBanner);
        await server.WaitForShutdownAsync();
        Console.Error.WriteLine("suiron: stopped");
        return CliErrors.Ok;
    }
}
