using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Xunit;

namespace Suiron.Tests.Models;

public sealed class KvCacheTests
{
    private static readonly int[] Tokens = [1, 403, 407, 261, 378, 425, 259, 394, 278, 313, 261, 366, 394, 407, 435, 261, 279];

    // Same kernels either way, but a batch and a single row may take different SIMD tails; results agree to float noise.
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.F32)]
    public void BatchEqualsTokenByToken(KvCacheType cacheType)
    {
        using var file = GgufFile.Open(TinyModelBuilder.F32(TinyModelOracleTests.Qwen2Yarn));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, CacheType = cacheType });
        int vocab = model.Info.VocabSize;

        var all = new float[Tokens.Length * vocab];
        var batched = model.CreateCache(32);
        model.Forward(Tokens, batched, all, allLogits: true);
        Assert.Equal(Tokens.Length, batched.Count);

        var single = model.CreateCache(32);
        var logits = new float[vocab];
        for (int i = 0; i < Tokens.Length; i++)
        {
            model.Forward(Tokens.AsSpan(i, 1), single, logits);
            double d = ModelAssert.MaxRelativeDifference(logits, all.AsSpan(i * vocab, vocab));
            Assert.True(d <= Tolerance, $"position {i}: {d:E2}");
        }
    }

    [Fact]
    public void TruncateAndReevaluateReproduces()
    {
        using var file = GgufFile.Open(TinyModelBuilder.F32(TinyModelOracleTests.Llama));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2 });
        int vocab = model.Info.VocabSize;
        var cache = model.CreateCache(32);
        var expected = new float[vocab];
        model.Forward(Tokens, cache, expected);

        cache.Truncate(5);
        Assert.Equal(5, cache.Count);
        var again = new float[vocab];
        model.Forward(Tokens.AsSpan(5), cache, again);
        Assert.True(ModelAssert.MaxRelativeDifference(again, expected) <= Tolerance);

        // A different suffix after the shared prefix overwrites the dropped positions.
        cache.Truncate(5);
        model.Forward([300, 301], cache, again);
        cache.Truncate(5);
        model.Forward(Tokens.AsSpan(5), cache, again);
        Assert.True(ModelAssert.MaxRelativeDifference(again, expected) <= Tolerance);

        cache.Clear();
        Assert.Equal(0, cache.Count);
        model.Forward(Tokens, cache, again);
        Assert.True(ModelAssert.MaxRelativeDifference(again, expected) <= Tolerance);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(Tokens.Length + 1));
    }

    [Fact]
    public void OverflowThrowsAndLeavesCacheIntact()
    {
        using var file = GgufFile.Open(TinyModelBuilder.F32(TinyModelOracleTests.Llama));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2 });
        var logits = new float[model.Info.VocabSize];
        var cache = model.CreateCache(8);
        model.Forward(Tokens.AsSpan(0, 6), cache, logits);
        float[] before = (float[])logits.Clone();

        var e = Assert.Throws<InvalidOperationException>(() => model.Forward(Tokens.AsSpan(6, 3), cache, logits));
        Assert.Contains("KV cache is full", e.Message);
        Assert.Equal(6, cache.Count);

        // The cache still works: the two remaining positions can be filled.
        cache.Truncate(5);
        model.Forward(Tokens.AsSpan(5, 1), cache, logits);
        Assert.Equal(before, logits);
        model.Forward(Tokens.AsSpan(6, 2), cache, logits);
        Assert.Equal(8, cache.Count);
        Assert.Throws<InvalidOperationException>(() => model.Forward(Tokens.AsSpan(8, 1), cache, logits));
    }

    [Fact]
    public void BytesPerTokenIsExact()
    {
        using var file = GgufFile.Open(TinyModelBuilder.F32(TinyModelOracleTests.Qwen3));
        using var f16 = ModelLoader.Load(file, new ModelOptions { Threads = 1 });
        using var f32 = ModelLoader.Load(file, new ModelOptions { Threads = 1, CacheType = KvCacheType.F32 });
        // 2 layers × 2 kv heads × (32 + 32) elements
        Assert.Equal(2 * 2 * 64 * 2, f16.Info.KvCacheBytesPerToken);
        Assert.Equal(2 * 2 * 64 * 4, f32.Info.KvCacheBytesPerToken);
        Assert.Equal(f16.Info.KvCacheBytesPerToken, f16.CreateCache(4).BytesPerToken);
        Assert.Equal(512, f16.Info.VocabSize);
        Assert.Equal(512, f16.Info.ContextLength);
    }

    /// <summary>A cache written and read back continues exactly as the original: the same logits, bit for bit.</summary>
    [Theory]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.F32)]
    public void ASavedCacheReadBackContinuesIdentically(KvCacheType cacheType)
    {
        using var file = GgufFile.Open(TinyModelBuilder.F32(TinyModelOracleTests.Llama));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, CacheType = cacheType });
        int vocab = model.Info.VocabSize;
        var original = model.CreateCache(32);
        var scratch = new float[vocab];
        model.Forward(Tokens.AsSpan(0, 9), original, scratch);

        using var saved = new MemoryStream();
        original.WriteTo(saved);
        var restored = model.CreateCache(32);
        model.Forward([5, 6, 7], restored, scratch); // old contents, replaced by the read
        saved.Position = 0;
        restored.ReadFrom(saved);
        Assert.Equal(9, restored.Count);

        var expected = new float[vocab];
        var actual = new float[vocab];
        model.Forward(Tokens.AsSpan(9), original, expected);
        model.Forward(Tokens.AsSpan(9), restored, actual);
        Assert.Equal(expected, actual);

        // A cache of another type, a cut file, a capacity too small: refused, the cache left empty.
        using var other = ModelLoader.Load(file, new ModelOptions { Threads = 1, CacheType = cacheType == KvCacheType.F16 ? KvCacheType.F32 : KvCacheType.F16 });
        var foreign = other.CreateCache(32);
        saved.Position = 0;
        Assert.Throws<InvalidDataException>(() => foreign.ReadFrom(saved));
        Assert.Equal(0, foreign.Count);
        using var cut = new MemoryStream(saved.ToArray()[..(int)(saved.Length / 2)]);
        Assert.Throws<InvalidDataException>(() => restored.ReadFrom(cut));
        Assert.Equal(0, restored.Count);
        saved.Position = 0;
        Assert.Throws<InvalidDataException>(() => model.CreateCache(8).ReadFrom(saved));
    }
}
