using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Suiron.Evaluation;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Cli;

/// <summary><c>suiron perplexity</c>: a model's perplexity on a text under llama-perplexity's protocol, with its printed numbers.</summary>
internal static class PerplexityCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model file", Required = true };
        var file = new Option<FileInfo>("--file", "-f") { Description = "Text to evaluate (UTF-8)", Required = true };
        var context = new Option<int>("--ctx-size", "-c") { Description = "Tokens per chunk; the second half of each is scored", DefaultValueFactory = _ => 512 };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Tokens per forward pass", DefaultValueFactory = _ => 512 };
        var chunks = new Option<int>("--chunks") { Description = "Chunks to evaluate (default: all the text holds)", DefaultValueFactory = _ => -1 };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cacheTypes = new CacheTypeOptions();
        var command = new Command("perplexity", "Perplexity of a model on a text, as llama.cpp's llama-perplexity computes and prints it")
        {
            model, file, context, batch, chunks, threads, cacheTypes.Key, cacheTypes.Value,
        };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int ctx = result.GetValue(context), batchSize = result.GetValue(batch), threadCount = result.GetValue(threads);
            if (ctx < 4) throw new UsageException($"--ctx-size must be at least 4 (got {ctx}).");
            if (batchSize < 1) throw new UsageException($"--batch-size must be at least 1 (got {batchSize}).");
            if (threadCount < 1 || threadCount > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            FileInfo textFile = result.GetValue(file)!;
            if (!textFile.Exists) throw new FileNotFoundException($"Text file not found: {textFile.FullName}");
            string text = File.ReadAllText(textFile.FullName, Encoding.UTF8);

            using var gguf = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(gguf);
            using var lm = ModelLoader.Load(gguf, new ModelOptions
            {
                Threads = threadCount, ContextSize = ctx, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
            });
            var options = new PerplexityOptions { ContextSize = ctx, BatchSize = batchSize, Chunks = result.GetValue(chunks) is > 0 and var n ? n : null };
            var clock = Stopwatch.StartNew();
            Console.Error.WriteLine($"perplexity: calculating perplexity over chunks of {ctx} tokens, batch {Math.Min(batchSize, ctx)}");
            PerplexityResult outcome;
            try
            {
                outcome = Perplexity.Evaluate(lm, tokenizer, text, options, p =>
                {
                    if (p.Index == 1) Console.Error.WriteLine($"perplexity: {clock.Elapsed.TotalSeconds:F2} seconds per pass - ETA {clock.Elapsed.TotalMinutes * p.Chunks:F2} minutes");
                    Console.Write(string.Create(CultureInfo.InvariantCulture, $"[{p.Index}]{p.Perplexity:F4},"));
                });
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return CliErrors.Failure;
            }
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Final estimate: PPL = {outcome.Value:F4} +/- {outcome.StandardError:F5}"));
            Console.Error.WriteLine($"perplexity: {outcome.Chunks} chunks, {outcome.ScoredTokens} tokens scored in {clock.Elapsed.TotalSeconds:F1} s");
            return CliErrors.Ok;
        }));
        return command;
    }
}
