using Suiron.Benchmarking;
using Suiron.Gguf;
using Suiron.Tests.Models;
using Xunit;

namespace Suiron.Tests.Benchmarking;

public sealed class WeightTrafficTests
{
    /// <summary>
    /// An MoE model's bytes per decoded token, from the shapes by hand: all tensor bytes, less every embedding row
    /// but one, less the 16 − 2 routed experts a token does not go to (gate, up and down, 256 × 256 F32 each) in each
    /// of the 2 MoE layers. The router and the shared expert stay in.
    /// </summary>
    [Fact]
    public void MoeCountsOnlyTheUsedExperts()
    {
        using var file = GgufFile.Open(MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV2Lite));
        long all = file.Tensors.Sum(t => t.ByteSize);
        var embedding = file.FindTensorInfo("token_embd.weight")!;
        long embeddingRowsSkipped = (embedding.Shape[1] - 1) * DeepSeekSpec.Embedding * 4L;
        const int moeLayers = DeepSeekSpec.Layers - DeepSeekSpec.DenseLayers, idleExperts = DeepSeekSpec.Experts - 2;
        long idleExpertBytes = moeLayers * idleExperts * 3L * DeepSeekSpec.ExpertFeedForward * DeepSeekSpec.Embedding * 4;
        Assert.Equal(all - embeddingRowsSkipped - idleExpertBytes, WeightTraffic.BytesPerToken(file));
    }

    /// <summary>A dense model: every tensor whole (the embedding again when the output is tied to it) but the token embedding, of which one row.</summary>
    [Fact]
    public void DenseCountsEveryTensorAndOneEmbeddingRow()
    {
        using var dense = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        long all = dense.Tensors.Sum(t => t.ByteSize);
        var embedding = dense.FindTensorInfo("token_embd.weight")!;
        long row = embedding.ByteSize / embedding.Shape[1];
        long expected = dense.HasTensor("output.weight") ? all - embedding.ByteSize + row : all + row;
        Assert.Equal(expected, WeightTraffic.BytesPerToken(dense));
    }
}
