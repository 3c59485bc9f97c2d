namespace Suiron.Inference;

/// <summary>
/// The keys and values of every layer for the tokens of one sequence, so that each new token attends to the
/// earlier ones without recomputing them. Created by <c>ILanguageModel.CreateCache</c> with the model's shape;
/// the model appends to it in <c>Forward</c>.
/// Layout per layer: token-major, <c>[capacity, kvHeads * headDim]</c>, so appending a batch is one contiguous copy
/// and a head's key at position t sits at <c>t * stride + head * headDim</c>.
/// </summary>
public sealed class KvCache
{
    // One array per layer keeps every array below the 2 GB limit for long contexts of large models.
    private readonly Half[][]? _keysF16, _valuesF16;
    private readonly float[][]? _keysF32, _valuesF32;

    internal KvCache(int layers, int keyWidth, int valueWidth, int capacity, KvCacheType type)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        LayerCount = layers;
        KeyWidth = keyWidth;
        ValueWidth = valueWidth;
        Capacity = capacity;
        Type = type;
        if (type == KvCacheType.F16)
        {
            _keysF16 = Allocate<Half>(layers, (long)capacity * keyWidth);
            _valuesF16 = Allocate<Half>(layers, (long)capacity * valueWidth);
        }
        else
        {
            _keysF32 = Allocate<float>(layers, (long)capacity * keyWidth);
            _valuesF32 = Allocate<float>(layers, (long)capacity * valueWidth);
        }
    }

    private static T[][] Allocate<T>(int layers, long length)
    {
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), $"A KV cache layer of {length} elements is too large; use a smaller context.");
        var arrays = new T[layers][];
        for (int i = 0; i < layers; i++) arrays[i] = new T[length];
        return arrays;
    }

    /// <summary>Tokens stored (the position the next token will take).</summary>
    public int Count { get; private set; }

    /// <summary>Tokens the cache can hold.</summary>
    public int Capacity { get; }

    public KvCacheType Type { get; }

    /// <summary>Bytes one token takes over all layers (keys and values).</summary>
    public long BytesPerToken => (long)LayerCount * (KeyWidth + ValueWidth) * (Type == KvCacheType.F16 ? 2 : 4);

    internal int LayerCount { get; }
    /// <summary>Key elements per token and layer: kvHeads × keyLength.</summary>
    internal int KeyWidth { get; }
    /// <summary>Value elements per token and layer: kvHeads × valueLength.</summary>
    internal int ValueWidth { get; }

    /// <summary>Forgets every token; the memory is kept for reuse.</summary>
    public void Clear() => Count = 0;

    /// <summary>Keeps the first <paramref name="count"/> tokens and drops the rest (to reuse a shared prefix).</summary>
    public void Truncate(int count)
    {
        if ((uint)count > (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Cannot truncate a cache of {Count} tokens to {count}.");
        Count = count;
    }

    internal Span<Half> KeysF16(int layer) => _keysF16![layer];
    internal Span<Half> ValuesF16(int layer) => _valuesF16![layer];
    internal Span<float> KeysF32(int layer) => _keysF32![layer];
    internal Span<float> ValuesF32(int layer) => _valuesF32![layer];

    /// <summary>Throws unless <paramref name="tokens"/> more tokens fit: checked before any write, so a full cache is never corrupted.</summary>
    internal void EnsureRoom(int tokens)
    {
        if (tokens > Capacity - Count)
            throw new InvalidOperationException(
                $"KV cache is full: it holds {Count} of {Capacity} tokens and cannot take {tokens} more. Create a larger cache or truncate this one.");
    }

    /// <summary>Marks <paramref name="tokens"/> more positions as filled (after every layer has written them).</summary>
    internal void Advance(int tokens) => Count += tokens;
}
