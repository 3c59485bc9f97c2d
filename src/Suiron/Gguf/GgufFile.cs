using System.IO.MemoryMappedFiles;
using System.Text;
using Suiron.Tensors;

namespace Suiron.Gguf;

/// <summary>
/// A GGUF file (v2 or v3) opened through a read-only memory map. The header and metadata are parsed once;
/// tensor data is never copied: <see cref="GetTensor(string)"/> returns a view into the map, so a multi-GB file
/// opens instantly and costs only the pages actually touched.
/// Every malformation is reported as a <see cref="GgufException"/> naming the problem and the byte offset.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private const int MaxDimensions = 4;    // GGML_MAX_DIMS
    private const int MaxArrayNesting = 8;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private bool _disposed;

    /// <summary>The file's path.</summary>
    public string Path { get; }
    /// <summary>The file's length in bytes.</summary>
    public long FileLength { get; }
    /// <summary>The GGUF format version (2 or 3).</summary>
    public uint Version { get; }
    /// <summary>Alignment of the tensor data in bytes (<c>general.alignment</c>, 32 by default).</summary>
    public int Alignment { get; }
    /// <summary>Offset of the tensor data section (aligned).</summary>
    public long DataOffset { get; }
    /// <summary>Metadata in file order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }
    /// <summary>The metadata keys, in file order.</summary>
    public IReadOnlyList<string> MetadataKeys { get; }
    /// <summary>The tensor descriptions, in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    private GgufFile(string path)
    {
        Path = path;
        FileInfo info = new(path);
        if (!info.Exists) throw new FileNotFoundException($"Model file not found: {path}", path);
        FileLength = info.Length;
        if (FileLength < 24)
            throw new GgufException($"File is too small to be GGUF ({FileLength} bytes; the fixed header alone takes 24)", FileLength, path);

        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;

            var reader = new HeaderReader(_base, FileLength, path);
            (Version, Metadata, MetadataKeys, Tensors, Alignment, DataOffset) = Parse(ref reader, path, FileLength);
            _tensorsByName = new Dictionary<string, GgufTensorInfo>(Tensors.Count, StringComparer.Ordinal);
            foreach (var t in Tensors) _tensorsByName[t.Name] = t;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Opens and validates <paramref name="path"/>. Throws <see cref="GgufException"/> for malformed files and <see cref="FileNotFoundException"/> for missing ones.</summary>
    public static GgufFile Open(string path)
    {
        try
        {
            return new GgufFile(path);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new GgufException($"Cannot read model file: {e.Message}", -1, path);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new GgufException($"Cannot read model file: {e.Message}", -1, path);
        }
    }

    private static (uint, Dictionary<string, GgufValue>, List<string>, List<GgufTensorInfo>, int, long) Parse(ref HeaderReader r, string path, long fileLength)
    {
        uint magic = r.ReadUInt32();
        if (magic != Magic)
        {
            string seen = Encoding.ASCII.GetString(BitConverter.GetBytes(magic)).Replace('\0', '.');
            throw new GgufException($"Not a GGUF file: bad magic \"{seen}\" (expected \"GGUF\")", 0, path);
        }
        uint version = r.ReadUInt32();
        if (version is 2 or 3) { }
        else if (version == 1) throw new GgufException("GGUF version 1 is not supported (only v2 and v3); re-convert the model with a current llama.cpp", 4, path);
        else if ((version & 0xFFFF) == 0 && version != 0) throw new GgufException($"Big-endian GGUF files are not supported (version field {version:X8})", 4, path);
        else throw new GgufException($"Unsupported GGUF version {version} (supported: 2, 3)", 4, path);

        long countOffset = r.Position;
        ulong tensorCount = r.ReadUInt64();
        ulong kvCount = r.ReadUInt64();
        // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info at least 8+4+8+4+8:
        // a count beyond what the file could hold is hostile or corrupt, and must not drive an allocation.
        if (kvCount > (ulong)(r.Remaining / 13))
            throw new GgufException($"Metadata count {kvCount} is impossible for a file of {fileLength} bytes", countOffset + 8, path);
        if (tensorCount > (ulong)(r.Remaining / 32))
            throw new GgufException($"Tensor count {tensorCount} is impossible for a file of {fileLength} bytes", countOffset, path);

        var metadata = new Dictionary<string, GgufValue>((int)kvCount, StringComparer.Ordinal);
        var keys = new List<string>((int)kvCount);
        for (ulong i = 0; i < kvCount; i++)
        {
            long keyOffset = r.Position;
            string key = r.ReadString();
            if (key.Length == 0) throw new GgufException("Empty metadata key", keyOffset, path);
            long typeOffset = r.Position;
            var type = (GgufValueType)r.ReadUInt32();
            GgufValue value = ReadValue(ref r, type, typeOffset, 0, key);
            if (!metadata.TryAdd(key, value))
                throw new GgufException($"Duplicate metadata key '{key}'", keyOffset, path);
            keys.Add(key);
        }

        int alignment = 32;
        if (metadata.TryGetValue("general.alignment", out var alignValue))
        {
            long a = alignValue.Type is GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.UInt16 ? alignValue.AsInt64() : -1;
            if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0)
                throw new GgufException($"general.alignment must be a power of two (got {alignValue})", -1, path);
            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            long infoOffset = r.Position;
            string name = r.ReadString();
            if (!names.Add(name)) throw new GgufException($"Duplicate tensor name '{name}'", infoOffset, path);
            long dimsOffset = r.Position;
            uint nDims = r.ReadUInt32();
            if (nDims is 0 or > MaxDimensions)
                throw new GgufException($"Tensor '{name}' has {nDims} dimensions (1 to {MaxDimensions} allowed)", dimsOffset, path);
            var shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                long dimOffset = r.Position;
                ulong dim = r.ReadUInt64();
                if (dim == 0 || dim > long.MaxValue / 2)
                    throw new GgufException($"Tensor '{name}' has an invalid dimension {dim}", dimOffset, path);
                shape[d] = (long)dim;
                if (elements > long.MaxValue / (long)dim)
                    throw new GgufException($"Tensor '{name}' element count overflows", dimOffset, path);
                elements *= (long)dim;
            }
            long typeOffset = r.Position;
            uint rawType = r.ReadUInt32();
            if (!TensorTypes.IsKnown(rawType) || !TensorTypes.IsSupported((TensorType)rawType))
                throw new GgufException($"Tensor '{name}' has {TensorTypeNames.Describe(rawType)}, which Suiron does not support", typeOffset, path);
            var type = (TensorType)rawType;
            int blockSize = TensorTypes.BlockSize(type);
            if (shape[0] % blockSize != 0)
                throw new GgufException($"Tensor '{name}' of type {type} has {shape[0]} columns, not a multiple of its block size {blockSize}", dimsOffset, path);
            long offsetOffset = r.Position;
            ulong offset = r.ReadUInt64();
            if (offset % (ulong)alignment != 0)
                throw new GgufException($"Tensor '{name}' data offset {offset} is not aligned to {alignment}", offsetOffset, path);
            long byteSize = elements / blockSize * TensorTypes.BlockBytes(type);
            tensors.Add(new GgufTensorInfo(name, shape, type, offset, byteSize));
        }

        long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
        foreach (var t in tensors)
        {
            if (t.Offset > (ulong)fileLength || dataOffset + (long)t.Offset + t.ByteSize > fileLength)
                throw new GgufException(
                    $"Tensor '{t.Name}' ({t.Type} [{string.Join(", ", t.Shape)}], {t.ByteSize} bytes at data offset {t.Offset}) extends past the end of the file ({fileLength} bytes): the file is truncated or corrupt",
                    dataOffset + (long)Math.Min(t.Offset, (ulong)fileLength), path);
        }
        return (version, metadata, keys, tensors, alignment, dataOffset);
    }

    private static GgufValue ReadValue(ref HeaderReader r, GgufValueType type, long typeOffset, int depth, string key)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return new(type, r.ReadByte());
            case GgufValueType.Int8: return new(type, (sbyte)r.ReadByte());
            case GgufValueType.UInt16: return new(type, r.ReadUInt16());
            case GgufValueType.Int16: return new(type, (short)r.ReadUInt16());
            case GgufValueType.UInt32: return new(type, r.ReadUInt32());
            case GgufValueType.Int32: return new(type, (int)r.ReadUInt32());
            case GgufValueType.Float32: return new(type, BitConverter.UInt32BitsToSingle(r.ReadUInt32()));
            case GgufValueType.UInt64: return new(type, r.ReadUInt64());
            case GgufValueType.Int64: return new(type, (long)r.ReadUInt64());
            case GgufValueType.Float64: return new(type, BitConverter.UInt64BitsToDouble(r.ReadUInt64()));
            case GgufValueType.Bool: return new(type, r.ReadBool());
            case GgufValueType.String: return new(type, r.ReadString());
            case GgufValueType.Array:
            {
                if (depth >= MaxArrayNesting)
                    throw r.Error($"Metadata '{key}' nests arrays deeper than {MaxArrayNesting}", typeOffset);
                long elemTypeOffset = r.Position;
                var elementType = (GgufValueType)r.ReadUInt32();
                long countOffset = r.Position;
                ulong count = r.ReadUInt64();
                int minSize = MinEncodedSize(elementType);
                if (minSize == 0)
                    throw r.Error($"Metadata '{key}' is an array of unknown value type {(uint)elementType}", elemTypeOffset);
                if (count > (ulong)(r.Remaining / minSize) || count > int.MaxValue)
                    throw r.Error($"Metadata '{key}' claims {count} array elements, more than the file can hold", countOffset);
                return new(type, ReadArray(ref r, elementType, (int)count, elemTypeOffset, depth, key), elementType);
            }
            default:
                throw r.Error($"Metadata '{key}' has unknown value type {(uint)type}", typeOffset);
        }
    }

    private static Array ReadArray(ref HeaderReader r, GgufValueType elementType, int count, long typeOffset, int depth, string key)
    {
        switch (elementType)
        {
            case GgufValueType.UInt8: return r.ReadArray<byte>(count);
            case GgufValueType.Int8: return r.ReadArray<sbyte>(count);
            case GgufValueType.UInt16: return r.ReadArray<ushort>(count);
            case GgufValueType.Int16: return r.ReadArray<short>(count);
            case GgufValueType.UInt32: return r.ReadArray<uint>(count);
            case GgufValueType.Int32: return r.ReadArray<int>(count);
            case GgufValueType.Float32: return r.ReadArray<float>(count);
            case GgufValueType.UInt64: return r.ReadArray<ulong>(count);
            case GgufValueType.Int64: return r.ReadArray<long>(count);
            case GgufValueType.Float64: return r.ReadArray<double>(count);
            case GgufValueType.Bool:
            {
                var a = new bool[count];
                for (int i = 0; i < count; i++) a[i] = r.ReadBool();
                return a;
            }
            case GgufValueType.String:
            {
                var a = new string[count];
                for (int i = 0; i < count; i++) a[i] = r.ReadString();
                return a;
            }
            case GgufValueType.Array:
            {
                var a = new GgufValue[count];
                for (int i = 0; i < count; i++) a[i] = ReadValue(ref r, GgufValueType.Array, typeOffset, depth + 1, key);
                return a;
            }
            default:
                throw r.Error($"Metadata '{key}' is an array of unknown value type {(uint)elementType}", typeOffset);
        }
    }

    private static int MinEncodedSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => 0,
    };

    // ---- metadata access ----

    /// <summary>The metadata value of <paramref name="key"/>, if the file has it.</summary>
    public bool TryGetValue(string key, out GgufValue value) => Metadata.TryGetValue(key, out value!);

    /// <summary>Whether the file has the metadata key <paramref name="key"/>.</summary>
    public bool Contains(string key) => Metadata.ContainsKey(key);

    /// <summary>The value of a required key; a clear error naming the key when it is absent.</summary>
    public GgufValue GetRequired(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new GgufException($"Missing required metadata key '{key}'", -1, Path);

    /// <summary>The string value of <paramref name="key"/>; a <see cref="GgufException"/> when it is missing or of another type.</summary>
    public string GetString(string key) => Wrap(key, () => GetRequired(key).AsString());
    /// <summary>The string value of <paramref name="key"/>, or null when the file does not have it.</summary>
    public string? GetStringOrNull(string key) => Metadata.TryGetValue(key, out var v) ? Wrap(key, v.AsString) : null;
    /// <summary>The integer value of <paramref name="key"/> (any integer type); a <see cref="GgufException"/> when it is missing.</summary>
    public long GetInt64(string key) => Wrap(key, () => GetRequired(key).AsInt64());
    /// <summary>The integer value of <paramref name="key"/>, or <paramref name="fallback"/> when the file does not have it.</summary>
    public long GetInt64(string key, long fallback) => Metadata.TryGetValue(key, out var v) ? Wrap(key, v.AsInt64) : fallback;
    /// <summary>An integer key that must fit an int (counts, widths, ids); a larger value names the key instead of overflowing.</summary>
    public int GetInt32(string key) => FitInt32(key, GetInt64(key));
    /// <summary>The integer value of <paramref name="key"/> (checked to fit an int), or <paramref name="fallback"/> when the file does not have it.</summary>
    public int GetInt32(string key, int fallback) => FitInt32(key, GetInt64(key, fallback));

    private int FitInt32(string key, long value) => value is >= int.MinValue and <= int.MaxValue
        ? (int)value
        : throw new GgufException($"Metadata '{key}' = {value} is out of range (at most {int.MaxValue})", -1, Path);
    /// <summary>The number value of <paramref name="key"/>; a <see cref="GgufException"/> when it is missing.</summary>
    public float GetFloat(string key) => (float)Wrap(key, () => GetRequired(key).AsDouble());
    /// <summary>The number value of <paramref name="key"/>, or <paramref name="fallback"/> when the file does not have it.</summary>
    public float GetFloat(string key, float fallback) => Metadata.TryGetValue(key, out var v) ? (float)Wrap(key, v.AsDouble) : fallback;
    /// <summary>The boolean value of <paramref name="key"/>, or <paramref name="fallback"/> when the file does not have it.</summary>
    public bool GetBool(string key, bool fallback) => Metadata.TryGetValue(key, out var v) ? Wrap(key, v.AsBool) : fallback;

    private T Wrap<T>(string key, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is InvalidCastException or OverflowException)
        {
            throw new GgufException($"Metadata key '{key}' has the wrong type: {e.Message}", -1, Path);
        }
    }

    /// <summary>The architecture name (<c>general.architecture</c>).</summary>
    public string Architecture => GetString("general.architecture");

    // ---- tensors ----

    /// <summary>Whether the file has a tensor named <paramref name="name"/>.</summary>
    public bool HasTensor(string name) => _tensorsByName.ContainsKey(name);

    /// <summary>The description of the tensor named <paramref name="name"/>, or null.</summary>
    public GgufTensorInfo? FindTensorInfo(string name) => _tensorsByName.GetValueOrDefault(name);

    /// <summary>A view of the named tensor's bytes in the memory map; a clear error when it is absent.</summary>
    public Tensor GetTensor(string name)
    {
        var info = _tensorsByName.GetValueOrDefault(name)
            ?? throw new GgufException($"Missing tensor '{name}'", -1, Path);
        return GetTensor(info);
    }

    /// <summary>The tensor named <paramref name="name"/> (a view of the mapped file), or null.</summary>
    public Tensor? TryGetTensor(string name) => _tensorsByName.TryGetValue(name, out var info) ? GetTensor(info) : null;

    /// <summary>The tensor <paramref name="info"/> describes, as a view of the mapped file.</summary>
    public Tensor GetTensor(GgufTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Tensor(info.Name, info.Type, info.Shape, _base + DataOffset + (long)info.Offset, info.ByteSize);
    }

    /// <summary>Unmaps the file; tensors taken from it must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            if (_base != null) _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }

    /// <summary>Bounds-checked little-endian cursor over the mapped header.</summary>
    private ref struct HeaderReader(byte* start, long length, string path)
    {
        private readonly byte* _start = start;
        private readonly long _length = length;
        private readonly string _path = path;
        public long Position;

        public readonly long Remaining => _length - Position;

        public readonly GgufException Error(string message, long offset) => new(message, offset, _path);

        private readonly void Need(long bytes, string what)
        {
            if (bytes < 0 || bytes > _length - Position)
                throw new GgufException($"Truncated file: {what} needs {bytes} bytes but only {_length - Position} remain", Position, _path);
        }

        public byte ReadByte() { Need(1, "a value"); return _start[Position++]; }

        public bool ReadBool()
        {
            long at = Position;
            byte b = ReadByte();
            if (b > 1) throw new GgufException($"Invalid bool value {b}", at, _path);
            return b == 1;
        }

        public ushort ReadUInt16() { Need(2, "a value"); var v = *(ushort*)(_start + Position); Position += 2; return v; }
        public uint ReadUInt32() { Need(4, "a value"); var v = *(uint*)(_start + Position); Position += 4; return v; }
        public ulong ReadUInt64() { Need(8, "a value"); var v = *(ulong*)(_start + Position); Position += 8; return v; }

        public string ReadString()
        {
            long at = Position;
            ulong len = ReadUInt64();
            if (len > (ulong)Remaining)
                throw new GgufException($"Truncated file: string of length {len} but only {Remaining} bytes remain", at, _path);
            if (len > int.MaxValue)
                throw new GgufException($"String length {len} is too large", at, _path);
            string s = Encoding.UTF8.GetString(_start + Position, (int)len);
            Position += (long)len;
            return s;
        }

        public T[] ReadArray<T>(int count) where T : unmanaged
        {
            long bytes = (long)count * sizeof(T);
            Need(bytes, $"an array of {count} {typeof(T).Name}");
            var a = new T[count];
            new ReadOnlySpan<T>(_start + Position, count).CopyTo(a);
            Position += bytes;
            return a;
        }
    }
}
