using System.Diagnostics;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>
/// Continuous-batching decode of a model, A/B in one process: S sequences each decode one token per step, either one
/// <see cref="ILanguageModel.Forward"/> per sequence (what a model without a batched path does) or one
/// <see cref="ILanguageModel.ForwardBatch"/> for all. The two alternate run by run on the same warm model, and the
/// medians of the aggregate tokens/s are compared — absolute numbers on a shared machine mean little, the ratio does.
/// </summary>
internal static class BatchBench
{
    /// <summary>
    /// A scaled-down GLM-4.5-Air (glm4moe) of random F16 weights: 1024 wide, 8 layers (the first dense) + a NextN layer,
    /// 16 heads / 4 KV heads of 64 with biases, RoPE on half, 32 experts of 352 (top-4, sigmoid + bias) + 1 shared, vocab 32000.
    /// </summary>
    public static void WriteGlm4Moe(string path)
    {
        const string a = "glm4moe";
        const int e = 1024, layers = 8, nextN = 1, heads = 16, kvHeads = 4, head = 64, dense = 1, ff = 4096,
            experts = 32, used = 4, width = 352, vocab = 32000, seed = 7;
        var w = new GgufWriter();
        w.Set("general.architecture", a);
        w.Set("general.name", "glm4moe-mini (random weights, Suiron bench)");
        w.Set("general.file_type", 1u);
        w.Set($"{a}.context_length", 4096u);
        w.Set($"{a}.embedding_length", (uint)e);
        w.Set($"{a}.block_count", (uint)(layers + nextN));
        w.Set($"{a}.feed_forward_length", (uint)ff);
        w.Set($"{a}.attention.head_count", (uint)heads);
        w.Set($"{a}.attention.head_count_kv", (uint)kvHeads);
        w.Set($"{a}.attention.key_length", (uint)head);
        w.Set($"{a}.attention.value_length", (uint)head);
        w.Set($"{a}.attention.layer_norm_rms_epsilon", 1e-5f);
        w.Set($"{a}.rope.freq_base", 1_000_000f);
        w.Set($"{a}.rope.dimension_count", (uint)(head / 2));
        w.Set($"{a}.leading_dense_block_count", (uint)dense);
        w.Set($"{a}.expert_count", (uint)experts);
        w.Set($"{a}.expert_used_count", (uint)used);
        w.Set($"{a}.expert_shared_count", 1u);
        w.Set($"{a}.expert_feed_forward_length", (uint)width);
        w.Set($"{a}.expert_weights_scale", 1f);
        w.Set($"{a}.expert_weights_norm", true);
        w.Set($"{a}.expert_gating_func", 2u);
        w.Set($"{a}.nextn_predict_layers", (uint)nextN);
        BenchModelWriter.SetVocabulary(w, vocab);

        int index = 0;
        void Matrix(string name, params long[] shape) =>
            BenchModelWriter.AddRandomHalves(w, name, shape, seed, index++);
        void Vector(string name, float[] values) { w.AddTensor(name, [values.Length], values); index++; }

        Matrix("token_embd.weight", e, vocab);
        for (int i = 0; i < layers + nextN; i++)
        {
            string p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", BenchModelWriter.Ones(e));
            Matrix(p + "attn_q.weight", e, heads * head);
            Matrix(p + "attn_k.weight", e, kvHeads * head);
            Matrix(p + "attn_v.weight", e, kvHeads * head);
            Vector(p + "attn_q.bias", BenchModelWriter.RandomFloats(seed, index, heads * head));
            Vector(p + "attn_k.bias", BenchModelWriter.RandomFloats(seed, index, kvHeads * head));
            Vector(p + "attn_v.bias", BenchModelWriter.RandomFloats(seed, index, kvHeads * head));
            Matrix(p + "attn_output.weight", heads * head, e);
            Vector(p + "post_attention_norm.weight", BenchModelWriter.Ones(e));
            if (i < dense)
            {
                Matrix(p + "ffn_gate.weight", e, ff);
                Matrix(p + "ffn_up.weight", e, ff);
                Matrix(p + "ffn_down.weight", ff, e);
            }
            else
            {
                w.AddTensor(p + "ffn_gate_inp.weight", [e, experts], BenchModelWriter.RandomFloats(seed, index++, e * experts)); // F32, as converted
                Matrix(p + "ffn_gate_exps.weight", e, width, experts);
                Matrix(p + "ffn_up_exps.weight", e, width, experts);
                Matrix(p + "ffn_down_exps.weight", width, e, experts);
                Vector(p + "exp_probs_b.bias", BenchModelWriter.RandomFloats(seed, index, experts));
                Matrix(p + "ffn_gate_shexp.weight", e, width);
                Matrix(p + "ffn_up_shexp.weight", e, width);
                Matrix(p + "ffn_down_shexp.weight", width, e);
            }
            if (i >= layers)
            {
                Matrix(p + "nextn.eh_proj.weight", 2 * e, e);
                Vector(p + "nextn.enorm.weight", BenchModelWriter.Ones(e));
                Vector(p + "nextn.hnorm.weight", BenchModelWriter.Ones(e));
            }
        }
        Vector("output_norm.weight", BenchModelWriter.Ones(e));
        Matrix("output.weight", e, vocab);
        w.WriteTo(path);
    }

    /// <summary>Runs the A/B and writes a table; returns the median ratio batched / per-sequence.</summary>
    public static double Run(string path, int threads, int sequences, int steps, int repetitions, int promptLength, TextWriter output)
    {
        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = threads, ContextSize = promptLength + 2 * steps * (repetitions + 1) + 8 });
        int vocab = model.Info.VocabSize;
        var random = new Random(1234);
        var caches = new KvCache[sequences];
        var logits = new float[sequences * vocab];
        for (int s = 0; s < sequences; s++)
        {
            caches[s] = model.CreateCache(model.Info.ContextSize);
            int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(3, vocab)).ToArray();
            model.Forward(prompt, caches[s], logits.AsSpan(0, vocab));
        }
        int[][] next = Enumerable.Range(0, sequences).Select(_ => new[] { random.Next(3, vocab) }).ToArray();
        var items = new SequenceTokens[sequences];

        double TokensPerSecond(bool batched)
        {
            long start = Stopwatch.GetTimestamp();
            for (int step = 0; step < steps; step++)
            {
                if (batched)
                {
                    for (int s = 0; s < sequences; s++) items[s] = new SequenceTokens(next[s], caches[s]);
                    model.ForwardBatch(items, logits);
                }
                else
                {
                    for (int s = 0; s < sequences; s++) model.Forward(next[s], caches[s], logits.AsSpan(s * vocab, vocab));
                }
                for (int s = 0; s < sequences; s++) next[s][0] = 3 + (next[s][0] * 7919 + s) % (vocab - 3); // varied tokens, so routing varies
            }
            return sequences * steps / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        TokensPerSecond(false); // warm: JIT, pools, scratch
        TokensPerSecond(true);
        var single = new List<double>();
        var batch = new List<double>();
        for (int r = 0; r < repetitions; r++)
        {
            single.Add(TokensPerSecond(false));
            batch.Add(TokensPerSecond(true));
            output.WriteLine($"  run {r + 1}: per-sequence {single[^1]:F1} tok/s, batched {batch[^1]:F1} tok/s");
        }
        double Median(List<double> values)
        {
            var sorted = values.Order().ToList();
            int n = sorted.Count;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
        double ratio = Median(batch.Zip(single, (b, s) => b / s).ToList());
        output.WriteLine($"{Path.GetFileName(path)} ({model.Info.Architecture}), {sequences} sequences × {steps} decode steps, {threads} threads, " +
            $"{repetitions} alternating runs: per-sequence median {Median(single):F1} tok/s, batched median {Median(batch):F1} tok/s, " +
            $"median ratio ×{ratio:F2}");
        return ratio;
    }
}
