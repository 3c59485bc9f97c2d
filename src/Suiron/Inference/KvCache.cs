using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Inference;

/// <summary>
/// The keys and values of every layer for the tokens of one sequence, so that each new token attends to the
/// earlier ones without recomputing them. Created by <c>ILanguageModel.CreateCache</c> with the model's shape;
/// the model appends to it in <c>Forward</c>.
/// Layout per layer: token-major, <c>[capacity, kvHeads * headDim]</c>, so appending a batch is one contiguous copy
/// and a head's key at position t sits at <c>t * stride + head * headDim</c>. Keys and values each have their own
/// element type (<see cref="KeyType"/>, <see cref="ValueType"/>); a Q8_0 row is <c>width / 32</c> ggml blocks of 34 bytes,
/// so with a head length that is a multiple of 32 a head's blocks start at <c>head * headDim / 32</c>.
/// </summary>
public sealed class KvCache
{
    // One array per layer keeps every array below the 2 GB limit for long contexts of large models.
    private readonly Half[][]? _keysF16, _valuesF16;
    private readonly float[][]? _keysF32, _valuesF32;
    private readonly byte[][]? _keysQ8_0, _valuesQ8_0; // BlockQ8_0 rows

    internal KvCache(int layers, int keyWidth, int valueWidth, int capacity, KvCacheType type)
        : this(layers, keyWidth, valueWidth, capacity, type, type)
    {
    }

    internal KvCache(int layers, int keyWidth, int valueWidth, int capacity, KvCacheType keyType, KvCacheType valueType,
        RecurrentState? recurrent = null)
    {
        Recurrent = recurrent;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (keyType == KvCacheType.Q8_0 && keyWidth % 32 != 0)
            throw new ArgumentException($"A q8_0 key cache needs a key width that is a multiple of 32; this one is {keyWidth}.", nameof(keyType));
        if (valueType == KvCacheType.Q8_0 && valueWidth % 32 != 0)
            throw new ArgumentException($"A q8_0 value cache needs a value width that is a multiple of 32; this one is {valueWidth}.", nameof(valueType));
        LayerCount = layers;
        KeyWidth = keyWidth;
        ValueWidth = valueWidth;
        Capacity = capacity;
        KeyType = keyType;
        ValueType = valueType;
        switch (keyType)
        {
            case KvCacheType.F16: _keysF16 = Allocate<Half>(layers, (long)capacity * keyWidth); break;
            case KvCacheType.F32: _keysF32 = Allocate<float>(layers, (long)capacity * keyWidth); break;
            default: _keysQ8_0 = Allocate<byte>(layers, KvCacheTypes.Bytes(KvCacheType.Q8_0, (long)capacity * keyWidth)); break;
        }
        switch (valueType)
        {
            case KvCacheType.F16: _valuesF16 = Allocate<Half>(layers, (long)capacity * valueWidth); break;
            case KvCacheType.F32: _valuesF32 = Allocate<float>(layers, (long)capacity * valueWidth); break;
            default: _valuesQ8_0 = Allocate<byte>(layers, KvCacheTypes.Bytes(KvCacheType.Q8_0, (long)capacity * valueWidth)); break;
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

    /// <summary>Element type of the keys.</summary>
    public KvCacheType KeyType { get; }

    /// <summary>Element type of the values.</summary>
    public KvCacheType ValueType { get; }

    /// <summary>Bytes one token takes over all layers (keys and values): exactly what the cache allocates per token.</summary>
    public long BytesPerToken => LayerCount * (KvCacheTypes.Bytes(KeyType, KeyWidth) + KvCacheTypes.Bytes(ValueType, ValueWidth));

    internal int LayerCount { get; }
    /// <summary>Key elements per token and layer: kvHeads × keyLength.</summary>
    internal int KeyWidth { get; }
    /// <summary>Value elements per token and layer: kvHeads × valueLength.</summary>
    internal int ValueWidth { get; }

    /// <summary>
    /// The recurrent layers' state of a hybrid model (Qwen3-Next, Qwen3.5), or null when every layer attends: it can
    /// go back only to positions where a snapshot was taken (<see cref="Checkpoint"/>), see <see cref="ReusablePrefix"/>.
    /// </summary>
    internal RecurrentState? Recurrent { get; }

    /// <summary>Bytes of the per-sequence recurrent state (independent of the tokens held), 0 for a pure attention model.</summary>
    public long RecurrentBytes => Recurrent?.Bytes ?? 0;

    /// <summary>Forgets every token (and every recurrent snapshot); the memory is kept for reuse.</summary>
    public void Clear()
    {
        Count = 0;
        Recurrent?.Clear();
    }

    /// <summary>
    /// The longest prefix of at most <paramref name="tokens"/> of the held tokens that <see cref="Truncate"/> can keep:
    /// any of them for keys and values; for a model with recurrent layers only the current end or a position where a
    /// snapshot was taken (else 0, the start).
    /// </summary>
    public int ReusablePrefix(int tokens)
    {
        int limit = Math.Clamp(tokens, 0, Count);
        if (Recurrent is null || limit == Count) return limit;
        return Recurrent.LatestSnapshotAtOrBefore(limit);
    }

    /// <summary>
    /// Remembers the recurrent state at the current position so that a later <see cref="Truncate"/> can come back to it
    /// (the prefix cache calls it where prompts are likely to be shared); does nothing for a pure attention model.
    /// </summary>
    public void Checkpoint() => Recurrent?.Save(Count);

    private int _draftBase = -1;

    /// <summary>
    /// Marks the current end before a speculative pass; <see cref="DropDraft"/> then goes back to it. Keys and values need
    /// nothing kept (dropping rows is free); a recurrent state is copied aside.
    /// </summary>
    internal void MarkDraftBase()
    {
        _draftBase = Count;
        Recurrent?.SaveDraftBase();
    }

    /// <summary>
    /// Drops the <paramref name="rejected"/> last rows of a speculative pass. Keys and values are simply truncated and
    /// true is returned; a recurrent state cannot lose its last tokens, so it goes back to the mark of
    /// <see cref="MarkDraftBase"/> and false is returned: the caller must evaluate the accepted tokens again.
    /// </summary>
    internal bool DropDraft(int rejected)
    {
        if (Recurrent is null)
        {
            Truncate(Count - rejected);
            return true;
        }
        Recurrent.RestoreDraftBase();
        Count = _draftBase;
        return false;
    }

    /// <summary>
    /// Keeps the first <paramref name="count"/> tokens and drops the rest (to reuse a shared prefix). With recurrent
    /// layers, <paramref name="count"/> must be one <see cref="ReusablePrefix"/> allows.
    /// </summary>
    public void Truncate(int count)
    {
        if ((uint)count > (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Cannot truncate a cache of {Count} tokens to {count}.");
        if (Recurrent is not null && count != Count && !Recurrent.Restore(count))
            throw new ArgumentOutOfRangeException(nameof(count),
                $"The recurrent state cannot go back to position {count}: no snapshot was taken there (ask ReusablePrefix for a position that can be kept).");
        Count = count;
    }

    internal Span<Half> KeysF16(int layer) => _keysF16![layer];
    internal Span<Half> ValuesF16(int layer) => _valuesF16![layer];
    internal Span<float> KeysF32(int layer) => _keysF32![layer];
    internal Span<float> ValuesF32(int layer) => _valuesF32![layer];
    internal Span<byte> KeysQ8_0(int layer) => _keysQ8_0![layer];
    internal Span<byte> ValuesQ8_0(int layer) => _valuesQ8_0![layer];

    /// <summary>
    /// Writes <paramref name="keys"/> and <paramref name="values"/> (whole rows, token-major) of layer <paramref name="layer"/>
    /// at <paramref name="firstPosition"/> onwards, encoded as the cache's types: F16 by round-to-nearest, Q8_0 by ggml's
    /// CPU <c>quantize_row_q8_0</c> (what its set_rows into a Q8_0 cache runs), F32 as is.
    /// </summary>
    internal void Write(int layer, int firstPosition, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        WriteRows(KeyType, _keysF16, _keysF32, _keysQ8_0, layer, (long)firstPosition * KeyWidth, keys);
        WriteRows(ValueType, _valuesF16, _valuesF32, _valuesQ8_0, layer, (long)firstPosition * ValueWidth, values);
    }

    private static unsafe void WriteRows(KvCacheType type, Half[][]? f16, float[][]? f32, byte[][]? q8_0, int layer, long start, ReadOnlySpan<float> rows)
    {
        switch (type)
        {
            case KvCacheType.F16:
                VectorOps.SingleToHalf(rows, f16![layer].AsSpan((int)start, rows.Length));
                break;
            case KvCacheType.F32:
                rows.CopyTo(f32![layer].AsSpan((int)start, rows.Length));
                break;
            default:
                int blocks = rows.Length / BlockQ8_0.Elements;
                Span<byte> target = q8_0![layer].AsSpan((int)(start / BlockQ8_0.Elements * sizeof(BlockQ8_0)), blocks * sizeof(BlockQ8_0));
                fixed (float* x = rows) fixed (byte* y = target) ActivationQuantizer.Q8_0(x, (BlockQ8_0*)y, blocks);
                break;
        }
    }

    /// <summary>Throws unless <paramref name="tokens"/> more tokens fit: checked before any write, so a full cache is never corrupted.</summary>
    internal void EnsureRoom(int tokens)
    {
        if (tokens > Capacity - Count)
            throw new InvalidOperationException(
                $"KV cache is full: it holds {Count} of {Capacity} tokens and cannot take {tokens} more. Create a larger cache or truncate this one.");
    }

    /// <summary>Marks <paramref name="tokens"/> more positions as filled (after every layer has written them).</summary>
    internal void Advance(int tokens) => Count += tokens;

    private const uint FileMagic = 0x4356_4B53; // "SKVC"
    private const int FileVersion = 1;

    /// <summary>
    /// Writes the held tokens' keys and values, every layer as stored (no re-encoding), after a header naming the cache's
    /// shape and types, so <see cref="ReadFrom"/> restores them bit for bit into a cache of the same shape. A cache with
    /// recurrent layers cannot be written: its state is not kept per position (NotSupportedException).
    /// </summary>
    public void WriteTo(Stream stream)
    {
        if (Recurrent is not null) throw new NotSupportedException("A cache with recurrent layers (a hybrid model) cannot be saved: only attention keys and values can.");
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(FileMagic);
        writer.Write(FileVersion);
        writer.Write(LayerCount);
        writer.Write(KeyWidth);
        writer.Write(ValueWidth);
        writer.Write((int)KeyType);
        writer.Write((int)ValueType);
        writer.Write(Count);
        writer.Flush();
        for (int layer = 0; layer < LayerCount; layer++)
        {
            stream.Write(Rows(keys: true, layer, Count));
            stream.Write(Rows(keys: false, layer, Count));
        }
    }

    /// <summary>
    /// Replaces the cache's contents with what <see cref="WriteTo"/> wrote; a file of another shape, another type or more
    /// tokens than the capacity → InvalidDataException, leaving the cache empty.
    /// </summary>
    public void ReadFrom(Stream stream)
    {
        if (Recurrent is not null) throw new NotSupportedException("A cache with recurrent layers (a hybrid model) cannot be restored.");
        Clear();
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (reader.ReadUInt32() != FileMagic || reader.ReadInt32() != FileVersion) throw new InvalidDataException("Not a saved KV cache (or one of another version).");
            int layers = reader.ReadInt32(), keyWidth = reader.ReadInt32(), valueWidth = reader.ReadInt32();
            var keyType = (KvCacheType)reader.ReadInt32();
            var valueType = (KvCacheType)reader.ReadInt32();
            int count = reader.ReadInt32();
            if (layers != LayerCount || keyWidth != KeyWidth || valueWidth != ValueWidth || keyType != KeyType || valueType != ValueType)
                throw new InvalidDataException($"The saved cache is of another model or cache type ({layers} layers, key width {keyWidth} {keyType}, value width {valueWidth} {valueType}); " +
                                               $"this one has {LayerCount} layers, key width {KeyWidth} {KeyType}, value width {ValueWidth} {ValueType}.");
            if (count < 0 || count > Capacity) throw new InvalidDataException($"The saved cache holds {count} tokens; this one holds at most {Capacity}.");
            for (int layer = 0; layer < LayerCount; layer++)
            {
                stream.ReadExactly(Rows(keys: true, layer, count));
                stream.ReadExactly(Rows(keys: false, layer, count));
            }
            Count = count;
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("The saved cache is cut short.");
        }
    }

    /// <summary>The stored bytes of the first <paramref name="count"/> tokens of one layer's keys or values.</summary>
    private Span<byte> Rows(bool keys, int layer, int count)
    {
        long elements = (long)count * (keys ? KeyWidth : ValueWidth);
        return (keys ? KeyType : ValueType) switch
        {
            KvCacheType.F16 => System.Runtime.InteropServices.MemoryMarshal.AsBytes((keys ? _keysF16! : _valuesF16!)[layer].AsSpan(0, (int)elements)),
            KvCacheType.F32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes((keys ? _keysF32! : _valuesF32!)[layer].AsSpan(0, (int)elements)),
            _ => (keys ? _keysQ8_0! : _valuesQ8_0!)[layer].AsSpan(0, (int)KvCacheTypes.Bytes(KvCacheType.Q8_0, elements)),
        };
    }
}
