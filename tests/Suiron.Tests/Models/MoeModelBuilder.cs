using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tensors;
using static Suiron.Tests.Models.TinyModelBuilder;

namespace Suiron.Tests.Models;

/// <summary>
/// A tiny <c>deepseek2</c> model: 4 layers (2 dense + 2 MoE), 4 heads, MLA with kv_lora_rank 64, 32 content + 32 rotary
/// dimensions per query/key head, 32 per value head, 16 routed experts of width 256 plus one shared expert, YaRN.
/// </summary>
/// <param name="QueryLora">Query through a rank-64 bottleneck (V2/V3) or a full projection (V2-Lite).</param>
/// <param name="SplitKeyValue">attn_k_b/attn_v_b (current conversions, llama.cpp's MLA path) or the legacy attn_kv_b.</param>
/// <param name="Gating">1 softmax (V2), 2 sigmoid (V3).</param>
/// <param name="SelectionBias">V3's exp_probs_b correction bias.</param>
internal sealed record DeepSeekSpec(
    string Name,
    bool QueryLora,
    bool SplitKeyValue,
    int Gating,
    bool SelectionBias,
    int Groups,
    int GroupsUsed,
    bool Normalize,
    float Scale,
    int ExpertsUsed,
    int Seed,
    int IndexerTopK = 0,
    string? Architecture = null,
    int NextN = 0,
    bool Yarn = true,
    int[]? IndexerTypes = null)
{
    /// <summary>The GGUF architecture: <c>deepseek2</c>, <c>deepseek32</c> with an indexer, or as given (<c>glm-dsa</c>).</summary>
    public string Arch => Architecture ?? (IndexerTopK > 0 ? "deepseek32" : "deepseek2");

    /// <summary>DeepSeek-V3.2's lightning indexer (architecture <c>deepseek32</c>) when <see cref="IndexerTopK"/> is set: heads of
    /// <see cref="IndexerHeadLength"/>, the first <see cref="Rope"/> rotated.</summary>
    public const int IndexerHeads = 16, IndexerHeadLength = 64;

    public const int Embedding = 256, Layers = 4, DenseLayers = 2, Heads = 4, QueryRank = 64, KvRank = 64,
        Nope = 32, Rope = 32, Value = 32, FeedForward = 512, Experts = 16, ExpertFeedForward = 256, Shared = 1;
    public override string ToString() => Name;
}

/// <summary>The tiny glm4moe models' shape: <see cref="Layers"/> layers run (the first <see cref="DenseLayers"/> dense), plus <see cref="NextN"/> MTP layer.</summary>
internal static class Glm4MoeShape
{
    public const int Embedding = 256, Layers = 4, DenseLayers = 2, NextN = 1, Heads = 4, KvHeads = 2, Head = 64,
        FeedForward = 512, Experts = 16, ExpertsUsed = 4, ExpertFeedForward = 256;
}

/// <summary>
/// The tiny ernie4_5-moe model's shape: experts on layer i when i ≥ <see cref="DenseLayers"/> and (i + 1) % <see cref="MoeStep"/> = 0,
/// as llama.cpp's graph has it. The step is 1, as in the released models: the oracle's loader (LLamaSharp 0.30.0) asks
/// for experts on every layer after the dense ones and refuses a file with a larger step.
/// </summary>
internal static class Ernie4_5MoeShape
{
    public const int Embedding = 256, Layers = 4, DenseLayers = 1, MoeStep = 1, Heads = 4, KvHeads = 2,
        FeedForward = 512, Experts = 8, ExpertsUsed = 3, ExpertFeedForward = 256, SharedFeedForward = 384;

    public static bool IsMoeLayer(int layer) => layer >= DenseLayers && (layer + 1) % MoeStep == 0;
}

/// <summary>
/// Writes tiny random MoE/MLA GGUFs (deepseek2, qwen3moe, glm4) in llama.cpp's exact tensor names, shapes and
/// metadata keys, with <see cref="TinyModelBuilder"/>'s conventions (stories260K tokenizer, σ ≈ 1/√fan-in).
/// </summary>
internal static partial class MoeModelBuilder
{
    public static readonly DeepSeekSpec DeepSeekV3 = new("deepseek2-v3", QueryLora: true, SplitKeyValue: true, Gating: 2,
        SelectionBias: true, Groups: 4, GroupsUsed: 2, Normalize: true, Scale: 2.5f, ExpertsUsed: 3, Seed: 11);

    public static readonly DeepSeekSpec DeepSeekV2Lite = new("deepseek2-v2lite", QueryLora: false, SplitKeyValue: false, Gating: 1,
        SelectionBias: false, Groups: 0, GroupsUsed: 0, Normalize: false, Scale: 1f, ExpertsUsed: 2, Seed: 12);

    /// <summary>
    /// DeepSeek-V3.2 in small: the V3 model's shape (another seed) with a lightning indexer whose top_k of 8 is well below
    /// the 17-token prompt, so that from the ninth token on every token attends to a selection of the positions.
    /// </summary>
    public static readonly DeepSeekSpec DeepSeekV32 = DeepSeekV3 with { Name = "deepseek32", Seed = 13, IndexerTopK = 8 };

    /// <summary>
    /// GLM-5 in small (<c>glm-dsa</c>): DeepSeek-V3.2's shape and routing (another seed, every feature on: sigmoid, selection
    /// bias, groups, renormalized, scaled) under llama.cpp's glm-dsa graph, with YaRN (whose log multiplier glm-dsa does
    /// not read) and a multi-token-prediction layer after the four that run.
    /// </summary>
    public static readonly DeepSeekSpec GlmDsa = DeepSeekV3 with
    {
        Name = "glm-dsa", Seed = 14, IndexerTopK = 8, Architecture = "glm-dsa", NextN = 1,
    };

    /// <summary>GLM-5.2's layout in small: layers 1 and 3 have no indexer (<c>attention.indexer.types</c> = 1, 0, 1, 0) and attend
    /// to the positions the layer before them picked.</summary>
    public static readonly DeepSeekSpec GlmDsaSharedIndexer = GlmDsa with { Name = "glm-dsa-shared-indexer", Seed = 15, IndexerTypes = [1, 0, 1, 0] };

    /// <summary>The V3 model's weights in the legacy attn_kv_b layout: the same model, another file format.</summary>
    public static readonly DeepSeekSpec DeepSeekV3Legacy = DeepSeekV3 with { Name = "deepseek2-v3-legacy", SplitKeyValue = false };

    public static string F32(DeepSeekSpec spec) => Cached(spec.Name + "-F32.gguf", path => WriteDeepSeek(spec, path));

    public static string Ours(DeepSeekSpec spec, TensorType type) =>
        Cached($"{spec.Name}-{type}-ours.gguf", path => Requantize(F32(spec), path, type));

    /// <summary>Qwen3-MoE: 2 layers, 4 query heads over 2 key/value heads of 64, QK-norm, 8 experts of 256, top-2.</summary>
    public static string Qwen3MoeF32() => Cached("qwen3moe-F32.gguf", WriteQwen3Moe);

    /// <summary>GLM-4: 2 layers, 4 query heads over 2 key/value heads of 64 with biases, RoPE on 32 of 64, post-norms, fused gate+up.</summary>
    public static string Glm4F32() => Cached("glm4-F32.gguf", WriteGlm4);

    /// <summary>
    /// GLM-4.5 (<see cref="Glm4MoeShape"/>): 2 dense + 2 MoE layers and a NextN layer, QKV biases, NeoX RoPE on 32 of 64,
    /// 16 sigmoid-routed experts with a selection bias, top-4, normalized and scaled, one shared expert; QK-norm as GLM-4.5
    /// has it, or without as GLM-4.5-Air.
    /// </summary>
    public static string Glm4MoeF32(bool queryKeyNorm) =>
        Cached(queryKeyNorm ? "glm4moe-qknorm-F32.gguf" : "glm4moe-F32.gguf", path => WriteGlm4Moe(path, queryKeyNorm));

    /// <summary>
    /// ERNIE 4.5 MoE (<see cref="Ernie4_5MoeShape"/>): 4 layers, the first dense, then 8 softmax-routed experts of 256,
    /// top-3, renormalized, a selection bias and a shared-expert MLP of 384 of its own width; Llama attention with
    /// adjacent-pair RoPE, no biases.
    /// </summary>
    public static string Ernie4_5MoeF32() => Cached("ernie4_5-moe-F32.gguf", WriteErnie4_5Moe);

    /// <summary>
    /// Hunyuan-A13B's shape in small: 3 layers, all MoE, 8 softmax-routed experts of 256 (expert and dense widths equal, as
    /// in the released model), top-2 renormalized, and the shared-expert MLP every layer has, <c>feed_forward_length</c>
    /// wide (no <c>expert_shared_feed_forward_length</c> key); NeoX RoPE with the QK-norm after it.
    /// </summary>
    public static string HunyuanMoeF32() => Cached("hunyuan-moe-F32.gguf", WriteHunyuanMoe);

    /// <summary>
    /// MiniMax-M2 in small: 2 layers, 4 query heads over 2 key/value heads of 64, QK-norm over the whole query (256) and
    /// key (128) projections, NeoX RoPE on 32 of 64 dimensions; 8 sigmoid-routed experts of 256 with a selection bias,
    /// top-2, normalized; no shared expert.
    /// </summary>
    public static string MiniMaxM2F32() => Cached("minimax-m2-F32.gguf", WriteMiniMaxM2);

    public static string Quantized(string f32Path, TensorType type) =>
        Cached(Path.GetFileNameWithoutExtension(f32Path).Replace("-F32", "") + $"-{type}-ours.gguf", path => Requantize(f32Path, path, type));

    /// <summary>The F32 file quantized by llama.cpp's own quantizer, with its per-tensor type choices.</summary>
    public static string LlamaCppQuantized(string f32Path, Suiron.ModelQuantization.ModelFileType fileType) =>
        Cached(Path.GetFileNameWithoutExtension(f32Path).Replace("-F32", "") + $"-{fileType}-llamacpp.gguf", path =>
        {
            if (!ModelQuantization.LlamaCppQuantizer.Quantize(f32Path, path, fileType))
                throw new InvalidOperationException($"llama.cpp failed to quantize {f32Path} to {fileType}");
        });

    private static void WriteQwen3Moe(string path)
    {
        const string a = "qwen3moe";
        const int e = 256, layers = 2, heads = 4, kvHeads = 2, head = 64, experts = 8, used = 2, width = 256;
        var random = new Random(21);
        var w = Header(a, "qwen3moe-tiny", e, layers, heads, kvHeads, feedForward: 768);
        w.Set($"{a}.attention.key_length", (uint)head);
        w.Set($"{a}.attention.value_length", (uint)head);
        w.Set($"{a}.rope.freq_base", 1000000f);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)used);
        w.Set($"{a}.expert_feed_forward_length", (uint)width);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < layers; i++)
        {
            string p = $"blk.{i}.";
            AddAttention(w, random, p, e, heads, kvHeads, head, bias: false);
            w.AddTensor(p + "attn_q_norm.weight", [head], NearOne(random, head));
            w.AddTensor(p + "attn_k_norm.weight", [head], NearOne(random, head));
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));
            AddExperts(w, random, p, e, experts, width);
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void WriteGlm4(string path)
    {
        const string a = "glm4";
        const int e = 256, layers = 2, heads = 4, kvHeads = 2, head = 64, width = 512;
        var random = new Random(31);
        var w = Header(a, "glm4-tiny", e, layers, heads, kvHeads, feedForward: width);
        w.Set($"{a}.rope.dimension_count", (uint)(head / 2));
        w.Set($"{a}.rope.freq_base", 10000f);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < layers; i++)
        {
            string p = $"blk.{i}.";
            AddAttention(w, random, p, e, heads, kvHeads, head, bias: true);
            w.AddTensor(p + "post_attention_norm.weight", [e], NearOne(random, e));
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));
            w.AddTensor(p + "ffn_up.weight", [e, 2 * width], Gaussian(random, e * 2 * width, 1f / MathF.Sqrt(e)));
            w.AddTensor(p + "ffn_down.weight", [width, e], Gaussian(random, width * e, 1f / MathF.Sqrt(width)));
            w.AddTensor(p + "post_ffw_norm.weight", [e], NearOne(random, e));
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void WriteGlm4Moe(string path, bool queryKeyNorm)
    {
        const string a = "glm4moe";
        const int e = Glm4MoeShape.Embedding, heads = Glm4MoeShape.Heads, kvHeads = Glm4MoeShape.KvHeads, head = Glm4MoeShape.Head,
            experts = Glm4MoeShape.Experts, width = Glm4MoeShape.ExpertFeedForward, blocks = Glm4MoeShape.Layers + Glm4MoeShape.NextN;
        var random = new Random(queryKeyNorm ? 41 : 42);
        var w = Header(a, queryKeyNorm ? "glm4moe-tiny-qknorm" : "glm4moe-tiny", e, blocks, heads, kvHeads, feedForward: Glm4MoeShape.FeedForward);
        w.Set($"{a}.attention.key_length", (uint)head);
        w.Set($"{a}.attention.value_length", (uint)head);
        w.Set($"{a}.rope.dimension_count", (uint)(head / 2));
        w.Set($"{a}.rope.freq_base", 1000000f);
        w.Set($"{a}.leading_dense_block_count", (uint)Glm4MoeShape.DenseLayers);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)Glm4MoeShape.ExpertsUsed);
        w.Set($"{a}.expert_shared_count", 1u);
        w.Set($"{a}.expert_feed_forward_length", (uint)width);
        w.Set($"{a}.expert_weights_scale", 2.5f);
        w.Set($"{a}.expert_weights_norm", true);
        w.Set($"{a}.expert_gating_func", 2u);
        w.Set($"{a}.nextn_predict_layers", (uint)Glm4MoeShape.NextN);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < blocks; i++)
        {
            string p = $"blk.{i}.";
            AddAttention(w, random, p, e, heads, kvHeads, head, bias: true);
            if (queryKeyNorm)
            {
                w.AddTensor(p + "attn_q_norm.weight", [head], NearOne(random, head));
                w.AddTensor(p + "attn_k_norm.weight", [head], NearOne(random, head));
            }
            w.AddTensor(p + "post_attention_norm.weight", [e], NearOne(random, e));
            if (i < Glm4MoeShape.DenseLayers)
            {
                AddMlp(w, random, p, "", e, Glm4MoeShape.FeedForward);
            }
            else
            {
                AddExperts(w, random, p, e, experts, width);
                w.AddTensor(p + "exp_probs_b.bias", [experts], Gaussian(random, experts, 0.1f));
                AddMlp(w, random, p, "_shexp", e, width);
            }
            if (i >= Glm4MoeShape.Layers)
            {
                // The multi-token-prediction block: llama.cpp loads it and never runs it; so must we.
                w.AddTensor(p + "nextn.eh_proj.weight", [2 * e, e], Gaussian(random, 2 * e * e, 1f / MathF.Sqrt(2 * e)));
                w.AddTensor(p + "nextn.enorm.weight", [e], NearOne(random, e));
                w.AddTensor(p + "nextn.hnorm.weight", [e], NearOne(random, e));
                w.AddTensor(p + "nextn.shared_head_norm.weight", [e], NearOne(random, e));
            }
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void WriteErnie4_5Moe(string path)
    {
        const string a = "ernie4_5-moe";
        const int e = Ernie4_5MoeShape.Embedding, layers = Ernie4_5MoeShape.Layers, heads = Ernie4_5MoeShape.Heads, kvHeads = Ernie4_5MoeShape.KvHeads,
            head = e / heads, experts = Ernie4_5MoeShape.Experts, width = Ernie4_5MoeShape.ExpertFeedForward;
        var random = new Random(51);
        var w = Header(a, "ernie4_5-moe-tiny", e, layers, heads, kvHeads, feedForward: Ernie4_5MoeShape.FeedForward);
        w.Set($"{a}.rope.freq_base", 500000f);
        w.Set($"{a}.leading_dense_block_count", (uint)Ernie4_5MoeShape.DenseLayers);
        w.Set($"{a}.interleave_moe_layer_step", (uint)Ernie4_5MoeShape.MoeStep);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)Ernie4_5MoeShape.ExpertsUsed);
        w.Set($"{a}.expert_feed_forward_length", (uint)width);
        w.Set($"{a}.expert_shared_feed_forward_length", (uint)Ernie4_5MoeShape.SharedFeedForward);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < layers; i++)
        {
            string p = $"blk.{i}.";
            AddAttention(w, random, p, e, heads, kvHeads, head, bias: false);
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));
            if (Ernie4_5MoeShape.IsMoeLayer(i))
            {
                AddExperts(w, random, p, e, experts, width);
                w.AddTensor(p + "exp_probs_b.bias", [experts], Gaussian(random, experts, 0.1f));
                AddMlp(w, random, p, "_shexp", e, Ernie4_5MoeShape.SharedFeedForward);
            }
            else
            {
                AddMlp(w, random, p, "", e, Ernie4_5MoeShape.FeedForward);
            }
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void WriteHunyuanMoe(string path)
    {
        const string a = "hunyuan-moe";
        const int e = 256, layers = 3, heads = 4, kvHeads = 2, head = 64, experts = 8, used = 2, width = 256;
        var random = new Random(61);
        var w = Header(a, "hunyuan-moe-tiny", e, layers, heads, kvHeads, feedForward: width);
        w.Set($"{a}.rope.freq_base", 1000000f);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)used);
        w.Set($"{a}.expert_feed_forward_length", (uint)width);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < layers; i++)
        {
            string p = $"blk.{i}.";
            AddAttention(w, random, p, e, heads, kvHeads, head, bias: false);
            w.AddTensor(p + "attn_q_norm.weight", [head], NearOne(random, head));
            w.AddTensor(p + "attn_k_norm.weight", [head], NearOne(random, head));
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));
            AddExperts(w, random, p, e, experts, width);
            AddMlp(w, random, p, "_shexp", e, width);
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void WriteMiniMaxM2(string path)
    {
        const string a = "minimax-m2";
        const int e = 256, layers = 2, heads = 4, kvHeads = 2, head = 64, experts = 8, used = 2, width = 256;
        var random = new Random(71);
        var w = Header(a, "minimax-m2-tiny", e, layers, heads, kvHeads, feedForward: width);
        w.Set($"{a}.attention.key_length", (uint)head);
        w.Set($"{a}.attention.value_length", (uint)head);
        w.Set($"{a}.rope.dimension_count", (uint)(head / 2));
        w.Set($"{a}.rope.freq_base", 5000000f);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)used);
        w.Set($"{a}.expert_feed_forward_length", (uint)width);
        w.Set($"{a}.expert_gating_func", 2u);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < layers; i++)
        {
            string p = $"blk.{i}.";
            AddAttention(w, random, p, e, heads, kvHeads, head, bias: false);
            w.AddTensor(p + "attn_q_norm.weight", [heads * head], NearOne(random, heads * head));
            w.AddTensor(p + "attn_k_norm.weight", [kvHeads * head], NearOne(random, kvHeads * head));
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));
            AddExperts(w, random, p, e, experts, width);
            w.AddTensor(p + "exp_probs_b.bias", [experts], Gaussian(random, experts, 0.1f));
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void AddAttention(GgufWriter w, Random random, string p, int e, int heads, int kvHeads, int head, bool bias)
    {
        int q = heads * head, kv = kvHeads * head;
        w.AddTensor(p + "attn_norm.weight", [e], NearOne(random, e));
        w.AddTensor(p + "attn_q.weight", [e, q], Gaussian(random, e * q, 1f / MathF.Sqrt(e)));
        w.AddTensor(p + "attn_k.weight", [e, kv], Gaussian(random, e * kv, 1f / MathF.Sqrt(e)));
        w.AddTensor(p + "attn_v.weight", [e, kv], Gaussian(random, e * kv, 1f / MathF.Sqrt(e)));
        if (bias)
        {
            w.AddTensor(p + "attn_q.bias", [q], Gaussian(random, q, 0.1f));
            w.AddTensor(p + "attn_k.bias", [kv], Gaussian(random, kv, 0.1f));
            w.AddTensor(p + "attn_v.bias", [kv], Gaussian(random, kv, 0.1f));
        }
        w.AddTensor(p + "attn_output.weight", [q, e], Gaussian(random, q * e, 1f / MathF.Sqrt(q)));
    }

    private static string Cached(string fileName, Action<string> write)
    {
        string path = Path.Combine(TinyModelBuilder.Directory, fileName);
        lock (WriteLock)
        {
            if (!File.Exists(path)) write(path);
        }
        return path;
    }

    private static GgufWriter Header(string arch, string name, int embedding, int layers, int heads, int kvHeads, int feedForward)
    {
        var w = new GgufWriter();
        w.Set("general.architecture", arch);
        w.Set("general.name", name);
        w.Set($"{arch}.context_length", 512u);
        w.Set($"{arch}.embedding_length", (uint)embedding);
        w.Set($"{arch}.block_count", (uint)layers);
        w.Set($"{arch}.feed_forward_length", (uint)feedForward);
        w.Set($"{arch}.attention.head_count", (uint)heads);
        w.Set($"{arch}.attention.head_count_kv", (uint)kvHeads);
        w.Set($"{arch}.attention.layer_norm_rms_epsilon", 1e-6f);
        using var stories = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        foreach (string key in stories.MetadataKeys)
            if (key.StartsWith("tokenizer.", StringComparison.Ordinal)) w.Set(key, stories.Metadata[key]);
        return w;
    }

    private static void WriteDeepSeek(DeepSeekSpec s, string path)
    {
        string a = s.Arch;
        const int e = DeepSeekSpec.Embedding, heads = DeepSeekSpec.Heads, rank = DeepSeekSpec.KvRank, nope = DeepSeekSpec.Nope,
            rope = DeepSeekSpec.Rope, value = DeepSeekSpec.Value, qk = nope + rope, experts = DeepSeekSpec.Experts,
            expertWidth = DeepSeekSpec.ExpertFeedForward, sharedWidth = expertWidth * DeepSeekSpec.Shared;
        var random = new Random(s.Seed);
        var w = Header(a, s.Name, e, DeepSeekSpec.Layers + s.NextN, heads, s.SplitKeyValue ? 1 : heads, DeepSeekSpec.FeedForward);
        if (s.NextN > 0) w.Set($"{a}.nextn_predict_layers", (uint)s.NextN);
        if (s.SplitKeyValue)
        {
            // llama.cpp's MLA layout: its cache rows are (latent + rope) keys and latent values; head sizes in the _mla keys.
            w.Set($"{a}.attention.key_length", (uint)(rank + rope));
            w.Set($"{a}.attention.value_length", (uint)rank);
            w.Set($"{a}.attention.key_length_mla", (uint)qk);
            w.Set($"{a}.attention.value_length_mla", (uint)value);
        }
        else
        {
            w.Set($"{a}.attention.key_length", (uint)qk);
            w.Set($"{a}.attention.value_length", (uint)value);
        }
        w.Set($"{a}.attention.q_lora_rank", (uint)(s.QueryLora ? DeepSeekSpec.QueryRank : 0)); // required unless the layer count is V2-Lite's
        w.Set($"{a}.attention.kv_lora_rank", (uint)rank);
        w.Set($"{a}.rope.dimension_count", (uint)rope);
        w.Set($"{a}.rope.freq_base", 10000f);
        if (s.Yarn)
        {
            w.Set($"{a}.rope.scaling.type", "yarn");
            w.Set($"{a}.rope.scaling.factor", 4f);
            w.Set($"{a}.rope.scaling.original_context_length", 64u);
            w.Set($"{a}.rope.scaling.yarn_log_multiplier", 0.0707f); // 0.1 × mscale_all_dim 0.707, as the converter writes it
        }
        w.Set($"{a}.leading_dense_block_count", (uint)DeepSeekSpec.DenseLayers);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)s.ExpertsUsed);
        w.Set($"{a}.expert_shared_count", (uint)DeepSeekSpec.Shared);
        w.Set($"{a}.expert_feed_forward_length", (uint)expertWidth);
        w.Set($"{a}.expert_gating_func", (uint)s.Gating);
        w.Set($"{a}.expert_weights_norm", s.Normalize);
        w.Set($"{a}.expert_weights_scale", s.Scale);
        if (s.Groups > 0)
        {
            w.Set($"{a}.expert_group_count", (uint)s.Groups);
            w.Set($"{a}.expert_group_used_count", (uint)s.GroupsUsed);
        }
        if (s.IndexerTopK > 0)
        {
            w.Set($"{a}.attention.indexer.head_count", (uint)DeepSeekSpec.IndexerHeads);
            w.Set($"{a}.attention.indexer.key_length", (uint)DeepSeekSpec.IndexerHeadLength);
            w.Set($"{a}.attention.indexer.top_k", (uint)s.IndexerTopK);
            w.Set($"{a}.attention.layer_norm_epsilon", 1e-6f);
            if (s.IndexerTypes is { } types) w.Set($"{a}.attention.indexer.types", types);
        }

        float inputScale = 1f / MathF.Sqrt(e);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < DeepSeekSpec.Layers + s.NextN; i++)
        {
            string p = $"blk.{i}.";
            w.AddTensor(p + "attn_norm.weight", [e], NearOne(random, e));
            if (s.QueryLora)
            {
                const int qRank = DeepSeekSpec.QueryRank;
                w.AddTensor(p + "attn_q_a.weight", [e, qRank], Gaussian(random, e * qRank, inputScale));
                w.AddTensor(p + "attn_q_a_norm.weight", [qRank], NearOne(random, qRank));
                w.AddTensor(p + "attn_q_b.weight", [qRank, heads * qk], Gaussian(random, qRank * heads * qk, 1f / MathF.Sqrt(qRank)));
            }
            else
            {
                w.AddTensor(p + "attn_q.weight", [e, heads * qk], Gaussian(random, e * heads * qk, inputScale));
            }
            w.AddTensor(p + "attn_kv_a_mqa.weight", [e, rank + rope], Gaussian(random, e * (rank + rope), inputScale));
            w.AddTensor(p + "attn_kv_a_norm.weight", [rank], NearOne(random, rank));

            // W_UK and W_UV per head, drawn as the joint kv_b: (heads · (nope + value), rank).
            float[] joint = Gaussian(random, heads * (nope + value) * rank, 1f / MathF.Sqrt(rank));
            if (s.SplitKeyValue)
            {
                var keyB = new float[heads * rank * nope];  // [nope, rank, heads]: W_UKᵀ per head
                var valueB = new float[heads * value * rank]; // [rank, value, heads]: W_UV per head
                for (int h = 0; h < heads; h++)
                {
                    int block = h * (nope + value) * rank;
                    for (int r = 0; r < nope; r++)
                        for (int c = 0; c < rank; c++)
                            keyB[(h * rank + c) * nope + r] = joint[block + r * rank + c];
                    Array.Copy(joint, block + nope * rank, valueB, h * value * rank, value * rank);
                }
                w.AddTensor(p + "attn_k_b.weight", [nope, rank, heads], keyB);
                w.AddTensor(p + "attn_v_b.weight", [rank, value, heads], valueB);
            }
            else
            {
                w.AddTensor(p + "attn_kv_b.weight", [rank, heads * (nope + value)], joint);
            }
            w.AddTensor(p + "attn_output.weight", [heads * value, e], Gaussian(random, heads * value * e, 1f / MathF.Sqrt(heads * value)));
            // A layer typed 0 shares the previous full layer's selection and has no indexer tensors.
            if (s.IndexerTopK > 0 && (s.IndexerTypes is not { } t || i >= t.Length || t[i] != 0))
            {
                // From a generator of their own: the other weights are those of the same spec without an indexer.
                var indexerRandom = new Random(s.Seed * 100 + i);
                const int iHeads = DeepSeekSpec.IndexerHeads, iLength = DeepSeekSpec.IndexerHeadLength, qRank = DeepSeekSpec.QueryRank;
                w.AddTensor(p + "indexer.attn_q_b.weight", [qRank, iHeads * iLength], Gaussian(indexerRandom, qRank * iHeads * iLength, 1f / MathF.Sqrt(qRank)));
                w.AddTensor(p + "indexer.attn_k.weight", [e, iLength], Gaussian(indexerRandom, e * iLength, inputScale));
                w.AddTensor(p + "indexer.k_norm.weight", [iLength], NearOne(indexerRandom, iLength));
                w.AddTensor(p + "indexer.k_norm.bias", [iLength], Gaussian(indexerRandom, iLength, 0.1f));
                w.AddTensor(p + "indexer.proj.weight", [e, iHeads], Gaussian(indexerRandom, e * iHeads, inputScale));
            }
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));

            if (i < DeepSeekSpec.DenseLayers)
            {
                AddMlp(w, random, p, "", e, DeepSeekSpec.FeedForward);
            }
            else
            {
                AddExperts(w, random, p, e, experts, expertWidth);
                if (s.SelectionBias) w.AddTensor(p + "exp_probs_b.bias", [experts], Gaussian(random, experts, 0.1f));
                AddMlp(w, random, p, "_shexp", e, sharedWidth);
            }
            if (i >= DeepSeekSpec.Layers)
            {
                // The multi-token-prediction head's own tensors, as GLM-5's conversion writes them: never run.
                w.AddTensor(p + "nextn.eh_proj.weight", [2 * e, e], Gaussian(random, 2 * e * e, 1f / MathF.Sqrt(2 * e)));
                w.AddTensor(p + "nextn.enorm.weight", [e], NearOne(random, e));
                w.AddTensor(p + "nextn.hnorm.weight", [e], NearOne(random, e));
                w.AddTensor(p + "nextn.shared_head_norm.weight", [e], NearOne(random, e));
            }
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    private static void AddMlp(GgufWriter w, Random random, string prefix, string suffix, int embedding, int width)
    {
        w.AddTensor($"{prefix}ffn_gate{suffix}.weight", [embedding, width], Gaussian(random, embedding * width, 1f / MathF.Sqrt(embedding)));
        w.AddTensor($"{prefix}ffn_up{suffix}.weight", [embedding, width], Gaussian(random, embedding * width, 1f / MathF.Sqrt(embedding)));
        w.AddTensor($"{prefix}ffn_down{suffix}.weight", [width, embedding], Gaussian(random, width * embedding, 1f / MathF.Sqrt(width)));
    }

    private static void AddExperts(GgufWriter w, Random random, string prefix, int embedding, int experts, int width)
    {
        // The router's logits come out at unit scale, so softmax and sigmoid scores are spread, not tied.
        w.AddTensor(prefix + "ffn_gate_inp.weight", [embedding, experts], Gaussian(random, embedding * experts, 1f / MathF.Sqrt(embedding)));
        w.AddTensor(prefix + "ffn_gate_exps.weight", [embedding, width, experts], Gaussian(random, embedding * width * experts, 1f / MathF.Sqrt(embedding)));
        w.AddTensor(prefix + "ffn_up_exps.weight", [embedding, width, experts], Gaussian(random, embedding * width * experts, 1f / MathF.Sqrt(embedding)));
        w.AddTensor(prefix + "ffn_down_exps.weight", [width, embedding, experts], Gaussian(random, width * embedding * experts, 1f / MathF.Sqrt(width)));
    }
}
