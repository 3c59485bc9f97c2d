using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>Who quantized a file: llama.cpp's llama_model_quantize or Suiron's quantizer.</summary>
internal enum Quantizer { LlamaCpp, Suiron }

/// <summary>One benchmark file: a model shape, a file type, and who quantized it (none for F16).</summary>
internal sealed record BenchFile(string Path, string Model, BenchFileType Type, Quantizer? QuantizedBy)
{
    public string Label => System.IO.Path.GetFileNameWithoutExtension(Path);
}

/// <summary>
/// The benchmark model files in a cache folder (default <c>/tmp/suiron-bench</c>), written when missing: the F16
/// model of each shape, then its Q8_0 and Q4_K_M quantizations by each quantizer. Nothing is downloaded.
/// </summary>
internal static class BenchFiles
{
    public static string DefaultDirectory => System.IO.Path.Combine(System.IO.Path.GetTempPath(), "suiron-bench");

    public static IReadOnlyList<BenchFile> Prepare(string directory, IEnumerable<BenchModelSpec> specs, IReadOnlyList<BenchFileType> types,
        IReadOnlyList<Quantizer> quantizers, int threads, TextWriter log)
    {
        Directory.CreateDirectory(directory);
        var files = new List<BenchFile>();
        foreach (var spec in specs)
        {
            string f16 = System.IO.Path.Combine(directory, $"{spec.Name}-F16.gguf");
            if (!File.Exists(f16))
            {
                log.WriteLine($"writing {f16} ({spec.ParameterCount / 1e6:F0} M parameters, random weights)…");
                BenchModelWriter.WriteF16(spec, f16);
            }
            foreach (var type in types)
            {
                if (type == BenchFileType.F16)
                {
                    files.Add(new BenchFile(f16, spec.Name, type, null));
                    continue;
                }
                foreach (var quantizer in quantizers)
                {
                    if (type == BenchFileType.IQ2_XXS && quantizer == Quantizer.Suiron)
                        throw new ArgumentException("Suiron does not quantize to IQ2_XXS yet: pass --quantizers llamacpp.");
                    string path = System.IO.Path.Combine(directory, $"{spec.Name}-{type}-{(quantizer == Quantizer.LlamaCpp ? "llamacpp" : "suiron")}.gguf");
                    if (!File.Exists(path))
                    {
                        log.WriteLine($"quantizing {System.IO.Path.GetFileName(path)} with {(quantizer == Quantizer.LlamaCpp ? "llama.cpp" : "Suiron")}…");
                        if (quantizer == Quantizer.LlamaCpp) LlamaCppSubject.Quantize(f16, path, type, threads);
                        else Suiron.ModelQuantization.ModelQuantizer.Quantize(f16, path, (Suiron.ModelQuantization.ModelFileType)(int)type); // `suiron quantize`'s engine
                    }
                    files.Add(new BenchFile(path, spec.Name, type, quantizer));
                }
            }
        }
        return files;
    }

    /// <summary>
    /// Compares the llama.cpp- and Suiron-quantized files of the same model and type, tensor by tensor: a line per
    /// pair saying whether every tensor has the same type and the same bytes, and a line per tensor that does not.
    /// </summary>
    public static IEnumerable<string> CompareQuantizers(IReadOnlyList<BenchFile> files)
    {
        foreach (var group in files.Where(f => f.QuantizedBy is not null).GroupBy(f => (f.Model, f.Type)))
        {
            var theirs = group.FirstOrDefault(f => f.QuantizedBy == Quantizer.LlamaCpp);
            var ours = group.FirstOrDefault(f => f.QuantizedBy == Quantizer.Suiron);
            if (theirs is null || ours is null) continue;
            using var a = GgufFile.Open(theirs.Path);
            using var b = GgufFile.Open(ours.Path);
            int identical = 0;
            foreach (var t in a.Tensors)
            {
                var u = b.FindTensorInfo(t.Name);
                if (u is null) yield return $"warning: {ours.Label}: tensor {t.Name} missing";
                else if (u.Type != t.Type) yield return $"warning: {ours.Label}: {t.Name} is {u.Type}, llama.cpp chose {t.Type}";
                else if (SameBytes(a.GetTensor(t), b.GetTensor(u))) identical++;
                else yield return $"warning: {ours.Label}: {t.Name} ({t.Type}) differs from llama.cpp's bytes";
            }
            yield return $"{ours.Label} vs {theirs.Label}: {identical} of {a.Tensors.Count} tensors identical (type and bytes)";
        }
    }

    private static unsafe bool SameBytes(Tensor x, Tensor y) =>
        x.ByteLength == y.ByteLength && new ReadOnlySpan<byte>(x.Data, checked((int)x.ByteLength)).SequenceEqual(new ReadOnlySpan<byte>(y.Data, checked((int)y.ByteLength)));
}
