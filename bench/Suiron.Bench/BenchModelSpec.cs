namespace Suiron.Bench;

/// <summary>
/// The shape of a real model, to be filled with random weights: for speed only the shapes matter (a dense model does
/// the same work whatever its weights hold). Values as in the models' config.json / their GGUF conversions.
/// </summary>
internal sealed record BenchModelSpec(
    string Name,
    string Architecture,
    int Embedding,
    int Layers,
    int Heads,
    int KvHeads,
    int HeadLength,
    int FeedForward,
    int VocabSize,
    float RopeBase,
    float RmsEpsilon,
    int ContextLength,
    bool AttentionBias,
    bool TiedOutput,
    /// <summary>Llama 3.x long-context RoPE: (factor, low-frequency factor, high-frequency factor, original context).</summary>
    (float Factor, float LowFrequencyFactor, float HighFrequencyFactor, int OriginalContext)? Llama3Rope = null,
    /// <summary>DeepSeek-V2's latent attention and experts (architecture <c>deepseek2</c>); null for a dense model.</summary>
    DeepSeekShape? DeepSeek = null,
    /// <summary>Experts in a grouped-query-attention model (ERNIE 4.5 MoE); null for a dense model.</summary>
    MoeShape? Moe = null,
    /// <summary>Gated DeltaNet layers between gated attention layers (Qwen3.5, architecture <c>qwen35</c>); null for plain attention.</summary>
    HybridShape? Hybrid = null,
    /// <summary>A multi-token-prediction block after the layers (<c>nextn_predict_layers</c> 1; Qwen3.5 shapes only).</summary>
    bool NextN = false)
{
    /// <summary>Qwen2.5-0.5B: qwen2, 24 layers, 896 wide, 14 heads / 2 KV heads of 64, FFN 4864, QKV bias, tied embeddings.</summary>
    public static readonly BenchModelSpec Qwen25_05B = new(
        "qwen2.5-0.5b", "qwen2", Embedding: 896, Layers: 24, Heads: 14, KvHeads: 2, HeadLength: 64, FeedForward: 4864,
        VocabSize: 151936, RopeBase: 1_000_000f, RmsEpsilon: 1e-6f, ContextLength: 32768, AttentionBias: true, TiedOutput: true);

    /// <summary>Llama-3.2-1B: llama, 16 layers, 2048 wide, 32 heads / 8 KV heads of 64, FFN 8192, tied embeddings, Llama 3 RoPE factors.</summary>
    public static readonly BenchModelSpec Llama32_1B = new(
        "llama-3.2-1b", "llama", Embedding: 2048, Layers: 16, Heads: 32, KvHeads: 8, HeadLength: 64, FeedForward: 8192,
        VocabSize: 128256, RopeBase: 500_000f, RmsEpsilon: 1e-5f, ContextLength: 131072, AttentionBias: false, TiedOutput: true,
        Llama3Rope: (32f, 1f, 4f, 8192));

    /// <summary>
    /// DeepSeek-V2-Lite (deepseek-ai/DeepSeek-V2-Lite config.json) at its real widths — 2048 wide, 16 heads, MLA with
    /// kv_lora_rank 512 and no query bottleneck, 128 content + 64 rotary dimensions per query/key head, 128 per value
    /// head, vocabulary 102400, untied output, YaRN ×40 — but 4 of its 27 layers: the dense first layer (FFN 10944)
    /// and 3 MoE layers of 64 routed experts (top-6, softmax, weights not renormalized, scale 1) + 2 shared, all 1408
    /// wide. One MoE layer is 585 M parameters, so 4 layers make 2.25 B (4.5 GB F16), which this 24 GB, 2-core box
    /// writes and quantizes in minutes while keeping what matters for decode speed: every layer type, the real
    /// active/total ratio of an MoE layer (6 of 64 experts), and an output head as wide as the real one.
    /// </summary>
    public static readonly BenchModelSpec DeepSeekV2Lite = new(
        "deepseek-v2-lite", "deepseek2", Embedding: 2048, Layers: 4, Heads: 16, KvHeads: 16, HeadLength: 192, FeedForward: 10944,
        VocabSize: 102400, RopeBase: 10_000f, RmsEpsilon: 1e-6f, ContextLength: 163840, AttentionBias: false, TiedOutput: false,
        DeepSeek: new DeepSeekShape(KvLoraRank: 512, NopeLength: 128, RopeLength: 64, ValueLength: 128, LeadingDenseLayers: 1,
            Experts: 64, ExpertsUsed: 6, SharedExperts: 2, ExpertFeedForward: 1408,
            YarnFactor: 40f, YarnOriginalContext: 4096, YarnMscaleAllDim: 0.707f));

    /// <summary>
    /// ERNIE-4.5-21B-A3B (baidu/ERNIE-4.5-21B-A3B-PT config.json) at its real widths — 2560 wide, 20 heads / 4 KV heads
    /// of 128, vocabulary 103424, tied embeddings, RoPE base 500000 — but 4 of its 28 layers: the dense first layer
    /// (FFN 12288) and 3 MoE layers of 64 experts of 1536 (top-6, softmax, renormalized) + a shared MLP of 3072 (its 2
    /// shared experts). One MoE layer is 755 M parameters, so 4 layers make 2.65 B (5.3 GB F16), what this 24 GB box
    /// writes and quantizes in minutes while keeping every layer type and the real 6-of-64 expert ratio.
    /// </summary>
    public static readonly BenchModelSpec Ernie45_21BA3B = new(
        "ernie-4.5-21b-a3b", "ernie4_5-moe", Embedding: 2560, Layers: 4, Heads: 20, KvHeads: 4, HeadLength: 128, FeedForward: 12288,
        VocabSize: 103424, RopeBase: 500_000f, RmsEpsilon: 1e-5f, ContextLength: 131072, AttentionBias: false, TiedOutput: true,
        Moe: new MoeShape(LeadingDenseLayers: 1, Experts: 64, ExpertsUsed: 6, ExpertFeedForward: 1536, SharedFeedForward: 3072));

    /// <summary>
    /// Qwen3.5 (dense, GGUF <c>qwen35</c>) at the widths of its 4B model as read from its configuration — 2560 wide, gated
    /// attention of 16 query / 4 key-value heads of 256 with RoPE on 64 of them (interleaved sections 11, 11, 10), SwiGLU
    /// MLP of 9216, gated DeltaNet of 16 key / 32 value heads of 128 with a 4-tap convolution, vocabulary 248320, tied
    /// embeddings — but 4 of its 32 layers: three DeltaNet layers and one attention layer (full_attention_interval 4),
    /// the real 3:1 mix, so pp and tg weigh the recurrent and the attention work as the full model does.
    /// </summary>
    public static readonly BenchModelSpec Qwen35_4B = new(
        "qwen3.5-4b", "qwen35", Embedding: 2560, Layers: 4, Heads: 16, KvHeads: 4, HeadLength: 256, FeedForward: 9216,
        VocabSize: 248320, RopeBase: 10_000_000f, RmsEpsilon: 1e-6f, ContextLength: 262144, AttentionBias: false, TiedOutput: true,
        Hybrid: new HybridShape(FullAttentionInterval: 4, RopeDimensions: 64, KeyHeads: 16, ValueHeads: 32, StateLength: 128, ConvKernel: 4));

    /// <summary>
    /// <see cref="Qwen35_4B"/> with Qwen3.5's multi-token-prediction block (<c>blk.4</c>: a gated-attention block of the same
    /// widths with <c>nextn.eh_proj</c> 5120 → 2560, <c>nextn.enorm</c>, <c>nextn.hnorm</c>, <c>nextn.shared_head_norm</c>;
    /// embedding and output shared), for <c>speculation</c>'s MTP row. Not in <see cref="All"/>: its plain decoding is Qwen35_4B's.
    /// </summary>
    public static readonly BenchModelSpec Qwen35_4B_Mtp = Qwen35_4B with { Name = "qwen3.5-4b-mtp", NextN = true };

    public static IReadOnlyList<BenchModelSpec> All { get; } = [Qwen25_05B, Llama32_1B, DeepSeekV2Lite, Ernie45_21BA3B, Qwen35_4B];

    /// <summary>Every shape a name can pick: <see cref="All"/> and the MTP variant.</summary>
    public static IReadOnlyList<BenchModelSpec> Named { get; } = [.. All, Qwen35_4B_Mtp];

    public static BenchModelSpec Find(string name) =>
        Named.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown benchmark model '{name}' (known: {string.Join(", ", Named.Select(s => s.Name))}).");

    public int QueryWidth => Heads * HeadLength;
    public int KeyValueWidth => KvHeads * HeadLength;

    /// <summary>Elements of all tensors (the embedding counted once when tied).</summary>
    public long ParameterCount
    {
        get
        {
            if (DeepSeek is { } d) return d.ParameterCount(this);
            if (Hybrid is { } hybrid) return hybrid.ParameterCount(this);
            long e = Embedding, q = QueryWidth, kv = KeyValueWidth, f = FeedForward;
            long attention = e * q + 2 * e * kv + q * e + 2 * e + (AttentionBias ? q + 2 * kv : 0);
            long layers = Moe is { } m
                ? m.LeadingDenseLayers * (attention + 3 * e * f) + (Layers - m.LeadingDenseLayers) * (attention + m.Parameters(this))
                : Layers * (attention + 3 * e * f);
            return VocabSize * e * (TiedOutput ? 1 : 2) + layers + e;
        }
    }
}

/// <summary>
/// The DeepSeek-V2 parts of a <c>deepseek2</c> shape: multi-head latent attention without a query bottleneck (V2-Lite)
/// and DeepSeekMoE after <see cref="LeadingDenseLayers"/> dense layers. YaRN as the converter writes it:
/// <c>rope.scaling.yarn_log_multiplier</c> = 0.1 × mscale_all_dim.
/// </summary>
internal sealed record DeepSeekShape(
    int KvLoraRank, int NopeLength, int RopeLength, int ValueLength, int LeadingDenseLayers,
    int Experts, int ExpertsUsed, int SharedExperts, int ExpertFeedForward,
    float YarnFactor, int YarnOriginalContext, float YarnMscaleAllDim)
{
    public int QueryKeyLength => NopeLength + RopeLength;

    /// <summary>MLA of one layer: attn_q, attn_kv_a_mqa, attn_kv_a_norm, attn_k_b, attn_v_b, attn_output.</summary>
    public long AttentionParameters(BenchModelSpec s) =>
        (long)s.Embedding * s.Heads * QueryKeyLength + (long)s.Embedding * (KvLoraRank + RopeLength) + KvLoraRank
        + (long)s.Heads * KvLoraRank * NopeLength + (long)s.Heads * ValueLength * KvLoraRank + (long)s.Heads * ValueLength * s.Embedding;

    /// <summary>Router, routed experts and shared experts of one MoE layer.</summary>
    public long MoeParameters(BenchModelSpec s) =>
        (long)s.Embedding * Experts + 3L * Experts * s.Embedding * ExpertFeedForward + 3L * s.Embedding * SharedExperts * ExpertFeedForward;

    public long ParameterCount(BenchModelSpec s)
    {
        long norms = 2L * s.Embedding;
        long dense = AttentionParameters(s) + 3L * s.Embedding * s.FeedForward + norms;
        long moe = AttentionParameters(s) + MoeParameters(s) + norms;
        return 2L * s.VocabSize * s.Embedding + LeadingDenseLayers * dense + (s.Layers - LeadingDenseLayers) * moe + s.Embedding;
    }
}

/// <summary>
/// Experts after <see cref="LeadingDenseLayers"/> dense layers of a grouped-query-attention model (ERNIE 4.5 MoE):
/// routed experts of <see cref="ExpertFeedForward"/>, softmax top-<see cref="ExpertsUsed"/> renormalized, and a shared
/// MLP of <see cref="SharedFeedForward"/> (0: none).
/// </summary>
internal sealed record MoeShape(int LeadingDenseLayers, int Experts, int ExpertsUsed, int ExpertFeedForward, int SharedFeedForward)
{
    /// <summary>Router, routed experts and shared MLP of one MoE layer.</summary>
    public long Parameters(BenchModelSpec s) =>
        (long)s.Embedding * Experts + 3L * Experts * s.Embedding * ExpertFeedForward + 3L * s.Embedding * SharedFeedForward;
}

/// <summary>
/// The gated-DeltaNet half of a Qwen3.5 shape: every <see cref="FullAttentionInterval"/>-th layer attends (with an output
/// gate and RoPE on <see cref="RopeDimensions"/> of each head), the others are DeltaNet layers of <see cref="KeyHeads"/>
/// key and <see cref="ValueHeads"/> value heads of <see cref="StateLength"/>.
/// </summary>
internal sealed record HybridShape(int FullAttentionInterval, int RopeDimensions, int KeyHeads, int ValueHeads, int StateLength, int ConvKernel)
{
    public int KeyWidth => KeyHeads * StateLength;
    public int ValueWidth => ValueHeads * StateLength;
    public int ConvWidth => 2 * KeyWidth + ValueWidth;

    public bool IsRecurrent(int layer) => (layer + 1) % FullAttentionInterval != 0;

    public long ParameterCount(BenchModelSpec s)
    {
        long e = s.Embedding, q = s.QueryWidth, kv = s.KeyValueWidth;
        long attention = e * 2 * q + 2 * e * kv + q * e + 2L * s.HeadLength;
        long deltaNet = e * ConvWidth + e * ValueWidth + 2 * e * ValueHeads + (long)ConvKernel * ConvWidth + 2L * ValueHeads + StateLength + ValueWidth * e;
        long perLayer = 2 * e + 3 * e * s.FeedForward;
        long layers = 0;
        for (int i = 0; i < s.Layers; i++) layers += perLayer + (IsRecurrent(i) ? deltaNet : attention);
        if (s.NextN) layers += perLayer + attention + 2 * e * e + 3 * e; // the MTP block: eh_proj, enorm, hnorm, shared_head_norm
        return (long)s.VocabSize * e * (s.TiedOutput ? 1 : 2) + layers + e;
    }
}
