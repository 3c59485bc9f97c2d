using System.CommandLine;
using System.Diagnostics;
using Suiron.ModelQuantization;

namespace Suiron.Cli;

/// <summary><c>suiron quantize IN OUT TYPE</c>: rewrite a GGUF model in another file type, byte for byte as llama-quantize would.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("input") { Description = "GGUF model to quantize (F32, F16, BF16 or already quantized)" };
        var output = new Argument<FileInfo>("output") { Description = "GGUF file to write (replaced only once complete)" };
        var type = new Argument<string>("type") { Description = $"Target file type: {string.Join(", ", ModelFileTypes.All)}" };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var pure = new Option<bool>("--pure") { Description = "No k-quant mixture: every quantizable tensor gets TYPE's default type (like llama-quantize --pure)" };
        var imatrix = new Option<string>("--imatrix")
        {
            Description = "Importance matrix (llama-imatrix's or suiron imatrix's GGUF, or the legacy .dat) that weighs each column's rounding error",
        };

        var command = new Command("quantize", "Quantize a GGUF model (same output as llama.cpp's llama-quantize)") { input, output, type, threads, pure, imatrix };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            string typeName = result.GetValue(type)!;
            if (!ModelFileTypes.TryParse(typeName, out var fileType))
                throw new UsageException($"Unknown type '{typeName}'. Valid types: {string.Join(", ", ModelFileTypes.All)}.");
            int threadCount = result.GetValue(threads);
            if (threadCount < 1 || threadCount > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            string inputPath = result.GetValue(input)!.FullName;
            string outputPath = result.GetValue(output)!.FullName;
            if (inputPath == outputPath) throw new UsageException("The output must be a different file from the input.");

            string? imatrixFile = result.GetValue(imatrix);
            ImportanceMatrix? importance = null;
            if (imatrixFile is not null)
            {
                if (!File.Exists(imatrixFile)) throw new UsageException($"--imatrix: no such file '{imatrixFile}'.");
                importance = ImportanceMatrix.Load(imatrixFile);
                Console.Error.WriteLine($"loaded {importance.Entries.Count} importance matrix entries from {imatrixFile} computed on {importance.ChunkCount} chunks");
            }

            if (importance is null && ModelFileTypes.RequiresImportanceMatrix(fileType))
                throw new UsageException($"Please do not use IQ1_S, IQ1_M, IQ2_S, IQ2_XXS or IQ2_XS quantization without an importance matrix: {fileType} needs --imatrix.");

            var clock = Stopwatch.StartNew();
            var quantized = ModelQuantizer.Quantize(inputPath, outputPath, fileType,
                new QuantizeOptions { Threads = threadCount, Pure = result.GetValue(pure), ImportanceMatrix = importance, ImportanceMatrixFile = imatrixFile },
                new TensorProgressLine());

            foreach (var group in quantized.Tensors.GroupBy(t => t.TargetType).OrderBy(g => g.Key))
                Console.Error.WriteLine($"  {group.Key,-6} {group.Count(),5} tensors");
            if (quantized.FallbackCount > 0)
                Console.Error.WriteLine($"warning: {quantized.FallbackCount} of {quantized.Tensors.Count} tensors had rows that do not fit their block type and got a compatible type instead");
            Console.Error.WriteLine($"{fileType}: {Mebibytes(quantized.InputBytes)} -> {Mebibytes(quantized.OutputBytes)} in {clock.Elapsed.TotalSeconds:F1} s, written to {outputPath}");
            return CliErrors.Ok;
        }));
        return command;
    }

    private static string Mebibytes(long bytes) => $"{bytes / (double)(1 << 20):F2} MiB";

    /// <summary>Prints each tensor as it is written, on the thread that wrote it (Progress&lt;T&gt; would reorder the lines).</summary>
    private sealed class TensorProgressLine : IProgress<(int done, int total, string tensor)>
    {
        public void Report((int done, int total, string tensor) value) =>
            Console.Error.WriteLine($"[{value.done,4}/{value.total,4}] {value.tensor}");
    }
}
