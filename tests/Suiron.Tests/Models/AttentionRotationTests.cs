using Suiron.Inference;
using Suiron.Models;
using Xunit;

namespace Suiron.Tests.Models;

/// <summary>When llama.cpp rotates (llama-kv-cache.cpp: a quantized type and a head length that is a multiple of 64) and in which blocks.</summary>
public sealed class AttentionRotationTests
{
    [Theory]
    [InlineData(64, 64)]
    [InlineData(128, 128)]
    [InlineData(192, 64)]   // 3 × 64: the largest power-of-two block dividing it is 64
    [InlineData(256, 256)]
    [InlineData(320, 64)]
    [InlineData(384, 128)]
    public void KeysRotateInTheLargestPowerOfTwoBlockOfAtLeast64(int keyLength, int expected)
    {
        var rotation = AttentionRotation.For(keyLength, keyLength, KvCacheType.Q8_0, KvCacheType.Q8_0, enabled: true);
        Assert.Equal(expected, rotation.KeyBlock);
        Assert.Equal(64, rotation.ValueBlock); // values: always 64
    }

    [Theory]
    [InlineData(32, 32, KvCacheType.Q8_0, KvCacheType.Q8_0, 0, 0)]   // heads shorter than 64
    [InlineData(96, 96, KvCacheType.Q8_0, KvCacheType.Q8_0, 0, 0)]   // not a multiple of 64
    [InlineData(128, 128, KvCacheType.F16, KvCacheType.F16, 0, 0)]   // unquantized caches
    [InlineData(128, 128, KvCacheType.F32, KvCacheType.Q8_0, 0, 64)] // each side on its own type
    [InlineData(128, 128, KvCacheType.Q8_0, KvCacheType.F16, 128, 0)]
    [InlineData(128, 96, KvCacheType.Q8_0, KvCacheType.Q8_0, 128, 0)] // and its own head length
    public void OnlyQuantizedCachesWithHeadsOfMultiplesOf64Rotate(int keyLength, int valueLength, KvCacheType keyType, KvCacheType valueType, int keyBlock, int valueBlock)
    {
        Assert.Equal(new AttentionRotation(keyBlock, valueBlock), AttentionRotation.For(keyLength, valueLength, keyType, valueType, enabled: true));
        Assert.Equal(AttentionRotation.None, AttentionRotation.For(keyLength, valueLength, keyType, valueType, enabled: false));
    }

    /// <summary>llama.cpp reads LLAMA_ATTN_ROT_DISABLE with atoi: a leading integer, else 0.</summary>
    [Theory]
    [InlineData(null, 0)]
    [InlineData("", 0)]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData(" 2x", 2)]
    [InlineData("-1", -1)]
    [InlineData("yes", 0)]
    public void TheSwitchIsReadAsAtoi(string? text, long expected) => Assert.Equal(expected, ModelOptions.LeadingInteger(text));
}
