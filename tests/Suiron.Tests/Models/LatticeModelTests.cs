using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Models;
using Suiron.Tensors;
using Suiron.Tests.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// Tiny random models whose matrices are lattice i-quants (IQ2_XXS … IQ1_M) quantized by ggml's own quantizer
/// (ggml_quantize_chunk, with an importance matrix: IQ2_XXS, IQ2_XS and IQ1_S refuse to quantize without one, and the
/// files people download were all made with one), run by llama.cpp and by us: dense llama and qwen3 with every matrix
/// in the type (the quantized tolerance, 32 greedy tokens identical, as <see cref="TinyModelOracleTests"/>' quantized
/// cases), and qwen3moe, deepseek2 and glm4moe (GLM-4.5, with its multi-token-prediction layer) in unsloth's mixed layout (routed experts in the type, attention and dense
/// matrices Q4_K, shared experts Q8_0, output Q6_K; as <see cref="MoeOracle"/>'s quantized cases).
/// </summary>
public sealed unsafe class LatticeModelTests(ITestOutputHelper output)
{
    public static TheoryData<string, TensorType> DenseCases
    {
        get
        {
            var data = new TheoryData<string, TensorType>();
            foreach (string spec in new[] { "llama", "qwen3" })
                foreach (var type in LatticeQuantTests.Types)
                    data.Add(spec, type);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(DenseCases))]
    public void GgmlQuantizedFilesMatchLlamaCpp(string spec, TensorType type)
    {
        var model = spec == "llama" ? TinyModelOracleTests.Llama : TinyModelOracleTests.Qwen3;
        string path = GgmlQuantized(TinyModelBuilder.F32(model), $"{spec}-{type}-ggml.gguf", (_, _) => type);
        TinyModelOracleTests.Compare(output, path, $"{spec} {type} (ggml_quantize_chunk)", type);
    }

    public static TheoryData<string, TensorType> MixedCases
    {
        get
        {
            var data = new TheoryData<string, TensorType>();
            foreach (string spec in new[] { "qwen3moe", "deepseek2", "glm4moe" })
                foreach (var type in new[] { TensorType.IQ1_S, TensorType.IQ1_M, TensorType.IQ2_XXS, TensorType.IQ3_S })
                    data.Add(spec, type);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(MixedCases))]
    public void MixedMoeFilesMatchLlamaCpp(string spec, TensorType expertType)
    {
        string source = spec switch
        {
            "qwen3moe" => MoeModelBuilder.Qwen3MoeF32(),
            "glm4moe" => MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true),
            _ => MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV3),
        };
        string path = GgmlQuantized(source, $"{spec}-mixed-{expertType}-ggml.gguf", (name, _) => UnslothLayout(name, expertType));
        using (var file = GgufFile.Open(path))
            Assert.Contains(file.Tensors, t => t.Type == expertType && t.Name.Contains("_exps", StringComparison.Ordinal));
        // glm4moe keeps 4 of 16 experts per token (qwen3moe 2 of 8, deepseek2 3 of 16), each with its own near-tie margin:
        // measured 1 to 3 flips over the 32 steps, every one at a routing margin below 2e-3.
        MoeOracle.Compare(output, path, $"{spec} mixed {expertType} (ggml_quantize_chunk)", expertType, Experts, maxFlips: spec == "glm4moe" ? 3 : 2);
    }

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    private static TensorType UnslothLayout(string name, TensorType expertType) =>
        name.Contains("_exps", StringComparison.Ordinal) ? expertType
        : name.Contains("_shexp", StringComparison.Ordinal) ? TensorType.Q8_0
        : name == "output.weight" ? TensorType.Q6_K
        : TensorType.Q4_K;

    /// <summary>
    /// <paramref name="source"/> (F32) with every matrix quantized by ggml_quantize_chunk to the type
    /// <paramref name="choose"/> names, each with a random positive importance per column; rows whose width is not a
    /// multiple of 256 take llama.cpp's fallbacks (IQ4_NL for the lattice types, Q5_0 for Q4_K, Q8_0 for Q6_K). The
    /// router (ffn_gate_inp) stays F32, as llama-quantize leaves it.
    /// </summary>
    private static string GgmlQuantized(string source, string name, Func<string, int, TensorType> choose)
    {
        string path = Path.Combine(TinyModelBuilder.Directory, name);
        lock (TinyModelBuilder.WriteLock)
        {
            if (File.Exists(path)) return path;
            nint f = GgmlOracleTests.Export("ggml_quantize_chunk");
            Assert.True(f != 0, "ggml_quantize_chunk not exported");
            var quantizeChunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)f;
            var random = new Random(name.Length * 7919 + name[0]);
            using var file = GgufFile.Open(source);
            var writer = new GgufWriter().CopyMetadataFrom(file);
            foreach (GgufTensorInfo info in file.Tensors)
            {
                Tensor t = file.GetTensor(info);
                var values = new float[t.ElementCount];
                Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, (int)t.ByteLength), values);
                if (info.Shape.Length < 2 || info.Name.Contains("ffn_gate_inp", StringComparison.Ordinal))
                {
                    writer.AddTensor(info.Name, info.Shape, values);
                    continue;
                }
                TensorType target = Fallback(choose(info.Name, t.Columns), t.Columns);
                var importance = new float[t.Columns];
                for (int i = 0; i < importance.Length; i++) importance[i] = 0.1f + (float)random.NextDouble();
                var bytes = new byte[TensorTypes.RowBytes(target, t.Columns) * t.Rows];
                nuint written;
                fixed (float* v = values) fixed (byte* b = bytes) fixed (float* im = importance)
                    written = quantizeChunk((int)target, v, b, 0, t.Rows, t.Columns, im);
                Assert.Equal((nuint)bytes.Length, written);
                writer.AddTensor(info.Name, target, info.Shape, bytes);
            }
            writer.WriteTo(path);
        }
        return path;
    }

    private static TensorType Fallback(TensorType type, int columns) =>
        columns % TensorTypes.BlockSize(type) == 0 ? type : type switch
        {
            TensorType.Q4_K => TensorType.Q5_0,
            TensorType.Q6_K => TensorType.Q8_0,
            _ => TensorType.IQ4_NL,
        };
}
