using System.Runtime.InteropServices;
using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>
/// Writes a <see cref="BenchModelSpec"/> as an F16 GGUF with our <see cref="GgufWriter"/>: 2-D weights N(0, 0.02)
/// from a fixed seed (chunked so that the values do not depend on the thread count), norms 1, biases N(0, 0.02), all
/// 1-D tensors F32 as llama.cpp's converter writes them; and a synthetic SentencePiece vocabulary of the model's size
/// that llama.cpp accepts: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte tokens, then fillers <c>t{i}</c>.
/// </summary>
internal static class BenchModelWriter
{
    public const float Sigma = 0.02f;
    private const int ChunkElements = 1 << 20;

    public static void WriteF16(BenchModelSpec s, string path, int seed = 1)
    {
        if (s.DeepSeek is not null)
        {
            WriteDeepSeek2F16(s, path, seed);
            return;
        }
        if (s.Hybrid is not null)
        {
            WriteQwen35F16(s, path, seed);
            return;
        }
        var w = new GgufWriter();
        string a = s.Architecture;
        w.Set("general.architecture", a);
        w.Set("general.name", $"{s.Name} (random weights, Suiron bench)");
        w.Set("general.file_type", 1u); // LLAMA_FTYPE_MOSTLY_F16
        w.Set($"{a}.context_length", (uint)s.ContextLength);
        w.Set($"{a}.embedding_length", (uint)s.Embedding);
        w.Set($"{a}.block_count", (uint)s.Layers);
        w.Set($"{a}.feed_forward_length", (uint)s.FeedForward);
        w.Set($"{a}.attention.head_count", (uint)s.Heads);
        w.Set($"{a}.attention.head_count_kv", (uint)s.KvHeads);
        w.Set($"{a}.attention.key_length", (uint)s.HeadLength);
        w.Set($"{a}.attention.value_length", (uint)s.HeadLength);
        w.Set($"{a}.attention.layer_norm_rms_epsilon", s.RmsEpsilon);
        w.Set($"{a}.rope.freq_base", s.RopeBase);
        w.Set($"{a}.rope.dimension_count", (uint)s.HeadLength);
        w.Set($"{a}.vocab_size", (uint)s.VocabSize);
        if (s.Moe is { } moe)
        {
            w.Set($"{a}.leading_dense_block_count", (uint)moe.LeadingDenseLayers);
            w.Set($"{a}.interleave_moe_layer_step", 1u);
            w.Set($"{a}.expert_count", (uint)moe.Experts);
            w.Set($"{a}.expert_used_count", (uint)moe.ExpertsUsed);
            w.Set($"{a}.expert_feed_forward_length", (uint)moe.ExpertFeedForward);
            if (moe.SharedFeedForward > 0) w.Set($"{a}.expert_shared_feed_forward_length", (uint)moe.SharedFeedForward);
        }
        SetVocabulary(w, s.VocabSize);

        int e = s.Embedding, q = s.QueryWidth, kv = s.KeyValueWidth, f = s.FeedForward;
        int index = 0;
        void Matrix(string name, int columns, int rows) => AddRandomHalves(w, name, [columns, rows], seed, index++);
        void Vector(string name, float[] values) { w.AddTensor(name, [values.Length], values); index++; }

        Matrix("token_embd.weight", e, s.VocabSize);
        if (s.Llama3Rope is { } rope) Vector("rope_freqs.weight", Llama3RopeFactors(s.HeadLength, s.RopeBase, rope));
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", Ones(e));
            Matrix(p + "attn_q.weight", e, q);
            Matrix(p + "attn_k.weight", e, kv);
            Matrix(p + "attn_v.weight", e, kv);
            if (s.AttentionBias)
            {
                Vector(p + "attn_q.bias", RandomFloats(seed, index, q));
                Vector(p + "attn_k.bias", RandomFloats(seed, index, kv));
                Vector(p + "attn_v.bias", RandomFloats(seed, index, kv));
            }
            Matrix(p + "attn_output.weight", q, e);
            Vector(p + "ffn_norm.weight", Ones(e));
            if (s.Moe is { } m && i >= m.LeadingDenseLayers)
            {
                // The router is F32, as the converter keeps ffn_gate_inp (and llama.cpp's quantizer leaves it so).
                w.AddTensor(p + "ffn_gate_inp.weight", [e, m.Experts], RandomFloats(seed, index++, e * m.Experts));
                AddRandomHalves(w, p + "ffn_gate_exps.weight", [e, m.ExpertFeedForward, m.Experts], seed, index++);
                AddRandomHalves(w, p + "ffn_up_exps.weight", [e, m.ExpertFeedForward, m.Experts], seed, index++);
                AddRandomHalves(w, p + "ffn_down_exps.weight", [m.ExpertFeedForward, e, m.Experts], seed, index++);
                if (m.SharedFeedForward > 0)
                {
                    Matrix(p + "ffn_gate_shexp.weight", e, m.SharedFeedForward);
                    Matrix(p + "ffn_up_shexp.weight", e, m.SharedFeedForward);
                    Matrix(p + "ffn_down_shexp.weight", m.SharedFeedForward, e);
                }
                continue;
            }
            Matrix(p + "ffn_gate.weight", e, f);
            Matrix(p + "ffn_up.weight", e, f);
            Matrix(p + "ffn_down.weight", f, e);
            if (i == s.Layers)
            {
                // The MTP block, as llama.cpp's converter writes Qwen3.5's mtp.* (mtp.fc → eh_proj, mtp.norm → shared_head_norm).
                Matrix(p + "nextn.eh_proj.weight", 2 * e, e);
                Vector(p + "nextn.enorm.weight", Ones(e));
                Vector(p + "nextn.hnorm.weight", Ones(e));
                Vector(p + "nextn.shared_head_norm.weight", Ones(e));
            }
        }
        Vector("output_norm.weight", Ones(e));
        if (!s.TiedOutput) Matrix("output.weight", e, s.VocabSize);
        w.WriteTo(path);
    }

    /// <summary>
    /// A <c>deepseek2</c> model as llama.cpp's current converter writes DeepSeek-V2(-Lite): the metadata keys of
    /// convert_hf_to_gguf.py's DeepseekV2Model (key_length/value_length describe llama.cpp's MLA cache rows, the head
    /// sizes go in the <c>_mla</c> keys), W_UK and W_UV split per head as <c>attn_k_b</c>/<c>attn_v_b</c>, experts
    /// stacked in <c>ffn_*_exps</c> and the shared experts as one MLP of their joint width in <c>ffn_*_shexp</c>.
    /// </summary>
    private static void WriteDeepSeek2F16(BenchModelSpec s, string path, int seed)
    {
        DeepSeekShape d = s.DeepSeek!;
        var w = new GgufWriter();
        const string a = "deepseek2";
        w.Set("general.architecture", a);
        w.Set("general.name", $"{s.Name} (random weights, Suiron bench)");
        w.Set("general.file_type", 1u); // LLAMA_FTYPE_MOSTLY_F16
        w.Set($"{a}.context_length", (uint)s.ContextLength);
        w.Set($"{a}.embedding_length", (uint)s.Embedding);
        w.Set($"{a}.block_count", (uint)s.Layers);
        w.Set($"{a}.feed_forward_length", (uint)s.FeedForward);
        w.Set($"{a}.attention.head_count", (uint)s.Heads);
        w.Set($"{a}.attention.head_count_kv", 1u); // MLA: one latent "head" shared by all
        w.Set($"{a}.attention.key_length", (uint)(d.KvLoraRank + d.RopeLength));
        w.Set($"{a}.attention.value_length", (uint)d.KvLoraRank);
        w.Set($"{a}.attention.key_length_mla", (uint)d.QueryKeyLength);
        w.Set($"{a}.attention.value_length_mla", (uint)d.ValueLength);
        w.Set($"{a}.attention.layer_norm_rms_epsilon", s.RmsEpsilon);
        w.Set($"{a}.attention.q_lora_rank", 0u); // V2-Lite: a full query projection
        w.Set($"{a}.attention.kv_lora_rank", (uint)d.KvLoraRank);
        w.Set($"{a}.rope.freq_base", s.RopeBase);
        w.Set($"{a}.rope.dimension_count", (uint)d.RopeLength);
        w.Set($"{a}.rope.scaling.type", "yarn");
        w.Set($"{a}.rope.scaling.factor", d.YarnFactor);
        w.Set($"{a}.rope.scaling.original_context_length", (uint)d.YarnOriginalContext);
        w.Set($"{a}.rope.scaling.yarn_log_multiplier", 0.1f * d.YarnMscaleAllDim);
        w.Set($"{a}.leading_dense_block_count", (uint)d.LeadingDenseLayers);
        w.Set($"{a}.expert_count", (uint)d.Experts);
        w.Set($"{a}.expert_used_count", (uint)d.ExpertsUsed);
        w.Set($"{a}.expert_shared_count", (uint)d.SharedExperts);
        w.Set($"{a}.expert_feed_forward_length", (uint)d.ExpertFeedForward);
        w.Set($"{a}.expert_weights_scale", 1f);        // routed_scaling_factor
        w.Set($"{a}.expert_weights_norm", false);      // norm_topk_prob
        w.Set($"{a}.expert_gating_func", 1u);          // scoring_func softmax
        w.Set($"{a}.vocab_size", (uint)s.VocabSize);
        SetVocabulary(w, s.VocabSize);

        int e = s.Embedding, heads = s.Heads, rank = d.KvLoraRank, sharedWidth = d.SharedExperts * d.ExpertFeedForward;
        int index = 0;
        void Tensor(string name, params long[] shape) => AddRandomHalves(w, name, shape, seed, index++);
        void Vector(string name, float[] values) { w.AddTensor(name, [values.Length], values); index++; }

        Tensor("token_embd.weight", e, s.VocabSize);
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", Ones(e));
            Tensor(p + "attn_q.weight", e, heads * d.QueryKeyLength);
            Tensor(p + "attn_kv_a_mqa.weight", e, rank + d.RopeLength);
            Vector(p + "attn_kv_a_norm.weight", Ones(rank));
            Tensor(p + "attn_k_b.weight", d.NopeLength, rank, heads);  // W_UKᵀ per head
            Tensor(p + "attn_v_b.weight", rank, d.ValueLength, heads); // W_UV per head
            Tensor(p + "attn_output.weight", heads * d.ValueLength, e);
            Vector(p + "ffn_norm.weight", Ones(e));
            if (i < d.LeadingDenseLayers)
            {
                Tensor(p + "ffn_gate.weight", e, s.FeedForward);
                Tensor(p + "ffn_up.weight", e, s.FeedForward);
                Tensor(p + "ffn_down.weight", s.FeedForward, e);
            }
            else
            {
                // The router is F32, as the converter keeps ffn_gate_inp (and llama.cpp's quantizer leaves it so).
                w.AddTensor(p + "ffn_gate_inp.weight", [e, d.Experts], RandomFloats(seed, index++, e * d.Experts));
                Tensor(p + "ffn_gate_exps.weight", e, d.ExpertFeedForward, d.Experts);
                Tensor(p + "ffn_up_exps.weight", e, d.ExpertFeedForward, d.Experts);
                Tensor(p + "ffn_down_exps.weight", d.ExpertFeedForward, e, d.Experts);
                Tensor(p + "ffn_gate_shexp.weight", e, sharedWidth);
                Tensor(p + "ffn_up_shexp.weight", e, sharedWidth);
                Tensor(p + "ffn_down_shexp.weight", sharedWidth, e);
            }
        }
        Vector("output_norm.weight", Ones(e));
        Tensor("output.weight", e, s.VocabSize);
        w.WriteTo(path);
    }

    /// <summary>
    /// A <c>qwen35</c> model as llama.cpp's converter writes Qwen3.5: gated attention (<c>attn_q</c> twice as wide: a query
    /// and a gate per head) on every <c>full_attention_interval</c>-th layer, the DeltaNet layers' <c>attn_qkv</c>,
    /// <c>attn_gate</c>, <c>ssm_beta</c>, <c>ssm_alpha</c>, <c>ssm_out</c> in F16 and their convolution taps, decay and
    /// biases in F32 (<c>ssm_a</c> = −exp(A_log), here −0.1 … −1).
    /// </summary>
    private static void WriteQwen35F16(BenchModelSpec s, string path, int seed)
    {
        HybridShape h = s.Hybrid!;
        var w = new GgufWriter();
        string a = s.Architecture;
        w.Set("general.architecture", a);
        w.Set("general.name", $"{s.Name} (random weights, Suiron bench)");
        w.Set("general.file_type", 1u);
        w.Set($"{a}.context_length", (uint)s.ContextLength);
        w.Set($"{a}.embedding_length", (uint)s.Embedding);
        w.Set($"{a}.block_count", (uint)(s.Layers + (s.NextN ? 1 : 0)));
        if (s.NextN) w.Set($"{a}.nextn_predict_layers", 1u);
        w.Set($"{a}.feed_forward_length", (uint)s.FeedForward);
        w.Set($"{a}.attention.head_count", (uint)s.Heads);
        w.Set($"{a}.attention.head_count_kv", (uint)s.KvHeads);
        w.Set($"{a}.attention.key_length", (uint)s.HeadLength);
        w.Set($"{a}.attention.value_length", (uint)s.HeadLength);
        w.Set($"{a}.attention.layer_norm_rms_epsilon", s.RmsEpsilon);
        w.Set($"{a}.rope.freq_base", s.RopeBase);
        w.Set($"{a}.rope.dimension_count", (uint)h.RopeDimensions);
        w.Set($"{a}.rope.dimension_sections", new[] { 11, 11, 10, 0 });
        w.Set($"{a}.full_attention_interval", (uint)h.FullAttentionInterval);
        w.Set($"{a}.ssm.conv_kernel", (uint)h.ConvKernel);
        w.Set($"{a}.ssm.state_size", (uint)h.StateLength);
        w.Set($"{a}.ssm.group_count", (uint)h.KeyHeads);
        w.Set($"{a}.ssm.time_step_rank", (uint)h.ValueHeads);
        w.Set($"{a}.ssm.inner_size", (uint)h.ValueWidth);
        w.Set($"{a}.vocab_size", (uint)s.VocabSize);
        SetVocabulary(w, s.VocabSize);

        int e = s.Embedding, q = s.QueryWidth, kv = s.KeyValueWidth, f = s.FeedForward;
        int index = 0;
        void Matrix(string name, int columns, int rows) => AddRandomHalves(w, name, [columns, rows], seed, index++);
        void Vector(string name, float[] values) { w.AddTensor(name, [values.Length], values); index++; }

        Matrix("token_embd.weight", e, s.VocabSize);
        for (int i = 0; i < s.Layers + (s.NextN ? 1 : 0); i++)
        {
            string p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", Ones(e));
            if (i < s.Layers && h.IsRecurrent(i))
            {
                Matrix(p + "attn_qkv.weight", e, h.ConvWidth);
                Matrix(p + "attn_gate.weight", e, h.ValueWidth);
                Matrix(p + "ssm_beta.weight", e, h.ValueHeads);
                Matrix(p + "ssm_alpha.weight", e, h.ValueHeads);
                w.AddTensor(p + "ssm_conv1d.weight", [h.ConvKernel, h.ConvWidth], RandomFloats(seed, index++, h.ConvKernel * h.ConvWidth));
                Vector(p + "ssm_dt.bias", RandomFloats(seed, index, h.ValueHeads));
                Vector(p + "ssm_a", Enumerable.Range(0, h.ValueHeads).Select(j => -0.1f - 0.9f * j / h.ValueHeads).ToArray());
                Vector(p + "ssm_norm.weight", Ones(h.StateLength));
                Matrix(p + "ssm_out.weight", h.ValueWidth, e);
            }
            else
            {
                Matrix(p + "attn_q.weight", e, 2 * q);
                Matrix(p + "attn_k.weight", e, kv);
                Matrix(p + "attn_v.weight", e, kv);
                Matrix(p + "attn_output.weight", q, e);
                Vector(p + "attn_q_norm.weight", Ones(s.HeadLength));
                Vector(p + "attn_k_norm.weight", Ones(s.HeadLength));
            }
            Vector(p + "post_attention_norm.weight", Ones(e));
            Matrix(p + "ffn_gate.weight", e, f);
            Matrix(p + "ffn_up.weight", e, f);
            Matrix(p + "ffn_down.weight", f, e);
            if (i == s.Layers)
            {
                // The MTP block, as llama.cpp's converter writes Qwen3.5's mtp.* (mtp.fc → eh_proj, mtp.norm → shared_head_norm).
                Matrix(p + "nextn.eh_proj.weight", 2 * e, e);
                Vector(p + "nextn.enorm.weight", Ones(e));
                Vector(p + "nextn.hnorm.weight", Ones(e));
                Vector(p + "nextn.shared_head_norm.weight", Ones(e));
            }
        }
        Vector("output_norm.weight", Ones(e));
        if (!s.TiedOutput) Matrix("output.weight", e, s.VocabSize);
        w.WriteTo(path);
    }

    /// <summary>A SentencePiece ("llama") vocabulary of <paramref name="size"/> tokens: special, byte and filler tokens.</summary>
    internal static void SetVocabulary(GgufWriter w, int size)
    {
        var tokens = new string[size];
        var scores = new float[size];
        var types = new int[size];
        tokens[0] = "<unk>"; types[0] = 2;  // unknown
        tokens[1] = "<s>"; types[1] = 3;    // control
        tokens[2] = "</s>"; types[2] = 3;
        for (int b = 0; b < 256; b++) { tokens[3 + b] = $"<0x{b:X2}>"; types[3 + b] = 6; } // byte
        for (int i = 259; i < size; i++) { tokens[i] = $"t{i}"; types[i] = 1; scores[i] = -(i - 259); }
        w.Set("tokenizer.ggml.model", "llama");
        w.Set("tokenizer.ggml.tokens", tokens);
        w.Set("tokenizer.ggml.scores", scores);
        w.Set("tokenizer.ggml.token_type", types);
        w.Set("tokenizer.ggml.unknown_token_id", 0u);
        w.Set("tokenizer.ggml.bos_token_id", 1u);
        w.Set("tokenizer.ggml.eos_token_id", 2u);
        w.Set("tokenizer.ggml.add_bos_token", true);
        w.Set("tokenizer.ggml.add_eos_token", false);
    }

    /// <summary>Llama 3's frequency divisors (convert_hf_to_gguf.py's rope_freqs): high frequencies kept, low ones scaled, a smooth ramp between.</summary>
    private static float[] Llama3RopeFactors(int headLength, float ropeBase, (float Factor, float Low, float High, int OriginalContext) r)
    {
        var factors = new float[headLength / 2];
        double lowWavelength = r.OriginalContext / r.Low, highWavelength = r.OriginalContext / r.High;
        for (int i = 0; i < factors.Length; i++)
        {
            double frequency = 1.0 / Math.Pow(ropeBase, 2.0 * i / headLength);
            double wavelength = 2 * Math.PI / frequency;
            if (wavelength < highWavelength) factors[i] = 1f;
            else if (wavelength > lowWavelength) factors[i] = r.Factor;
            else
            {
                double smooth = (r.OriginalContext / wavelength - r.Low) / (r.High - r.Low);
                factors[i] = (float)(1 / ((1 - smooth) / r.Factor + smooth));
            }
        }
        return factors;
    }

    internal static float[] Ones(int count) => Enumerable.Repeat(1f, count).ToArray();

    internal static float[] RandomFloats(int seed, int tensor, int count)
    {
        var values = new float[count];
        new Gaussian(seed, tensor, 0).Fill(values);
        return values;
    }

    /// <summary>
    /// Adds an F16 tensor of N(0, σ) values that are generated only while the file is written, a group of chunks at a
    /// time, so that no more than <see cref="ChunksPerWrite"/> chunks of a multi-GB model are ever in memory.
    /// </summary>
    internal static void AddRandomHalves(GgufWriter w, string name, long[] shape, int seed, int tensor)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        w.AddTensor(name, TensorType.F16, shape, stream => WriteRandomHalves(stream, seed, tensor, count));
    }

    private const int ChunksPerWrite = 16;

    /// <summary>F16 bytes of N(0, σ) values, filled in parallel chunks, each chunk from its own seeded generator.</summary>
    private static void WriteRandomHalves(Stream stream, int seed, int tensor, long count)
    {
        int chunks = (int)((count + ChunkElements - 1) / ChunkElements);
        var bytes = new byte[(long)Math.Min(chunks, ChunksPerWrite) * ChunkElements * 2];
        for (int first = 0; first < chunks; first += ChunksPerWrite)
        {
            int group = Math.Min(ChunksPerWrite, chunks - first);
            long groupStart = (long)first * ChunkElements;
            Parallel.For(0, group, () => new float[ChunkElements], (i, _, scratch) =>
            {
                int chunk = first + i;
                long start = (long)chunk * ChunkElements;
                int length = (int)Math.Min(ChunkElements, count - start);
                Span<float> values = scratch.AsSpan(0, length);
                new Gaussian(seed, tensor, chunk).Fill(values);
                Span<Half> halves = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan(checked((int)((start - groupStart) * 2)), length * 2));
                for (int j = 0; j < length; j++) halves[j] = (Half)values[j];
                return scratch;
            }, _ => { });
            long groupElements = Math.Min((long)group * ChunkElements, count - groupStart);
            stream.Write(bytes, 0, checked((int)(groupElements * 2)));
        }
    }

    /// <summary>N(0, σ) by Box–Muller over a SplitMix64 stream keyed by (seed, tensor, chunk).</summary>
    private struct Gaussian(int seed, int tensor, int chunk)
    {
        private ulong _state = (ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)tensor << 32 ^ (ulong)chunk;

        public void Fill(Span<float> values)
        {
            for (int i = 0; i < values.Length; i += 2)
            {
                double u1 = (Next() >> 11) * (1.0 / (1UL << 53)), u2 = (Next() >> 11) * (1.0 / (1UL << 53));
                double radius = Sigma * Math.Sqrt(-2.0 * Math.Log(1.0 - u1)), angle = 2 * Math.PI * u2;
                values[i] = (float)(radius * Math.Cos(angle));
                if (i + 1 < values.Length) values[i + 1] = (float)(radius * Math.Sin(angle));
            }
        }

        private ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
