namespace Suiron.Models;

/// <summary>
/// GLM-4-0414 (THUDM/Zhipu 2025, GGUF <c>glm4</c>): a pre-norm decoder that also normalizes each sublayer's output
/// before the residual add ("sandwich" norms: <c>post_attention_norm</c>, <c>post_ffw_norm</c>), QKV biases,
/// partial rotary embedding on adjacent pairs of the first <c>rope.dimension_count</c> (half) dimensions of each head,
/// and a SwiGLU MLP whose <c>ffn_up</c> holds the gate rows followed by the up rows.
/// </summary>
internal static class Glm4
{
    public static readonly DecoderArchitecture Architecture = new("glm4", RopeStyle.Normal, PostNorms: true,
        FeedForward: FeedForwardKind.FusedGateUp);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
