namespace Suiron.Models;

/// <summary>
/// DeepSeek-V3.2 (DeepSeek-AI 2025; GGUF <c>deepseek32</c>): DeepSeek-V3's blocks (<see cref="DeepSeek2"/>) with DeepSeek
/// sparse attention: a lightning indexer (<see cref="LightningIndexer"/>) scores every earlier token for each query
/// token from the query latent and a small per-token key, and latent attention reads only the <c>indexer.top_k</c>
/// (2048) best:
/// <code>
///   I(t, s) = Σ_h w_{t,h} · ReLU(q_{t,h} · k_s)          q = W_IQ RmsNorm(W_DQ x), k = RoPE(LayerNorm(W_IK x)), w = W_IW x
///   h += MLA(RmsNorm(h)) over s ∈ top-k(I(t, ·))
///   h += layer &lt; leading ? MLP(RmsNorm(h)) : Experts(RmsNorm(h)) + SharedExpert(RmsNorm(h))
/// </code>
/// Up to top_k tokens of context it is exactly DeepSeek-V3.
/// </summary>
internal static class DeepSeek32
{
    public static readonly DecoderArchitecture Architecture = DeepSeek2.Architecture with { Name = "deepseek32", LightningIndexer = true };

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
