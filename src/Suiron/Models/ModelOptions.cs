using Suiron.Inference;

namespace Suiron.Models;

/// <summary>How to run a model: threads, context and cache precision. Architecture choices come from the file.</summary>
public sealed record ModelOptions
{
    /// <summary>Upper bound of the context a model gets when <see cref="ContextSize"/> is 0: trained contexts of 128K
    /// tokens would otherwise reserve gigabytes of cache for a chat that uses a few thousand.</summary>
    public const int DefaultContextCap = 4096;

    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Tokens of context; 0 means the model's trained context, capped to <see cref="DefaultContextCap"/>.</summary>
    public int ContextSize { get; init; }

    /// <summary>Sets the key and the value cache type together (reading it gives <see cref="KeyCacheType"/>).</summary>
    public KvCacheType CacheType
    {
        get => KeyCacheType;
        init
        {
            KeyCacheType = value;
            ValueCacheType = value;
        }
    }

    /// <summary>Element type of cached keys (llama.cpp's <c>--cache-type-k</c>); F16 by default.</summary>
    public KvCacheType KeyCacheType { get; init; } = KvCacheType.F16;

    /// <summary>Element type of cached values (llama.cpp's <c>--cache-type-v</c>); F16 by default.</summary>
    public KvCacheType ValueCacheType { get; init; } = KvCacheType.F16;

    /// <summary>
    /// Refuses a Q8_0 key or value cache for heads whose length is not a multiple of Q8_0's 32-element block (a block
    /// would straddle two heads; llama.cpp refuses the same), naming the option to change.
    /// </summary>
    internal void CheckCacheTypes(int keyLength, int valueLength)
    {
        if (KeyCacheType == KvCacheType.Q8_0 && keyLength % 32 != 0)
            throw new NotSupportedException(
                $"--cache-type-k q8_0 needs a key head length that is a multiple of 32; this model's is {keyLength}. Use f16 or f32.");
        if (ValueCacheType == KvCacheType.Q8_0 && valueLength % 32 != 0)
            throw new NotSupportedException(
                $"--cache-type-v q8_0 needs a value head length that is a multiple of 32; this model's is {valueLength}. Use f16 or f32.");
    }
}
