using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>The quantized file types the bench writes, with llama.cpp's <c>llama_ftype</c> numbers.</summary>
internal enum BenchFileType
{
    F16 = 1,
    Q8_0 = 7,
    Q4_K_M = 15,
}

/// <summary>
/// Quantizes an F16/F32 GGUF with Suiron's own block quantizers (<see cref="Quantization.Quantize"/>, bit-exact with
/// ggml's reference quantizers) and llama-quantize's per-tensor type rules for Q8_0 and Q4_K_M (llama-quant.cpp,
/// llama_tensor_get_type, without an importance matrix):
/// <list type="bullet">
/// <item>1-D tensors (norms, biases, RoPE factors) stay as they are;</item>
/// <item>the output head (the token embedding when tied): Q6_K for Q4_K_M, Q8_0 when a row is not whole 256-blocks;</item>
/// <item>Q4_K_M: <c>attn_v</c> and <c>ffn_down</c> of the "use more bits" layers get Q6_K, the rest Q4_K;</item>
/// <item>rows that are not whole k-quant blocks fall back: Q4_K → Q5_0, Q6_K → Q8_0.</item>
/// </list>
/// A stand-in until the <c>suiron quantize</c> command (Suiron.ModelQuantization) lands on main; the comparison
/// checks that the types it chose equal llama.cpp's, tensor by tensor.
/// </summary>
internal static class SuironRequantizer
{
    public static void Quantize(string source, string destination, BenchFileType fileType)
    {
        using var file = GgufFile.Open(source);
        var w = new GgufWriter().CopyMetadataFrom(file);
        w.Set("general.file_type", (uint)fileType);
        w.Set("general.quantization_version", 2u);
        bool hasOutput = file.HasTensor("output.weight");
        int layers = file.Tensors.Count(t => t.Name.Contains("attn_v.weight"));
        int valueIndex = 0, downIndex = 0;
        foreach (GgufTensorInfo info in file.Tensors)
        {
            Tensor t = file.GetTensor(info);
            var values = new float[t.ElementCount];
            unsafe { Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)), values); }
            if (info.Shape.Length < 2)
            {
                w.AddTensor(info.Name, info.Shape, values);
                continue;
            }
            bool isHead = info.Name == "output.weight" || !hasOutput && info.Name == "token_embd.weight";
            TensorType target = TargetType(fileType, info.Name, t.Columns, isHead, layers, ref valueIndex, ref downIndex);
            if (target == TensorType.F16)
            {
                w.AddTensor(info.Name, info.Type, info.Shape, UnsafeBytes(t));
                continue;
            }
            int columns = t.Columns;
            int rowBytes = checked((int)TensorTypes.RowBytes(target, columns));
            var bytes = new byte[checked((long)rowBytes * t.Rows)];
            Parallel.For(0, checked((int)t.Rows), r => Quantization.Quantize(target, values.AsSpan(r * columns, columns), bytes.AsSpan(r * rowBytes, rowBytes)));
            w.AddTensor(info.Name, target, info.Shape, bytes);
        }
        w.WriteTo(destination);
    }

    private static unsafe byte[] UnsafeBytes(Tensor t) => new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)).ToArray();

    /// <summary>llama_tensor_get_type for the two file types the bench uses.</summary>
    public static TensorType TargetType(BenchFileType fileType, string name, int columns, bool isHead, int layers, ref int valueIndex, ref int downIndex)
    {
        TensorType type;
        if (fileType == BenchFileType.F16) return TensorType.F16;
        if (fileType == BenchFileType.Q8_0) type = TensorType.Q8_0;
        else if (isHead) type = columns % TensorTypes.QK_K != 0 ? TensorType.Q8_0 : TensorType.Q6_K;
        else if (name.Contains("attn_v.weight")) type = UseMoreBits(valueIndex++, layers) ? TensorType.Q6_K : TensorType.Q4_K;
        else if (name.Contains("ffn_down")) type = UseMoreBits(downIndex++, layers) ? TensorType.Q6_K : TensorType.Q4_K;
        else type = TensorType.Q4_K;
        if (columns % TensorTypes.BlockSize(type) != 0)
            type = type switch
            {
                TensorType.Q4_K => TensorType.Q5_0,
                TensorType.Q6_K => TensorType.Q8_0,
                _ => type,
            };
        if (columns % TensorTypes.BlockSize(type) != 0) type = TensorType.F16;
        return type;
    }

    /// <summary>llama.cpp's choice of layers that get more bits: the first and last eighth, and every third in between.</summary>
    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}
