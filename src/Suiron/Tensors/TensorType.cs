namespace Suiron.Tensors;

/// <summary>ggml tensor element types, with the numeric ids GGUF files store.</summary>
public enum TensorType : uint
{
    /// <summary>32-bit float.</summary>
    F32 = 0,
    /// <summary>16-bit IEEE half.</summary>
    F16 = 1,
    /// <summary>4-bit, blocks of 32 with one scale.</summary>
    Q4_0 = 2,
    /// <summary>4-bit, blocks of 32 with a scale and a minimum.</summary>
    Q4_1 = 3,
    /// <summary>5-bit, blocks of 32 with one scale.</summary>
    Q5_0 = 6,
    /// <summary>5-bit, blocks of 32 with a scale and a minimum.</summary>
    Q5_1 = 7,
    /// <summary>8-bit, blocks of 32 with one scale.</summary>
    Q8_0 = 8,
    /// <summary>8-bit, blocks of 32 with a scale and the scaled sum (activations).</summary>
    Q8_1 = 9,
    /// <summary>2-bit k-quant, super-blocks of 256.</summary>
    Q2_K = 10,
    /// <summary>3-bit k-quant, super-blocks of 256.</summary>
    Q3_K = 11,
    /// <summary>4-bit k-quant, super-blocks of 256.</summary>
    Q4_K = 12,
    /// <summary>5-bit k-quant, super-blocks of 256.</summary>
    Q5_K = 13,
    /// <summary>6-bit k-quant, super-blocks of 256.</summary>
    Q6_K = 14,
    /// <summary>8-bit k-quant activations, super-blocks of 256.</summary>
    Q8_K = 15,
    /// <summary>2.0625 bits on the E8 lattice codebook, super-blocks of 256.</summary>
    IQ2_XXS = 16,
    /// <summary>2.3125 bits on a 512-point lattice codebook, super-blocks of 256.</summary>
    IQ2_XS = 17,
    /// <summary>3.0625 bits on a 256-point lattice codebook, super-blocks of 256.</summary>
    IQ3_XXS = 18,
    /// <summary>1.5625 bits on a ternary lattice codebook, super-blocks of 256.</summary>
    IQ1_S = 19,
    /// <summary>4-bit on a non-linear grid, blocks of 32.</summary>
    IQ4_NL = 20,
    /// <summary>3.4375 bits on a 512-point lattice codebook, super-blocks of 256.</summary>
    IQ3_S = 21,
    /// <summary>2.5625 bits on a 1024-point lattice codebook, super-blocks of 256.</summary>
    IQ2_S = 22,
    /// <summary>4-bit on a non-linear grid, super-blocks of 256 with 6-bit sub-block scales.</summary>
    IQ4_XS = 23,
    /// <summary>8-bit integer.</summary>
    I8 = 24,
    /// <summary>16-bit integer.</summary>
    I16 = 25,
    /// <summary>32-bit integer.</summary>
    I32 = 26,
    /// <summary>64-bit integer.</summary>
    I64 = 27,
    /// <summary>64-bit float.</summary>
    F64 = 28,
    /// <summary>1.75 bits on IQ1_S's codebook with finer scales, super-blocks of 256.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
    /// <summary>Ternary, 1.6875 bits per weight.</summary>
    TQ1_0 = 34,
    /// <summary>Ternary, 2 bits per weight.</summary>
    TQ2_0 = 35,
    /// <summary>OCP microscaling FP4, blocks of 32 with a shared exponent.</summary>
    MXFP4 = 39,
}

/// <summary>Block geometry of each tensor type: how many elements a block holds and how many bytes it takes.</summary>
public static class TensorTypes
{
    /// <summary>Super-block size of the k-quants.</summary>
    public const int QK_K = 256;

    /// <summary>True for the types this engine can read and compute with.</summary>
    public static bool IsSupported(TensorType type) => type switch
    {
        TensorType.F32 or TensorType.F16 or TensorType.BF16 or TensorType.Q8_0 or TensorType.Q4_0 or TensorType.Q4_1
            or TensorType.Q5_0 or TensorType.Q5_1 or TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K
            or TensorType.Q5_K or TensorType.Q6_K or TensorType.Q8_K or TensorType.IQ4_NL or TensorType.IQ4_XS or TensorType.MXFP4
            or TensorType.TQ1_0 or TensorType.TQ2_0 or TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S
            or TensorType.IQ3_XXS or TensorType.IQ3_S or TensorType.IQ1_S or TensorType.IQ1_M => true,
        _ => false,
    };

    /// <summary>Elements per block (1 for plain floats).</summary>
    public static int BlockSize(TensorType type) => type switch
    {
        TensorType.F32 or TensorType.F16 or TensorType.BF16 or TensorType.F64
            or TensorType.I8 or TensorType.I16 or TensorType.I32 or TensorType.I64 => 1,
        TensorType.Q4_0 or TensorType.Q4_1 or TensorType.Q5_0 or TensorType.Q5_1 or TensorType.Q8_0 or TensorType.Q8_1 or TensorType.IQ4_NL or TensorType.MXFP4 => 32,
        TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K or TensorType.Q8_K or TensorType.IQ4_XS
            or TensorType.TQ1_0 or TensorType.TQ2_0 or TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S
            or TensorType.IQ3_XXS or TensorType.IQ3_S or TensorType.IQ1_S or TensorType.IQ1_M => QK_K,
        _ => throw new NotSupportedException($"Unknown tensor type {(uint)type}."),
    };

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(TensorType type) => type switch
    {
        TensorType.F32 => 4,
        TensorType.F16 => 2,
        TensorType.BF16 => 2,
        TensorType.F64 => 8,
        TensorType.I8 => 1,
        TensorType.I16 => 2,
        TensorType.I32 => 4,
        TensorType.I64 => 8,
        TensorType.Q4_0 => 2 + 16,
        TensorType.Q4_1 => 2 + 2 + 16,
        TensorType.Q5_0 => 2 + 4 + 16,
        TensorType.Q5_1 => 2 + 2 + 4 + 16,
        TensorType.Q8_0 => 2 + 32,
        TensorType.Q8_1 => 4 + 32,
        TensorType.Q2_K => QK_K / 16 + QK_K / 4 + 2 + 2,
        TensorType.Q3_K => QK_K / 8 + QK_K / 4 + 12 + 2,
        TensorType.Q4_K => 2 + 2 + 12 + QK_K / 2,
        TensorType.Q5_K => 2 + 2 + 12 + QK_K / 8 + QK_K / 2,
        TensorType.Q6_K => QK_K / 2 + QK_K / 4 + QK_K / 16 + 2,
        TensorType.Q8_K => 4 + QK_K + QK_K / 16 * 2,
        TensorType.IQ4_NL => 2 + 16,
        TensorType.MXFP4 => 1 + 16,
        TensorType.IQ4_XS => 2 + 2 + QK_K / 64 + QK_K / 2,
        TensorType.TQ1_0 => (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2,
        TensorType.TQ2_0 => QK_K / 4 + 2,
        TensorType.IQ2_XXS => 2 + QK_K / 8 * 2,
        TensorType.IQ2_XS => 2 + QK_K / 8 * 2 + QK_K / 32,
        TensorType.IQ2_S => 2 + QK_K / 4 + QK_K / 16,
        TensorType.IQ3_XXS => 2 + 3 * QK_K / 8,
        TensorType.IQ3_S => 2 + 13 * QK_K / 32 + QK_K / 64,
        TensorType.IQ1_S => 2 + QK_K / 8 + QK_K / 16,
        TensorType.IQ1_M => QK_K / 8 + QK_K / 16 + QK_K / 32,
        _ => throw new NotSupportedException($"Unknown tensor type {(uint)type}."),
    };

    /// <summary>True when <paramref name="value"/> names a type id ggml defines (supported or not).</summary>
    public static bool IsKnown(uint value) => Enum.IsDefined(typeof(TensorType), value);

    /// <summary>Bytes taken by one row of <paramref name="elements"/> elements (a multiple of the block size).</summary>
    public static long RowBytes(TensorType type, long elements)
    {
        int bs = BlockSize(type);
        if (elements % bs != 0)
            throw new ArgumentException($"{type} rows must hold a multiple of {bs} elements, got {elements}.");
        return elements / bs * BlockBytes(type);
    }
}
