using System.Text;
using Suiron.Gguf;

namespace Suiron.Tests.Gguf;

/// <summary>One tensor-info record of a <see cref="GgufImage"/>, raw: any shape, type number and offset may be written.</summary>
internal sealed record TensorRecord(string Name, ulong[] Shape, uint Type, ulong Offset);

/// <summary>
/// A GGUF file taken apart into its metadata entries, tensor-info records and data section, so that a mutant is a
/// changed list re-serialized in front of the same data bytes (no tensor is re-encoded). Entries are written exactly
/// as given — duplicate keys, wrong types, offsets past the end — which is what a fuzzer needs and a writer forbids.
/// </summary>
internal sealed class GgufImage
{
    public List<KeyValuePair<string, GgufValue>> Metadata { get; } = [];
    public List<TensorRecord> Tensors { get; } = [];
    public required byte[] Data { get; init; }

    public static GgufImage Read(string path)
    {
        using var file = GgufFile.Open(path);
        byte[] all = File.ReadAllBytes(path);
        var image = new GgufImage { Data = all.AsSpan((int)file.DataOffset).ToArray() };
        foreach (string key in file.MetadataKeys) image.Metadata.Add(KeyValuePair.Create(key, file.Metadata[key]));
        foreach (var t in file.Tensors) image.Tensors.Add(new TensorRecord(t.Name, t.Shape.Select(d => (ulong)d).ToArray(), (uint)t.Type, t.Offset));
        return image;
    }

    public GgufImage Clone()
    {
        var copy = new GgufImage { Data = Data };
        copy.Metadata.AddRange(Metadata);
        copy.Tensors.AddRange(Tensors);
        return copy;
    }

    /// <summary>The file's bytes up to the data section, padded to the alignment the metadata declares (32 when it declares none usable).</summary>
    public byte[] SerializeHeader()
    {
        var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((ulong)Tensors.Count);
        w.Write((ulong)Metadata.Count);
        foreach (var (key, value) in Metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value.Type, value.Value, value.ElementType);
        }
        foreach (var t in Tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (ulong d in t.Shape) w.Write(d);
            w.Write(t.Type);
            w.Write(t.Offset);
        }
        long alignment = 32;
        foreach (var (key, value) in Metadata)
            if (key == "general.alignment" && value.Value is uint or int or ulong or ushort)
            {
                long a = value.AsInt64();
                if (a > 0 && a <= 1 << 20 && (a & (a - 1)) == 0) alignment = a;
            }
        w.Flush();
        while (stream.Length % alignment != 0) stream.WriteByte(0);
        return stream.ToArray();
    }

    public void WriteTo(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        stream.Write(SerializeHeader());
        stream.Write(Data);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value, GgufValueType elementType)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(value)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(value)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(value)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(value)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(value)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(value)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(value)); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(value)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(value)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(value)); break;
            case GgufValueType.Bool: w.Write((bool)value); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.Array:
                var array = (Array)value;
                w.Write((uint)elementType);
                w.Write((ulong)array.Length);
                foreach (object? item in array)
                {
                    if (item is GgufValue nested) WriteValue(w, nested.Type, nested.Value, nested.ElementType);
                    else WriteValue(w, elementType, item!, GgufValueType.UInt8);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "unknown GGUF value type");
        }
    }
}
