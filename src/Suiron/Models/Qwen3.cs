namespace Suiron.Models;

/// <summary>
/// Qwen3 dense models (Qwen team 2025): the Llama block without biases, NeoX rotary layout, and an RMSNorm over
/// each query and key head before RoPE (QK-norm, which keeps attention logits bounded). The head size is given
/// explicitly (<c>attention.key_length</c>) and need not equal embedding / heads.
/// </summary>
internal static class Qwen3
{
    public static readonly DecoderArchitecture Architecture = new("qwen3", RopeStyle.NeoX, QueryKeyNorm: true);

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
