using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Suiron.Evaluation;
using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Cli;

/// <summary><c>suiron imatrix -m MODEL -f TEXT</c>: an importance matrix over a calibration text, in llama-imatrix's file format.</summary>
internal static class ImatrixCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model file (the unquantized one, ideally)", Required = true };
        var file = new Option<FileInfo>("--file", "-f") { Description = "Calibration text (UTF-8)", Required = true };
        var output = new Option<string>("--output-file", "-o") { Description = "Where to write it", DefaultValueFactory = _ => "imatrix.gguf" };
        var format = new Option<string>("--output-format") { Description = "gguf (llama.cpp's current format) or dat (the legacy one)", DefaultValueFactory = _ => "gguf" };
        var context = new Option<int>("--ctx-size", "-c") { Description = "Tokens per chunk", DefaultValueFactory = _ => 512 };
        var chunks = new Option<int>("--chunks") { Description = "Chunks to evaluate (default: all the text holds)", DefaultValueFactory = _ => -1 };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var processOutput = new Option<bool>("--process-output") { Description = "Also collect output.weight" };
        var command = new Command("imatrix", "Compute an importance matrix over a calibration text, as llama.cpp's llama-imatrix does (for quantize --imatrix)")
        {
            model, file, output, format, context, chunks, threads, processOutput,
        };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int ctx = result.GetValue(context), threadCount = result.GetValue(threads);
            if (ctx < 16) throw new UsageException($"--ctx-size must be at least 16 (got {ctx}).");
            if (threadCount < 1 || threadCount > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            string outputFormat = result.GetValue(format)!.ToLowerInvariant();
            if (outputFormat is not ("gguf" or "dat")) throw new UsageException($"--output-format must be gguf or dat (got '{outputFormat}').");
            FileInfo textFile = result.GetValue(file)!;
            if (!textFile.Exists) throw new FileNotFoundException($"Text file not found: {textFile.FullName}");
            string text = File.ReadAllText(textFile.FullName, Encoding.UTF8);
            string outputPath = result.GetValue(output)!;

            using var gguf = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(gguf);
            using var lm = ModelLoader.Load(gguf, new ModelOptions { Threads = threadCount, ContextSize = ctx });
            var clock = Stopwatch.StartNew();
            var options = new ImportanceMatrixOptions
            {
                ContextSize = ctx, Chunks = result.GetValue(chunks) is > 0 and var n ? n : null,
                ProcessOutput = result.GetValue(processOutput), Dataset = textFile.Name,
            };
            Console.Error.WriteLine($"imatrix: computing over chunks of {ctx} tokens");
            ImportanceMatrix matrix;
            try
            {
                matrix = ImportanceMatrixComputation.Compute(lm, tokenizer, text, options, p =>
                {
                    if (p.Index == 1) Console.Error.WriteLine($"imatrix: {clock.Elapsed.TotalSeconds:F2} seconds per pass - ETA {clock.Elapsed.TotalMinutes * p.Chunks:F2} minutes");
                    Console.Write(string.Create(CultureInfo.InvariantCulture, $"[{p.Index}]{p.Perplexity:F4},"));
                });
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return CliErrors.Failure;
            }
            Console.WriteLine();
            if (outputFormat == "dat") matrix.SaveLegacy(outputPath);
            else matrix.Save(outputPath);
            Console.Error.WriteLine($"imatrix: {matrix.Entries.Count} entries over {matrix.ChunkCount} chunks in {clock.Elapsed.TotalSeconds:F1} s, written to {outputPath}");
            return CliErrors.Ok;
        }));
        return command;
    }
}
