using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// Tiny random glm4moe models (<see cref="Glm4MoeShape"/>: 2 dense + 2 MoE layers and a NextN layer llama.cpp loads
/// but does not run; 16 sigmoid-routed experts with a selection bias, top-4, normalized, ×2.5, a shared expert; QKV
/// biases, NeoX RoPE on half of each head; with and without QK-norm) against llama.cpp, with the rules of
/// <see cref="MoeOracle"/>: greedy 32 tokens, F32 weights with F32 caches at 1e-5 and no routing flip allowed.
/// </summary>
public sealed class Glm4MoeTests(ITestOutputHelper output)
{
    public static TheoryData<bool, TensorType> Cases
    {
        get
        {
            var data = new TheoryData<bool, TensorType>();
            foreach (bool queryKeyNorm in new[] { true, false })
                foreach (var type in new[] { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K })
                    data.Add(queryKeyNorm, type);
            return data;
        }
    }

    private static string Path(bool queryKeyNorm, TensorType type)
    {
        string f32 = MoeModelBuilder.Glm4MoeF32(queryKeyNorm);
        return type == TensorType.F32 ? f32 : MoeModelBuilder.Quantized(f32, type);
    }

    private static MixtureOfExperts Experts(ILanguageModel model) => ((Decoder)model).Experts!;

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesLlamaCpp(bool queryKeyNorm, TensorType type) =>
        MoeOracle.Compare(output, Path(queryKeyNorm, type), $"glm4moe{(queryKeyNorm ? " qk-norm" : "")} {type}", type, Experts);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void F32WithF32CacheMatchesLlamaCppTightly(bool queryKeyNorm) =>
        MoeOracle.Compare(output, Path(queryKeyNorm, TensorType.F32), $"glm4moe{(queryKeyNorm ? " qk-norm" : "")} F32",
            TensorType.F32, Experts, KvCacheType.F32, 1e-5);

    /// <summary>
    /// The NextN block is not run and not cached; active parameters leave out the idle routed experts of the MoE layers
    /// and the whole NextN block.
    /// </summary>
    [Fact]
    public void SkipsTheNextNLayerAndReportsActiveParameters()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 1 });
        const int e = Glm4MoeShape.Embedding, head = Glm4MoeShape.Head, kvHeads = Glm4MoeShape.KvHeads;
        Assert.Equal(Glm4MoeShape.Layers, model.Info.HyperParameters.LayerCount);
        Assert.Equal(Glm4MoeShape.Layers, model.CreateCache(4).LayerCount);
        Assert.Equal(Glm4MoeShape.Layers * kvHeads * 2 * head * 2, model.Info.KvCacheBytesPerToken); // F16 keys and values

        long total = file.Tensors.Sum(t => t.ElementCount);
        Assert.Equal(total, model.Info.ParameterCount);
        long nextN = file.Tensors.Where(t => t.Name.StartsWith($"blk.{Glm4MoeShape.Layers}.", StringComparison.Ordinal)).Sum(t => t.ElementCount);
        // The NextN block, counted by hand: attention with biases and QK-norm, the MoE feed-forward, the MTP projection and norms.
        const int q = Glm4MoeShape.Heads * head, kv = kvHeads * head, experts = Glm4MoeShape.Experts, width = Glm4MoeShape.ExpertFeedForward;
        long attention = e + 2L * e * q + 2L * e * kv + q + 2 * kv + 2 * head;     // attn_norm, q + output, k + v, biases, q/k norms
        long moe = e + (long)e * experts + experts + 3L * experts * e * width + 3L * e * width; // post_attention_norm, router, exp_probs_b, experts, shared
        long mtp = 2L * e * e + 3 * e;                                            // eh_proj, enorm, hnorm, shared_head_norm
        Assert.Equal(attention + moe + mtp, nextN);
        long idle = (long)(Glm4MoeShape.Layers - Glm4MoeShape.DenseLayers) * (Glm4MoeShape.Experts - Glm4MoeShape.ExpertsUsed) * 3L * e * Glm4MoeShape.ExpertFeedForward;
        Assert.Equal(total - idle - nextN, model.Info.ActiveParameterCount);
    }

    [Fact]
    public void RejectsANextNCountThatLeavesNoLayer()
    {
        string source = MoeModelBuilder.Glm4MoeF32(queryKeyNorm: false);
        string path = System.IO.Path.Combine(TinyModelBuilder.Directory, "glm4moe-bad-nextn.gguf");
        // The tensors stay (block_count is checked against them); nextn_predict_layers is checked before any is read.
        var image = Suiron.Tests.Gguf.GgufImage.Read(source);
        int at = image.Metadata.FindIndex(p => p.Key == "glm4moe.nextn_predict_layers");
        image.Metadata[at] = KeyValuePair.Create("glm4moe.nextn_predict_layers", new GgufValue(GgufValueType.UInt32, (uint)(Glm4MoeShape.Layers + Glm4MoeShape.NextN)));
        image.WriteTo(path);
        using var file = GgufFile.Open(path);
        var error = Assert.Throws<GgufException>(() => ModelLoader.Load(file, new ModelOptions { Threads = 1 }));
        Assert.Contains("nextn_predict_layers", error.Message);
    }
}
