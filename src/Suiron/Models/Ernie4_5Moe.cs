namespace Suiron.Models;

/// <summary>
/// Baidu ERNIE 4.5 mixture of experts (ERNIE-4.5-21B-A3B, ERNIE-4.5-300B-A47B, 2025; GGUF <c>ernie4_5-moe</c>): ERNIE 4.5's
/// Llama block, whose feed-forward becomes a softmax-routed mixture of experts on every <c>interleave_moe_layer_step</c>-th
/// layer after <c>leading_dense_block_count</c> dense ones, with an optional shared-expert MLP of
/// <c>expert_shared_feed_forward_length</c>:
/// <code>
///   h += Attention(RmsNorm(h))
///   h += moe layer ? Experts(RmsNorm(h)) + SharedExpert?(RmsNorm(h)) : MLP(RmsNorm(h))
///   scores = softmax(router · x); choose top-k of scores + exp_probs_b?; weights = their scores, renormalized to sum 1
/// </code>
/// </summary>
internal static class Ernie4_5Moe
{
    public static readonly DecoderArchitecture Architecture = new("ernie4_5-moe", RopeStyle.Normal,
        FeedForward: FeedForwardKind.Experts, DefaultGating: ExpertGating.Softmax, NormalizeExpertWeights: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
