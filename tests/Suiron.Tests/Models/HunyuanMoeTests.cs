using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// A tiny random hunyuan-moe model (<see cref="MoeModelBuilder.HunyuanMoeF32"/>: QK-norm after NeoX RoPE, experts on
/// every layer beside a shared MLP of the dense width) against llama.cpp with <see cref="MoeOracle"/>'s rules.
/// </summary>
public sealed class HunyuanMoeTests(ITestOutputHelper output)
{
    public static TheoryData<TensorType> Types => new() { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K };

    private static string Path(TensorType type) =>
        type == TensorType.F32 ? MoeModelBuilder.HunyuanMoeF32() : MoeModelBuilder.Quantized(MoeModelBuilder.HunyuanMoeF32(), type);

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesLlamaCpp(TensorType type) => MoeOracle.Compare(output, Path(type), $"hunyuan-moe {type}", type, Experts);

    [Fact]
    public void F32WithF32CacheMatchesLlamaCppTightly() =>
        MoeOracle.Compare(output, Path(TensorType.F32), "hunyuan-moe F32", TensorType.F32, Experts, KvCacheType.F32, 1e-5);
}
