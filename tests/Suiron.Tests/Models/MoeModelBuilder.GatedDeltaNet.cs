using Suiron.Gguf;
using static Suiron.Tests.Models.TinyModelBuilder;

namespace Suiron.Tests.Models;

/// <summary>
/// The tiny hybrid Qwen models' shape: gated DeltaNet layers (4 value heads over 2 key heads of 32, a causal convolution
/// of 4) interleaved with gated full attention (4 query heads over 2 key/value heads of 64, RoPE on 32 of 64) every
/// <see cref="FullAttentionInterval"/> layers, as <c>(i + 1) % interval == 0</c> picks them.
/// </summary>
internal static class HybridQwenShape
{
    public const int Embedding = 256, Layers = 4, FullAttentionInterval = 2, Heads = 4, KvHeads = 2, Head = 64, RopeDimensions = 32,
        ConvKernel = 4, StateSize = 32, KeyHeads = 2, ValueHeads = 4, Inner = ValueHeads * StateSize,
        FeedForward = 512, Experts = 8, ExpertsUsed = 2, ExpertFeedForward = 128, SharedFeedForward = 192;

    public static bool IsRecurrent(int layer) => (layer + 1) % FullAttentionInterval != 0;
}

internal static partial class MoeModelBuilder
{
    /// <summary>
    /// Qwen3-Next (<see cref="HybridQwenShape"/>) as the 2025 conversions wrote it: the DeltaNet input projection as one
    /// <c>ssm_in</c> whose rows are grouped per key head (q, k, v, z), β and α as one <c>ssm_ba</c>; NeoX RoPE; a
    /// mixture of 8 softmax-routed experts, top-2 renormalized, beside a shared expert scaled by σ(<c>ffn_gate_inp_shexp</c> · x).
    /// </summary>
    public static string Qwen3NextF32() => Cached("qwen3next-F32.gguf", path => WriteHybridQwen(path, "qwen3next", legacyProjections: true, experts: true, seed: 81));

    /// <summary>Qwen3.5 dense in small: separate <c>attn_qkv</c>/<c>attn_gate</c>/<c>ssm_beta</c>/<c>ssm_alpha</c>, interleaved
    /// multi-section RoPE (sections 5, 5, 4, 2 of the 16 rotated pairs), a SwiGLU MLP.</summary>
    public static string Qwen35F32() => Cached("qwen35-F32.gguf", path => WriteHybridQwen(path, "qwen35", legacyProjections: false, experts: false, seed: 82));

    /// <summary>
    /// The Qwen3.5 dense model with its multi-token-prediction block after the 4 layers (<c>nextn_predict_layers</c> 1), in
    /// llama.cpp's layout (<c>load_block_mtp</c>): a gated full-attention block (<c>blk.4.attn_*</c>, <c>post_attention_norm</c>,
    /// the MLP) with <c>nextn.eh_proj</c> (2·embedding → embedding), <c>nextn.enorm</c>, <c>nextn.hnorm</c> and
    /// <c>nextn.shared_head_norm</c> (Qwen3.5's <c>mtp.norm</c>); the token embedding and output are the model's.
    /// </summary>
    public static string Qwen35MtpF32() => Cached("qwen35-mtp-F32.gguf", path => WriteHybridQwen(path, "qwen35", legacyProjections: false, experts: false, seed: 82, nextN: true));

    /// <summary>
    /// A Qwen3.5 model whose head drafts well, to exercise accepted drafts: every layer's output projections
    /// (<c>ssm_out</c>, <c>attn_output</c>, <c>ffn_down</c>) are scaled down 20-fold, so the model's next token depends mostly
    /// on the current one (next = g(current), a bigram chain with some context left); the head's <c>nextn.eh_proj</c> passes
    /// enorm(embedding of its token) through (identity on its first half, zeros on the hidden state's) and its block's
    /// attention output and MLP down projection are zero, so it drafts g(token), g(g(token)) …: mostly the model's tokens,
    /// not always (the norms' weights and the context move near-ties).
    /// </summary>
    public static string Qwen35BigramMtpF32() => Cached("qwen35-bigram-mtp-F32.gguf", path => WriteHybridQwen(path, "qwen35", legacyProjections: false, experts: false, seed: 82, nextN: true, bigramHead: true));

    /// <summary>The Qwen3.5-MoE model with its multi-token-prediction block: as <see cref="Qwen35MtpF32"/>, the block's
    /// feed-forward being the routed experts and the gated shared expert.</summary>
    public static string Qwen35MoeMtpF32() => Cached("qwen35moe-mtp-F32.gguf", path => WriteHybridQwen(path, "qwen35moe", legacyProjections: false, experts: true, seed: 84, nextN: true));

    /// <summary>Qwen3.5-MoE in small: Qwen3.5's layers with Qwen3-Next's experts and gated shared expert.</summary>
    public static string Qwen35MoeF32() => Cached("qwen35moe-F32.gguf", path => WriteHybridQwen(path, "qwen35moe", legacyProjections: false, experts: true, seed: 83));

    private static void WriteHybridQwen(string path, string a, bool legacyProjections, bool experts, int seed, bool nextN = false, bool bigramHead = false)
    {
        const int e = HybridQwenShape.Embedding, heads = HybridQwenShape.Heads, kvHeads = HybridQwenShape.KvHeads, head = HybridQwenShape.Head,
            state = HybridQwenShape.StateSize, keyHeads = HybridQwenShape.KeyHeads, valueHeads = HybridQwenShape.ValueHeads,
            keyWidth = state * keyHeads, valueWidth = HybridQwenShape.Inner, convWidth = 2 * keyWidth + valueWidth, kernel = HybridQwenShape.ConvKernel;
        var random = new Random(seed);
        int blocks = HybridQwenShape.Layers + (nextN ? 1 : 0);
        var w = Header(a, a + "-tiny", e, blocks, heads, kvHeads, feedForward: HybridQwenShape.FeedForward);
        if (nextN) w.Set($"{a}.nextn_predict_layers", 1u);
        w.Set($"{a}.attention.key_length", (uint)head);
        w.Set($"{a}.attention.value_length", (uint)head);
        w.Set($"{a}.rope.dimension_count", (uint)HybridQwenShape.RopeDimensions);
        w.Set($"{a}.rope.freq_base", 10000000f);
        if (a != "qwen3next") w.Set($"{a}.rope.dimension_sections", new[] { 5, 5, 4, 2 });
        w.Set($"{a}.full_attention_interval", (uint)HybridQwenShape.FullAttentionInterval);
        w.Set($"{a}.ssm.conv_kernel", (uint)kernel);
        w.Set($"{a}.ssm.state_size", (uint)state);
        w.Set($"{a}.ssm.group_count", (uint)keyHeads);
        w.Set($"{a}.ssm.time_step_rank", (uint)valueHeads);
        w.Set($"{a}.ssm.inner_size", (uint)valueWidth);
        if (experts)
        {
            w.Set($"{a}.expert_count", (uint)HybridQwenShape.Experts);
            w.Set($"{a}.expert_used_count", (uint)HybridQwenShape.ExpertsUsed);
            w.Set($"{a}.expert_feed_forward_length", (uint)HybridQwenShape.ExpertFeedForward);
            w.Set($"{a}.expert_shared_feed_forward_length", (uint)HybridQwenShape.SharedFeedForward);
        }
        float inputScale = 1f / MathF.Sqrt(e);
        // The bigram model's layers add little to the residual stream, its head's block nothing.
        float[] Scaled(float[] values, int layer)
        {
            if (bigramHead) foreach (ref float v in values.AsSpan()) v *= layer < HybridQwenShape.Layers ? 0.05f : 0f;
            return values;
        }
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < blocks; i++)
        {
            string p = $"blk.{i}.";
            w.AddTensor(p + "attn_norm.weight", [e], NearOne(random, e));
            if (i < HybridQwenShape.Layers && HybridQwenShape.IsRecurrent(i))
            {
                if (legacyProjections)
                {
                    w.AddTensor(p + "ssm_in.weight", [e, 2 * keyWidth + 2 * valueWidth], Gaussian(random, e * (2 * keyWidth + 2 * valueWidth), inputScale));
                    w.AddTensor(p + "ssm_ba.weight", [e, 2 * valueHeads], Gaussian(random, e * 2 * valueHeads, inputScale));
                }
                else
                {
                    w.AddTensor(p + "attn_qkv.weight", [e, convWidth], Gaussian(random, e * convWidth, inputScale));
                    w.AddTensor(p + "attn_gate.weight", [e, valueWidth], Gaussian(random, e * valueWidth, inputScale));
                    w.AddTensor(p + "ssm_beta.weight", [e, valueHeads], Gaussian(random, e * valueHeads, inputScale));
                    w.AddTensor(p + "ssm_alpha.weight", [e, valueHeads], Gaussian(random, e * valueHeads, inputScale));
                }
                w.AddTensor(p + "ssm_conv1d.weight", [kernel, convWidth], Gaussian(random, kernel * convWidth, 0.5f));
                w.AddTensor(p + "ssm_dt.bias", [valueHeads], Gaussian(random, valueHeads, 0.5f));
                // −exp(A_log) with slow decays (A between 0.05 and 0.5), so the state remembers many tokens back.
                w.AddTensor(p + "ssm_a", [valueHeads], Enumerable.Range(0, valueHeads).Select(_ => -(0.05f + 0.45f * random.NextSingle())).ToArray());
                w.AddTensor(p + "ssm_norm.weight", [state], NearOne(random, state));
                w.AddTensor(p + "ssm_out.weight", [valueWidth, e], Scaled(Gaussian(random, valueWidth * e, 1f / MathF.Sqrt(valueWidth)), i));
            }
            else
            {
                int q = heads * head, kv = kvHeads * head;
                w.AddTensor(p + "attn_q.weight", [e, 2 * q], Gaussian(random, e * 2 * q, inputScale));
                w.AddTensor(p + "attn_k.weight", [e, kv], Gaussian(random, e * kv, inputScale));
                w.AddTensor(p + "attn_v.weight", [e, kv], Gaussian(random, e * kv, inputScale));
                w.AddTensor(p + "attn_output.weight", [q, e], Scaled(Gaussian(random, q * e, 1f / MathF.Sqrt(q)), i));
                w.AddTensor(p + "attn_q_norm.weight", [head], NearOne(random, head));
                w.AddTensor(p + "attn_k_norm.weight", [head], NearOne(random, head));
            }
            w.AddTensor(p + "post_attention_norm.weight", [e], NearOne(random, e));
            if (experts)
            {
                AddExperts(w, random, p, e, HybridQwenShape.Experts, HybridQwenShape.ExpertFeedForward);
                w.AddTensor(p + "ffn_gate_inp_shexp.weight", [e], Gaussian(random, e, inputScale));
                AddMlp(w, random, p, "_shexp", e, HybridQwenShape.SharedFeedForward);
            }
            else if (bigramHead)
            {
                int f = HybridQwenShape.FeedForward;
                w.AddTensor(p + "ffn_gate.weight", [e, f], Gaussian(random, e * f, inputScale));
                w.AddTensor(p + "ffn_up.weight", [e, f], Gaussian(random, e * f, inputScale));
                w.AddTensor(p + "ffn_down.weight", [f, e], Scaled(Gaussian(random, f * e, 1f / MathF.Sqrt(f)), i));
            }
            else
            {
                AddMlp(w, random, p, "", e, HybridQwenShape.FeedForward);
            }
            if (i >= HybridQwenShape.Layers)
            {
                var projection = Gaussian(random, 2 * e * e, 1f / MathF.Sqrt(2 * e));
                if (bigramHead)
                {
                    Array.Clear(projection);
                    for (int row = 0; row < e; row++) projection[row * 2 * e + row] = 1f;
                }
                w.AddTensor(p + "nextn.eh_proj.weight", [2 * e, e], projection);
                w.AddTensor(p + "nextn.enorm.weight", [e], NearOne(random, e));
                w.AddTensor(p + "nextn.hnorm.weight", [e], NearOne(random, e));
                w.AddTensor(p + "nextn.shared_head_norm.weight", [e], NearOne(random, e));
            }
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }
}
