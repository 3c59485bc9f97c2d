namespace Suiron.Inference;

/// <summary>Element type of the keys and values a <see cref="KvCache"/> stores.</summary>
public enum KvCacheType
{
    /// <summary>Half precision, llama.cpp's default: half the memory of F32 and the numerics the oracle tests compare against.</summary>
    F16,
    /// <summary>Single precision: twice the memory, no rounding of keys, values, queries or attention weights.</summary>
    F32,
}
