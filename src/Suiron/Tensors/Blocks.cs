using System.Runtime.InteropServices;

namespace Suiron.Tensors;

// ggml's quantized block layouts, byte for byte (ggml-common.h). A row of a quantized tensor is an array
// of these blocks. Scales are stored as IEEE half (System.Half); Q8_K alone keeps a float scale because it only
// ever lives in scratch memory as the activation side of the k-quant dot products.

/// <summary>32 weights: x = d * (q - 8), q in 0..15. Nibble j holds element j (low) and j + 16 (high).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_0
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[16];
}

/// <summary>32 weights: x = d * q + m, q in 0..15.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_1
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The block's minimum.</summary>
    public Half M;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[16];
}

/// <summary>32 weights: x = d * (q - 16), q in 0..31; bit 4 of element j is bit j of <see cref="Qh"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_0
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The quants' high bits.</summary>
    public fixed byte Qh[4];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[16];
}

/// <summary>32 weights: x = d * q + m, q in 0..31.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_1
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The block's minimum.</summary>
    public Half M;
    /// <summary>The quants' high bits.</summary>
    public fixed byte Qh[4];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[16];
}

/// <summary>32 values: x = d * q, q in -127..127.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_0
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed sbyte Qs[32];
}

/// <summary>32 values: x = d * q; <see cref="S"/> = d * sum(q), used by the Q4_1/Q5_1 dot products for the min term.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_1
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The scale times the sum of the quants.</summary>
    public Half S;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed sbyte Qs[32];
}

/// <summary>256 weights in 16 groups of 16: x = d * (scales[g] &amp; 15) * q - dmin * (scales[g] >> 4), q in 0..3.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ2K
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = TensorTypes.QK_K;
    /// <summary>The sub-block scales (and minimums), packed as ggml packs them.</summary>
    public fixed byte Scales[16];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[64];
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Scale of the sub-block minimums.</summary>
    public Half DMin;
}

/// <summary>256 weights in 16 groups of 16: x = d * (scale6[g] - 32) * (q - 4), q in 0..7 (2 low bits in Qs, high bit in HMask).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ3K
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = TensorTypes.QK_K;
    /// <summary>The high bit of each 3-bit quant.</summary>
    public fixed byte HMask[32];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[64];
    /// <summary>The sub-block scales (and minimums), packed as ggml packs them.</summary>
    public fixed byte Scales[12];
    /// <summary>The block's scale.</summary>
    public Half D;
}

/// <summary>256 weights in 8 groups of 32: x = d * scale6[g] * q - dmin * min6[g], q in 0..15.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4K
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = TensorTypes.QK_K;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Scale of the sub-block minimums.</summary>
    public Half DMin;
    /// <summary>The sub-block scales (and minimums), packed as ggml packs them.</summary>
    public fixed byte Scales[12];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[128];
}

/// <summary>256 weights in 8 groups of 32: like Q4_K with a fifth bit per weight in Qh.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5K
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = TensorTypes.QK_K;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Scale of the sub-block minimums.</summary>
    public Half DMin;
    /// <summary>The sub-block scales (and minimums), packed as ggml packs them.</summary>
    public fixed byte Scales[12];
    /// <summary>The quants' high bits.</summary>
    public fixed byte Qh[32];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[128];
}

/// <summary>256 weights in 16 groups of 16: x = d * scales[g] * (q - 32), q in 0..63 (4 low bits in Ql, 2 high in Qh).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ6K
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = TensorTypes.QK_K;
    /// <summary>The low four bits of each 6-bit quant.</summary>
    public fixed byte Ql[128];
    /// <summary>The quants' high bits.</summary>
    public fixed byte Qh[64];
    /// <summary>The sub-block scales (and minimums), packed as ggml packs them.</summary>
    public fixed sbyte Scales[16];
    /// <summary>The block's scale.</summary>
    public Half D;
}

/// <summary>256 activations: x = d * q; <see cref="BSums"/> holds the sum of each 16 quants, for the k-quant min terms.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8K
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = TensorTypes.QK_K;
    /// <summary>The block's scale.</summary>
    public float D;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed sbyte Qs[256];
    /// <summary>The sum of each 16 consecutive quants.</summary>
    public fixed short BSums[16];
}

/// <summary>
/// 32 weights on a non-linear grid: x = d * <see cref="IQ4Values"/>[q], q in 0..15, nibbles as in Q4_0 (element j low,
/// j + 16 high).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ4NL
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[16];
}

/// <summary>
/// 256 weights as eight sub-blocks of 32 on IQ4_NL's grid: sub-block i has scale d * (ls_i − 32), ls_i a six-bit value,
/// its low four bits in nibble i of <see cref="ScalesL"/> and its high two in bits 2i..2i+1 of <see cref="ScalesH"/>; 16
/// quant bytes per sub-block, nibbles as in IQ4_NL.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ4XS
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>High two bits of the eight six-bit sub-block scales.</summary>
    public ushort ScalesH;
    /// <summary>Low four bits of the eight sub-block scales.</summary>
    public fixed byte ScalesL[4];
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[128];
}

/// <summary>
/// 256 ternary weights (BitNet b1.58, TriLM), x = d · (t − 1) with t in {0, 1, 2}, 1.6875 bits each: five trits per
/// <see cref="Qs"/> byte and four per <see cref="Qh"/> byte, each byte holding ⌈t₀t₁…t₄ (base 3) · 256 / 243⌉, so that
/// trit n is the top trit of byte · 3ⁿ (mod 256): ((byte · 3ⁿ mod 256) · 3) >> 8. Elements: Qs[m] holds 32n + m
/// (m &lt; 32) and 160 + 16n + (m − 32) (m ≥ 32); Qh[j] holds 240 + 4n + j.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockTQ1_0
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[48];
    /// <summary>The quants' high bits.</summary>
    public fixed byte Qh[4];
    /// <summary>The block's scale.</summary>
    public Half D;
}

/// <summary>256 ternary weights, x = d · (t − 1), two bits each: element 128h + 32l + m is bits 2l..2l+1 of Qs[32h + m].</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockTQ2_0
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[64];
    /// <summary>The block's scale.</summary>
    public Half D;
}

/// <summary>
/// 32 weights in OCP Microscaling FP4 (gpt-oss's expert weights): x = 2^(e − 127) · E2M1[q], stored as
/// 2^(e − 128) · <see cref="MXFP4Values"/>[q] (the E2M1 values doubled, so they are integers), nibbles as in Q4_0.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockMXFP4
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 32;
    /// <summary>The shared E8M0 exponent.</summary>
    public byte E;
    /// <summary>The quants, packed as the type's summary says.</summary>
    public fixed byte Qs[16];
}

/// <summary>The 16 E2M1 values, doubled (ggml's kvalues_mxfp4), and the block scale they pair with.</summary>
public static class MXFP4Values
{
    /// <summary>The grid values, indexed by the 4-bit quant.</summary>
    public static ReadOnlySpan<sbyte> Table => [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    /// <summary>
    /// 2^(e − 128): half of what the E8M0 byte <paramref name="e"/> encodes, because the table holds doubled values. For
    /// e &lt; 2 that is a subnormal float, written out by its bits; e = 255 (NaN in the OCP spec) reads as 2^127, as in ggml.
    /// </summary>
    public static float HalfScale(byte e) =>
        BitConverter.Int32BitsToSingle(e < 2 ? 0x00200000 << e : (e - 1) << 23);
}

/// <summary>The 16 values of the IQ4_NL / IQ4_XS grid (ggml's kvalues_iq4nl).</summary>
public static class IQ4Values
{
    /// <summary>The grid values, indexed by the 4-bit quant.</summary>
    public static ReadOnlySpan<sbyte> Table => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
}
