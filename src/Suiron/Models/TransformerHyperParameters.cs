using Suiron.Gguf;

namespace Suiron.Models;

/// <summary>How RoPE positions are stretched beyond the trained context.</summary>
public enum RopeScalingType
{
    /// <summary>Positions as trained.</summary>
    None,
    /// <summary>Positions divided by the scaling factor.</summary>
    Linear,
    /// <summary>YaRN: low frequencies interpolated, high ones extrapolated, attention scaled.</summary>
    Yarn,
}

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
/// <param name="ScalingType">How positions are stretched beyond the trained context.</param>
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
    /// <summary>The GGUF architecture name (<c>general.architecture</c>).</summary>
    public required string Architecture { get; init; }
    /// <summary>Context the model was trained with (<c>context_length</c>).</summary>
    public required int ContextLength { get; init; }
    /// <summary>Width of the residual stream (<c>embedding_length</c>).</summary>
    public required int EmbeddingLength { get; init; }
    /// <summary>Decoder layers (<c>block_count</c>).</summary>
    public required int LayerCount { get; init; }
    /// <summary>Hidden width of the feed-forward network (<c>feed_forward_length</c>).</summary>
    public required int FeedForwardLength { get; init; }
    /// <summary>Query heads (<c>attention.head_count</c>).</summary>
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads; fewer than <see cref="HeadCount"/> means grouped-query attention.</summary>
    public required int KvHeadCount { get; init; }
    /// <summary>Elements per key (and query) head; defaults to embedding / heads.</summary>
    public required int KeyLength { get; init; }
    /// <summary>Elements per value head; defaults to embedding / heads.</summary>
    public required int ValueLength { get; init; }
    /// <summary>The RMS norm's epsilon (<c>attention.layer_norm_rms_epsilon</c>).</summary>
    public required float RmsNormEpsilon { get; init; }
    /// <summary>The rotary position embedding's settings.</summary>
    public required RopeParameters Rope { get; init; }

    /// <summary>Query heads sharing one key/value head.</summary>
    public int GroupSize => HeadCount / KvHeadCount;

    /// <summary>The hyper-parameters <paramref name="file"/> declares, checked and with llama.cpp's defaults.</summary>
    public static TransformerHyperParameters Parse(GgufFile file)
    {
        string arch = file.Architecture;
        string Key(string name) => arch + "." + name;

        int embedding = Width(file, Key("embedding_length"), file.GetInt32(Key("embedding_length")));
        CheckEmbeddingMatchesTokenEmbedding(file, Key("embedding_length"), embedding);
        int heads = Ranged(file, Key("attention.head_count"), file.GetInt32(Key("attention.head_count")), MaxHeads);
        int kvHeads = Ranged(file, Key("attention.head_count_kv"), file.GetInt32(Key("attention.head_count_kv"), heads), MaxHeads);
        if (heads % kvHeads != 0)
            throw new GgufException($"{Key("attention.head_count")} ({heads}) is not a multiple of {Key("attention.head_count_kv")} ({kvHeads})", -1, file.Path);
        int keyLength = Width(file, Key("attention.key_length"), file.GetInt32(Key("attention.key_length"), embedding / heads));
        int valueLength = Width(file, Key("attention.value_length"), file.GetInt32(Key("attention.value_length"), embedding / heads));
        // The projections are heads × head length wide; the same bound as any other row keeps every product in range.
        Width(file, $"{Key("attention.head_count")} × {Key("attention.key_length")}", (long)heads * keyLength);
        Width(file, $"{Key("attention.head_count")} × {Key("attention.value_length")}", (long)heads * valueLength);
        int contextLength = Ranged(file, Key("context_length"), file.GetInt32(Key("context_length")), MaxContextLength);
        CheckOptionalSizes(file, arch);

        return new TransformerHyperParameters
        {
            Architecture = arch,
            ContextLength = contextLength,
            EmbeddingLength = embedding,
            LayerCount = BlockCount(file, Key("block_count")),
            FeedForwardLength = Width(file, Key("feed_forward_length"), file.GetInt32(Key("feed_forward_length"))),
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

    /// <summary>
    /// Bounds far above any real model (DeepSeek-V3: 7,168 wide, 128 heads, 61 blocks; 10M-token contexts exist) that
    /// keep every size computed from the hyper-parameters (head × length, context × width) inside int and long
    /// arithmetic, so a hostile file fails here, by name, before anything is allocated from it.
    /// </summary>
    internal const int MaxWidth = 1 << 20, MaxHeads = 1 << 12, MaxContextLength = 1 << 28, MaxExperts = 1 << 16, MaxBlocks = 1 << 16;

    /// <summary>
    /// <c>block_count</c>, checked against what the file holds: every block has its own tensors (<c>blk.N.*</c>), so
    /// a count beyond the tensors present is a corrupt or hostile file, refused before any per-block array exists.
    /// </summary>
    internal static int BlockCount(GgufFile file, string key)
    {
        int count = file.GetInt32(key);
        if (count <= 0) throw new GgufException($"Metadata '{key}' must be positive, got {count}", -1, file.Path);
        if (count > file.Tensors.Count)
            throw new GgufException($"Metadata '{key}' = {count} is more blocks than the file's {file.Tensors.Count} tensors can hold", -1, file.Path);
        return count;
    }

    /// <summary>
    /// The optional size keys other parts of the loader read (experts, latent attention, multi-token prediction):
    /// range-checked here, before the first of them is used, since each sizes arrays or loops of its own.
    /// </summary>
    private static void CheckOptionalSizes(GgufFile file, string arch)
    {
        (string Name, int Max)[] keys =
        [
            ("expert_count", MaxExperts), ("expert_used_count", MaxExperts), ("expert_shared_count", MaxExperts),
            ("expert_group_count", MaxExperts), ("expert_group_used_count", MaxExperts),
            ("expert_feed_forward_length", MaxWidth), ("expert_shared_feed_forward_length", MaxWidth),
            ("attention.q_lora_rank", MaxWidth), ("attention.kv_lora_rank", MaxWidth),
            ("attention.key_length_mla", MaxWidth), ("attention.value_length_mla", MaxWidth),
            ("leading_dense_block_count", MaxBlocks), ("nextn_predict_layers", MaxBlocks), ("interleave_moe_layer_step", MaxBlocks),
            ("rope.dimension_count", MaxWidth), ("rope.scaling.original_context_length", MaxContextLength),
        ];
        foreach (var (name, max) in keys)
        {
            string key = arch + "." + name;
            if (!file.Contains(key)) continue;
            int value = file.GetInt32(key);
            if (value < 0 || value > max)
                throw new GgufException($"Metadata '{key}' = {value} is out of range (0 to {max})", -1, file.Path);
        }
    }

    /// <summary>A width (elements of a row or head): positive and at most <see cref="MaxWidth"/>.</summary>
    internal static int Width(GgufFile file, string key, long value) => Ranged(file, key, value, MaxWidth);

    internal static int Ranged(GgufFile file, string key, long value, int max) => value switch
    {
        <= 0 => throw new GgufException($"Metadata '{key}' must be positive, got {value}", -1, file.Path),
        _ when value > max => throw new GgufException($"Metadata '{key}' = {value} is out of range (at most {max})", -1, file.Path),
        _ => (int)value,
    };

    /// <summary>The residual width must be the token embedding's row length: said once here with the key's name, rather than as a shape mismatch later.</summary>
    internal static void CheckEmbeddingMatchesTokenEmbedding(GgufFile file, string key, int embedding)
    {
        if (file.FindTensorInfo("token_embd.weight") is { } info && info.Shape[0] != embedding)
            throw new GgufException($"Metadata '{key}' = {embedding} does not match token_embd.weight's rows of {info.Shape[0]}", -1, file.Path);
    }
}
