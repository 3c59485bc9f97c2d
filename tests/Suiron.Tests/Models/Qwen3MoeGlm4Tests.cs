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
