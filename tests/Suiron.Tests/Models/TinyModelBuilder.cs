using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Tests.Models;

/// <summary>
/// The shape and options of a tiny random model. Widths are multiples of 256 so every k-quant applies to the
/// main matrices (the qwen3 variant's 128-wide attention output is the exception, which exercises the fallback).
/// </summary>
internal sealed record TinyModelSpec(
    string Name,
    string Architecture,
    int Embedding = 256,
    int Layers = 2,
    int Heads = 4,
    int KvHeads = 2,
    int? KeyLength = null,
    int FeedForward = 768,
    bool TiedOutput = false,
    string? RopeScaling = null,
    float RopeScalingFactor = 0,
    int OriginalContext = 0,
    float FrequencyBase = 10000f,
    int Seed = 1)
{
    public int HeadLength => KeyLength ?? Embedding / Heads;
    public override string ToString() => Name;
}

/// <summary>
/// Writes tiny random GGUF models with our <see cref="GgufWriter"/>: F32 first, then re-encoded to a quantized type
/// by our <see cref="Quantization.Quantize"/>. The tokenizer metadata is copied from stories260K (vocab 512) so that
/// llama.cpp loads the files and tokenizes prompts for them.
/// Weights are N(0, σ) from a fixed seed with σ ≈ 1/√fan-in (0.036–0.0625), so activations keep unit scale through
/// the layers and attention is neither uniform nor one-hot; embedding and output use σ = 0.2 so logits spread over
/// a few units and greedy choices are decisive rather than near-ties.
/// </summary>
internal static class TinyModelBuilder
{
    public const int VocabSize = 512;

    internal static readonly object WriteLock = new();

    public static string Directory { get; } = CreateDirectory();

    private static string CreateDirectory()
    {
        // A folder of this run's own: process ids come back, and a file left by an earlier run (another version of the
        // builder, or of the quantizer) would be taken for this run's model.
        string dir = Path.Combine(Path.GetTempPath(), $"suiron-tiny-models-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        };
        return dir;
    }

    /// <summary>The F32 model of <paramref name="spec"/> (written once per test process).</summary>
    public static string F32(TinyModelSpec spec)
    {
        string path = Path.Combine(Directory, spec.Name + "-F32.gguf");
        lock (WriteLock)
        {
            if (!File.Exists(path)) Write(spec, path);
        }
        return path;
    }

    /// <summary>The model of <paramref name="spec"/> with its 2-D weights quantized to <paramref name="type"/> by our quantizer.</summary>
    public static string Ours(TinyModelSpec spec, TensorType type)
    {
        string source = F32(spec);
        string path = Path.Combine(Directory, $"{spec.Name}-{type}-ours.gguf");
        lock (WriteLock)
        {
            if (!File.Exists(path)) Requantize(source, path, type);
        }
        return path;
    }

    /// <summary>The model of <paramref name="spec"/> quantized by llama.cpp's own quantizer (its per-tensor type choices included).</summary>
    public static string LlamaCpp(TinyModelSpec spec, LLama.Native.LLamaFtype fileType)
    {
        string source = F32(spec);
        string path = Path.Combine(Directory, $"{spec.Name}-{fileType}-llamacpp.gguf");
        lock (WriteLock)
        {
            if (!File.Exists(path) && !ModelQuantization.LlamaCppQuantizer.Quantize(source, path, (Suiron.ModelQuantization.ModelFileType)(int)fileType))
                throw new InvalidOperationException($"llama.cpp failed to quantize {source} to {fileType}");
        }
        return path;
    }

    private static void Write(TinyModelSpec s, string path)
    {
        using var stories = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var random = new Random(s.Seed);
        var w = new GgufWriter();
        string a = s.Architecture;
        w.Set("general.architecture", a);
        w.Set("general.name", s.Name);
        w.Set($"{a}.context_length", 512u);
        w.Set($"{a}.embedding_length", (uint)s.Embedding);
        w.Set($"{a}.block_count", (uint)s.Layers);
        w.Set($"{a}.feed_forward_length", (uint)s.FeedForward);
        w.Set($"{a}.attention.head_count", (uint)s.Heads);
        w.Set($"{a}.attention.head_count_kv", (uint)s.KvHeads);
        w.Set($"{a}.attention.layer_norm_rms_epsilon", 1e-6f);
        w.Set($"{a}.rope.freq_base", s.FrequencyBase);
        if (s.KeyLength is int keyLength)
        {
            w.Set($"{a}.attention.key_length", (uint)keyLength);
            w.Set($"{a}.attention.value_length", (uint)keyLength);
        }
        if (s.RopeScaling is not null)
        {
            w.Set($"{a}.rope.scaling.type", s.RopeScaling);
            w.Set($"{a}.rope.scaling.factor", s.RopeScalingFactor);
            if (s.OriginalContext > 0) w.Set($"{a}.rope.scaling.original_context_length", (uint)s.OriginalContext);
        }
        foreach (string key in stories.MetadataKeys)
            if (key.StartsWith("tokenizer.", StringComparison.Ordinal)) w.Set(key, stories.Metadata[key]);

        int e = s.Embedding, d = s.HeadLength, q = s.Heads * d, kv = s.KvHeads * d, f = s.FeedForward;
        float inputScale = 1f / MathF.Sqrt(e), downScale = 1f / MathF.Sqrt(f), outputScale = 1f / MathF.Sqrt(q);
        w.AddTensor("token_embd.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"blk.{i}.";
            w.AddTensor(p + "attn_norm.weight", [e], NearOne(random, e));
            w.AddTensor(p + "attn_q.weight", [e, q], Gaussian(random, e * q, inputScale));
            w.AddTensor(p + "attn_k.weight", [e, kv], Gaussian(random, e * kv, inputScale));
            w.AddTensor(p + "attn_v.weight", [e, kv], Gaussian(random, e * kv, inputScale));
            w.AddTensor(p + "attn_output.weight", [q, e], Gaussian(random, q * e, outputScale));
            if (a == "qwen2")
            {
                w.AddTensor(p + "attn_q.bias", [q], Gaussian(random, q, 0.1f));
                w.AddTensor(p + "attn_k.bias", [kv], Gaussian(random, kv, 0.1f));
                w.AddTensor(p + "attn_v.bias", [kv], Gaussian(random, kv, 0.1f));
            }
            if (a is "qwen3" or "hunyuan-dense")
            {
                w.AddTensor(p + "attn_q_norm.weight", [d], NearOne(random, d));
                w.AddTensor(p + "attn_k_norm.weight", [d], NearOne(random, d));
            }
            w.AddTensor(p + "ffn_norm.weight", [e], NearOne(random, e));
            w.AddTensor(p + "ffn_gate.weight", [e, f], Gaussian(random, e * f, inputScale));
            w.AddTensor(p + "ffn_up.weight", [e, f], Gaussian(random, e * f, inputScale));
            w.AddTensor(p + "ffn_down.weight", [f, e], Gaussian(random, f * e, downScale));
        }
        w.AddTensor("output_norm.weight", [e], NearOne(random, e));
        if (!s.TiedOutput) w.AddTensor("output.weight", [e, VocabSize], Gaussian(random, e * VocabSize, 0.2f));
        w.WriteTo(path);
    }

    /// <summary>Copies <paramref name="source"/> with every 2-D weight re-encoded; norms, biases and the DeltaNet convolution
    /// taps (<c>ssm_conv1d</c>, which llama-quantize never quantizes) stay F32.</summary>
    internal static void Requantize(string source, string path, TensorType type)
    {
        using var file = GgufFile.Open(source);
        var w = new GgufWriter().CopyMetadataFrom(file);
        foreach (GgufTensorInfo info in file.Tensors)
        {
            Tensor t = file.GetTensor(info);
            var values = new float[t.ElementCount];
            unsafe { Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, (int)t.ByteLength), values); }
            if (info.Shape.Length < 2 || info.Name.EndsWith("ssm_conv1d.weight", StringComparison.Ordinal))
            {
                w.AddTensor(info.Name, info.Shape, values);
                continue;
            }
            TensorType target = TypeFor(type, t.Columns);
            int rowBytes = (int)TensorTypes.RowBytes(target, t.Columns);
            var bytes = new byte[rowBytes * t.Rows];
            for (int r = 0; r < t.Rows; r++)
                Quantization.Quantize(target, values.AsSpan(r * t.Columns, t.Columns), bytes.AsSpan(r * rowBytes, rowBytes));
            w.AddTensor(info.Name, target, info.Shape, bytes);
        }
        w.WriteTo(path);
    }

    /// <summary>llama.cpp's fallback when a row is not a whole number of 256-element super-blocks (k-quants, IQ4_XS, TQ1_0/TQ2_0).</summary>
    public static TensorType TypeFor(TensorType type, int columns) =>
        columns % TensorTypes.BlockSize(type) == 0 ? type : type switch
        {
            TensorType.Q4_K => TensorType.Q5_0,
            TensorType.Q6_K => TensorType.Q8_0,
            TensorType.IQ4_XS => TensorType.IQ4_NL,
            TensorType.TQ1_0 or TensorType.TQ2_0 => TensorType.Q4_0,
            _ => throw new ArgumentException($"{type} cannot encode rows of {columns}"),
        };

    internal static float[] Gaussian(Random random, int count, float sigma)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            // Box–Muller
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(sigma * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    internal static float[] NearOne(Random random, int count)
    {
        float[] values = Gaussian(random, count, 0.1f);
        for (int i = 0; i < count; i++) values[i] += 1f;
        return values;
    }
}
