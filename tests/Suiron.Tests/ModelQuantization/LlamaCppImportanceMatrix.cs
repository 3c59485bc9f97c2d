using System.Runtime.InteropServices;
using System.Text;
using Suiron.Tests.Kernels;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// What <c>llama-quantize --imatrix FILE</c> hands <c>llama_model_quantize</c>, built the way that tool builds it, none of
/// it through Suiron's code: the imatrix GGUF is read by ggml's own GGUF reader (the libggml-base.so that LLamaSharp
/// ships), each entry's per-column values derived from its sums and counts as llama-quantize's load_imatrix derives them,
/// and the four <c>quantize.imatrix.*</c> metadata overrides it adds. In the llama.cpp that LLamaSharp 0.30.0 ships
/// (815a2a5), <c>llama_model_quantize_params.imatrix</c> is a C array of <c>llama_model_imatrix_data</c> ending in a null
/// name and <c>kv_overrides</c> a C array of <c>llama_model_kv_override</c> ending in an empty key; both live in unmanaged
/// memory owned by this object until it is disposed.
/// </summary>
internal sealed unsafe class LlamaCppImportanceMatrix : IDisposable
{
    /// <summary>llama.h's <c>struct llama_model_imatrix_data</c>: a tensor name and its per-column importance.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ImatrixData
    {
        public byte* Name;
        public float* Values;
        public nuint Count;
    }

    /// <summary>llama.h's <c>struct llama_model_kv_override</c>: tag, 128-byte key, then a union of int64/double/bool/char[128].</summary>
    [StructLayout(LayoutKind.Explicit, Size = 264)]
    private struct KvOverride
    {
        [FieldOffset(0)] public int Tag;
        [FieldOffset(4)] public fixed byte Key[128];
        [FieldOffset(136)] public long IntValue;
        [FieldOffset(136)] public fixed byte StringValue[128];
    }

    private const int OverrideInt = 0, OverrideString = 3; // enum llama_model_kv_override_type

    private readonly List<nint> _allocations = [];

    /// <summary>The <c>llama_model_imatrix_data</c> array, ending in an entry whose name is null.</summary>
    public nint Entries { get; }

    /// <summary>The <c>llama_model_kv_override</c> array, ending in an entry whose key is empty.</summary>
    public nint Overrides { get; }

    /// <summary>The per-column values handed to llama.cpp, by tensor name.</summary>
    public IReadOnlyDictionary<string, float[]> Values { get; }

    private LlamaCppImportanceMatrix(string imatrixPath)
    {
        var (values, datasets, chunks) = IsGguf(imatrixPath) ? ReadWithGgml(imatrixPath) : ReadLegacy(imatrixPath);
        Values = values;

        var entries = (ImatrixData*)Allocate((values.Count + 1) * sizeof(ImatrixData));
        int i = 0;
        foreach (var (name, column) in values)
        {
            var data = (float*)Allocate(column.Length * sizeof(float));
            column.CopyTo(new Span<float>(data, column.Length));
            entries[i++] = new ImatrixData { Name = Utf8(name), Values = data, Count = (nuint)column.Length };
        }
        entries[i] = default;
        Entries = (nint)entries;

        // llama-quantize's order: file, dataset (the first, when there is one), entry count, chunk count (when known).
        var overrides = new List<KvOverride> { StringOverride("quantize.imatrix.file", imatrixPath) };
        if (datasets.Count > 0) overrides.Add(StringOverride("quantize.imatrix.dataset", datasets[0]));
        overrides.Add(IntOverride("quantize.imatrix.entries_count", values.Count));
        if (chunks > 0) overrides.Add(IntOverride("quantize.imatrix.chunks_count", chunks));
        overrides.Add(default); // empty key: the end
        var array = (KvOverride*)Allocate(overrides.Count * sizeof(KvOverride));
        for (int k = 0; k < overrides.Count; k++) array[k] = overrides[k];
        Overrides = (nint)array;
    }

    /// <summary>Reads an imatrix GGUF or legacy .dat file as llama-quantize does; throws when it cannot be read.</summary>
    public static LlamaCppImportanceMatrix Load(string imatrixPath) => new(imatrixPath);

    public void Dispose()
    {
        foreach (nint p in _allocations) NativeMemory.Free((void*)p);
        _allocations.Clear();
    }

    private void* Allocate(int bytes)
    {
        void* p = NativeMemory.AllocZeroed((nuint)bytes);
        _allocations.Add((nint)p);
        return p;
    }

    private byte* Utf8(string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        var p = (byte*)Allocate(bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        return p;
    }

    private static KvOverride IntOverride(string key, long value)
    {
        var o = new KvOverride { Tag = OverrideInt, IntValue = value };
        CopyTerminated(key, o.Key, 128);
        return o;
    }

    private static KvOverride StringOverride(string key, string value)
    {
        var o = new KvOverride { Tag = OverrideString };
        CopyTerminated(key, o.Key, 128);
        CopyTerminated(value, o.StringValue, 128); // llama-quantize: strncpy of at most 127 bytes, then a terminator
        return o;
    }

    private static void CopyTerminated(string s, byte* destination, int capacity)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        int n = Math.Min(bytes.Length, capacity - 1);
        bytes.AsSpan(0, n).CopyTo(new Span<byte>(destination, n));
        destination[n] = 0;
    }

    private static bool IsGguf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary>
    /// llama-quantize's reader of llama-imatrix's legacy format: entry count, then per entry its name, call count and
    /// values (divided by the call count when there were calls), then, in newer files, the chunk count and the dataset.
    /// </summary>
    private static (Dictionary<string, float[]> values, List<string> datasets, int chunks) ReadLegacy(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
        int entries = reader.ReadInt32();
        for (int e = 0; e < entries; e++)
        {
            string name = Encoding.UTF8.GetString(reader.ReadBytes(reader.ReadInt32()));
            int calls = reader.ReadInt32();
            var v = new float[reader.ReadInt32()];
            for (int i = 0; i < v.Length; i++) v[i] = reader.ReadSingle();
            if (calls > 0)
                for (int i = 0; i < v.Length; i++) v[i] /= calls;
            values[name] = v;
        }
        var datasets = new List<string>();
        int chunks = 0;
        if (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            chunks = reader.ReadInt32();
            datasets.Add(Encoding.UTF8.GetString(reader.ReadBytes(reader.ReadInt32())));
        }
        return (values, datasets, chunks);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct GgufInitParams
    {
        public byte NoAlloc;
        public nint Context; // struct ggml_context **
    }

    private static nint Function(string name)
    {
        nint f = GgmlOracleTests.Export(name);
        return f != 0 ? f : throw new InvalidOperationException($"{name} is not exported by LLamaSharp's ggml");
    }

    /// <summary>
    /// llama-quantize's load_imatrix over ggml's GGUF reader: each <c>NAME.in_sum2</c> with its <c>NAME.counts</c> gives
    /// NAME's values, matrix by matrix (expert by expert), the sums over that matrix's count, or 1 where the count is 0
    /// (a matrix that saw no token); the first dataset and the chunk count go into the metadata.
    /// </summary>
    private static (Dictionary<string, float[]> values, List<string> datasets, int chunks) ReadWithGgml(string path)
    {
        var init = (delegate* unmanaged<byte*, GgufInitParams, nint>)Function("gguf_init_from_file");
        var free = (delegate* unmanaged<nint, void>)Function("gguf_free");
        var findKey = (delegate* unmanaged<nint, byte*, long>)Function("gguf_find_key");
        var u32 = (delegate* unmanaged<nint, long, uint>)Function("gguf_get_val_u32");
        var arrayLength = (delegate* unmanaged<nint, long, nuint>)Function("gguf_get_arr_n");
        var arrayString = (delegate* unmanaged<nint, long, nuint, byte*>)Function("gguf_get_arr_str");
        var tensorCount = (delegate* unmanaged<nint, long>)Function("gguf_get_n_tensors");
        var tensorName = (delegate* unmanaged<nint, long, byte*>)Function("gguf_get_tensor_name");
        var getTensor = (delegate* unmanaged<nint, byte*, nint>)Function("ggml_get_tensor");
        var elements = (delegate* unmanaged<nint, long>)Function("ggml_nelements");
        var data = (delegate* unmanaged<nint, float*>)Function("ggml_get_data_f32");
        var ggmlFree = (delegate* unmanaged<nint, void>)Function("ggml_free");

        nint* contextSlot = stackalloc nint[1];
        contextSlot[0] = 0;
        nint gguf;
        byte[] pathBytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = pathBytes) gguf = init(p, new GgufInitParams { NoAlloc = 0, Context = (nint)contextSlot });
        if (gguf == 0) throw new InvalidDataException($"ggml's GGUF reader refused {path}");
        nint context = contextSlot[0];
        try
        {
            long Key(string key)
            {
                byte[] k = Encoding.UTF8.GetBytes(key + "\0");
                fixed (byte* kp = k) return findKey(gguf, kp);
            }
            nint Tensor(string name)
            {
                byte[] n = Encoding.UTF8.GetBytes(name + "\0");
                fixed (byte* np = n) return getTensor(context, np);
            }

            var datasets = new List<string>();
            long datasetKey = Key("imatrix.datasets");
            if (datasetKey >= 0)
                for (nuint d = 0; d < arrayLength(gguf, datasetKey); d++)
                    datasets.Add(Marshal.PtrToStringUTF8((nint)arrayString(gguf, datasetKey, d))!);
            long chunkKey = Key("imatrix.chunk_count");
            int chunks = chunkKey >= 0 ? (int)u32(gguf, chunkKey) : 0;

            const string sumsSuffix = ".in_sum2";
            var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (long t = 0; t < tensorCount(gguf); t++)
            {
                string name = Marshal.PtrToStringUTF8((nint)tensorName(gguf, t))!;
                if (!name.EndsWith(sumsSuffix, StringComparison.Ordinal)) continue;
                string weight = name[..^sumsSuffix.Length];
                nint sums = Tensor(name), counts = Tensor(weight + ".counts");
                if (counts == 0) throw new InvalidDataException($"{path}: {weight} has sums but no counts");
                long matrices = elements(counts), total = elements(sums), columns = total / matrices;
                float* s = data(sums), c = data(counts);
                var v = new float[total];
                for (long m = 0; m < matrices; m++)
                    for (long j = 0; j < columns; j++)
                        v[m * columns + j] = c[m] > 0 ? s[m * columns + j] / c[m] : 1f;
                values[weight] = v;
            }
            return (values, datasets, chunks);
        }
        finally
        {
            free(gguf);
            if (context != 0) ggmlFree(context);
        }
    }
}
