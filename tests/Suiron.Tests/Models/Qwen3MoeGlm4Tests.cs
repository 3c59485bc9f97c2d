using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>Tiny random qwen3moe and glm4 models against llama.cpp (see <see cref="MoeOracle"/> and <see cref="TinyModelOracleTests"/> for the tolerances).</summary>
public sealed class Qwen3MoeGlm4Tests(ITestOutputHelper output)
{
    public static TheoryData<TensorType> Types => new() { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K };

    private static string Path(string f32, TensorType type) => type == TensorType.F32 ? f32 : MoeModelBuilder.Quantized(f32, type);

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    [Theory]
    [MemberData(nameof(Types))]
    public void Qwen3MoeMatchesLlamaCpp(TensorType type) =>
        MoeOracle.Compare(output, Path(MoeModelBuilder.Qwen3MoeF32(), type), $"qwen3moe {type}", type, Experts);

    /// <summary>Every matrix in MXFP4, written by our quantizer (bit-exact with ggml's quantize_row_mxfp4_ref).</summary>
    [Fact]
    public void Qwen3MoeAllMxfp4MatchesLlamaCpp() =>
        MoeOracle.Compare(output, MoeModelBuilder.Quantized(MoeModelBuilder.Qwen3MoeF32(), TensorType.MXFP4), "qwen3moe MXFP4 (ours)", TensorType.MXFP4, Experts);

    /// <summary>
    /// What gpt-oss-style downloads are: llama.cpp's MXFP4_MOE file type, the routed experts in MXFP4 and the rest in
    /// its own choice of types.
    /// </summary>
    [Fact]
    public void Qwen3MoeLlamaCppMxfp4MoeFileMatchesLlamaCpp()
    {
        string path = MoeModelBuilder.LlamaCppQuantized(MoeModelBuilder.Qwen3MoeF32(), Suiron.ModelQuantization.ModelFileType.MXFP4_MOE);
        using (var file = GgufFile.Open(path))
        {
            var experts = file.Tensors.Where(t => t.Name.Contains("_exps.")).ToList();
            Assert.NotEmpty(experts);
            Assert.All(experts, t => Assert.Equal(TensorType.MXFP4, t.Type));
            output.WriteLine(string.Join(", ", file.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Key} x{g.Count()}")));
        }
        MoeOracle.Compare(output, path, "qwen3moe MXFP4_MOE (llama.cpp)", TensorType.MXFP4, Experts);
    }

    [Fact]
    public void Qwen3MoeF32WithF32CacheMatchesLlamaCppTightly() =>
        MoeOracle.Compare(output, MoeModelBuilder.Qwen3MoeF32(), "qwen3moe F32", TensorType.F32, Experts, KvCacheType.F32, 1e-5);

    [Theory]
    [MemberData(nameof(Types))]
    public void Glm4MatchesLlamaCpp(TensorType type) =>
        TinyModelOracleTests.Compare(output, Path(MoeModelBuilder.Glm4F32(), type), $"glm4 {type}", type);

    [Fact]
    public void Glm4F32WithF32CacheMatchesLlamaCppTightly() =>
        TinyModelOracleTests.Compare(output, MoeModelBuilder.Glm4F32(), "glm4 F32", TensorType.F32, KvCacheType.F32, 1e-5);

    [Fact]
    public void Qwen3MoeReportsActiveParameters()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen3MoeF32());
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 1 });
        // 2 layers × (8 − 2) idle experts × 3 matrices of 256 × 256.
        Assert.Equal(model.Info.ParameterCount - 2L * 6 * 3 * 256 * 256, model.Info.ActiveParameterCount);
        Assert.Equal(2 * 2 * (64 + 64) * 2, model.Info.KvCacheBytesPerToken);
    }
}
