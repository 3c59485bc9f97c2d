using Suiron.Gguf;

namespace Suiron.Models;

/// <summary>How RoPE positions are stretched beyond the trained context.</summary>
public enum RopeScalingType { None, Linear, Yarn }

/// <summary>
/// RoPE frequencies and their context-extension settings, as llama.cpp derives them from the GGUF keys
/// <c>{arch}.rope.*</c> (llama_model::load_hparams + llama_context's constructor).
/// </summary>
/// <param name="Dimensions">Leading elements of each head that rotate (<c>rope.dimension_count</c>); the rest pass through.</param>
/// <param name="FrequencyBase">θ base (<c>rope.freq_base</c>, default 10000).</param>
/// <param name="FrequencyScale">Position scale, 1/factor for linear and YaRN scaling, 1 without scaling.</param>
/// <param name="OriginalContextLength">Context the frequencies were trained at, for YaRN's correction dimensions.</param>
/// <param name="ExtrapolationFactor">YaRN's mix between interpolated and extrapolated angles (1 for YaRN, 0 otherwise).</param>
/// <param name="AttentionFactor">Magnitude multiplier of cos/sin (before YaRN's own 1 + 0.1·ln(factor)).</param>
/// <param name="BetaFast">YaRN: rotations per context below which a dimension is extrapolated (default 32).</param>
/// <param name="BetaSlow">YaRN: rotations per context above which a dimension is interpolated (default 1).</param>
public sealed record RopeParameters(
    int Dimensions,
    float FrequencyBase,
    RopeScalingType ScalingType,
    float FrequencyScale,
    int OriginalContextLength,
    float ExtrapolationFactor,
    float AttentionFactor,
    float BetaFast,
    float BetaSlow);

/// <summary>
/// The hyper-parameters of a decoder-only transformer (llama, qwen2, qwen3 …), parsed once from the GGUF keys
/// <c>{arch}.*</c> with llama.cpp's defaults.
/// </summary>
public sealed record TransformerHyperParameters
{
    public required string Architecture { get; init; }
    /// <summary>Context the model was trained with (<c>context_length</c>).</summary>
    public required int ContextLength { get; init; }
    /// <summary>Width of the residual stream (<c>embedding_length</c>).</summary>
    public required int EmbeddingLength { get; init; }
    public required int LayerCount { get; init; }
    /// <summary>Hidden width of the feed-forward network (<c>feed_forward_length</c>).</summary>
    public required int FeedForwardLength { get; init; }
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads; fewer than <see cref="HeadCount"/> means grouped-query attention.</summary>
    public required int KvHeadCount { get; init; }
    /// <summary>Elements per key (and query) head; defaults to embedding / heads.</summary>
    public required int KeyLength { get; init; }
    /// <summary>Elements per value head; defaults to embedding / heads.</summary>
    public required int ValueLength { get; init; }
    public required float RmsNormEpsilon { get; init; }
    public required RopeParameters Rope { get; init; }

    /// <summary>Query heads sharing one key/value head.</summary>
    public int GroupSize => HeadCount / KvHeadCount;

    public static TransformerHyperParameters Parse(GgufFile file)
    {
        string arch = file.Architecture;
        string Key(string name) => arch + "." + name;

        int embedding = Positive(file, Key("embedding_length"), file.GetInt32(Key("embedding_length")));
        int heads = Positive(file, Key("attention.head_count"), file.GetInt32(Key("attention.head_count")));
        int kvHeads = Positive(file, Key("attention.head_count_kv"), file.GetInt32(Key("attention.head_count_kv"), heads));
        if (heads % kvHeads != 0)
            throw new GgufException($"{Key("attention.head_count")} ({heads}) is not a multiple of {Key("attention.head_count_kv")} ({kvHeads})", -1, file.Path);
        int keyLength = Positive(file, Key("attention.key_length"), file.GetInt32(Key("attention.key_length"), embedding / heads));
        int valueLength = Positive(file, Key("attention.value_length"), file.GetInt32(Key("attention.value_length"), embedding / heads));
        int contextLength = Positive(file, Key("context_length"), file.GetInt32(Key("context_length")));

        return new TransformerHyperParameters
        {
            Architecture = arch,
            ContextLength = contextLength,
            EmbeddingLength = embedding,
            LayerCount = Positive(file, Key("block_count"), file.GetInt32(Key("block_count"))),
            FeedForwardLength = Positive(file, Key("feed_forward_length"), file.GetInt32(Key("feed_forward_length"))),
            HeadCount = heads,
            KvHeadCount = kvHeads,
            KeyLength = keyLength,
            ValueLength = valueLength,
            RmsNormEpsilon = file.GetFloat(Key("attention.layer_norm_rms_epsilon")),
            Rope = ParseRope(file, arch, keyLength, contextLength),
        };
    }

    private static RopeParameters ParseRope(GgufFile file, string arch, int keyLength, int contextLength)
    {
        string Key(string name) => arch + ".rope." + name;

        int dimensions = file.GetInt32(Key("dimension_count"), keyLength);
        if (dimensions <= 0 || dimensions > keyLength || dimensions % 2 != 0)
            throw new GgufException($"{Key("dimension_count")} = {dimensions} must be even and within the key length {keyLength}", -1, file.Path);

        string scalingName = file.GetStringOrNull(Key("scaling.type")) ?? "linear";
        RopeScalingType scaling = scalingName switch
        {
            "none" => RopeScalingType.None,
            "linear" => RopeScalingType.Linear,
            "yarn" => RopeScalingType.Yarn,
            _ => throw new GgufException($"{Key("scaling.type")} '{scalingName}' is not supported (none, linear, yarn)", -1, file.Path),
        };
        // The factor stretches positions; "rope.scale_linear" is its pre-2024 name. 0 or absent means no stretch.
        float factor = file.GetFloat(Key("scaling.factor"), file.GetFloat(Key("scale_linear"), 0f));
        float frequencyScale = factor == 0f || scaling == RopeScalingType.None ? 1f : 1f / factor;

        float extrapolation = file.GetFloat(Key("scaling.yarn_ext_factor"), -1f);
        if (extrapolation < 0f) extrapolation = scaling == RopeScalingType.Yarn ? 1f : 0f;

        float attentionFactor = file.GetFloat(Key("scaling.yarn_attn_factor"), 1f);
        if (extrapolation != 0f)
        {
            // YaRN's magnitude correction is applied inside the rotation (1 + 0.1·ln(1/scale)); with a log multiplier
            // (DeepSeek-style configs) the intended total is mscale(factor, 1) / mscale(factor, logMultiplier), so
            // divide the built-in correction back out, as llama.cpp's context does.
            float yarnFactor = 1f / frequencyScale;
            float logMultiplier = file.GetFloat(Key("scaling.yarn_log_multiplier"), 0f);
            attentionFactor = logMultiplier != 0f
                ? YarnMagnitude(yarnFactor, 1f) / YarnMagnitude(yarnFactor, logMultiplier)
                : YarnMagnitude(yarnFactor, 1f);
            attentionFactor *= 1f / (1f + 0.1f * MathF.Log(yarnFactor));
        }
        attentionFactor *= file.GetFloat(Key("scaling.attn_factor"), 1f);

        int originalContext = file.GetInt32(Key("scaling.original_context_length"), 0);
        return new RopeParameters(
            Dimensions: dimensions,
            FrequencyBase: file.GetFloat(Key("freq_base"), 10000f),
            ScalingType: scaling,
            FrequencyScale: frequencyScale,
            OriginalContextLength: originalContext != 0 ? originalContext : contextLength,
            ExtrapolationFactor: extrapolation,
            AttentionFactor: attentionFactor,
            BetaFast: file.GetFloat(Key("scaling.yarn_beta_fast"), 32f),
            BetaSlow: file.GetFloat(Key("scaling.yarn_beta_slow"), 1f));
    }

    private static float YarnMagnitude(float scale, float multiplier) => scale <= 1f ? 1f : 0.1f * multiplier * MathF.Log(scale) + 1f;

    private static int Positive(GgufFile file, string key, int value) =>
        value > 0 ? value : throw new GgufException($"Metadata '{key}' must be positive, got {value}", -1, file.Path);
}
