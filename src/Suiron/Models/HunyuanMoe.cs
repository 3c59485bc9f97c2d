namespace Suiron.Models;

/// <summary>
/// Tencent Hunyuan-A13B (2025; GGUF <c>hunyuan-moe</c>): Hunyuan's attention (NeoX RoPE, QK-norm after RoPE) and, in
/// every layer, a softmax-routed mixture of experts beside an always-present shared-expert MLP:
/// <code>
///   h += Attention(RmsNorm(h))
///   h += Experts(RmsNorm(h)) + SharedExpert(RmsNorm(h))
///   scores = softmax(router · x); weights = the top-k scores, renormalized to sum 1
/// </code>
/// </summary>
internal static class HunyuanMoe
{
    public static readonly DecoderArchitecture Architecture = new("hunyuan-moe", RopeStyle.NeoX, QueryKeyNorm: true, QueryKeyNormAfterRope: true,
        FeedForward: FeedForwardKind.Experts, DefaultGating: ExpertGating.Softmax, NormalizeExpertWeights: true, SharedExpertAlways: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
