using System.Runtime.InteropServices;

namespace Suiron.Tensors;

// The lattice i-quants: each group of 8 (IQ2, IQ1) or 4 (IQ3) weights is one point of a fixed codebook in
// LatticeGrids, chosen by an index, with separate sign bits for the IQ2/IQ3 grids (whose points hold magnitudes) and a
// ±1/8 shift for the IQ1 grid (whose points hold −1, 0, 1). Eight signs are stored as seven bits where the eighth is
// implied: the number of negative signs in a group is even (see LatticeSigns).

/// <summary>
/// IQ2_XXS, 2.0625 bits per weight: eight sub-blocks of 32, each eight bytes read as two little-endian uint32 a, b:
/// the four bytes of a index <see cref="LatticeGrids.IQ2XXS"/> for the four groups of 8, bits 7l..7l+6 of b are group
/// l's seven sign bits, and b's top four bits s give the sub-block scale d · (0.5 + s) / 4.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ2XXS
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Grid indices, signs and scales, eight bytes per sub-block of 32.</summary>
    public fixed ushort Qs[32];
}

/// <summary>
/// IQ2_XS, 2.3125 bits per weight: one uint16 per group of 8, its low nine bits indexing <see cref="LatticeGrids.IQ2XS"/>
/// and its high seven the signs; sub-block i (32 weights) has two 4-bit scales in <see cref="Scales"/>[i], the low
/// nibble for its first 16 weights, the high for the rest: d · (0.5 + s) / 4.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ2XS
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Grid index (low 9 bits) and signs (high 7) of each group of 8.</summary>
    public fixed ushort Qs[32];
    /// <summary>Two 4-bit scales per sub-block of 32.</summary>
    public fixed byte Scales[8];
}

/// <summary>
/// IQ2_S, 2.5625 bits per weight: group g of 8 (sub-block g / 4) has the 10-bit index Qs[g] | (bits 2l..2l+1 of
/// Qh[g / 4]) &lt;&lt; 8 into <see cref="LatticeGrids.IQ2S"/>, l = g mod 4, and eight explicit sign bits Qs[32 + g];
/// scales as IQ2_XS.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ2S
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Low eight index bits of each group of 8, then each group's eight sign bits.</summary>
    public fixed byte Qs[64];
    /// <summary>High two index bits of each group, four groups a byte.</summary>
    public fixed byte Qh[8];
    /// <summary>Two 4-bit scales per sub-block of 32.</summary>
    public fixed byte Scales[8];
}

/// <summary>
/// IQ3_XXS, 3.0625 bits per weight: 64 bytes indexing <see cref="LatticeGrids.IQ3XXS"/>, one per group of 4, then per
/// sub-block of 32 one little-endian uint32 whose bits 7l..7l+6 are the signs of its group of 8 l (two grid points)
/// and whose top four bits s give the scale d · (0.5 + s) / 2.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ3XXS
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Grid indices (64 bytes), then scales and signs (32 bytes).</summary>
    public fixed byte Qs[96];
}

/// <summary>
/// IQ3_S, 3.4375 bits per weight: group of 4 k has the 9-bit index Qs[k] | (bit k mod 8 of Qh[k / 8]) &lt;&lt; 8 into
/// <see cref="LatticeGrids.IQ3S"/>; eight explicit sign bits per group of 8 in <see cref="Signs"/>; sub-block i (32
/// weights) has the 4-bit scale s in nibble i mod 2 of Scales[i / 2], multiplier d · (1 + 2s).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ3S
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Low eight index bits of each group of 4.</summary>
    public fixed byte Qs[64];
    /// <summary>Ninth index bit of each group of 4, eight groups a byte.</summary>
    public fixed byte Qh[8];
    /// <summary>Sign bits, one byte per group of 8.</summary>
    public fixed byte Signs[32];
    /// <summary>Two 4-bit sub-block scales a byte.</summary>
    public fixed byte Scales[4];
}

/// <summary>
/// IQ1_S, 1.5625 bits per weight: group of 8 g (sub-block i = g / 4, l = g mod 4) is the point Qs[g] | (bits
/// 3l..3l+2 of Qh[i]) &lt;&lt; 8 of <see cref="LatticeGrids.IQ1S"/>, each value v read as v ± 1/8 (minus when bit 15
/// of Qh[i] is set); bits 12..14 of Qh[i] are the scale s, multiplier d · (2s + 1).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ1S
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>The block's scale.</summary>
    public Half D;
    /// <summary>Low eight index bits of each group of 8.</summary>
    public fixed byte Qs[32];
    /// <summary>Per sub-block of 32: four 3-bit index tops, the 3-bit scale, the shift's sign.</summary>
    public fixed ushort Qh[8];
}

/// <summary>
/// IQ1_M, 1.75 bits per weight: group of 8 g is the point Qs[g] | (bits 4(g mod 2)..+2 of Qh[g / 2]) &lt;&lt; 8 of
/// <see cref="LatticeGrids.IQ1S"/>, bit 4(g mod 2) + 3 of Qh[g / 2] the sign of its ±1/8 shift; the four uint16 of
/// <see cref="Scales"/> hold sixteen 3-bit scales s, one per 16 weights (multiplier 2s + 1; the scale of weights
/// 16h..16h+15 is bits 3(h mod 4)..+2 of word h / 4), and, in their top nibbles, the fp16 block scale.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockIQ1M
{
    /// <summary>Weights (or values) per block.</summary>
    public const int Elements = 256;
    /// <summary>Low eight index bits of each group of 8.</summary>
    public fixed byte Qs[32];
    /// <summary>Per group of 8, a nibble: the 3-bit index top and the shift's sign.</summary>
    public fixed byte Qh[16];
    /// <summary>The sixteen 3-bit scales and the fp16 block scale's nibbles.</summary>
    public fixed byte Scales[8];
}
