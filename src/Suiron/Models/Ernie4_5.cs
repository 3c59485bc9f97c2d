namespace Suiron.Models;

/// <summary>
/// Baidu ERNIE 4.5 dense (ERNIE-4.5-0.3B, 2025; GGUF <c>ernie4_5</c>): the Llama block. RMSNorm pre-norm, grouped-query
/// attention with rotary positions on adjacent pairs, Q/K/V biases only where the file has them, SwiGLU MLP, output tied
/// to the embedding when the file has no <c>output.weight</c>:
/// <code>
///   h += Attention(RmsNorm(h))
///   h += Down(SiLU(Gate(RmsNorm(h))) · Up(RmsNorm(h)))
/// </code>
/// </summary>
internal static class Ernie4_5
{
    public static readonly DecoderArchitecture Architecture = new("ernie4_5", RopeStyle.Normal);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
