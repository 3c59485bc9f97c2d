namespace Suiron.Models;

/// <summary>
/// MiniMax-M2 (MiniMax 2025, 230B-A10B; GGUF <c>minimax-m2</c>): grouped-query attention whose queries and keys are
/// each RMS-normalized over the whole projection (all heads of a token together) before a partial NeoX RoPE
/// (<c>rope.dimension_count</c> of each head, 64 of 128), and a mixture of experts on every layer with no shared expert:
/// <code>
///   q, k = RoPE(RmsNorm(Wq x)), RoPE(RmsNorm(Wk x))
///   h += Attention(RmsNorm(h))
///   h += Experts(RmsNorm(h))
///   scores = σ(router · x) (expert_gating_func); choose top-k of scores + exp_probs_b; weights = their scores, normalized
/// </code>
/// </summary>
internal static class MiniMaxM2
{
    public static readonly DecoderArchitecture Architecture = new("minimax-m2", RopeStyle.NeoX, QueryKeyNorm: true, QueryKeyNormOverAllHeads: true,
        FeedForward: FeedForwardKind.Experts, DefaultGating: ExpertGating.Sigmoid, NormalizeExpertWeights: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
