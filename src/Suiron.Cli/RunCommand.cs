using System.CommandLine;
using System.Text;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Cli;

/// <summary><c>suiron run</c>: continue a prompt, streaming the text to stdout and the speed to stderr.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model file", Required = true };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var count = new Option<int>("--n-predict", "-n") { Description = "Tokens to generate", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temp") { Description = "Temperature (0 = greedy)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Top-k (0 = off)", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Top-p (1 = off)", DefaultValueFactory = _ => 0.95f };
        var minP = new Option<float>("--min-p") { Description = "Min-p (0 = off)", DefaultValueFactory = _ => 0.05f };
        var repeatPenalty = new Option<float>("--repeat-penalty") { Description = "Repetition penalty (1 = off)", DefaultValueFactory = _ => 1.0f };
        var frequencyPenalty = new Option<float>("--frequency-penalty") { Description = "Frequency penalty", DefaultValueFactory = _ => 0f };
        var presencePenalty = new Option<float>("--presence-penalty") { Description = "Presence penalty", DefaultValueFactory = _ => 0f };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Random seed (default: random)" };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var contextSize = new Option<int>("--ctx-size", "-c") { Description = "Context size in tokens (0 = prompt + n, up to the model's)", DefaultValueFactory = _ => 0 };
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var noSpecial = new Option<bool>("--no-parse-special") { Description = "Treat special-token text in the prompt as plain text" };
        var cacheTypes = new CacheTypeOptions();
        var spec = new Option<string>("--spec") { Description = "Speculative decoding (the output is unchanged): ngram (drafts looked up in the text so far), draft (--draft-model's greedy continuation) or mtp (the model's own multi-token-prediction block: Qwen3.5 and GLM-5 files with one)" };
        var draftModel = new Option<FileInfo>("--draft-model", "-md") { Description = "Small GGUF model of the same vocabulary drafting for --spec draft" };
        var draftMax = new Option<int>("--draft-max") { Description = "Most draft tokens verified per pass", DefaultValueFactory = _ => 8 };
        var draftMin = new Option<int>("--draft-min") { Description = "Fewest draft tokens worth verifying", DefaultValueFactory = _ => 1 };

        var command = new Command("run", "Generate a continuation of a prompt")
        {
            model, prompt, count, temperature, topK, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty, seed, threads, contextSize, stop, noSpecial,
            cacheTypes.Key, cacheTypes.Value, spec, draftModel, draftMax, draftMin,
        };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int n = result.GetValue(count);
            int threadCount = result.GetValue(threads);
            if (n < 0) throw new UsageException($"--n-predict must be ≥ 0 (got {n}).");
            if (threadCount < 1 || threadCount > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            int ctx = result.GetValue(contextSize);
            if (ctx < 0) throw new UsageException($"--ctx-size must be ≥ 0 (got {ctx}).");
            if (!(result.GetValue(temperature) >= 0)) throw new UsageException($"--temp must be ≥ 0, 0 for greedy (got {result.GetValue(temperature)}).");
            var sampling = new SamplingOptions
            {
                Temperature = result.GetValue(temperature),
                TopK = result.GetValue(topK),
                TopP = result.GetValue(topP),
                MinP = result.GetValue(minP),
                RepeatPenalty = result.GetValue(repeatPenalty),
                FrequencyPenalty = result.GetValue(frequencyPenalty),
                PresencePenalty = result.GetValue(presencePenalty),
                Seed = result.GetValue(seed) ?? (ulong)Random.Shared.NextInt64(),
            };
            sampling.Validate();
            string? specKind = result.GetValue(spec);
            FileInfo? draftPath = result.GetValue(draftModel);
            if (specKind is not (null or "ngram" or "draft" or "mtp")) throw new UsageException($"--spec '{specKind}' is not supported (ngram, draft, mtp).");
            if ((specKind == "draft") != (draftPath is not null)) throw new UsageException("--spec draft and --draft-model FILE go together.");
            SpeculationOptions? speculation = specKind is null ? null
                : new SpeculationOptions { DraftMax = result.GetValue(draftMax), DraftMin = result.GetValue(draftMin), MultiTokenPrediction = specKind == "mtp" };
            try { speculation?.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }

            using var file = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(file);
            using var lm = ModelLoader.Load(file, new ModelOptions
            {
                Threads = threadCount, ContextSize = ctx, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
            });
            if (specKind == "mtp" && lm is not IMultiTokenPredictor { HasPredictionHead: true })
                throw new UsageException($"--spec mtp: {file.Path} ({lm.Info.Architecture}) has no multi-token-prediction block that Suiron runs (qwen35, qwen35moe and glm-dsa files with nextn_predict_layers).");
            int[] tokens = tokenizer.Encode(result.GetValue(prompt)!, addSpecial: true, parseSpecial: !result.GetValue(noSpecial));
            int capacity = ctx > 0 ? ctx : Math.Min(lm.Info.ContextLength, tokens.Length + n);
            if (tokens.Length >= capacity && n > 0 || tokens.Length > capacity)
                throw new UsageException($"The prompt has {tokens.Length} tokens but the context holds {capacity}; shorten the prompt or raise --ctx-size (the model was trained on {lm.Info.ContextLength}).");
            var cache = lm.CreateCache(capacity);
            using GgufFile? draftFile = draftPath is null ? null : GgufFile.Open(draftPath.FullName);
            using ILanguageModel? draft = draftFile is null ? null : LoadDraft(draftFile, tokenizer, threadCount, capacity);
            if (draft is not null) speculation = speculation! with { DraftModel = draft };
            var generator = new Generator(lm, tokenizer);
            var options = new GenerationOptions { MaxTokens = n, Sampling = sampling, Stop = result.GetValue(stop) ?? [], Speculation = speculation };

            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
            FinishReason? finish = null;
            foreach (var step in generator.Generate(tokens, options, cache))
            {
                if (step.Text.Length > 0) stdout.Write(step.Text);
                finish = step.Finish ?? finish;
            }
            stdout.Flush();
            var stats = generator.LastStats!;
            Console.Error.WriteLine();
            if (finish == FinishReason.Length && stats.GeneratedTokens < n && tokens.Length + stats.GeneratedTokens >= capacity)
                Console.Error.WriteLine($"note: stopped after {stats.GeneratedTokens} of {n} tokens: the context of {capacity} tokens is full " +
                                        (ctx > 0 && ctx < lm.Info.ContextLength ? "(raise --ctx-size)." : $"(the model was trained on {lm.Info.ContextLength})."));
            Console.Error.WriteLine($"prompt: {stats.PromptTokens} tokens in {stats.PromptTime.TotalMilliseconds:F0} ms ({stats.PromptTokensPerSecond:F1} tok/s); " +
                                    $"generation: {stats.GeneratedTokens} tokens in {stats.GenerationTime.TotalMilliseconds:F0} ms ({stats.TokensPerSecond:F1} tok/s); threads {threadCount}");
            if (speculation is not null && stats.DraftTokens > 0)
                Console.Error.WriteLine($"speculation: {stats.DecodePasses} passes for {stats.GeneratedTokens} tokens; {stats.AcceptedDraftTokens} of {stats.DraftTokens} draft tokens accepted ({100.0 * stats.AcceptedDraftTokens / stats.DraftTokens:F1} %)");
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>The draft model, after checking that its vocabulary is the target's (a clear error otherwise).</summary>
    private static ILanguageModel LoadDraft(GgufFile file, Tokenizer target, int threads, int capacity)
    {
        try
        {
            SpeculationOptions.CheckDraftVocabulary(target.Vocabulary, Tokenizer.FromGguf(file).Vocabulary);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--draft-model {file.Path}: {e.Message}");
        }
        return ModelLoader.Load(file, new ModelOptions { Threads = threads, ContextSize = capacity });
    }
}
