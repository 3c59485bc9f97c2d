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

    public KvCacheType CacheType { get; init; } = KvCacheType.F16;
}
