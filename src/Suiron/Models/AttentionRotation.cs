using Suiron.Inference;
using Suiron.Kernels;

namespace Suiron.Models;

/// <summary>
/// llama.cpp's attention rotation for quantized KV caches (ggml-org/llama.cpp#21038, on by default since 2026-04):
/// queries and keys, and separately values, are multiplied by an orthonormal Walsh–Hadamard matrix before the cache
/// quantizes them, which spreads a head's outlier channels over all its elements so that Q8_0's per-block scale loses
/// less. Attention is unchanged in exact arithmetic — q·k = (Hq)·(Hk) because HᵀH = I, and Σ p·(Hv) = H·Σ p·v, undone
/// by H once more on the attention output — so only the quantization error differs.
/// Where and when, as llama.cpp (llama-kv-cache.cpp, llama-graph.cpp <c>build_attn</c>):
/// <list type="bullet">
/// <item>Keys: when the key cache is quantized and the key head length is a multiple of 64. Queries and keys are
/// rotated after QK-norm and RoPE, just before the keys are stored; blocks of the largest power of two ≥ 64 that
/// divides the head length (64 for a 64- or 192-element head, 128 for 128, 256 for 256).</item>
/// <item>Values: when the value cache is quantized and the value head length is a multiple of 64. Values are rotated
/// before they are stored and the attention output (per query head, before the output projection) is rotated back;
/// always 64-element blocks (llama.cpp measured smaller value blocks to be better).</item>
/// </list>
/// F16 and F32 caches are never rotated. <c>LLAMA_ATTN_ROT_DISABLE=1</c> (llama.cpp's switch, read here too) or
/// <see cref="ModelOptions.AttentionRotation"/> = false turns it off.
/// </summary>
internal readonly record struct AttentionRotation(int KeyBlock, int ValueBlock)
{
    /// <summary>Elements per rotation block below which llama.cpp does not rotate, and which every rotated head length is a multiple of.</summary>
    internal const int MinimumBlock = 64;

    /// <summary>No rotation.</summary>
    public static AttentionRotation None => default;

    public bool RotatesKeys => KeyBlock > 0;
    public bool RotatesValues => ValueBlock > 0;
    public bool Any => RotatesKeys || RotatesValues;

    /// <summary>The rotation llama.cpp applies for these head lengths and cache types (none when <paramref name="enabled"/> is false).</summary>
    public static AttentionRotation For(int keyLength, int valueLength, KvCacheType keyType, KvCacheType valueType, bool enabled, int keyBlockOverride = 0)
    {
        if (!enabled) return None;
        int keyBlock = IsQuantized(keyType) && keyLength > 0 && keyLength % MinimumBlock == 0
            ? keyBlockOverride > 0 ? keyBlockOverride : LargestPowerOfTwoBlock(keyLength) : 0;
        int valueBlock = IsQuantized(valueType) && valueLength > 0 && valueLength % MinimumBlock == 0 ? MinimumBlock : 0;
        return new AttentionRotation(keyBlock, valueBlock);
    }

    /// <summary>The largest 64·2^k that divides <paramref name="headLength"/> (a multiple of 64).</summary>
    internal static int LargestPowerOfTwoBlock(int headLength)
    {
        int block = MinimumBlock;
        while (headLength % (2 * block) == 0) block *= 2;
        return block;
    }

    private static bool IsQuantized(KvCacheType type) => type is not (KvCacheType.F16 or KvCacheType.F32);

    /// <summary>Rotates query and key rows (whole heads, any number of rows) in place, if keys are rotated.</summary>
    public void RotateQueriesAndKeys(Span<float> queries, Span<float> keys)
    {
        if (!RotatesKeys) return;
        Hadamard.Rotate(queries, KeyBlock);
        Hadamard.Rotate(keys, KeyBlock);
    }

    /// <summary>Rotates value rows in place before they are stored, if values are rotated.</summary>
    public void RotateValues(Span<float> values)
    {
        if (RotatesValues) Hadamard.Rotate(values, ValueBlock);
    }

    /// <summary>Rotates the attention output (rows of query heads × value length) back, if values are rotated.</summary>
    public void RotateOutputBack(Span<float> attended)
    {
        if (RotatesValues) Hadamard.Rotate(attended, ValueBlock); // H/√n is its own inverse
    }

    /// <summary>How it reads in <c>suiron info</c> and the bench header.</summary>
    public override string ToString() => !Any ? "off"
        : RotatesKeys && RotatesValues ? $"q,k Hadamard {KeyBlock}, v {ValueBlock}"
        : RotatesKeys ? $"q,k Hadamard {KeyBlock}" : $"v Hadamard {ValueBlock}";
}
