using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Models;

public sealed class ModelLoadErrorTests
{
    /// <summary>A copy of the tiny llama F32 model with <paramref name="edit"/> applied to its metadata and tensors.</summary>
    private static string Variant(string name, Action<GgufWriter, GgufFile, Func<GgufTensorInfo, bool>> edit)
    {
        string source = TinyModelBuilder.F32(TinyModelOracleTests.Llama);
        string path = Path.Combine(TinyModelBuilder.Directory, $"broken-{name}.gguf");
        using var file = GgufFile.Open(source);
        var w = new GgufWriter().CopyMetadataFrom(file);
        edit(w, file, info =>
        {
            Tensor t = file.GetTensor(info);
            unsafe { w.AddTensor(info.Name, info.Type, info.Shape, new ReadOnlySpan<byte>(t.Data, (int)t.ByteLength).ToArray()); }
            return true;
        });
        w.WriteTo(path);
        return path;
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        string path = Variant("missing", (w, file, copy) =>
        {
            foreach (var t in file.Tensors) if (t.Name != "blk.1.ffn_up.weight") copy(t);
        });
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<GgufException>(() => ModelLoader.Load(file));
        Assert.Contains("blk.1.ffn_up.weight", e.Message);
    }

    [Fact]
    public void TensorTheArchitectureDoesNotUseIsRefusedNotIgnored()
    {
        // An output-projection bias the llama decoder has no place for: ignoring it would give wrong logits silently,
        // so the load fails naming it (llama.cpp refuses files with tensors it did not load as well).
        string path = Variant("extra", (w, file, copy) =>
        {
            foreach (var t in file.Tensors) copy(t);
            w.AddTensor("blk.0.attn_output.bias", [256], new float[256]);
        });
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<GgufException>(() => ModelLoader.Load(file));
        Assert.Contains("blk.0.attn_output.bias", e.Message);
        Assert.Contains("not used", e.Message);
    }

    [Fact]
    public void LlamaTakesOptionalQueryKeyValueBiasesAsLlamaCppDoes()
    {
        var random = new Random(5);
        string path = Variant("llama-qkv-bias", (w, file, copy) =>
        {
            foreach (var t in file.Tensors) copy(t);
            foreach (var (name, width) in new[] { ("attn_q", 256), ("attn_k", 128), ("attn_v", 128) })
                for (int layer = 0; layer < 2; layer++)
                    w.AddTensor($"blk.{layer}.{name}.bias", [width], TinyModelBuilder.Gaussian(random, width, 0.5f));
        });
        using (var file = GgufFile.Open(path))
        using (var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, CacheType = KvCacheType.F32 }))
        using (var oracle = new LlamaCppOracle(path, f32Cache: true))
        {
            int[] prompt = oracle.Tokenize("Once upon a time there was");
            float[] expected = oracle.Evaluate(prompt);
            var logits = new float[model.Info.VocabSize];
            model.Forward(prompt, model.CreateCache(64), logits);
            Assert.True(ModelAssert.MaxRelativeDifference(logits, expected) < 1e-5, "logits differ from llama.cpp's");
        }
    }

    [Fact]
    public void WrongShapeIsNamed()
    {
        string path = Variant("shape", (w, file, copy) =>
        {
            foreach (var t in file.Tensors)
            {
                if (t.Name == "blk.0.attn_k.weight") w.AddTensor(t.Name, [256, 64], new float[256 * 64]); // 1 kv head instead of 2
                else copy(t);
            }
        });
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<GgufException>(() => ModelLoader.Load(file));
        Assert.Contains("blk.0.attn_k.weight", e.Message);
        Assert.Contains("[256, 64]", e.Message);
        Assert.Contains("[256, 128]", e.Message);
    }

    [Fact]
    public void UnknownArchitectureIsNamed()
    {
        string path = Variant("arch", (w, file, copy) =>
        {
            w.Set("general.architecture", "mamba9");
            foreach (var t in file.Tensors) copy(t);
        });
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<GgufException>(() => ModelLoader.Load(file));
        Assert.Contains("mamba9", e.Message);
        Assert.Contains("llama", e.Message);
    }

    [Fact]
    public void MissingHyperParameterIsNamed()
    {
        string path = Variant("no-eps", (w, file, copy) =>
        {
            foreach (var t in file.Tensors) copy(t);
        });
        // GgufWriter cannot remove a key; write a fresh copy without it.
        using (var source = GgufFile.Open(path))
        {
            var w = new GgufWriter();
            foreach (string key in source.MetadataKeys)
                if (key != "llama.attention.layer_norm_rms_epsilon") w.Set(key, source.Metadata[key]);
            foreach (var info in source.Tensors)
            {
                Tensor t = source.GetTensor(info);
                unsafe { w.AddTensor(info.Name, info.Type, info.Shape, new ReadOnlySpan<byte>(t.Data, (int)t.ByteLength).ToArray()); }
            }
            w.WriteTo(path + ".2");
        }
        using var file = GgufFile.Open(path + ".2");
        var e = Assert.Throws<GgufException>(() => ModelLoader.Load(file));
        Assert.Contains("llama.attention.layer_norm_rms_epsilon", e.Message);
    }

    /// <summary>
    /// Hyper-parameters no file could hold: each is refused by name before anything is sized from it (a block count
    /// of 2³¹−1 used to allocate the per-block array and die of OutOfMemoryException; a uint32 width ≥ 2³¹ overflowed
    /// an int cast without naming the key).
    /// </summary>
    [Theory]
    [InlineData("llama.block_count", 2147483647L, "more blocks than")]
    [InlineData("llama.embedding_length", 2147483648L, "out of range")]
    [InlineData("llama.embedding_length", 4294967295L, "out of range")]
    [InlineData("llama.embedding_length", 1048576L, "does not match token_embd.weight")]
    [InlineData("llama.attention.head_count", 100000L, "out of range")]
    [InlineData("llama.attention.head_count_kv", 0L, "must be positive")]
    [InlineData("llama.feed_forward_length", 2000000L, "out of range")]
    [InlineData("llama.context_length", 2147483647L, "out of range")]
    [InlineData("llama.expert_count", 2147483647L, "out of range")]
    [InlineData("llama.rope.dimension_count", -2L, "out of range")]
    public void ImpossibleHyperParameterIsNamedBeforeAnyAllocation(string key, long value, string expected)
    {
        string path = Variant($"hparam-{key}-{value}", (w, file, copy) =>
        {
            w.Set(key, value is >= 0 and <= uint.MaxValue ? new GgufValue(GgufValueType.UInt32, (uint)value) : new GgufValue(GgufValueType.Int64, value));
            foreach (var t in file.Tensors) copy(t);
        });
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<GgufException>(() => ModelLoader.Load(file));
        Assert.Contains(key, e.Message);
        Assert.Contains(expected, e.Message);
    }
}
