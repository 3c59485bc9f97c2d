using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// A tiny random minimax-m2 model (<see cref="MoeModelBuilder.MiniMaxM2F32"/>: QK-norm over whole projections, partial
/// NeoX RoPE, sigmoid routing with a selection bias) against llama.cpp with <see cref="MoeOracle"/>'s rules.
/// </summary>
public sealed class MiniMaxM2Tests(ITestOutputHelper output)
{
    public static TheoryData<TensorType> Types => new() { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K };

    private static string Path(TensorType type) =>
        type == TensorType.F32 ? MoeModelBuilder.MiniMaxM2F32() : MoeModelBuilder.Quantized(MoeModelBuilder.MiniMaxM2F32(), type);

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesLlamaCpp(TensorType type) => MoeOracle.Compare(output, Path(type), $"minimax-m2 {type}", type, Experts);

    [Fact]
    public void F32WithF32CacheMatchesLlamaCppTightly() =>
        MoeOracle.Compare(output, Path(TensorType.F32), "minimax-m2 F32", TensorType.F32, Experts, KvCacheType.F32, 1e-5);
}
