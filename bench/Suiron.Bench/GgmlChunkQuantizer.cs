using System.Runtime.InteropServices;
using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>
/// Files in types llama_model_quantize refuses without an importance matrix (IQ2_XXS), made by ggml's own block
/// quantizer instead: ggml_quantize_chunk from the libggml-base.so LLamaSharp ships, given a flat importance of 1 per
/// column (LLamaSharp cannot pass llama-quantize's C++ imatrix map). Matrices take the type, the token embedding
/// (which the tied output shares) Q4_K, vectors stay F32. Random weights make any importance as good as another for
/// timing; the bytes are ggml's, so both engines run a llama.cpp-made file.
/// </summary>
internal static unsafe class GgmlChunkQuantizer
{
    public static void Write(string source, string destination, TensorType type, uint fileType, int threads)
    {
        var quantizeChunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)Export("ggml_quantize_chunk");
        using var file = GgufFile.Open(source);
        var writer = new GgufWriter().CopyMetadataFrom(file);
        writer.Remove("general.file_type").Set("general.file_type", fileType);
        foreach (GgufTensorInfo info in file.Tensors)
        {
            Tensor t = file.GetTensor(info);
            if (info.Shape.Length < 2)
            {
                var values = new float[t.ElementCount];
                Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)), values);
                writer.AddTensor(info.Name, info.Shape, values);
                continue;
            }
            TensorType target = info.Name == "token_embd.weight" ? TensorType.Q4_K : type;
            writer.AddTensor(info.Name, target, info.Shape, stream => QuantizeRows(t, target, quantizeChunk, threads, stream));
        }
        string tmp = destination + ".tmp";
        writer.WriteTo(tmp);
        File.Move(tmp, destination, overwrite: true);
    }

    private static void QuantizeRows(Tensor t, TensorType target, delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint> quantizeChunk,
        int threads, Stream stream)
    {
        const int ChunkRows = 256;
        int cols = t.Columns;
        long sourceRowBytes = TensorTypes.RowBytes(t.Type, cols), targetRowBytes = TensorTypes.RowBytes(target, cols);
        var importance = new float[cols];
        Array.Fill(importance, 1f);
        var values = new float[ChunkRows * cols];
        var bytes = new byte[ChunkRows * targetRowBytes];
        for (long row = 0; row < t.Rows; row += ChunkRows)
        {
            int rows = (int)Math.Min(ChunkRows, t.Rows - row);
            Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data + row * sourceRowBytes, checked((int)(rows * sourceRowBytes))), values.AsSpan(0, rows * cols));
            int parts = Math.Min(threads, rows);
            fixed (float* v = values) fixed (byte* b = bytes) fixed (float* im = importance)
            {
                nint vp = (nint)v, bp = (nint)b, ip = (nint)im;
                Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = threads }, part =>
                {
                    int first = rows * part / parts, end = rows * (part + 1) / parts;
                    quantizeChunk((int)target, (float*)vp, (byte*)bp, (long)first * cols, end - first, cols, (float*)ip);
                });
            }
            stream.Write(bytes, 0, checked((int)(rows * targetRowBytes)));
        }
    }

    private static nint Export(string name)
    {
        LlamaCppSubject.LoadNative();
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        foreach (string variant in new[] { "avx2", "avx512", "avx", "noavx" })
        {
            string path = Path.Combine(dir, variant, "libggml-base.so");
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out nint handle) && NativeLibrary.TryGetExport(handle, name, out nint f)) return f;
        }
        throw new InvalidOperationException($"ggml's {name} was not found in LLamaSharp's native libraries (linux-x64 only here).");
    }
}
