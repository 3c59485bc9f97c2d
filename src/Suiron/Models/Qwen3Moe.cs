namespace Suiron.Models;

/// <summary>
/// Qwen3 mixture-of-experts models (Qwen3-30B-A3B, Qwen3-235B-A22B; Qwen team 2025): the Qwen3 attention (NeoX RoPE,
/// QK-norm, explicit head size) with every MLP replaced by routed experts — softmax over the router's logits, top-k,
/// weights always renormalized to sum 1, no shared expert.
/// </summary>
internal static class Qwen3Moe
{
    public static readonly DecoderArchitecture Architecture = new("qwen3moe", RopeStyle.NeoX, QueryKeyNorm: true,
        FeedForward: FeedForwardKind.Experts, DefaultGating: ExpertGating.Softmax, NormalizeExpertWeights: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
