using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.Server.Tests;

/// <summary>Test models: the real stories260K, and copies of it given a chat template and chat special tokens.</summary>
internal static class TestModels
{
    private static readonly object WriteLock = new();
    private static readonly string Directory = CreateDirectory();

    public static string Stories => SharedData.Path("models", "stories260K.gguf");
    public static string TinyRandomLlama => SharedData.Path("models", "llama-2-tiny-random.gguf");

    /// <summary>ChatML whose generation prompt opens a reasoning block, as DeepSeek-R1 distills' templates do.</summary>
    public const string ThinkingChatMl =
        "{%- for message in messages -%}" +
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}" +
        "{%- endfor -%}" +
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>\\n' -}}{%- endif -%}";

    /// <summary>
    /// stories260K with a chat template and ChatML's tokens: the byte-fallback tokens &lt;0x00&gt;..&lt;0x03&gt; (never
    /// produced by English text) become &lt;|im_start|&gt; and &lt;|im_end|&gt; (control; im_end ends a turn) and
    /// &lt;think&gt;, &lt;/think&gt; (user-defined, printed as text). The weights are the real model's.
    /// </summary>
    public static string StoriesWithTemplate(string name, string template) => StoriesWithTemplate(name, template, toolTokens: false);

    /// <summary>As above; <paramref name="toolTokens"/> also makes &lt;0x04&gt;, &lt;0x05&gt; the user-defined &lt;tool_call&gt;, &lt;/tool_call&gt; (Qwen's).</summary>
    public static string StoriesWithTemplate(string name, string template, bool toolTokens)
    {
        string path = Path.Combine(Directory, name + ".gguf");
        lock (WriteLock)
        {
            if (File.Exists(path)) return path;
            using var source = GgufFile.Open(Stories);
            var writer = new GgufWriter().CopyMetadataFrom(source);
            string[] tokens = (string[])source.Metadata["tokenizer.ggml.tokens"].AsArray<string>().Clone();
            int[] types = (int[])source.Metadata["tokenizer.ggml.token_type"].AsInt32Array().Clone();
            (tokens[3], types[3]) = ("<|im_start|>", 3);
            (tokens[4], types[4]) = ("<|im_end|>", 3);
            (tokens[5], types[5]) = ("<think>", 4);
            (tokens[6], types[6]) = ("</think>", 4);
            if (toolTokens)
            {
                (tokens[7], types[7]) = ("<tool_call>", 4);
                (tokens[8], types[8]) = ("</tool_call>", 4);
            }
            writer.Set("tokenizer.ggml.tokens", tokens).Set("tokenizer.ggml.token_type", types).Set("tokenizer.chat_template", template);
            writer.Set("tokenizer.ggml.eot_token_id", 4u);
            foreach (var info in source.Tensors)
            {
                Tensor t = source.GetTensor(info);
                byte[] bytes;
                unsafe { bytes = new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)).ToArray(); }
                writer.AddTensor(info.Name, t.Type, info.Shape, bytes);
            }
            writer.WriteTo(path);
            return path;
        }
    }

    /// <summary>
    /// A tiny random qwen3 model (2 layers, 64 wide, tied embeddings) carrying Qwen3's real tokenizer — the full
    /// 151,669-token vocabulary with its merges, &lt;|im_end|&gt; as end of turn, &lt;tool_call&gt;/&lt;/tool_call&gt; as
    /// user-defined tokens — and chat template, all read from shared/tokenizers/qwen3 as llama.cpp's converter reads them.
    /// Random weights know nothing of tools: whatever parses came from the grammar. Written once per test process.
    /// </summary>
    public static string Qwen3Tiny
    {
        get
        {
            string path = Path.Combine(Directory, "qwen3-tiny.gguf");
            lock (WriteLock)
            {
                if (File.Exists(path)) return path;
                const int embedding = 64, layers = 2, heads = 2, kvHeads = 1, headLength = 32, feedForward = 128;
                var writer = new GgufWriter()
                    .Set("general.architecture", "qwen3")
                    .Set("general.name", "qwen3-tiny (random weights, Qwen3 tokenizer)")
                    .Set("qwen3.context_length", 4096u)
                    .Set("qwen3.embedding_length", (uint)embedding)
                    .Set("qwen3.block_count", (uint)layers)
                    .Set("qwen3.feed_forward_length", (uint)feedForward)
                    .Set("qwen3.attention.head_count", (uint)heads)
                    .Set("qwen3.attention.head_count_kv", (uint)kvHeads)
                    .Set("qwen3.attention.key_length", (uint)headLength)
                    .Set("qwen3.attention.value_length", (uint)headLength)
                    .Set("qwen3.attention.layer_norm_rms_epsilon", 1e-6f)
                    .Set("qwen3.rope.freq_base", 1_000_000f)
                    .SetBpeTokenizer(SharedData.Path("tokenizers", "qwen3"), "qwen2");
                int vocabulary = writer.Get("tokenizer.ggml.tokens")!.ArrayLength;
                var random = new Random(3);
                int q = heads * headLength, kv = kvHeads * headLength;
                // σ = 1/√fan-in keeps activations at unit scale; σ = 0.2 on the (tied) embedding spreads the logits over a few units.
                writer.AddTensor("token_embd.weight", [embedding, vocabulary], Gaussian(random, embedding * vocabulary, 0.2f));
                for (int i = 0; i < layers; i++)
                {
                    string p = $"blk.{i}.";
                    writer.AddTensor(p + "attn_norm.weight", [embedding], Ones(embedding));
                    writer.AddTensor(p + "attn_q.weight", [embedding, q], Gaussian(random, embedding * q, 1 / MathF.Sqrt(embedding)));
                    writer.AddTensor(p + "attn_k.weight", [embedding, kv], Gaussian(random, embedding * kv, 1 / MathF.Sqrt(embedding)));
                    writer.AddTensor(p + "attn_v.weight", [embedding, kv], Gaussian(random, embedding * kv, 1 / MathF.Sqrt(embedding)));
                    writer.AddTensor(p + "attn_q_norm.weight", [headLength], Ones(headLength));
                    writer.AddTensor(p + "attn_k_norm.weight", [headLength], Ones(headLength));
                    writer.AddTensor(p + "attn_output.weight", [q, embedding], Gaussian(random, q * embedding, 1 / MathF.Sqrt(q)));
                    writer.AddTensor(p + "ffn_norm.weight", [embedding], Ones(embedding));
                    writer.AddTensor(p + "ffn_gate.weight", [embedding, feedForward], Gaussian(random, embedding * feedForward, 1 / MathF.Sqrt(embedding)));
                    writer.AddTensor(p + "ffn_up.weight", [embedding, feedForward], Gaussian(random, embedding * feedForward, 1 / MathF.Sqrt(embedding)));
                    writer.AddTensor(p + "ffn_down.weight", [feedForward, embedding], Gaussian(random, feedForward * embedding, 1 / MathF.Sqrt(feedForward)));
                }
                writer.AddTensor("output_norm.weight", [embedding], Ones(embedding));
                writer.WriteTo(path);
                return path;
            }
        }
    }

    /// <summary>
    /// A tiny random bert cross-encoder (2 layers, 64 wide, bge's WordPiece vocabulary from shared/vocab, pooling rank):
    /// a dense + tanh head over [CLS] and a one-score projection, as bge-reranker's. Written once per test process.
    /// </summary>
    public static string BertReranker
    {
        get
        {
            string path = Path.Combine(Directory, "bert-reranker.gguf");
            lock (WriteLock)
            {
                if (File.Exists(path)) return path;
                const int e = 64, layers = 2, f = 128, positions = 512;
                using var vocab = GgufFile.Open(SharedData.Path("vocab", "ggml-vocab-bert-bge.gguf"));
                var w = new GgufWriter()
                    .Set("general.architecture", "bert").Set("general.name", "tiny-bert-reranker")
                    .Set("bert.context_length", (uint)positions).Set("bert.embedding_length", (uint)e).Set("bert.block_count", (uint)layers)
                    .Set("bert.feed_forward_length", (uint)f).Set("bert.attention.head_count", 4u).Set("bert.attention.layer_norm_epsilon", 1e-12f)
                    .Set("bert.attention.causal", false).Set("bert.pooling_type", 4u);
                foreach (string key in vocab.MetadataKeys)
                    if (key.StartsWith("tokenizer.", StringComparison.Ordinal)) w.Set(key, vocab.Metadata[key]);
                int vocabulary = vocab.Metadata["tokenizer.ggml.tokens"].ArrayLength;
                var random = new Random(11);
                float scale = 1 / MathF.Sqrt(e);
                float[] Near1(int n) => Gaussian(random, n, 0.1f).Select(x => 1 + x).ToArray();
                w.AddTensor("token_embd.weight", [e, vocabulary], Gaussian(random, e * vocabulary, 0.5f));
                w.AddTensor("token_types.weight", [e, 2], Gaussian(random, e * 2, 0.5f));
                w.AddTensor("position_embd.weight", [e, positions], Gaussian(random, e * positions, 0.5f));
                w.AddTensor("token_embd_norm.weight", [e], Near1(e));
                w.AddTensor("token_embd_norm.bias", [e], Gaussian(random, e, 0.1f));
                for (int i = 0; i < layers; i++)
                {
                    string p = $"blk.{i}.";
                    foreach (string name in new[] { "attn_q", "attn_k", "attn_v", "attn_output" })
                    {
                        w.AddTensor(p + name + ".weight", [e, e], Gaussian(random, e * e, scale));
                        w.AddTensor(p + name + ".bias", [e], Gaussian(random, e, 0.1f));
                    }
                    w.AddTensor(p + "attn_output_norm.weight", [e], Near1(e));
                    w.AddTensor(p + "attn_output_norm.bias", [e], Gaussian(random, e, 0.1f));
                    w.AddTensor(p + "ffn_up.weight", [e, f], Gaussian(random, e * f, 2 * scale));
                    w.AddTensor(p + "ffn_up.bias", [f], Gaussian(random, f, 0.1f));
                    w.AddTensor(p + "ffn_down.weight", [f, e], Gaussian(random, f * e, 1 / MathF.Sqrt(f)));
                    w.AddTensor(p + "ffn_down.bias", [e], Gaussian(random, e, 0.1f));
                    w.AddTensor(p + "layer_output_norm.weight", [e], Near1(e));
                    w.AddTensor(p + "layer_output_norm.bias", [e], Gaussian(random, e, 0.1f));
                }
                w.AddTensor("cls.weight", [e, e], Gaussian(random, e * e, 2 * scale));
                w.AddTensor("cls.bias", [e], Gaussian(random, e, 0.1f));
                w.AddTensor("cls.output.weight", [e, 1], Gaussian(random, e, scale));
                w.AddTensor("cls.output.bias", [1], Gaussian(random, 1, 0.1f));
                w.WriteTo(path);
                return path;
            }
        }
    }

    /// <summary>
    /// <see cref="BertReranker"/>'s encoder without its classification head, mean-pooled (bert.pooling_type 1): a bert
    /// embedding model. Written once per test process.
    /// </summary>
    public static string BertEmbedder
    {
        get
        {
            string reranker = BertReranker;
            string path = Path.Combine(Directory, "bert-embedder.gguf");
            lock (WriteLock)
            {
                if (File.Exists(path)) return path;
                using var source = GgufFile.Open(reranker);
                var writer = new GgufWriter().CopyMetadataFrom(source).Set("general.name", "tiny-bert-embedder").Set("bert.pooling_type", 1u);
                foreach (var info in source.Tensors)
                {
                    if (info.Name.StartsWith("cls.", StringComparison.Ordinal)) continue;
                    Tensor t = source.GetTensor(info);
                    byte[] bytes;
                    unsafe { bytes = new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)).ToArray(); }
                    writer.AddTensor(info.Name, t.Type, info.Shape, bytes);
                }
                writer.WriteTo(path);
                return path;
            }
        }
    }

    private static float[] Ones(int count) => Enumerable.Repeat(1f, count).ToArray();

    private static float[] Gaussian(Random random, int count, float sigma)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble(); // Box–Muller
            values[i] = (float)(sigma * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    private static string CreateDirectory()
    {
        // A folder of this run's own: process ids come back, and a file left by an earlier run (another version of the
        // builder, or of the quantizer) would be taken for this run's model.
        string dir = Path.Combine(Path.GetTempPath(), $"suiron-server-tests-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        };
        return dir;
    }
}
