namespace Suiron.Models;

/// <summary>
/// Qwen2 / Qwen2.5 (Yang et al. 2024): the Llama block with a bias on the Q, K and V projections and rotary
/// positions on the two halves of each head (NeoX layout).
/// </summary>
internal static class Qwen2
{
    public static readonly DecoderArchitecture Architecture = new("qwen2", RopeStyle.NeoX, QueryKeyValueBias: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
