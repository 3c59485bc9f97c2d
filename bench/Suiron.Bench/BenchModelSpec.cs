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
    (float Factor, float LowFrequencyFactor, float HighFrequencyFactor, int OriginalContext)? Llama3Rope = null)
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

    public static IReadOnlyList<BenchModelSpec> All { get; } = [Qwen25_05B, Llama32_1B];

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
            long e = Embedding, q = QueryWidth, kv = KeyValueWidth, f = FeedForward;
            long layer = e * q + 2 * e * kv + q * e + 3 * e * f + 2 * e + (AttentionBias ? q + 2 * kv : 0);
            return VocabSize * e * (TiedOutput ? 1 : 2) + Layers * layer + e;
        }
    }
}
