using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// Tiny random ernie4_5-moe models (<see cref="Ernie4_5MoeShape"/>: a dense first layer, then experts on every layer,
/// softmax routing with a selection bias, top-3 renormalized, a shared-expert MLP of its own width) against
/// llama.cpp, with <see cref="MoeOracle"/>'s rules: 32 greedy tokens identical, F32 weights with F32 caches at 1e-5.
/// </summary>
public sealed class Ernie4_5MoeTests(ITestOutputHelper output)
{
    public static TheoryData<TensorType> Types => new() { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K };

    private static string Path(TensorType type) =>
        type == TensorType.F32 ? MoeModelBuilder.Ernie4_5MoeF32() : MoeModelBuilder.Quantized(MoeModelBuilder.Ernie4_5MoeF32(), type);

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesLlamaCpp(TensorType type) => MoeOracle.Compare(output, Path(type), $"ernie4_5-moe {type}", type, Experts);

    [Fact]
    public void F32WithF32CacheMatchesLlamaCppTightly() =>
        MoeOracle.Compare(output, Path(TensorType.F32), "ernie4_5-moe F32", TensorType.F32, Experts, KvCacheType.F32, 1e-5);

    /// <summary>Active parameters leave out the idle routed experts of the MoE layers only (the leading dense layer has none).</summary>
    [Fact]
    public void ReportsActiveParametersOfTheMoeLayers()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Ernie4_5MoeF32());
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 1 });
        const int moeLayers = 3; // layers 1, 2 and 3
        Assert.Equal(moeLayers, Enumerable.Range(0, Ernie4_5MoeShape.Layers).Count(Ernie4_5MoeShape.IsMoeLayer));
        long idle = (long)moeLayers * (Ernie4_5MoeShape.Experts - Ernie4_5MoeShape.ExpertsUsed) * 3L * Ernie4_5MoeShape.Embedding * Ernie4_5MoeShape.ExpertFeedForward;
        Assert.Equal(model.Info.ParameterCount - idle, model.Info.ActiveParameterCount);
    }
}
