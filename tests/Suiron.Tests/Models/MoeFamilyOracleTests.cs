using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// The tiny random MoE families on the one Decoder against llama.cpp, with <see cref="MoeOracle"/>'s rules: 32 greedy
/// tokens identical, F32 weights with F32 caches at 1e-5.
/// <list type="bullet">
/// <item>ernie4_5-moe (<see cref="Ernie4_5MoeShape"/>): a dense first layer, then experts on every layer, softmax routing
/// with a selection bias, top-3 renormalized, a shared-expert MLP of its own width;</item>
/// <item>hunyuan-moe (<see cref="MoeModelBuilder.HunyuanMoeF32"/>): QK-norm after NeoX RoPE, experts on every layer beside
/// a shared MLP of the dense width;</item>
/// <item>minimax-m2 (<see cref="MoeModelBuilder.MiniMaxM2F32"/>): QK-norm over whole projections, partial NeoX RoPE,
/// sigmoid routing with a selection bias.</item>
/// </list>
/// </summary>
public sealed class MoeFamilyOracleTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, Func<string>> F32Files = new()
    {
        ["ernie4_5-moe"] = MoeModelBuilder.Ernie4_5MoeF32,
        ["hunyuan-moe"] = MoeModelBuilder.HunyuanMoeF32,
        ["minimax-m2"] = MoeModelBuilder.MiniMaxM2F32,
    };

    public static TheoryData<string> Families => new(F32Files.Keys);

    public static TheoryData<string, TensorType> Cases
    {
        get
        {
            var data = new TheoryData<string, TensorType>();
            foreach (string family in F32Files.Keys)
                foreach (var type in new[] { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K })
                    data.Add(family, type);
            return data;
        }
    }

    private static string Path(string family, TensorType type) =>
        type == TensorType.F32 ? F32Files[family]() : MoeModelBuilder.Quantized(F32Files[family](), type);

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesLlamaCpp(string family, TensorType type) =>
        MoeOracle.Compare(output, Path(family, type), $"{family} {type}", type, Experts);

    [Theory]
    [MemberData(nameof(Families))]
    public void F32WithF32CacheMatchesLlamaCppTightly(string family) =>
        MoeOracle.Compare(output, Path(family, TensorType.F32), $"{family} F32", TensorType.F32, Experts, KvCacheType.F32, 1e-5);

    /// <summary>ERNIE's active parameters leave out the idle routed experts of the MoE layers only (the leading dense layer has none).</summary>
    [Fact]
    public void Ernie4_5MoeReportsActiveParametersOfTheMoeLayers()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Ernie4_5MoeF32());
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 1 });
        const int moeLayers = 3; // layers 1, 2 and 3
        Assert.Equal(moeLayers, Enumerable.Range(0, Ernie4_5MoeShape.Layers).Count(Ernie4_5MoeShape.IsMoeLayer));
        long idle = (long)moeLayers * (Ernie4_5MoeShape.Experts - Ernie4_5MoeShape.ExpertsUsed) * 3L * Ernie4_5MoeShape.Embedding * Ernie4_5MoeShape.ExpertFeedForward;
        Assert.Equal(model.Info.ParameterCount - idle, model.Info.ActiveParameterCount);
    }
}
