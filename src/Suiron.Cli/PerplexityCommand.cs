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
        var file = new Option<FileInfo>("--file", "-f") { Description = "Text to evaluate (UTF-8); not needed with --kl-divergence" };
        var klBase = new Option<FileInfo>("--kl-divergence-base") { Description = "Log-probability file: written from this model's run over --file, or read with --kl-divergence" };
        var kl = new Option<bool>("--kl-divergence") { Description = "Compare this model with the base file's log-probabilities (KL divergence, top-token agreement, Δp), on the base run's tokens" };
        var context = new Option<int>("--ctx-size", "-c") { Description = "Tokens per chunk; the second half of each is scored", DefaultValueFactory = _ => 512 };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Tokens per forward pass", DefaultValueFactory = _ => 512 };
        var chunks = new Option<int>("--chunks") { Description = "Chunks to evaluate (default: all the text holds)", DefaultValueFactory = _ => -1 };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cacheTypes = new CacheTypeOptions();
        var command = new Command("perplexity", "Perplexity of a model on a text, as llama.cpp's llama-perplexity computes and prints it")
        {
            model, file, context, batch, chunks, threads, klBase, kl, cacheTypes.Key, cacheTypes.Value,
        };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int ctx = result.GetValue(context), batchSize = result.GetValue(batch), threadCount = result.GetValue(threads);
            if (ctx < 4) throw new UsageException($"--ctx-size must be at least 4 (got {ctx}).");
            if (batchSize < 1) throw new UsageException($"--batch-size must be at least 1 (got {batchSize}).");
            if (threadCount < 1 || threadCount > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            FileInfo? basePath = result.GetValue(klBase);
            bool compare = result.GetValue(kl);
            if (compare && basePath is null) throw new UsageException("--kl-divergence needs --kl-divergence-base FILE (written by an earlier run with -f TEXT).");
            if (compare && !basePath!.Exists) throw new FileNotFoundException($"Base log-probability file not found: {basePath.FullName}");
            FileInfo? textFile = result.GetValue(file);
            if (!compare && textFile is null) throw new UsageException("Give the text to evaluate with -f FILE.");
            if (textFile is { Exists: false }) throw new FileNotFoundException($"Text file not found: {textFile.FullName}");
            string text = compare ? "" : File.ReadAllText(textFile!.FullName, Encoding.UTF8);

            using var gguf = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(gguf);
            using var lm = ModelLoader.Load(gguf, new ModelOptions
            {
                Threads = threadCount, ContextSize = ctx, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
            });
            var options = new PerplexityOptions { ContextSize = ctx, BatchSize = batchSize, Chunks = result.GetValue(chunks) is > 0 and var n ? n : null };
            var clock = Stopwatch.StartNew();
            void Progress(PerplexityProgress p)
            {
                if (p.Index == 1) Console.Error.WriteLine($"perplexity: {clock.Elapsed.TotalSeconds:F2} seconds per pass - ETA {clock.Elapsed.TotalMinutes * p.Chunks:F2} minutes");
                Console.Write(string.Create(CultureInfo.InvariantCulture, $"[{p.Index}]{p.Perplexity:F4},"));
            }
            if (compare)
            {
                KlDivergenceResult d;
                try { d = KlDivergence.Compare(lm, tokenizer, basePath!.FullName, batchSize, Progress); }
                catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException)
                {
                    Console.Error.WriteLine($"error: {e.Message}");
                    return CliErrors.Failure;
                }
                Console.WriteLine();
                WriteKlDivergence(d);
                return CliErrors.Ok;
            }
            Console.Error.WriteLine($"perplexity: calculating perplexity over chunks of {ctx} tokens, batch {Math.Min(batchSize, ctx)}");
            PerplexityResult outcome;
            try
            {
                outcome = basePath is null
                    ? Perplexity.Evaluate(lm, tokenizer, text, options, Progress)
                    : Perplexity.SaveBase(lm, tokenizer, text, options, basePath.FullName, Progress);
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

    /// <summary>llama-perplexity's three statistics sections for --kl-divergence.</summary>
    private static void WriteKlDivergence(KlDivergenceResult d)
    {
        string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine("====== Perplexity statistics ======");
        Console.WriteLine(F($"Mean PPL(Q)                   : {d.Perplexity,10:F6} ± {d.PerplexityError:F6}"));
        Console.WriteLine(F($"Mean PPL(base)                : {d.BasePerplexity,10:F6} ± {d.BasePerplexityError:F6}"));
        Console.WriteLine(F($"Mean ln(PPL(Q)/PPL(base))     : {d.MeanLogPerplexityRatio,10:F6} ± {d.MeanLogPerplexityRatioError:F6}"));
        Console.WriteLine(F($"Mean PPL(Q)/PPL(base)         : {Math.Exp(d.MeanLogPerplexityRatio),10:F6} ± {Math.Exp(d.MeanLogPerplexityRatio) * d.MeanLogPerplexityRatioError:F6}"));
        Console.WriteLine();
        Console.WriteLine("====== KL divergence statistics ======");
        Console.WriteLine(F($"Mean    KLD: {d.MeanKl,10:F6} ± {d.MeanKlError:F6}"));
        string[] names = ["Minimum", " 1.0%  ", " 5.0%  ", "10.0%  ", "Median ", "90.0%  ", "99.0%  ", "99.9%  ", "Maximum"];
        for (int i = names.Length - 1; i >= 0; i--) Console.WriteLine(F($"{names[i]} KLD: {d.KlPercentiles[i],10:F6}"));
        Console.WriteLine();
        Console.WriteLine("====== Token probability statistics ======");
        Console.WriteLine(F($"Mean    Δp: {100 * d.MeanDeltaP,8:F3} ± {100 * d.MeanDeltaPError:F3} %"));
        Console.WriteLine(F($"RMS Δp    : {100 * d.RmsDeltaP,8:F3} %"));
        Console.WriteLine(F($"Same top p: {100 * d.SameTop,8:F3} ± {100 * d.SameTopError:F3} %"));
        Console.WriteLine(F($"Rows      : {d.Rows}"));
    }
}
