using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;
using Suiron.Tests.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// Tiny random models whose matrices are lattice i-quants (IQ2_XXS … IQ1_M) quantized by ggml's own quantizer
/// (ggml_quantize_chunk, with an importance matrix: IQ2_XXS, IQ2_XS and IQ1_S refuse to quantize without one, and the
/// files people download were all made with one), run by llama.cpp and by us: last logits within the quantized
/// tolerance and 32 greedy tokens identical, as <see cref="TinyModelOracleTests"/>' quantized cases.
/// </summary>
public sealed unsafe class LatticeModelTests(ITestOutputHelper output)
{
    public static TheoryData<string, TensorType> Cases
    {
        get
        {
            var data = new TheoryData<string, TensorType>();
            foreach (string spec in new[] { "llama", "qwen3" })
                foreach (var type in LatticeQuantTests.Types)
                    data.Add(spec, type);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GgmlQuantizedFilesMatchLlamaCpp(string spec, TensorType type)
    {
        var model = spec == "llama" ? TinyModelOracleTests.Llama : TinyModelOracleTests.Qwen3;
        TinyModelOracleTests.Compare(output, GgmlQuantized(model, type), $"{spec} {type} (ggml_quantize_chunk)", type);
    }

    /// <summary>
    /// The F32 model with every matrix quantized by ggml_quantize_chunk (rows of a width that is not a multiple of 256 —
    /// qwen3's attention output — in IQ4_NL, llama.cpp's fallback for these types), each given a random positive
    /// importance per column.
    /// </summary>
    private static string GgmlQuantized(TinyModelSpec spec, TensorType type)
    {
        string source = TinyModelBuilder.F32(spec);
        string path = Path.Combine(TinyModelBuilder.Directory, $"{spec.Name}-{type}-ggml.gguf");
        lock (TinyModelBuilder.WriteLock)
        {
            if (File.Exists(path)) return path;
            nint f = GgmlOracleTests.Export("ggml_quantize_chunk");
            Assert.True(f != 0, "ggml_quantize_chunk not exported");
            var quantizeChunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)f;
            var random = new Random(spec.Seed * 100 + (int)type);
            using var file = GgufFile.Open(source);
            var writer = new GgufWriter().CopyMetadataFrom(file);
            foreach (GgufTensorInfo info in file.Tensors)
            {
                Tensor t = file.GetTensor(info);
                var values = new float[t.ElementCount];
                Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, (int)t.ByteLength), values);
                if (info.Shape.Length < 2)
                {
                    writer.AddTensor(info.Name, info.Shape, values);
                    continue;
                }
                TensorType target = t.Columns % 256 == 0 ? type : TensorType.IQ4_NL;
                var importance = new float[t.Columns];
                for (int i = 0; i < importance.Length; i++) importance[i] = 0.1f + (float)random.NextDouble();
                var bytes = new byte[TensorTypes.RowBytes(target, t.Columns) * t.Rows];
                nuint written;
                fixed (float* v = values) fixed (byte* b = bytes) fixed (float* im = importance)
                    written = quantizeChunk((int)target, v, b, 0, t.Rows, t.Columns, im);
                Assert.Equal((nuint)bytes.Length, written);
                writer.AddTensor(info.Name, target, info.Shape, bytes);
            }
            writer.WriteTo(path);
        }
        return path;
    }
}
