using System.Runtime.InteropServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Encoding, decoding and dot products for every supported tensor type, with ggml's numerics.
/// Rows are raw bytes (a whole number of blocks); element counts are multiples of the type's block size.
/// </summary>
public static unsafe class Quantization
{
    /// <summary>Decodes <c>dst.Length</c> elements (whole blocks) from the raw bytes <paramref name="src"/>.</summary>
    public static void Dequantize(TensorType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = CheckRow(type, src.Length, dst.Length, nameof(src));
        fixed (byte* s = src)
        fixed (float* d = dst)
        {
            switch (type)
            {
                case TensorType.F32: new ReadOnlySpan<float>(s, dst.Length).CopyTo(dst); break;
                case TensorType.F16: HalfConversion.HalfToSingle((Half*)s, d, dst.Length); break;
                case TensorType.BF16: HalfConversion.BF16ToSingle((ushort*)s, d, dst.Length); break;
                case TensorType.Q4_0: Dequantizer.Q4_0((BlockQ4_0*)s, d, blocks); break;
                case TensorType.Q4_1: Dequantizer.Q4_1((BlockQ4_1*)s, d, blocks); break;
                case TensorType.Q5_0: Dequantizer.Q5_0((BlockQ5_0*)s, d, blocks); break;
                case TensorType.Q5_1: Dequantizer.Q5_1((BlockQ5_1*)s, d, blocks); break;
                case TensorType.Q8_0: Dequantizer.Q8_0((BlockQ8_0*)s, d, blocks); break;
                case TensorType.Q8_1: Dequantizer.Q8_1((BlockQ8_1*)s, d, blocks); break;
                case TensorType.Q2_K: Dequantizer.Q2K((BlockQ2K*)s, d, blocks); break;
                case TensorType.Q3_K: Dequantizer.Q3K((BlockQ3K*)s, d, blocks); break;
                case TensorType.Q4_K: Dequantizer.Q4K((BlockQ4K*)s, d, blocks); break;
                case TensorType.Q5_K: Dequantizer.Q5K((BlockQ5K*)s, d, blocks); break;
                case TensorType.Q6_K: Dequantizer.Q6K((BlockQ6K*)s, d, blocks); break;
                case TensorType.Q8_K: Dequantizer.Q8K((BlockQ8K*)s, d, blocks); break;
                case TensorType.IQ4_NL: Dequantizer.IQ4NL((BlockIQ4NL*)s, d, blocks); break;
                case TensorType.IQ4_XS: Dequantizer.IQ4XS((BlockIQ4XS*)s, d, blocks); break;
                case TensorType.MXFP4: Dequantizer.MXFP4((BlockMXFP4*)s, d, blocks); break;
                case TensorType.TQ1_0: Ternary.DequantizeTQ1_0((BlockTQ1_0*)s, d, blocks); break;
                case TensorType.TQ2_0: Ternary.DequantizeTQ2_0((BlockTQ2_0*)s, d, blocks); break;
                case TensorType.IQ2_XXS: Lattice.DequantizeIQ2XXS((BlockIQ2XXS*)s, d, blocks); break;
                case TensorType.IQ2_XS: Lattice.DequantizeIQ2XS((BlockIQ2XS*)s, d, blocks); break;
                case TensorType.IQ2_S: Lattice.DequantizeIQ2S((BlockIQ2S*)s, d, blocks); break;
                case TensorType.IQ3_XXS: Lattice.DequantizeIQ3XXS((BlockIQ3XXS*)s, d, blocks); break;
                case TensorType.IQ3_S: Lattice.DequantizeIQ3S((BlockIQ3S*)s, d, blocks); break;
                case TensorType.IQ1_S: Lattice.DequantizeIQ1S((BlockIQ1S*)s, d, blocks); break;
                case TensorType.IQ1_M: Lattice.DequantizeIQ1M((BlockIQ1M*)s, d, blocks); break;
                default: throw Unsupported(type);
            }
        }
    }

    /// <summary>
    /// Encodes <paramref name="src"/> (whole blocks) into <paramref name="dst"/>, bit-exact with ggml's reference
    /// quantizers (quantize_row_*_ref, no importance matrix): the bytes a GGUF writer must produce.
    /// Exceptions: an all-zero Q8_K block gets zero bsums here, where ggml leaves them unwritten; IQ4_NL follows
    /// quantize_iq4_nl (its scale search, what llama-quantize writes), not quantize_row_iq4_nl_ref, which skips it.
    /// The lattice types follow quantize_iq2_s / iq3_xxs / iq3_s / iq1_m without importance; IQ2_XXS, IQ2_XS and IQ1_S
    /// cannot be encoded without one (ggml refuses too) and throw <see cref="ArgumentException"/>.
    /// </summary>
    public static void Quantize(TensorType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        int blocks = CheckRow(type, dst.Length, src.Length, nameof(dst));
        fixed (float* s = src)
        fixed (byte* d = dst)
        {
            switch (type)
            {
                case TensorType.F32: src.CopyTo(MemoryMarshal.Cast<byte, float>(dst)); break;
                case TensorType.F16: HalfConversion.SingleToHalf(s, (Half*)d, src.Length); break;
                case TensorType.BF16: HalfConversion.SingleToBF16(s, (ushort*)d, src.Length); break;
                case TensorType.Q4_0: ReferenceQuantizer.Q4_0(s, (BlockQ4_0*)d, blocks); break;
                case TensorType.Q4_1: ReferenceQuantizer.Q4_1(s, (BlockQ4_1*)d, blocks); break;
                case TensorType.Q5_0: ReferenceQuantizer.Q5_0(s, (BlockQ5_0*)d, blocks); break;
                case TensorType.Q5_1: ReferenceQuantizer.Q5_1(s, (BlockQ5_1*)d, blocks); break;
                case TensorType.Q8_0: ReferenceQuantizer.Q8_0(s, (BlockQ8_0*)d, blocks); break;
                case TensorType.Q8_1: ReferenceQuantizer.Q8_1(s, (BlockQ8_1*)d, blocks); break;
                case TensorType.Q2_K: ReferenceQuantizer.Q2K(s, (BlockQ2K*)d, blocks); break;
                case TensorType.Q3_K: ReferenceQuantizer.Q3K(s, (BlockQ3K*)d, blocks); break;
                case TensorType.Q4_K: ReferenceQuantizer.Q4K(s, (BlockQ4K*)d, blocks); break;
                case TensorType.Q5_K: ReferenceQuantizer.Q5K(s, (BlockQ5K*)d, blocks); break;
                case TensorType.Q6_K: ReferenceQuantizer.Q6K(s, (BlockQ6K*)d, blocks); break;
                case TensorType.Q8_K: ReferenceQuantizer.Q8K(s, (BlockQ8K*)d, blocks); break;
                case TensorType.MXFP4: ReferenceQuantizer.MXFP4(s, (BlockMXFP4*)d, blocks); break;
                case TensorType.IQ4_NL: ReferenceQuantizer.IQ4NL(s, (BlockIQ4NL*)d, blocks); break;
                case TensorType.IQ4_XS: ReferenceQuantizer.IQ4XS(s, (BlockIQ4XS*)d, blocks); break;
                case TensorType.TQ1_0: Ternary.QuantizeTQ1_0(s, (BlockTQ1_0*)d, blocks); break;
                case TensorType.TQ2_0: Ternary.QuantizeTQ2_0(s, (BlockTQ2_0*)d, blocks); break;
                case TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S or TensorType.IQ3_XXS or TensorType.IQ3_S
                    or TensorType.IQ1_S or TensorType.IQ1_M:
                    // Blocks are encoded independently when no importance is given, so the span is one long row.
                    LatticeQuantizer.QuantizeRow(type, s, d, src.Length, null);
                    break;
                default: throw Unsupported(type);
            }
        }
    }

    /// <summary>
    /// True for the types whose ggml quantizer takes an importance matrix (quant_weights) into account; the others
    /// (F16, BF16, Q8_0, MXFP4, TQ1_0, TQ2_0) ignore it.
    /// </summary>
    public static bool UsesImportance(TensorType type) => type is TensorType.Q4_0 or TensorType.Q4_1 or TensorType.Q5_0 or TensorType.Q5_1
        or TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K or TensorType.IQ4_NL or TensorType.IQ4_XS
        or TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S or TensorType.IQ3_XXS or TensorType.IQ3_S or TensorType.IQ1_S
        or TensorType.IQ1_M;

    /// <summary>True for the types ggml cannot encode without an importance matrix (ggml_quantize_requires_imatrix): IQ2_XXS, IQ2_XS, IQ1_S.</summary>
    public static bool RequiresImportance(TensorType type) => LatticeQuantizer.RequiresImportance(type);

    /// <summary>
    /// Encodes rows of <c>importance.Length</c> weights each, weighing column j by <c>importance[j]</c>, bit-exact with
    /// ggml's <c>ggml_quantize_chunk(type, src, dst, 0, rows, columns, importance)</c>: the bytes llama-quantize writes
    /// given an importance matrix. An empty <paramref name="importance"/>, or a type that does not use one
    /// (<see cref="UsesImportance"/>), encodes as <see cref="Quantize"/> does.
    /// </summary>
    public static void QuantizeRows(TensorType type, ReadOnlySpan<float> src, Span<byte> dst, ReadOnlySpan<float> importance)
    {
        if (importance.IsEmpty || !UsesImportance(type))
        {
            Quantize(type, src, dst);
            return;
        }
        int columns = importance.Length;
        if (src.Length % columns != 0)
            throw new ArgumentException($"{src.Length} values are not whole rows of {columns} (the importance vector's length).", nameof(src));
        long rowBytes = TensorTypes.RowBytes(type, columns);
        int rows = src.Length / columns;
        if (dst.Length < rowBytes * rows)
            throw new ArgumentException($"{type}: {rows} rows of {columns} need {rowBytes * rows} bytes, got {dst.Length}.", nameof(dst));
        fixed (float* s = src)
        fixed (byte* d = dst)
        fixed (float* qw = importance)
        {
            for (int r = 0; r < rows; r++)
            {
                float* x = s + (long)r * columns;
                byte* y = d + r * rowBytes;
                switch (type)
                {
                    case TensorType.Q4_0: ReferenceQuantizer.Q4_0Weighted(x, (BlockQ4_0*)y, columns, qw); break;
                    case TensorType.Q4_1: ReferenceQuantizer.Q4_1Weighted(x, (BlockQ4_1*)y, columns, qw); break;
                    case TensorType.Q5_0: ReferenceQuantizer.Q5_0Weighted(x, (BlockQ5_0*)y, columns, qw); break;
                    case TensorType.Q5_1: ReferenceQuantizer.Q5_1Weighted(x, (BlockQ5_1*)y, columns, qw); break;
                    case TensorType.Q2_K: ReferenceQuantizer.Q2KWeighted(x, (BlockQ2K*)y, columns, qw); break;
                    case TensorType.Q3_K: ReferenceQuantizer.Q3KWeighted(x, (BlockQ3K*)y, columns, qw); break;
                    case TensorType.Q4_K: ReferenceQuantizer.Q4KWeighted(x, (BlockQ4K*)y, columns, qw); break;
                    case TensorType.Q5_K: ReferenceQuantizer.Q5KWeighted(x, (BlockQ5K*)y, columns, qw); break;
                    case TensorType.Q6_K: ReferenceQuantizer.Q6KWeighted(x, (BlockQ6K*)y, columns, qw); break;
                    case TensorType.IQ4_NL: ReferenceQuantizer.IQ4NLWeighted(x, (BlockIQ4NL*)y, columns, qw); break;
                    case TensorType.IQ4_XS: ReferenceQuantizer.IQ4XSWeighted(x, (BlockIQ4XS*)y, columns, qw); break;
                    default: LatticeQuantizer.QuantizeRow(type, x, y, columns, qw); break;
                }
            }
        }
    }

    /// <summary>
    /// Encodes activations into <see cref="ActivationType"/>(weight type) exactly as ggml's CPU backend does before
    /// a matmul (its from_float). Differs from <see cref="Quantize"/> only for Q8_0/Q8_1 (see <see cref="ActivationQuantizer"/>).
    /// <paramref name="activationType"/> is the encoded type, not the weight type.
    /// </summary>
    public static void QuantizeActivations(TensorType activationType, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (activationType)
        {
            case TensorType.Q8_0:
            {
                int blocks = CheckRow(activationType, dst.Length, src.Length, nameof(dst));
                fixed (float* s = src) fixed (byte* d = dst) ActivationQuantizer.Q8_0(s, (BlockQ8_0*)d, blocks);
                break;
            }
            case TensorType.Q8_1:
            {
                int blocks = CheckRow(activationType, dst.Length, src.Length, nameof(dst));
                fixed (float* s = src) fixed (byte* d = dst) ActivationQuantizer.Q8_1(s, (BlockQ8_1*)d, blocks);
                break;
            }
            case TensorType.Q8_K:
            {
                int blocks = CheckRow(activationType, dst.Length, src.Length, nameof(dst));
                fixed (float* s = src) fixed (byte* d = dst) Q8KActivationQuantizer.Quantize(s, (BlockQ8K*)d, blocks);
                break;
            }
            default:
                Quantize(activationType, src, dst);
                break;
        }
    }

    /// <summary>The activation encoding ggml's CPU backend pairs with this weight type (its vec_dot_type).</summary>
    public static TensorType ActivationType(TensorType weightType) => weightType switch
    {
        TensorType.F32 => TensorType.F32,
        TensorType.F16 => TensorType.F16,
        TensorType.BF16 => TensorType.BF16,
        TensorType.Q4_0 or TensorType.Q5_0 or TensorType.Q8_0 or TensorType.IQ4_NL or TensorType.MXFP4 => TensorType.Q8_0,
        TensorType.Q4_1 or TensorType.Q5_1 or TensorType.Q8_1 => TensorType.Q8_1,
        TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K or TensorType.Q8_K or TensorType.IQ4_XS
            or TensorType.TQ1_0 or TensorType.TQ2_0 or TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S
            or TensorType.IQ3_XXS or TensorType.IQ3_S or TensorType.IQ1_S or TensorType.IQ1_M => TensorType.Q8_K,
        _ => throw Unsupported(weightType),
    };

    /// <summary>
    /// Dot product of one weight row (<paramref name="n"/> elements, raw bytes) with one activation row encoded in
    /// <see cref="ActivationType"/>(<paramref name="weightType"/>).
    /// </summary>
    public static float Dot(TensorType weightType, ReadOnlySpan<byte> weightRow, ReadOnlySpan<byte> activationRow, int n)
    {
        long weightBytes = TensorTypes.RowBytes(weightType, n);
        long activationBytes = TensorTypes.RowBytes(ActivationType(weightType), n);
        if (weightRow.Length < weightBytes) throw new ArgumentException($"{weightType} row of {n} needs {weightBytes} bytes.", nameof(weightRow));
        if (activationRow.Length < activationBytes) throw new ArgumentException($"Activation row of {n} needs {activationBytes} bytes.", nameof(activationRow));
        var kernel = DotKernels.For(weightType);
        fixed (byte* w = weightRow)
        fixed (byte* a = activationRow)
            return kernel(w, a, n);
    }

    private static int CheckRow(TensorType type, int byteLength, int elements, string bytesName)
    {
        long needed = TensorTypes.RowBytes(type, elements);
        if (byteLength < needed)
            throw new ArgumentException($"{type}: {elements} elements need {needed} bytes, got {byteLength}.", bytesName);
        return elements / TensorTypes.BlockSize(type);
    }

    internal static NotSupportedException Unsupported(TensorType type) => new($"Tensor type {type} is not supported by the kernels.");
}
