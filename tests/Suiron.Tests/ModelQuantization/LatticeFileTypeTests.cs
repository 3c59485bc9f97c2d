using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Tensors;
using Suiron.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// The 1-3 bit lattice file types around the whole-file comparison with llama.cpp (each lattice file type quantized with
/// an importance matrix is byte-identical to llama.cpp's, in <see cref="ImportanceMatrixQuantizeTests"/>; IQ3_S and IQ3_M
/// need no matrix and are compared in <see cref="ModelQuantizerOracleTests"/>): without a matrix llama.cpp and we refuse
/// the same file types, bad weights and uncovered tensors are refused with clear errors, and an IQ2_XXS file of ours runs
/// in llama.cpp with Suiron's greedy tokens.
/// </summary>
public sealed class LatticeFileTypeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-lattice-ftype-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Without an importance matrix llama.cpp's own llama_model_quantize refuses every file type that gives some tensor a
    /// lattice type needing one (its tensor_requires_imatrix), and writes nothing; so do we.
    /// </summary>
    [Theory]
    [InlineData(ModelFileType.IQ2_XXS)]
    [InlineData(ModelFileType.IQ2_M)]
    [InlineData(ModelFileType.IQ1_M)]
    [InlineData(ModelFileType.IQ3_XXS)]
    [InlineData(ModelFileType.IQ3_XS)]
    public void Without_an_imatrix_llama_cpp_and_we_both_refuse(ModelFileType fileType)
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, "llama", 8);
        Assert.False(LlamaCppQuantizer.Quantize(input, Path.Combine(_dir, "theirs.gguf"), fileType), $"llama.cpp quantized {fileType} without an imatrix");
        string ours = Path.Combine(_dir, "ours.gguf");
        var error = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(input, ours, fileType, new QuantizeOptions { Threads = 2 }));
        Assert.Contains("requires an importance matrix", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(ours));
    }

    /// <summary>
    /// A weight so large that the IQ3_S search's sums overflow: llama.cpp either aborts in one of the encoder's asserts or
    /// refuses the infinite block scale in its validation; ours refuses with a clear error naming the tensor, writing nothing.
    /// </summary>
    [Fact]
    public void Out_of_range_weights_are_refused_with_a_clear_error()
    {
        const ModelFileType fileType = ModelFileType.IQ3_S;
        string tiny = Path.Combine(_dir, "tiny.gguf");
        TinyQuantizableModel.Write(tiny, "llama", 2);
        string input = Path.Combine(_dir, "huge-weight.gguf");
        using (var source = GgufFile.Open(tiny))
        {
            var writer = new GgufWriter().CopyMetadataFrom(source);
            foreach (var info in source.Tensors)
            {
                byte[] bytes = ImportanceMatrixQuantizeTests.Bytes(source, info);
                if (info.Name == "blk.1.ffn_up.weight") System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan())[300] = 1e30f;
                writer.AddTensor(info.Name, info.Type, info.Shape, bytes);
            }
            writer.WriteTo(input);
        }
        var matrix = ImportanceMatrixQuantizeTests.RandomImatrixFor(input, seed: 3);
        string output = Path.Combine(_dir, "out.gguf");
        var error = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Quantize(input, output, fileType,
            new QuantizeOptions { Threads = 2, ImportanceMatrix = matrix, ImportanceMatrixFile = "m.gguf" }));
        Assert.Contains("blk.1.ffn_up.weight", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    /// <summary>--pure IQ2_XXS would encode token_embd and output as IQ2_XXS, which no importance matrix covers: refused up front.</summary>
    [Fact]
    public void Pure_IQ2_XXS_without_weights_for_the_embedding_is_refused()
    {
        string input = Path.Combine(_dir, "tiny.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        string output = Path.Combine(_dir, "out.gguf");
        var error = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(input, output, ModelFileType.IQ2_XXS,
            new QuantizeOptions { Threads = 2, Pure = true, ImportanceMatrix = ImportanceMatrixQuantizeTests.RandomImatrixFor(input, seed: 4), ImportanceMatrixFile = "m.gguf" }));
        Assert.Contains("Missing importance matrix for tensor output.weight", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    /// <summary>A tiny llama quantized by us to the IQ2_XXS file type (with a random importance matrix) runs in llama.cpp with Suiron's greedy tokens.</summary>
    [Fact]
    public void Our_IQ2_XXS_file_runs_in_llama_cpp_like_in_Suiron()
    {
        string input = TinyModelBuilder.F32(TinyModelOracleTests.Llama);
        var matrix = ImportanceMatrixQuantizeTests.RandomImatrixFor(input, seed: 5);
        string imatrixPath = Path.Combine(_dir, "imatrix.gguf");
        matrix.Save(imatrixPath);
        string path = Path.Combine(_dir, "llama-IQ2_XXS.gguf");
        var result = ModelQuantizer.Quantize(input, path, ModelFileType.IQ2_XXS,
            new QuantizeOptions { Threads = 2, ImportanceMatrix = ImportanceMatrix.Load(imatrixPath), ImportanceMatrixFile = imatrixPath });
        Assert.Contains(result.Tensors, t => t.TargetType == TensorType.IQ2_XXS);
        output.WriteLine(string.Join(", ", result.Tensors.GroupBy(t => t.TargetType).Select(g => $"{g.Key}×{g.Count()}")));
        TinyModelOracleTests.Compare(output, path, "llama IQ2_XXS (suiron quantize --imatrix)", TensorType.IQ2_XXS);
    }
}
