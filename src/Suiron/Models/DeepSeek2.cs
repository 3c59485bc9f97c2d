using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// The hyper-parameters of a <c>deepseek2</c> GGUF (DeepSeek-V2, V2-Lite, V2.5, V3, R1, and their distillations into
/// the same architecture), read from the keys llama.cpp reads, with its defaults.
/// </summary>
public sealed record DeepSeek2HyperParameters
{
    /// <summary>Sizes shared with every decoder (embedding, layers, heads, dense feed-forward width, RoPE).</summary>
    public required TransformerHyperParameters Transformer { get; init; }
    /// <summary>The latent attention's shape: ranks of the compressed query and key/value, head lengths.</summary>
    public required LatentAttentionShape Attention { get; init; }
    /// <summary>The file stores W_UK and W_UV apart (<c>attn_k_b</c>/<c>attn_v_b</c>, with <c>attention.key_length_mla</c>);
    /// otherwise the legacy joint <c>attn_kv_b</c>.</summary>
    public required bool SplitKeyValue { get; init; }
    /// <summary>First layers with a dense MLP instead of experts (<c>leading_dense_block_count</c>, default 0).</summary>
    public required int LeadingDenseBlockCount { get; init; }
    /// <summary>How tokens are routed to experts.</summary>
    public required ExpertRouting Experts { get; init; }
    /// <summary>Always-on experts per MoE layer (<c>expert_shared_count</c>); one MLP of that many experts' width.</summary>
    public required int SharedExpertCount { get; init; }
    /// <summary>YaRN's <c>mscale_all_dim</c> (GGUF <c>rope.scaling.yarn_log_multiplier</c> is 0.1 × it); 0 when absent.</summary>
    public required float YarnLogMultiplier { get; init; }
    /// <summary>Multiplier of q·k: mscale² / √(nope + rope), mscale being YaRN's attention temperature.</summary>
    public required float AttentionScale { get; init; }

    /// <summary>The hyper-parameters <paramref name="file"/> declares, checked and with llama.cpp's defaults.</summary>
    /// <param name="file">The GGUF file.</param>
    /// <param name="readYarnLogMultiplier">Whether the architecture's loader reads <c>rope.scaling.yarn_log_multiplier</c>;
    /// llama.cpp's glm-dsa loader does not, so there the key is taken as absent whatever the file says.</param>
    public static DeepSeek2HyperParameters Parse(GgufFile file, bool readYarnLogMultiplier = true)
    {
        string arch = file.Architecture;
        string Key(string name) => arch + "." + name;
        TransformerHyperParameters t = TransformerHyperParameters.Parse(file);

        int rope = t.Rope.Dimensions;
        int keyLengthMla = file.GetInt32(Key("attention.key_length_mla"), 0);
        int valueLengthMla = file.GetInt32(Key("attention.value_length_mla"), 0);
        bool split = keyLengthMla > 0 && valueLengthMla > 0;
        // With the split tensors, key_length/value_length describe llama.cpp's cache rows (latent + rope, latent),
        // and the per-head sizes move to the _mla keys.
        int queryKeyLength = split ? keyLengthMla : t.KeyLength;
        int valueLength = split ? valueLengthMla : t.ValueLength;
        if (queryKeyLength <= rope)
            throw new GgufException($"The query/key head ({queryKeyLength}) must be longer than {Key("rope.dimension_count")} ({rope})", -1, file.Path);
        int kvLoraRank = file.GetInt32(Key("attention.kv_lora_rank"));
        if (kvLoraRank <= 0) throw new GgufException($"{Key("attention.kv_lora_rank")} must be positive", -1, file.Path);

        int leadingDense = file.GetInt32(Key("leading_dense_block_count"), 0);
        ExpertRouting experts = ExpertRouting.Parse(file, defaultGating: ExpertGating.Softmax);
        int shared = file.GetInt32(Key("expert_shared_count"));

        // YaRN, as llama.cpp does it for deepseek2: the converter writes 0.1 × mscale_all_dim. The rotation's own
        // magnitude correction (1 + 0.1·ln s) is cancelled (the ratio mscale(s, m)/mscale(s, m) is 1 here), and the
        // temperature moves into the score scale instead: kq_scale = mscale² / √d_qk with
        // mscale = attn_factor · (1 + 0.1·ln s) · (1 + 0.1·m·ln s).
        float logMultiplier = readYarnLogMultiplier ? file.GetFloat(Key("rope.scaling.yarn_log_multiplier"), 0f) / 0.1f : 0f;
        RopeParameters r = t.Rope;
        float ropeAttentionFactor = file.GetFloat(Key("rope.scaling.attn_factor"), 1f);
        float attentionFactor = ropeAttentionFactor;
        float stretch = 1f / r.FrequencyScale;
        if (r.ExtrapolationFactor != 0f)
        {
            // llama.cpp's context takes mscale = 1 except for deepseek2 itself, where it assumes mscale = mscale_all_dim
            // (V2-Lite's config): there the ratio is always 1; other architectures (deepseek32) keep
            // mscale(s, 1) / mscale(s, mscale_all_dim) when mscale_all_dim is not 1.
            float numerator = arch == "deepseek2" && logMultiplier != 1f ? logMultiplier : 1f;
            float magnitude = logMultiplier != 0f ? Mscale(stretch, numerator) / Mscale(stretch, logMultiplier) : Mscale(stretch, 1f);
            attentionFactor = magnitude / (1f + 0.1f * MathF.Log(stretch)) * ropeAttentionFactor;
        }
        float original = attentionFactor * (1f + 0.1f * MathF.Log(stretch));
        float mscale = original * (1f + 0.1f * logMultiplier * MathF.Log(stretch));

        return new DeepSeek2HyperParameters
        {
            Transformer = t with { Rope = r with { AttentionFactor = attentionFactor } },
            Attention = new LatentAttentionShape(
                HeadCount: t.HeadCount,
                QueryLoraRank: file.GetInt32(Key("attention.q_lora_rank"), 0),
                KvLoraRank: kvLoraRank,
                NopeLength: queryKeyLength - rope,
                RopeLength: rope,
                ValueLength: valueLength),
            SplitKeyValue = split,
            LeadingDenseBlockCount = Math.Min(leadingDense, t.LayerCount),
            Experts = experts,
            SharedExpertCount = shared,
            YarnLogMultiplier = logMultiplier,
            AttentionScale = mscale * mscale / MathF.Sqrt(queryKeyLength),
        };

        static float Mscale(float scale, float multiplier) => scale <= 1f ? 1f : 0.1f * multiplier * MathF.Log(scale) + 1f;
    }
}

/// <summary>
/// DeepSeek-V2/V3 (DeepSeek-AI 2024; GGUF <c>deepseek2</c>, also Kimi-K2's weights): pre-norm blocks of multi-head latent
/// attention with a compressed KV cache (<see cref="MultiHeadLatentAttention"/>) and DeepSeekMoE feed-forwards —
/// fine-grained routed experts plus always-on shared experts (<see cref="MixtureOfExperts"/>), after a few dense
/// leading layers:
/// <code>
///   h += MLA(RmsNorm(h))
///   h += layer &lt; leading ? MLP(RmsNorm(h)) : Experts(RmsNorm(h)) + SharedExpert(RmsNorm(h))
/// </code>
/// V2 routes by softmax; V3 by sigmoid scores with a selection bias, group-limited, renormalized and scaled —
/// all read from the file (<see cref="ExpertRouting"/>). RoPE rotates adjacent pairs of the decoupled rotary
/// dimensions only; YaRN's temperature goes into the score scale (<see cref="DeepSeek2HyperParameters"/>).
/// </summary>
internal static class DeepSeek2
{
    public static readonly DecoderArchitecture Architecture = new("deepseek2", RopeStyle.Normal, LatentAttention: true,
        FeedForward: FeedForwardKind.Experts, DefaultGating: ExpertGating.Softmax);

    public static ILanguageModel Load(GgufFile file, ModelOptions options) => new Decoder(file, Architecture, options);
}
