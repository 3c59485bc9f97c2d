using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.Tests.Models;

/// <summary>
/// Tiny random embedding models written by our <see cref="GgufWriter"/>: a <c>bert</c> encoder with the bge WordPiece
/// vocabulary (30522 tokens, copied from ggml-vocab-bert-bge.gguf so llama.cpp loads and tokenizes it), narrow enough
/// to run in milliseconds (64 wide, 2 layers, 4 heads, FFN 128, 2 token types, 512 positions), and decoder files
/// re-written with a <c>{arch}.pooling_type</c>. Weights are N(0, σ ≈ 1/√fan-in) from a fixed seed; biases and
/// norm shifts N(0, 0.1), norm scales 1 + N(0, 0.1), so every term of the forward pass matters.
/// </summary>
internal static class EmbeddingModelBuilder
{
    public const int Embedding = 64, Layers = 2, Heads = 4, FeedForward = 128, TokenTypes = 2, Positions = 512;

    /// <summary>The bert model with <paramref name="pooling"/> (1 mean, 2 cls, 0 none), F32, or with its matrices in <paramref name="type"/>.</summary>
    public static string Bert(int pooling, TensorType type = TensorType.F32, bool fusedQkv = false)
    {
        string name = $"bert-pool{pooling}{(fusedQkv ? "-qkv" : "")}";
        string f32 = Path.Combine(TinyModelBuilder.Directory, name + "-F32.gguf");
        lock (TinyModelBuilder.WriteLock)
        {
            if (!File.Exists(f32)) WriteBert(f32, pooling, fusedQkv);
        }
        if (type == TensorType.F32) return f32;
        string path = Path.Combine(TinyModelBuilder.Directory, $"{name}-{type}.gguf");
        lock (TinyModelBuilder.WriteLock)
        {
            if (!File.Exists(path)) Requantize(f32, path, type);
        }
        return path;
    }

    /// <summary>
    /// The bert model as a cross-encoder reranker (pooling rank, 4): with <paramref name="dense"/> a RoBERTa-style head
    /// (<c>cls</c> 64→64 + tanh, then <c>cls.output</c> 64→1, as bge-reranker), else the single projection
    /// <c>cls.output</c> 64→1. Encoder weights are the same as the embedding model's.
    /// </summary>
    public static string BertReranker(bool dense)
    {
        string path = Path.Combine(TinyModelBuilder.Directory, $"bert-rerank{(dense ? "-dense" : "")}-F32.gguf");
        lock (TinyModelBuilder.WriteLock)
        {
            if (!File.Exists(path)) WriteBert(path, pooling: 4, fusedQkv: false, classifier: dense ? 2 : 1);
        }
        return path;
    }

    /// <summary>
    /// Like <see cref="TinyModelBuilder.Requantize"/>, but token_types stays F32 as llama.cpp's converter leaves it
    /// (its CPU add of that row to the F32 embeddings has no F16 operand).
    /// </summary>
    private static void Requantize(string source, string path, TensorType type)
    {
        using var file = GgufFile.Open(source);
        var w = new GgufWriter().CopyMetadataFrom(file);
        foreach (GgufTensorInfo info in file.Tensors)
        {
            Tensor t = file.GetTensor(info);
            var values = new float[t.ElementCount];
            unsafe { Suiron.Kernels.Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, (int)t.ByteLength), values); }
            if (info.Shape.Length < 2 || info.Name == "token_types.weight")
            {
                w.AddTensor(info.Name, info.Shape, values);
                continue;
            }
            int rowBytes = (int)TensorTypes.RowBytes(type, t.Columns);
            var bytes = new byte[rowBytes * t.Rows];
            for (int r = 0; r < t.Rows; r++)
                Suiron.Kernels.Quantization.Quantize(type, values.AsSpan(r * t.Columns, t.Columns), bytes.AsSpan(r * rowBytes, rowBytes));
            w.AddTensor(info.Name, type, info.Shape, bytes);
        }
        w.WriteTo(path);
    }

    /// <summary>
    /// The tiny qwen3 model as a Qwen3-Reranker is converted for llama.cpp: pooling rank, <c>cls.output.weight</c> the
    /// output rows of two tokens ("yes", "no"), and the reranking prompt as <c>tokenizer.chat_template.rerank</c>.
    /// </summary>
    public static string Qwen3Reranker(int yes, int no)
    {
        string source = TinyModelBuilder.F32(TinyModelOracleTests.Qwen3);
        string path = Path.Combine(TinyModelBuilder.Directory, $"qwen3-rerank-{yes}-{no}.gguf");
        lock (TinyModelBuilder.WriteLock)
        {
            if (File.Exists(path)) return path;
            using var file = GgufFile.Open(source);
            var w = new GgufWriter().CopyMetadataFrom(file);
            w.Set("qwen3.pooling_type", 4u);
            w.Set("qwen3.classifier.output_labels", new[] { "yes", "no" });
            w.Set("tokenizer.chat_template.rerank", "<|im_start|>system\nJudge.<|im_end|>\n<|im_start|>user\n<Query>: {query}\n<Document>: {document}<|im_end|>\n<|im_start|>assistant\n");
            float[]? head = null;
            foreach (GgufTensorInfo info in file.Tensors)
            {
                Tensor t = file.GetTensor(info);
                byte[] bytes;
                unsafe { bytes = new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)).ToArray(); }
                w.AddTensor(info.Name, t.Type, info.Shape, bytes);
                if (info.Name == "token_embd.weight") // tied output: its rows are the output head's
                {
                    int width = (int)t.Columns;
                    var rows = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes);
                    head = [.. rows.Slice(yes * width, width), .. rows.Slice(no * width, width)];
                }
            }
            w.AddTensor("cls.output.weight", [head!.Length / 2, 2], head);
            w.WriteTo(path);
        }
        return path;
    }

    /// <summary>A copy of <paramref name="source"/> with <c>{arch}.pooling_type</c> = <paramref name="pooling"/>.</summary>
    public static string WithPooling(string source, int pooling)
    {
        string path = Path.Combine(TinyModelBuilder.Directory, Path.GetFileNameWithoutExtension(source) + $"-pool{pooling}.gguf");
        lock (TinyModelBuilder.WriteLock)
        {
            if (File.Exists(path)) return path;
            using var file = GgufFile.Open(source);
            var w = new GgufWriter().CopyMetadataFrom(file);
            w.Set(file.Architecture + ".pooling_type", (uint)pooling);
            foreach (GgufTensorInfo info in file.Tensors)
            {
                Tensor t = file.GetTensor(info);
                byte[] bytes;
                unsafe { bytes = new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)).ToArray(); }
                w.AddTensor(info.Name, t.Type, info.Shape, bytes);
            }
            w.WriteTo(path);
        }
        return path;
    }

    private static void WriteBert(string path, int pooling, bool fusedQkv, int classifier = 0)
    {
        using var vocab = GgufFile.Open(SharedData.Path("vocab", "ggml-vocab-bert-bge.gguf"));
        var random = new Random(7); // same weights for every pooling and layout
        var w = new GgufWriter();
        const string a = "bert";
        w.Set("general.architecture", a);
        w.Set("general.name", "tiny-bert");
        w.Set($"{a}.context_length", (uint)Positions);
        w.Set($"{a}.embedding_length", (uint)Embedding);
        w.Set($"{a}.block_count", (uint)Layers);
        w.Set($"{a}.feed_forward_length", (uint)FeedForward);
        w.Set($"{a}.attention.head_count", (uint)Heads);
        w.Set($"{a}.attention.layer_norm_epsilon", 1e-12f);
        w.Set($"{a}.attention.causal", false);
        w.Set($"{a}.pooling_type", (uint)pooling);
        foreach (string key in vocab.MetadataKeys)
            if (key.StartsWith("tokenizer.", StringComparison.Ordinal)) w.Set(key, vocab.Metadata[key]);
        int vocabSize = vocab.Metadata["tokenizer.ggml.tokens"].ArrayLength;

        int e = Embedding, f = FeedForward;
        float inputScale = 1f / MathF.Sqrt(e), downScale = 1f / MathF.Sqrt(f);
        w.AddTensor("token_embd.weight", [e, vocabSize], TinyModelBuilder.Gaussian(random, e * vocabSize, 0.5f));
        w.AddTensor("token_types.weight", [e, TokenTypes], TinyModelBuilder.Gaussian(random, e * TokenTypes, 0.5f));
        w.AddTensor("position_embd.weight", [e, Positions], TinyModelBuilder.Gaussian(random, e * Positions, 0.5f));
        w.AddTensor("token_embd_norm.weight", [e], TinyModelBuilder.NearOne(random, e));
        w.AddTensor("token_embd_norm.bias", [e], TinyModelBuilder.Gaussian(random, e, 0.1f));
        for (int i = 0; i < Layers; i++)
        {
            string p = $"blk.{i}.";
            float[] q = TinyModelBuilder.Gaussian(random, e * e, inputScale), qb = TinyModelBuilder.Gaussian(random, e, 0.1f);
            float[] k = TinyModelBuilder.Gaussian(random, e * e, inputScale), kb = TinyModelBuilder.Gaussian(random, e, 0.1f);
            float[] v = TinyModelBuilder.Gaussian(random, e * e, inputScale), vb = TinyModelBuilder.Gaussian(random, e, 0.1f);
            if (fusedQkv)
            {
                w.AddTensor(p + "attn_qkv.weight", [e, 3 * e], [.. q, .. k, .. v]);
                w.AddTensor(p + "attn_qkv.bias", [3 * e], [.. qb, .. kb, .. vb]);
            }
            else
            {
                w.AddTensor(p + "attn_q.weight", [e, e], q);
                w.AddTensor(p + "attn_q.bias", [e], qb);
                w.AddTensor(p + "attn_k.weight", [e, e], k);
                w.AddTensor(p + "attn_k.bias", [e], kb);
                w.AddTensor(p + "attn_v.weight", [e, e], v);
                w.AddTensor(p + "attn_v.bias", [e], vb);
            }
            w.AddTensor(p + "attn_output.weight", [e, e], TinyModelBuilder.Gaussian(random, e * e, inputScale));
            w.AddTensor(p + "attn_output.bias", [e], TinyModelBuilder.Gaussian(random, e, 0.1f));
            w.AddTensor(p + "attn_output_norm.weight", [e], TinyModelBuilder.NearOne(random, e));
            w.AddTensor(p + "attn_output_norm.bias", [e], TinyModelBuilder.Gaussian(random, e, 0.1f));
            w.AddTensor(p + "ffn_up.weight", [e, f], TinyModelBuilder.Gaussian(random, e * f, inputScale * 2f)); // pre-GELU values of a few units reach the table's whole range
            w.AddTensor(p + "ffn_up.bias", [f], TinyModelBuilder.Gaussian(random, f, 0.1f));
            w.AddTensor(p + "ffn_down.weight", [f, e], TinyModelBuilder.Gaussian(random, f * e, downScale));
            w.AddTensor(p + "ffn_down.bias", [e], TinyModelBuilder.Gaussian(random, e, 0.1f));
            w.AddTensor(p + "layer_output_norm.weight", [e], TinyModelBuilder.NearOne(random, e));
            w.AddTensor(p + "layer_output_norm.bias", [e], TinyModelBuilder.Gaussian(random, e, 0.1f));
        }
        if (classifier == 2)
        {
            w.AddTensor("cls.weight", [e, e], TinyModelBuilder.Gaussian(random, e * e, inputScale * 2f)); // tanh sees values of a few units
            w.AddTensor("cls.bias", [e], TinyModelBuilder.Gaussian(random, e, 0.1f));
        }
        if (classifier >= 1)
        {
            w.AddTensor("cls.output.weight", [e, 1], TinyModelBuilder.Gaussian(random, e, inputScale));
            w.AddTensor("cls.output.bias", [1], TinyModelBuilder.Gaussian(random, 1, 0.1f));
        }
        w.WriteTo(path);
    }
}
