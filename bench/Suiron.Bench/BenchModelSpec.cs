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
    DeepSeekShape? DeepSeek = null)
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

    public static IReadOnlyList<BenchModelSpec> All { get; } = [Qwen25_05B, Llama32_1B, DeepSeekV2Lite];

    public static BenchModelSpec Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown benchmark model '{name}' (known: {string.Join(", ", All.Select(s => s.Name))}).");

    public int QueryWidth => Heads * HeadLength;
    public int KeyValueWidth => KvHeads * HeadLength;

    /// <summary>Elements of all tensors (the embedding counted once when tied).</summary>
    public long ParameterCount
    {
        get
        {
            if (DeepSeek is { } d) return d.ParameterCount(this);
            long e = Embedding, q = QueryWidth, kv = KeyValueWidth, f = FeedForward;
            long layer = e * q + 2 * e * kv + q * e + 3 * e * f + 2 * e + (AttentionBias ? q + 2 * kv : 0);
            return VocabSize * e * (TiedOutput ? 1 : 2) + Layers * layer + e;
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
