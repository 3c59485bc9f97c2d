namespace Suiron.Inference;

/// <summary>
/// Element type of the keys or of the values a <see cref="KvCache"/> stores (chosen separately for each, as
/// llama.cpp's <c>--cache-type-k</c> / <c>--cache-type-v</c>).
/// </summary>
public enum KvCacheType
{
    /// <summary>Half precision, llama.cpp's default: half the memory of F32 and the numerics the oracle tests compare against.</summary>
    F16,
    /// <summary>Single precision: twice the memory, no rounding of keys, values, queries or attention weights.</summary>
    F32,
    /// <summary>
    /// ggml Q8_0 blocks (32 int8 quants + one F16 scale, 34 bytes per 32 elements): 53 % of the F16 cache's memory.
    /// Needs a head length that is a multiple of 32. Keys: the query is quantized to Q8_0 and each score is the
    /// Q8_0·Q8_0 dot, as ggml computes it. Values: dequantized and accumulated in F32 with an online softmax, as
    /// ggml's CPU flash attention does (llama.cpp accepts a quantized V cache only with flash attention).
    /// </summary>
    Q8_0,
}

/// <summary>Names of cache types as llama.cpp's command line spells them (<c>f32</c>, <c>f16</c>, <c>q8_0</c>).</summary>
public static class KvCacheTypes
{
    /// <summary>The types a user can choose, in llama.cpp's spelling.</summary>
    public static IReadOnlyList<string> Names { get; } = ["f32", "f16", "q8_0"];

    /// <summary>llama.cpp's name of <paramref name="type"/>.</summary>
    public static string Name(KvCacheType type) => type switch
    {
        KvCacheType.F16 => "f16",
        KvCacheType.F32 => "f32",
        KvCacheType.Q8_0 => "q8_0",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown KV cache type."),
    };

    /// <summary>Parses llama.cpp's spelling (case-insensitive); throws with the accepted names otherwise.</summary>
    public static KvCacheType Parse(string name, string option = "cache type") => TryParse(name, out KvCacheType type)
        ? type
        : throw new ArgumentException($"Unsupported {option} '{name}': use one of {string.Join(", ", Names)}.", nameof(name));

    /// <summary>The cache type named <paramref name="name"/> (f32, f16, q8_0, as llama.cpp spells them), if it is one.</summary>
    public static bool TryParse(string? name, out KvCacheType type)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "f16": type = KvCacheType.F16; return true;
            case "f32": type = KvCacheType.F32; return true;
            case "q8_0": type = KvCacheType.Q8_0; return true;
            default: type = default; return false;
        }
    }

    /// <summary>Bytes that <paramref name="elements"/> elements (a multiple of 32 for Q8_0) take in <paramref name="type"/>.</summary>
    public static long Bytes(KvCacheType type, long elements) => type switch
    {
        KvCacheType.F16 => elements * 2,
        KvCacheType.F32 => elements * 4,
        KvCacheType.Q8_0 => elements / 32 * 34,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown KV cache type."),
    };
}
