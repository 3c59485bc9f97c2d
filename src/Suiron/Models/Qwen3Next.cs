namespace Suiron.Models;

/// <summary>
/// Qwen3-Next (Qwen 2025, 80B-A3B; GGUF <c>qwen3next</c>): a hybrid of gated DeltaNet linear attention and gated full
/// attention, three recurrent layers to one attending (<c>full_attention_interval</c> 4), every layer a mixture of experts
/// with a gated shared expert:
/// <code>
///   h += layer is recurrent ? GatedDeltaNet(RmsNorm(h))                        fixed-size state per sequence
///                           : Wo (Attention(RoPE(RmsNorm(q)), RoPE(RmsNorm(k)), v) ⊙ σ(gate))   Wq yields (q, gate) per head
///   x = RmsNorm(h)                                                             post_attention_norm
///   h += Experts(x) + σ(w_shexp_gate · x) · SharedExpert(x)
///   scores = softmax(router · x); top-k, renormalized
/// </code>
/// NeoX RoPE on <c>rope.dimension_count</c> (a quarter) of each head. Value head h of a DeltaNet layer reads key head
/// h / (value heads / key heads). Both GGUF layouts of the DeltaNet projections load (<see cref="GatedDeltaNetWeights"/>).
/// </summary>
internal static class Qwen3Next
{
    public static readonly DecoderArchitecture Architecture = new("qwen3next", RopeStyle.NeoX, QueryKeyNorm: true,
        FeedForward: FeedForwardKind.Experts, NormalizeExpertWeights: true, FeedForwardNormName: "post_attention_norm",
        SharedExpertAlways: true, HybridDeltaNet: true, AttentionOutputGate: true, SharedExpertGate: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
