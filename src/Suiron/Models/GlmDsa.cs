namespace Suiron.Models;

/// <summary>
/// GLM-5 (Zhipu AI 2026; GGUF <c>glm-dsa</c>): DeepSeek-V3.2's blocks (<see cref="DeepSeek32"/>: latent attention made
/// sparse by a lightning indexer, dense leading layers, then routed plus shared experts) under GLM's conventions:
/// <code>
///   h += MLA(RmsNorm(h)) over s ∈ top-k(I(t, ·))
///   h += layer &lt; leading ? MLP(RmsNorm(h)) : Experts(RmsNorm(h)) + SharedExpert(RmsNorm(h))
///   scores = σ(router · x) unless expert_gating_func says otherwise; choose top-k of scores + exp_probs_b
/// </code>
/// Where it departs from deepseek32, as llama.cpp's glm-dsa graph does: the indexer rotates adjacent pairs (not NeoX
/// halves); <c>rope.scaling.yarn_log_multiplier</c> is not read, so YaRN's temperature is mscale(s, 1) alone; layers that
/// <c>attention.indexer.types</c> marks 0 (GLM-5.2; the default for a context of 2^20 or more) reuse the previous full
/// layer's top-k instead of running an indexer. The first of the last <c>nextn_predict_layers</c> blocks is the
/// multi-token-prediction head that drafts for <c>--spec mtp</c>, as llama.cpp's glm-dsa MTP graph runs it: its latent
/// attention reads every position of the head's own cache (no sparse selection).
/// </summary>
internal static class GlmDsa
{
    public static readonly DecoderArchitecture Architecture = DeepSeek32.Architecture with
    {
        Name = "glm-dsa", DefaultGating = ExpertGating.Sigmoid, NextNLayers = true, MultiTokenPrediction = true,
        IndexerRopeStyle = RopeStyle.Normal, SharedIndexerLayers = true, YarnLogMultiplier = false,
    };

    public static ILanguageModel Load(Gguf.GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
