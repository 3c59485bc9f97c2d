using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// Small random GGUF models whose matrices have rows of 256 or 512 elements, so every k-quant applies without fallback
/// and the mixtures' per-layer choices are really exercised (the shared real models are too narrow for that).
/// Quantization reads only tensor names, row lengths and hyper-parameters, so each matrix keeps its true row length
/// (ggml's ne[0]) but only <see cref="MatrixRows"/> rows: the files are for quantizing, not for running, and stay small
/// enough that a debug build quantizes each in well under a second. The tokenizer comes from stories260K, as
/// llama.cpp's loader expects one.
/// </summary>
internal static class TinyQuantizableModel
{
    public const int MatrixRows = 16;

    /// <summary>
    /// <paramref name="architecture"/>: "llama" (untied output), "qwen2" (tied embeddings, attention biases, 4 query
    /// heads per KV head) or "qwen3moe" (8 experts: llama.cpp's n_expert == 8 rules).
    /// </summary>
    public static void Write(string path, string architecture, int layers, TensorType weightType = TensorType.F32, int seed = 1234)
    {
        using var stories = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var writer = new GgufWriter();
        writer.Set("general.architecture", architecture);
        writer.Set("general.name", $"tiny random {architecture}");

        const int embedding = 256, feedForward = 512, expertFeedForward = 256, experts = 8;
        int heads = architecture == "qwen2" ? 8 : 4;
        int kvHeads = 2;
        int headDim = embedding / heads;
        int vocab = stories.GetRequired("tokenizer.ggml.tokens").ArrayLength;

        string p = architecture + ".";
        writer.Set(p + "context_length", 512u);
        writer.Set(p + "embedding_length", (uint)embedding);
        writer.Set(p + "block_count", (uint)layers);
        writer.Set(p + "feed_forward_length", (uint)feedForward);
        writer.Set(p + "attention.head_count", (uint)heads);
        writer.Set(p + "attention.head_count_kv", (uint)kvHeads);
        writer.Set(p + "rope.dimension_count", (uint)headDim);
        writer.Set(p + "attention.layer_norm_rms_epsilon", 1e-5f);
        if (architecture == "qwen3moe")
        {
            writer.Set(p + "expert_count", (uint)experts);
            writer.Set(p + "expert_used_count", 2u);
            writer.Set(p + "expert_feed_forward_length", (uint)expertFeedForward);
            writer.Set(p + "attention.key_length", (uint)headDim);
            writer.Set(p + "attention.value_length", (uint)headDim);
        }
        writer.Set("general.file_type", weightType == TensorType.F16 ? 1u : 0u);
        foreach (string key in stories.MetadataKeys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)))
            writer.Set(key, stories.Metadata[key]);

        var random = new Random(seed);
        void Matrix(string name, params long[] shape) => writer.AddTensor(name, weightType, shape, Encode(weightType, RandomValues(random, shape, 0.05f)));
        void Vector(string name, int length, float center) =>
            writer.AddTensor(name, [length], RandomValues(random, [length], 0.1f).Select(v => v + center).ToArray());

        const int rows = MatrixRows;
        Matrix("token_embd.weight", embedding, vocab);
        Vector("output_norm.weight", embedding, 1f);
        if (architecture != "qwen2") Matrix("output.weight", embedding, vocab);
        for (int layer = 0; layer < layers; layer++)
        {
            string b = $"blk.{layer}.";
            Vector(b + "attn_norm.weight", embedding, 1f);
            Matrix(b + "attn_q.weight", embedding, rows);
            Matrix(b + "attn_k.weight", embedding, rows);
            Matrix(b + "attn_v.weight", embedding, rows);
            Matrix(b + "attn_output.weight", heads * headDim, rows);
            Vector(b + "ffn_norm.weight", embedding, 1f);
            if (architecture == "qwen2")
            {
                Vector(b + "attn_q.bias", heads * headDim, 0f);
                Vector(b + "attn_k.bias", kvHeads * headDim, 0f);
                Vector(b + "attn_v.bias", kvHeads * headDim, 0f);
            }
            if (architecture == "qwen3moe")
            {
                Vector(b + "attn_q_norm.weight", headDim, 1f);
                Vector(b + "attn_k_norm.weight", headDim, 1f);
                Matrix(b + "ffn_gate_inp.weight", embedding, experts);
                Matrix(b + "ffn_gate_exps.weight", embedding, rows, experts);
                Matrix(b + "ffn_up_exps.weight", embedding, rows, experts);
                Matrix(b + "ffn_down_exps.weight", expertFeedForward, rows, experts);
            }
            else
            {
                Matrix(b + "ffn_gate.weight", embedding, rows);
                Matrix(b + "ffn_up.weight", embedding, rows);
                Matrix(b + "ffn_down.weight", feedForward, rows);
            }
        }
        writer.WriteTo(path);
    }

    /// <summary>Roughly normal values (sum of three uniforms) with the given spread, and an occasional outlier as real weights have.</summary>
    private static float[] RandomValues(Random random, long[] shape, float scale)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            float v = (float)(random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * scale;
            values[i] = random.Next(997) == 0 ? v * 12 : v;
        }
        return values;
    }

    private static byte[] Encode(TensorType type, float[] values)
    {
        var bytes = new byte[TensorTypes.RowBytes(type, values.Length)];
        Quantization.Quantize(type, values, bytes);
        return bytes;
    }
}
