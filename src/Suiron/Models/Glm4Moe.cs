namespace Suiron.Models;

/// <summary>
/// GLM-4.5, GLM-4.5-Air and GLM-4.6 (Zhipu AI 2025, GGUF <c>glm4moe</c>): a pre-norm decoder of grouped-query attention
/// with Q/K/V biases, optional per-head QK-norm (GLM-4.5 has it, Air not) and NeoX-style RoPE on the first
/// <c>rope.dimension_count</c> (half) dimensions of each head; after <c>leading_dense_block_count</c> dense SwiGLU
/// layers, every feed-forward is a DeepSeek-V3-style mixture of experts:
/// <code>
///   h += Attention(RmsNorm(h))
///   h += layer &lt; leading ? MLP(RmsNorm(h)) : Experts(RmsNorm(h)) + SharedExpert(RmsNorm(h))
///   scores = σ(router · x); choose top-k of scores + exp_probs_b; weights = their unbiased scores, normalized, × scale
/// </code>
/// The norm before the feed-forward is stored as <c>post_attention_norm</c> (Hugging Face's name for it). The last
/// <c>nextn_predict_layers</c> blocks are the multi-token-prediction head: loaded but not run, as llama.cpp does.
/// </summary>
internal static class Glm4Moe
{
    public static readonly DecoderArchitecture Architecture = new("glm4moe", RopeStyle.NeoX,
        FeedForward: FeedForwardKind.Experts, DefaultGating: ExpertGating.Sigmoid,
        OptionalQueryKeyNorm: true, FeedForwardNormName: "post_attention_norm", NextNLayers: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
