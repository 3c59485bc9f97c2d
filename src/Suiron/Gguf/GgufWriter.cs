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
    private readonly List<(string Name, TensorType Type, long[] Shape, byte[] Data)> _tensors = [];

    public int Alignment { get; private set; } = 32;

    public GgufWriter Set(string key, GgufValue value)
    {
        int i = _metadata.FindIndex(kv => kv.Key == key);
        if (i >= 0) _metadata[i] = new(key, value);
        else _metadata.Add(new(key, value));
        if (key == "general.alignment") Alignment = checked((int)value.AsInt64());
        return this;
    }

    public GgufWriter Set(string key, string value) => Set(key, new GgufValue(GgufValueType.String, value));
    public GgufWriter Set(string key, uint value) => Set(key, new GgufValue(GgufValueType.UInt32, value));
    public GgufWriter Set(string key, int value) => Set(key, new GgufValue(GgufValueType.Int32, value));
    public GgufWriter Set(string key, ulong value) => Set(key, new GgufValue(GgufValueType.UInt64, value));
    public GgufWriter Set(string key, float value) => Set(key, new GgufValue(GgufValueType.Float32, value));
    public GgufWriter Set(string key, bool value) => Set(key, new GgufValue(GgufValueType.Bool, value));
    public GgufWriter Set(string key, string[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.String));
    public GgufWriter Set(string key, float[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.Float32));
    public GgufWriter Set(string key, int[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.Int32));
    public GgufWriter Set(string key, uint[] value) => Set(key, new GgufValue(GgufValueType.Array, value, GgufValueType.UInt32));

    /// <summary>Copies every metadata entry of <paramref name="source"/> (e.g. when re-quantizing a model).</summary>
    public GgufWriter CopyMetadataFrom(GgufFile source)
    {
        foreach (string key in source.MetadataKeys) Set(key, source.Metadata[key]);
        return this;
    }

    /// <summary>Adds a tensor from its encoded bytes. <paramref name="shape"/> is in ggml order (columns first).</summary>
    public GgufWriter AddTensor(string name, TensorType type, long[] shape, byte[] data)
    {
        if (_tensors.Exists(t => t.Name == name)) throw new ArgumentException($"Duplicate tensor name '{name}'.", nameof(name));
        long elements = 1;
        foreach (long d in shape) elements *= d;
        long expected = TensorTypes.RowBytes(type, shape[0]) * (elements / shape[0]);
        if (data.Length != expected)
            throw new ArgumentException($"Tensor '{name}' of {type} [{string.Join(", ", shape)}] needs {expected} bytes, got {data.Length}.", nameof(data));
        _tensors.Add((name, type, (long[])shape.Clone(), data));
        return this;
    }

    /// <summary>Adds an F32 tensor.</summary>
    public GgufWriter AddTensor(string name, long[] shape, float[] values) =>
        AddTensor(name, TensorType.F32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

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
            offset = Align(offset + (ulong)_tensors[i].Data.Length, (ulong)Alignment);
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
            stream.Write(_tensors[i].Data);
            if (i < _tensors.Count - 1) Pad(stream, (ulong)_tensors[i].Data.Length);
        }
        stream.Flush();
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
