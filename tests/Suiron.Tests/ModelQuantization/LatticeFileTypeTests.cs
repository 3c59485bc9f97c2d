using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Tensors;
using Suiron.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// The 1-3 bit lattice file types with an importance matrix. llama.cpp's quantizer cannot be handed one through LLamaSharp
/// (see <see cref="ImportanceMatrixQuantizeTests"/>), so each output tensor is checked against two independent truths:
/// its type against llama.cpp's llama-quant.cpp rules for these file types, written out below by hand for the three tiny
/// models (an untied llama with 2 query heads per KV head, a tied qwen2 with 4, an 8-expert qwen3moe), and its bytes
/// against ggml's <c>ggml_quantize_chunk</c> of its F32 source with its importance weights. Then an IQ2_XXS file of ours
/// runs in llama.cpp and gives Suiron's greedy tokens; without a matrix both refuse the same file types. (IQ3_S and IQ3_M need no matrix and are compared with
/// llama.cpp's whole files in <see cref="ModelQuantizerOracleTests"/>.)
/// </summary>
public sealed class LatticeFileTypeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-lattice-ftype-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("llama", 8, ModelFileType.IQ2_XXS)]
    [InlineData("llama", 8, ModelFileType.IQ2_S)]
    [InlineData("llama", 8, ModelFileType.IQ2_M)]
    [InlineData("llama", 8, ModelFileType.IQ1_S)]
    [InlineData("llama", 8, ModelFileType.IQ1_M)]
    [InlineData("llama", 8, ModelFileType.IQ3_XXS)]
    [InlineData("llama", 8, ModelFileType.IQ3_XS)]
    [InlineData("qwen2", 4, ModelFileType.IQ2_XXS)]
    [InlineData("qwen2", 4, ModelFileType.IQ1_M)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ2_S)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ3_XXS)]
    public void Tensor_types_follow_llama_quant_rules_and_bytes_are_ggml_quantize_chunk(string architecture, int layers, ModelFileType fileType)
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, architecture, layers);
        var matrix = ImportanceMatrixQuantizeTests.RandomImatrixFor(input, seed: layers + (int)fileType);
        string imatrixPath = Path.Combine(_dir, "imatrix.gguf");
        matrix.Save(imatrixPath);
        string ours = Path.Combine(_dir, "ours.gguf");
        ModelQuantizer.Quantize(input, ours, fileType,
            new QuantizeOptions { Threads = 2, ImportanceMatrix = ImportanceMatrix.Load(imatrixPath), ImportanceMatrixFile = imatrixPath });

        using var source = GgufFile.Open(input);
        using var quantized = GgufFile.Open(ours);
        Assert.Equal((long)fileType, quantized.GetInt64("general.file_type"));
        foreach (var tensor in quantized.Tensors)
        {
            var sourceInfo = source.FindTensorInfo(tensor.Name)!;
            if (sourceInfo.Shape.Length < 2 || tensor.Name.Contains("ffn_gate_inp", StringComparison.Ordinal))
            {
                Assert.Equal(sourceInfo.Type, tensor.Type);
                continue;
            }
            Assert.True(Expected(fileType, architecture, layers, tensor.Name) == tensor.Type,
                $"{fileType} {architecture}: {tensor.Name} is {tensor.Type}, llama.cpp's rules give {Expected(fileType, architecture, layers, tensor.Name)}");
            byte[] expected = ImportanceMatrixQuantizeTests.GgmlQuantize(tensor.Type, ImportanceMatrixQuantizeTests.Floats(source, sourceInfo),
                sourceInfo.Shape, matrix.WeightsFor(tensor.Name));
            byte[] actual = ImportanceMatrixQuantizeTests.Bytes(quantized, tensor);
            int at = expected.AsSpan().CommonPrefixLength(actual);
            Assert.True(at == expected.Length && actual.Length == expected.Length,
                $"{tensor.Name} ({tensor.Type}): differs from ggml_quantize_chunk at byte {at} of {expected.Length}");
        }
        output.WriteLine(string.Join(", ", quantized.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Key}×{g.Count()}")));
    }

    /// <summary>
    /// llama-quant.cpp's llama_tensor_get_type for these file types, with an importance matrix, for the test models:
    /// llama (n_gqa 2, untied), qwen2 (n_gqa 4, tied embeddings) and qwen3moe (n_gqa 2, 8 experts, one ffn_down per layer).
    /// </summary>
    private static TensorType Expected(ModelFileType ft, string architecture, int layers, string name)
    {
        int gqa = architecture == "qwen2" ? 4 : 2;
        int experts = architecture == "qwen3moe" ? 8 : 0;
        bool tied = architecture == "qwen2";
        int layer = name.StartsWith("blk.", StringComparison.Ordinal) ? int.Parse(name.Split('.')[1]) : -1;
        bool Is(string part) => name.Contains(part, StringComparison.Ordinal);
        TensorType fileDefault = ft switch
        {
            ModelFileType.IQ2_XXS => TensorType.IQ2_XXS,
            ModelFileType.IQ2_XS or ModelFileType.IQ2_S => TensorType.IQ2_XS,
            ModelFileType.IQ2_M => TensorType.IQ2_S,
            ModelFileType.IQ1_S => TensorType.IQ1_S,
            ModelFileType.IQ1_M => TensorType.IQ1_M,
            ModelFileType.IQ3_XXS => TensorType.IQ3_XXS,
            _ => TensorType.IQ3_S,
        };
        bool twoBit = ft is ModelFileType.IQ2_XXS or ModelFileType.IQ2_XS or ModelFileType.IQ2_S or ModelFileType.IQ2_M
            or ModelFileType.IQ1_S or ModelFileType.IQ1_M;
        bool iq2s = ft is ModelFileType.IQ2_S or ModelFileType.IQ2_M;

        if (name == "output.weight" || (tied && name == "token_embd.weight"))
            return twoBit || ft == ModelFileType.IQ3_XXS ? TensorType.Q5_K : TensorType.Q6_K;
        if (name == "token_embd.weight")
            return ft is ModelFileType.IQ2_XXS or ModelFileType.IQ2_XS or ModelFileType.IQ1_S or ModelFileType.IQ1_M ? TensorType.Q2_K
                : iq2s || ft == ModelFileType.IQ3_XXS ? TensorType.IQ3_S : fileDefault;
        if (twoBit)
        {
            if (Is("attn_v.weight")) return gqa >= 4 || experts >= 4 ? TensorType.Q4_K : iq2s ? TensorType.IQ3_S : TensorType.Q2_K;
            if (Is("attn_k.weight") && experts == 8) return TensorType.Q4_K;
            if (Is("ffn_down")) return layer < layers / 8 ? (iq2s ? TensorType.IQ3_S : TensorType.Q2_K) : fileDefault;
            if (Is("attn_output.weight"))
                return experts == 8 ? TensorType.Q5_K
                    : ft is ModelFileType.IQ1_S or ModelFileType.IQ1_M ? TensorType.IQ2_XXS : iq2s ? TensorType.IQ3_S : fileDefault;
            return fileDefault;
        }
        if (Is("attn_v.weight"))
        {
            if (experts == 8) return TensorType.Q8_0;
            if (gqa >= 4) return TensorType.Q4_K;
            return ft == ModelFileType.IQ3_XXS ? TensorType.IQ3_XXS : fileDefault; // IQ3_S for IQ3_XXS only without a matrix
        }
        if (Is("attn_k.weight") || Is("attn_q.weight"))
        {
            if (Is("attn_k.weight") && experts == 8) return TensorType.Q8_0;
            return ft switch { ModelFileType.IQ3_XS => TensorType.IQ3_XXS, ModelFileType.IQ3_XXS => TensorType.IQ2_S, _ => fileDefault };
        }
        if (Is("attn_output.weight"))
            return experts == 8 ? TensorType.Q5_K : ft == ModelFileType.IQ3_XXS ? TensorType.IQ3_S : fileDefault;
        if ((Is("ffn_gate") || Is("ffn_up")) && ft == ModelFileType.IQ3_XS && layer >= layers / 8 && layer < 7 * layers / 8)
            return TensorType.IQ3_XXS;
        return fileDefault; // ffn_down of IQ3_XXS keeps its type when a matrix is given
    }

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
