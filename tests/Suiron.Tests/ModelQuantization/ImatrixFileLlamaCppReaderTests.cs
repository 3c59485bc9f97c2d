using System.Runtime.InteropServices;
using Suiron.ModelQuantization;
using Suiron.Tests.Kernels;
using Xunit;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// Our imatrix GGUF read back by ggml's own GGUF reader (<c>gguf_init_from_file</c> in the libggml-base.so that
/// LLamaSharp ships: the reader llama-quantize and llama-imatrix load importance matrices with): the keys with the types
/// llama.cpp asks for, every tensor's name, type, dimensions and values.
/// </summary>
public sealed unsafe class ImatrixFileLlamaCppReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-imatrix-gguf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [StructLayout(LayoutKind.Sequential)]
    private struct GgufInitParams
    {
        public byte NoAlloc;
        public nint Context; // struct ggml_context **
    }

    private const int GgufTypeUInt32 = 4, GgufTypeString = 8, GgufTypeArray = 9;

    private static nint Function(string name)
    {
        nint f = GgmlOracleTests.Export(name);
        Assert.True(f != 0, $"{name} not exported");
        return f;
    }

    [Fact]
    public void Ggml_gguf_reader_loads_our_imatrix()
    {
        var matrix = new ImportanceMatrix { ChunkCount = 5, ChunkSize = 512 };
        matrix.Datasets.Add("calibration-natsume-wagahai.txt");
        var random = new Random(3);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() * 100).ToArray();
        matrix.Entries["blk.0.ffn_down_exps.weight"] = new ImportanceEntry(Values(64 * 8), [5, 0, 7, 1, 2, 9, 4, 3]);
        matrix.Entries["blk.0.attn_q.weight"] = new ImportanceEntry(Values(96), [2560]);
        string path = Path.Combine(_dir, "m.imatrix.gguf");
        matrix.Save(path);

        var init = (delegate* unmanaged<byte*, GgufInitParams, nint>)Function("gguf_init_from_file");
        var free = (delegate* unmanaged<nint, void>)Function("gguf_free");
        var findKey = (delegate* unmanaged<nint, byte*, long>)Function("gguf_find_key");
        var kvType = (delegate* unmanaged<nint, long, int>)Function("gguf_get_kv_type");
        var u32 = (delegate* unmanaged<nint, long, uint>)Function("gguf_get_val_u32");
        var str = (delegate* unmanaged<nint, long, byte*>)Function("gguf_get_val_str");
        var arrN = (delegate* unmanaged<nint, long, nuint>)Function("gguf_get_arr_n");
        var arrStr = (delegate* unmanaged<nint, long, nuint, byte*>)Function("gguf_get_arr_str");
        var tensors = (delegate* unmanaged<nint, long>)Function("gguf_get_n_tensors");
        var tensorName = (delegate* unmanaged<nint, long, byte*>)Function("gguf_get_tensor_name");
        var tensorType = (delegate* unmanaged<nint, long, int>)Function("gguf_get_tensor_type");
        var getTensor = (delegate* unmanaged<nint, byte*, nint>)Function("ggml_get_tensor");
        var dims = (delegate* unmanaged<nint, int>)Function("ggml_n_dims");
        var data = (delegate* unmanaged<nint, float*>)Function("ggml_get_data_f32");
        var ggmlFree = (delegate* unmanaged<nint, void>)Function("ggml_free");

        nint* contextSlot = stackalloc nint[1];
        contextSlot[0] = 0;
        nint gguf;
        byte[] pathBytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = pathBytes) gguf = init(p, new GgufInitParams { NoAlloc = 0, Context = (nint)contextSlot });
        Assert.True(gguf != 0, "ggml's GGUF reader refused the file");
        nint ggml = contextSlot[0];
        try
        {
            long Key(string key)
            {
                byte[] k = System.Text.Encoding.UTF8.GetBytes(key + "\0");
                fixed (byte* kp = k) return findKey(gguf, kp);
            }
            long type = Key("general.type"), datasets = Key("imatrix.datasets"), chunks = Key("imatrix.chunk_count"), size = Key("imatrix.chunk_size");
            Assert.True(type >= 0 && datasets >= 0 && chunks >= 0 && size >= 0);
            Assert.Equal(GgufTypeString, kvType(gguf, type));
            Assert.Equal("imatrix", Marshal.PtrToStringUTF8((nint)str(gguf, type)));
            Assert.Equal(GgufTypeArray, kvType(gguf, datasets));
            Assert.Equal((nuint)1, arrN(gguf, datasets));
            Assert.Equal("calibration-natsume-wagahai.txt", Marshal.PtrToStringUTF8((nint)arrStr(gguf, datasets, 0)));
            Assert.Equal(GgufTypeUInt32, kvType(gguf, chunks));
            Assert.Equal(5u, u32(gguf, chunks));
            Assert.Equal(512u, u32(gguf, size));

            Assert.Equal(4, tensors(gguf));
            var names = Enumerable.Range(0, 4).Select(i => Marshal.PtrToStringUTF8((nint)tensorName(gguf, i)) ?? "").ToArray();
            Assert.Equal(["blk.0.attn_q.weight.in_sum2", "blk.0.attn_q.weight.counts", "blk.0.ffn_down_exps.weight.in_sum2", "blk.0.ffn_down_exps.weight.counts"], names);
            for (int i = 0; i < 4; i++) Assert.Equal(0, tensorType(gguf, i)); // GGML_TYPE_F32

            foreach (var (name, entry) in matrix.Entries)
            {
                int matrices = entry.Counts.Length;
                AssertTensor(name + ".in_sum2", matrices > 1 ? 2 : 1, entry.Columns, matrices, entry.SumsOfSquares);
                AssertTensor(name + ".counts", matrices > 1 ? 2 : 1, 1, matrices, entry.Counts);
            }
        }
        finally
        {
            free(gguf);
            if (ggml != 0) ggmlFree(ggml);
        }

        void AssertTensor(string name, int expectedDims, long ne0, long ne1, float[] expected)
        {
            byte[] n = System.Text.Encoding.UTF8.GetBytes(name + "\0");
            nint tensor;
            fixed (byte* np = n) tensor = getTensor(ggml, np);
            Assert.True(tensor != 0, $"{name} missing");
            Assert.Equal(expectedDims, dims(tensor));
            long* ne = (long*)(tensor + 16); // struct ggml_tensor: type, buffer, then int64_t ne[4]
            Assert.Equal(ne0, ne[0]);
            Assert.Equal(ne1, ne[1]);
            Assert.Equal(expected, new ReadOnlySpan<float>(data(tensor), expected.Length).ToArray());
        }
    }
}
