namespace Suiron.Models;

/// <summary>
/// Qwen3.5 dense (Qwen 2026, 0.8B–27B; GGUF <c>qwen35</c>): Qwen3-Next's hybrid of gated DeltaNet and gated full
/// attention (<see cref="Qwen3Next"/>) with a SwiGLU MLP on every layer, separate DeltaNet projections
/// (<c>attn_qkv</c>, <c>attn_gate</c>, <c>ssm_beta</c>, <c>ssm_alpha</c>) and the vision models' interleaved multi-section
/// RoPE (<c>rope.dimension_sections</c>), which for text is NeoX RoPE on the first three sections' pairs:
/// <code>
///   h += layer is recurrent ? GatedDeltaNet(RmsNorm(h)) : GatedAttention(RmsNorm(h))
///   h += MLP(RmsNorm(h))                                                       post_attention_norm
/// </code>
/// The converter orders the DeltaNet value heads so that value head h reads key head h mod (key heads). The
/// multi-token-prediction block (<c>nextn_predict_layers</c>) is skipped by the main pass, as llama.cpp's is, and runs as a
/// draft head (<see cref="IMultiTokenPredictor"/>, <c>--spec mtp</c>): a gated-attention block with its own cache over
/// <c>nextn.eh_proj</c>(enorm(embedding of token p) ‖ hnorm(hidden state at p − 1)).
/// </summary>
internal static class Qwen35
{
    public static readonly DecoderArchitecture Architecture = new("qwen35", RopeStyle.NeoX, QueryKeyNorm: true,
        FeedForwardNormName: "post_attention_norm", NextNLayers: true, MultiTokenPrediction: true,
        HybridDeltaNet: true, AttentionOutputGate: true, InterleavedRopeSections: true, TiledDeltaNetKeyHeads: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
