namespace Suiron.Models;

/// <summary>
/// Llama 1/2/3 (Touvron et al. 2023) and the many models exported as <c>llama</c>: RMSNorm pre-norm blocks,
/// rotary positions on adjacent pairs, grouped-query attention, SwiGLU MLP, output tied to the embedding when
/// the file has no <c>output.weight</c>, and Llama 3.1's long-context frequency factors (<c>rope_freqs.weight</c>).
/// </summary>
internal static class Llama
{
    public static readonly DecoderArchitecture Architecture = new("llama", RopeStyle.Normal, RopeFrequencyFactors: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
