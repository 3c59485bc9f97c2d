namespace Suiron.Models;

/// <summary>
/// Qwen3.5 MoE (Qwen 2026, 35B-A3B to 397B-A17B; GGUF <c>qwen35moe</c>): Qwen3.5's layers (<see cref="Qwen35"/>) with
/// Qwen3-Next's feed-forward (<see cref="Qwen3Next"/>): softmax-routed experts, top-k renormalized, beside a shared
/// expert scaled by σ(<c>ffn_gate_inp_shexp</c> · x), on every layer.
/// </summary>
internal static class Qwen35Moe
{
    public static readonly DecoderArchitecture Architecture = Qwen35.Architecture with
    {
        Name = "qwen35moe", FeedForward = FeedForwardKind.Experts, NormalizeExpertWeights = true,
        SharedExpertAlways = true, SharedExpertGate = true,
    };

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
