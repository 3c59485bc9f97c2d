using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

// The AVX2 dots of the lattice i-quants. A sub-block's 32 grid bytes are gathered by four (IQ2, IQ1) or eight (IQ3)
// scalar table loads into one vector; the signs go onto the activations (vpsignb with ±1 bytes), so vpmaddubsw can
// take the unsigned magnitudes (≤ 62: pair sums stay below 2^15) against the signed products; one vpmaddwd with the
// sub-block's odd multipliers 2s + 1 (one per 16 weights) brings them to int32. A super-block's integers add up
// exactly, then one FMA with d_x·d_y, so each block's contribution is the scalar reference's up to float rounding.
// The IQ1 grids hold −1, 0, 1: vpsignb of the activations by the grid point is the product itself.
internal static unsafe partial class Lattice
{
    /// <summary>
    /// For each 7-bit stored sign pattern, its eight ±1 bytes (the eighth sign implied, see <see cref="Signs"/>): one
    /// table load per group of 8 in place of a popcount and a bit-to-byte expansion. 1 KB, built once, never freed.
    /// </summary>
    private static readonly ulong* ImpliedSignTable = BuildImpliedSignTable();

    private static ulong* BuildImpliedSignTable()
    {
        var table = (ulong*)NativeMemory.AlignedAlloc(128 * sizeof(ulong), 64);
        for (uint i = 0; i < 128; i++)
        {
            int signs = Signs(i);
            ulong bytes = 0;
            for (int j = 0; j < 8; j++) bytes |= (ulong)((signs >> j & 1) != 0 ? 0xFF : 0x01) << (8 * j);
            table[i] = bytes;
        }
        return table;
    }

    /// <summary>±1 bytes of four groups whose seven-bit sign patterns are <paramref name="s0"/>..<paramref name="s3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> ImpliedSignVector(uint s0, uint s1, uint s2, uint s3) =>
        Vector256.Create(ImpliedSignTable[s0], ImpliedSignTable[s1], ImpliedSignTable[s2], ImpliedSignTable[s3]).AsSByte();

    /// <summary>±1 bytes of a sub-block whose four seven-bit sign patterns are packed at bits 0, 7, 14, 21.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> ImpliedSignVector(uint packed) =>
        ImpliedSignVector(packed & 127, packed >> 7 & 127, packed >> 14 & 127, packed >> 21 & 127);

    /// <summary>±1 bytes, −1 where bit j of byte l of <paramref name="signBytes"/> is set (element 8l + j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> SignVector(uint signBytes) => (Avx2Dot.BitsToBytes(signBytes) | Vector256.Create((byte)1)).AsSByte();

    /// <summary>Σ grid·sign·q as 8 int32 lanes, each 16-weight half of the sub-block times its own multiplier.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedSubBlock(Vector256<byte> magnitudes, uint signBytes, sbyte* q8, Vector256<short> multipliers) =>
        SignedSubBlock(magnitudes, SignVector(signBytes), q8, multipliers);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedSubBlock(Vector256<byte> magnitudes, Vector256<sbyte> signs, sbyte* q8, Vector256<short> multipliers)
    {
        Vector256<sbyte> signed = Avx2.Sign(Avx.LoadVector256(q8), signs);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitudes, signed), multipliers);
    }

    /// <summary>Multipliers for a sub-block: <paramref name="first"/> for its first 16 weights, <paramref name="second"/> for the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Multipliers(int first, int second) =>
        Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)second));

    /// <summary>Four eight-byte grid points (IQ2, IQ1 codebooks) side by side: 32 weights in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Points(ulong* grid, int i0, int i1, int i2, int i3) =>
        Vector256.Create(grid[i0], grid[i1], grid[i2], grid[i3]).AsByte();

    /// <summary>Eight four-byte grid points (IQ3 codebooks) whose indices are the bytes at <paramref name="indices"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Points(uint* grid, byte* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]],
            grid[indices[4]], grid[indices[5]], grid[indices[6]], grid[indices[7]]).AsByte();

    /// <summary>
    /// IQ1_M: the shift signs of sub-block <paramref name="ib"/>'s four groups as sign bytes (0xFF where the shift is
    /// −1/8): bits 3 and 7 of each qh byte belong to its two groups.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint IQ1MShiftSigns(BlockIQ1M* block, int ib)
    {
        uint qh = *(ushort*)(block->Qh + 2 * ib);
        return (qh >> 3 & 1) * 0xFFu | (qh >> 7 & 1) * 0xFF00u | (qh >> 11 & 1) * 0xFF0000u | (qh >> 15 & 1) * 0xFF000000u;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ2XXS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2XXS*)w;
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        fixed (ulong* grid = LatticeGrids.IQ2XXS)
            for (int b = 0; b < n / 256; b++)
            {
                var words = (uint*)x[b].Qs;
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    uint indices = words[2 * ib], signsAndScale = words[2 * ib + 1];
                    int ls = (int)(2 * (signsAndScale >> 28) + 1);
                    var magnitudes = Points(grid, (int)(indices & 0xFF), (int)(indices >> 8 & 0xFF), (int)(indices >> 16 & 0xFF), (int)(indices >> 24));
                    sumi += SignedSubBlock(magnitudes, ImpliedSignVector(signsAndScale), q8, Vector256.Create((short)ls));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x[b].D) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
            }
        return 0.125f * Avx2Dot.Sum8(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ2XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2XS*)w;
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        fixed (ulong* grid = LatticeGrids.IQ2XS)
            for (int b = 0; b < n / 256; b++)
            {
                ushort* qs = x[b].Qs;
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32, qs += 4)
                {
                    var magnitudes = Points(grid, qs[0] & 511, qs[1] & 511, qs[2] & 511, qs[3] & 511);
                    var signs = ImpliedSignVector((uint)qs[0] >> 9, (uint)qs[1] >> 9, (uint)qs[2] >> 9, (uint)qs[3] >> 9);
                    int scales = x[b].Scales[ib];
                    sumi += SignedSubBlock(magnitudes, signs, q8, Multipliers(2 * (scales & 0xF) + 1, 2 * (scales >> 4) + 1));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x[b].D) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
            }
        return 0.125f * Avx2Dot.Sum8(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ2S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2S*)w;
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        fixed (ulong* grid = LatticeGrids.IQ2S)
            for (int b = 0; b < n / 256; b++)
            {
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    var magnitudes = Points(grid, IQ2SIndex(x + b, ib, 0), IQ2SIndex(x + b, ib, 1), IQ2SIndex(x + b, ib, 2), IQ2SIndex(x + b, ib, 3));
                    uint signs = Unsafe.ReadUnaligned<uint>(x[b].Qs + 32 + 4 * ib);
                    int scales = x[b].Scales[ib];
                    sumi += SignedSubBlock(magnitudes, signs, q8, Multipliers(2 * (scales & 0xF) + 1, 2 * (scales >> 4) + 1));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x[b].D) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
            }
        return 0.125f * Avx2Dot.Sum8(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ3XXS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ3XXS*)w;
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        fixed (uint* grid = LatticeGrids.IQ3XXS)
            for (int b = 0; b < n / 256; b++)
            {
                byte* qs = x[b].Qs;
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    uint signsAndScale = Unsafe.ReadUnaligned<uint>(qs + 64 + 4 * ib);
                    int ls = (int)(2 * (signsAndScale >> 28) + 1);
                    sumi += SignedSubBlock(Points(grid, qs + 8 * ib), ImpliedSignVector(signsAndScale), q8, Vector256.Create((short)ls));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x[b].D) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
            }
        return 0.25f * Avx2Dot.Sum8(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ3S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ3S*)w;
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        fixed (uint* grid = LatticeGrids.IQ3S)
            for (int b = 0; b < n / 256; b++)
            {
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    BlockIQ3S* block = x + b;
                    var magnitudes = Vector256.Create(
                        grid[IQ3SIndex(block, ib, 0)], grid[IQ3SIndex(block, ib, 1)], grid[IQ3SIndex(block, ib, 2)], grid[IQ3SIndex(block, ib, 3)],
                        grid[IQ3SIndex(block, ib, 4)], grid[IQ3SIndex(block, ib, 5)], grid[IQ3SIndex(block, ib, 6)], grid[IQ3SIndex(block, ib, 7)]).AsByte();
                    uint signs = Unsafe.ReadUnaligned<uint>(block->Signs + 4 * ib);
                    int ls = 2 * ((block->Scales[ib / 2] >> (4 * (ib % 2))) & 0xF) + 1;
                    sumi += SignedSubBlock(magnitudes, signs, q8, Vector256.Create((short)ls));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x[b].D) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
            }
        return Avx2Dot.Sum8(acc);
    }

    /// <summary>
    /// IQ1_S: per sub-block Σ ls·(grid·q) in the vector lanes; the ±1/8 shifts times the activations' 16-sums (bsums)
    /// in a scalar, as the reference; per block d_x·d_y·(sumi + shifts/8).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ1S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1S*)w;
        var y = (BlockQ8K*)a;
        Vector256<byte> ones = Vector256.Create((byte)1);
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ1S)
            for (int b = 0; b < n / 256; b++)
            {
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero;
                int shifts = 0;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    int qh = x[b].Qh[ib];
                    int ls = 2 * ((qh >> 12) & 7) + 1;
                    var points = Points(grid, IQ1SIndex(x + b, ib, 0), IQ1SIndex(x + b, ib, 1), IQ1SIndex(x + b, ib, 2), IQ1SIndex(x + b, ib, 3));
                    Vector256<sbyte> products = Avx2.Sign(Avx.LoadVector256(q8), points.AsSByte());
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, products), Vector256.Create((short)ls));
                    int activationSum = y[b].BSums[2 * ib] + y[b].BSums[2 * ib + 1];
                    shifts += ls * ((qh & 0x8000) != 0 ? -activationSum : activationSum);
                }
                int total = Vector256.Sum(sumi);
                sum += Avx2Dot.Scale(x[b].D) * y[b].D * (total + IQ1Delta * shifts);
            }
        return sum;
    }

    /// <summary>
    /// IQ1_M: as <see cref="Avx2DotIQ1S"/>, the shifts per group of 8 by vpsignb of the activations with ±1 bytes, both
    /// sums weighted by the per-16 multipliers in the lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ1M(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1M*)w;
        var y = (BlockQ8K*)a;
        Vector256<byte> ones = Vector256.Create((byte)1);
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ1S)
            for (int b = 0; b < n / 256; b++)
            {
                BlockIQ1M* block = x + b;
                sbyte* q8 = y[b].Qs;
                Vector256<int> sumi = Vector256<int>.Zero, shifts = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    int g = 4 * ib;
                    var points = Points(grid, IQ1MIndex(block, g), IQ1MIndex(block, g + 1), IQ1MIndex(block, g + 2), IQ1MIndex(block, g + 3));
                    uint negative = IQ1MShiftSigns(block, ib);
                    Vector256<short> multipliers = Multipliers(IQ1MMultiplier(block, 2 * ib), IQ1MMultiplier(block, 2 * ib + 1));
                    Vector256<sbyte> q = Avx.LoadVector256(q8);
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, Avx2.Sign(q, points.AsSByte())), multipliers);
                    shifts += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, Avx2.Sign(q, SignVector(negative))), multipliers);
                }
                sum += IQ1MScale(block) * y[b].D * (Vector256.Sum(sumi) + IQ1Delta * Vector256.Sum(shifts));
            }
        return sum;
    }
}
