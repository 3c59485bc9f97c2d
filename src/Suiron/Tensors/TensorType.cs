namespace Suiron.Tensors;

/// <summary>ggml tensor element types, with the numeric ids GGUF files store.</summary>
public enum TensorType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ4_NL = 20,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
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
            or TensorType.TQ1_0 or TensorType.TQ2_0 => true,
        _ => false,
    };

    /// <summary>Elements per block (1 for plain floats).</summary>
    public static int BlockSize(TensorType type) => type switch
    {
        TensorType.F32 or TensorType.F16 or TensorType.BF16 or TensorType.F64
            or TensorType.I8 or TensorType.I16 or TensorType.I32 or TensorType.I64 => 1,
        TensorType.Q4_0 or TensorType.Q4_1 or TensorType.Q5_0 or TensorType.Q5_1 or TensorType.Q8_0 or TensorType.Q8_1 or TensorType.IQ4_NL or TensorType.MXFP4 => 32,
        TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K or TensorType.Q8_K or TensorType.IQ4_XS
            or TensorType.TQ1_0 or TensorType.TQ2_0 => QK_K,
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
