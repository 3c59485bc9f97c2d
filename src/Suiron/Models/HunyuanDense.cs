namespace Suiron.Models;

/// <summary>
/// Tencent Hunyuan dense models (Hunyuan-0.5B/1.8B/4B/7B, 2025; GGUF <c>hunyuan-dense</c>): the Llama block with rotary
/// positions on the two halves of each head (NeoX layout) and a per-head RMSNorm of queries and keys applied after RoPE
/// (Qwen3 normalizes before it):
/// <code>
///   q, k = RmsNorm(RoPE(Wq x)), RmsNorm(RoPE(Wk x))
///   h += Attention(RmsNorm(h));  h += SwiGLU-MLP(RmsNorm(h))
/// </code>
/// </summary>
internal static class HunyuanDense
{
    public static readonly DecoderArchitecture Architecture = new("hunyuan-dense", RopeStyle.NeoX, QueryKeyNorm: true, QueryKeyNormAfterRope: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
