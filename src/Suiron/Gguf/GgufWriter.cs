using System.Runtime.InteropServices;
using System.Text;
using Suiron.Tensors;

namespace Suiron.Gguf;

/// <summary>
/// Writes GGUF v3 files: metadata in insertion order, then tensor infos, then the aligned data section.
/// Used by the tests (tiny random models), by <c>suiron quantize</c> and by conversions.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];

    /// <summary>A tensor to write: its bytes in memory, or a callback that streams them when the data section is written.</summary>
    private sealed record PendingTensor(string Name, TensorType Type, long[] Shape, long ByteSize, byte[]? Data, Action<Stream>? WriteData);

    /// <summary>Alignment of the tensor data in bytes (set by <c>general.alignment</c>; 32 by default).</summary>
    public int Alignment { get; private set; } = 32;

    /// <summary>
    /// Pads the data section after the last tensor too, up to the alignment. llama.cpp's own writers (gguf_write_to_file,
    /// llama-quantize) do; gguf-py, which wrote most published models, does not. Off by default.
    /// </summary>
    public bool PadAfterLastTensor { get; set; }

    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, GgufValue value)
    {
        int i = _metadata.FindIndex(kv => kv.Key == key);
        if (i >= 0) _metadata[i] = new(key, value);
        else _metadata.Add(new(key, value));
        if (key == "general.alignment") Alignment = checked((int)value.AsInt64());
        return this;
    }

    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, string value) => Set(key, new GgufValue(GgufValueType.String, value));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, uint value) => Set(key, new GgufValue(GgufValueType.UInt32, value));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, int value) => Set(key, new GgufValue(GgufValueType.Int32, value));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, ulong value) => Set(key, new GgufValue(GgufValueType.UInt64, value));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, float value) => Set(key, new GgufValue(GgufValueType.Float32, value));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, bool value) => Set(key, new GgufValue(GgufValueType.Bool, value));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, string[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.String));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, float[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.Float32));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, int[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.Int32));
    /// <summary>Sets metadata <paramref name="key"/> to <paramref name="value"/> (replacing an earlier value, in place); returns this writer.</summary>
    public GgufWriter Set(string key, uint[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.UInt32));

    /// <summary>The value set for <paramref name="key"/>, or null.</summary>
    public GgufValue? Get(string key)
    {
        int i = _metadata.FindIndex(kv => kv.Key == key);
        return i >= 0 ? _metadata[i].Value : null;
    }

    /// <summary>Removes a metadata entry if present; a later <see cref="Set(string, GgufValue)"/> of the same key appends it at the end.</summary>
    public GgufWriter Remove(string key)
    {
        _metadata.RemoveAll(kv => kv.Key == key);
        if (key == "general.alignment") Alignment = 32;
        return this;
    }

    /// <summary>Copies every metadata entry of <paramref name="source"/> (e.g. when re-quantizing a model).</summary>
    public GgufWriter CopyMetadataFrom(GgufFile source)
    {
        foreach (string key in source.MetadataKeys) Set(key, source.Metadata[key]);
        return this;
    }

    /// <summary>Adds a tensor from its encoded bytes. <paramref name="shape"/> is in ggml order (columns first).</summary>
    public GgufWriter AddTensor(string name, TensorType type, long[] shape, byte[] data)
    {
        long expected = CheckNewTensor(name, type, shape);
        if (data.Length != expected)
            throw new ArgumentException($"Tensor '{name}' of {type} [{string.Join(", ", shape)}] needs {expected} bytes, got {data.Length}.", nameof(data));
        _tensors.Add(new(name, type, (long[])shape.Clone(), expected, data, null));
        return this;
    }

    /// <summary>
    /// Adds a tensor whose bytes are produced only when the data section is written: <paramref name="writeData"/> must
    /// write exactly the tensor's byte size to the stream it is given. Tensors are streamed one at a time, in the order
    /// they were added, so a model larger than memory can be rewritten (e.g. quantized) without holding it twice.
    /// </summary>
    public GgufWriter AddTensor(string name, TensorType type, long[] shape, Action<Stream> writeData)
    {
        long expected = CheckNewTensor(name, type, shape);
        _tensors.Add(new(name, type, (long[])shape.Clone(), expected, null, writeData));
        return this;
    }

    /// <summary>The byte size of a tensor of this type and shape; rejects duplicate names and shapes the type cannot encode.</summary>
    private long CheckNewTensor(string name, TensorType type, long[] shape)
    {
        if (_tensors.Exists(t => t.Name == name)) throw new ArgumentException($"Duplicate tensor name '{name}'.", nameof(name));
        if (shape.Length == 0) throw new ArgumentException($"Tensor '{name}' has no dimensions.", nameof(shape));
        long elements = 1;
        foreach (long d in shape) elements *= d;
        return TensorTypes.RowBytes(type, shape[0]) * (elements / shape[0]);
    }

    /// <summary>Adds an F32 tensor.</summary>
    public GgufWriter AddTensor(string name, long[] shape, float[] values) =>
        AddTensor(name, TensorType.F32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>Writes the file to <paramref name="path"/>.</summary>
    public void WriteTo(string path)
    {
        // Write to a temporary file and move it into place so a failed write never leaves a half file under the final name.
        string tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                WriteTo(stream);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes the file to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }

        ulong offset = 0;
        var offsets = new ulong[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = offset;
            offset = Align(offset + (ulong)_tensors[i].ByteSize, (ulong)Alignment);
        }
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (long d in t.Shape) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write(offsets[i]);
        }
        w.Flush();
        Pad(stream, (ulong)stream.Position);
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            if (t.Data is not null) stream.Write(t.Data);
            else WriteStreamedTensor(stream, t);
            if (i < _tensors.Count - 1 || PadAfterLastTensor) Pad(stream, (ulong)t.ByteSize);
        }
        stream.Flush();
    }

    private static void WriteStreamedTensor(Stream stream, PendingTensor t)
    {
        // A callback that writes too few or too many bytes would shift every later tensor: catch it here, by name.
        var counted = new CountingStream(stream);
        t.WriteData!(counted);
        if (counted.BytesWritten != t.ByteSize)
            throw new InvalidOperationException($"Tensor '{t.Name}' of {t.Type} [{string.Join(", ", t.Shape)}] needs {t.ByteSize} bytes, its writer produced {counted.BytesWritten}.");
    }

    private void Pad(Stream stream, ulong length)
    {
        ulong padding = Align(length, (ulong)Alignment) - length;
        for (ulong i = 0; i < padding; i++) stream.WriteByte(0);
    }

    private static ulong Align(ulong x, ulong alignment) => (x + alignment - 1) / alignment * alignment;

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue value)
    {
        switch (value.Type)
        {
            case GgufValueType.Array:
                var array = (Array)value.Value;
                w.Write((uint)value.ElementType);
                w.Write((ulong)array.Length);
                foreach (object element in array)
                {
                    if (element is GgufValue nested) WriteValue(w, nested); // nested arrays carry their own element type and count
                    else WriteScalar(w, value.ElementType, element);
                }
                break;
            default:
                WriteScalar(w, value.Type, value.Value);
                break;
        }
    }

    private static void WriteScalar(BinaryWriter w, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(v)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(v)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(v)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(v)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(v)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(v)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(v)); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(v)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(v)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(v)); break;
            case GgufValueType.Bool: w.Write((bool)v ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)v); break;
            case GgufValueType.Array: WriteValue(w, (GgufValue)v); break;
            default: throw new ArgumentException($"Cannot write metadata of type {type}.");
        }
    }
}

/// <summary>A write-only pass-through that counts the bytes a streamed tensor's callback writes.</summary>
file sealed class CountingStream(Stream inner) : Stream
{
    public long BytesWritten { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        BytesWritten += buffer.Length;
    }

    public override void WriteByte(byte value)
    {
        inner.WriteByte(value);
        BytesWritten++;
    }

    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
