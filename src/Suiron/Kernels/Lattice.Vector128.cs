using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Suiron.Tensors;

namespace Suiron.Kernels;

// The portable 128-bit dots of the lattice i-quants (NEON on ARM64, SSE on x86 without AVX2). Sixteen weights at a time:
// two (IQ2, IQ1) or four (IQ3) grid points side by side, their signs as 0/−1 byte masks applied by (m ^ mask) − mask,
// then Vector128Dot.DotInt8 (sdot where the CPU has it) against the activations. Each block's integer sum is formed
// exactly and enters the same float expression as the scalar reference, so these dots equal it bit for bit.
internal static unsafe partial class Lattice
{
    /// <summary>For each 7-bit stored sign pattern, its eight 0/−1 bytes (−1 where the weight is negative, eighth sign implied).</summary>
    private static readonly ulong* ImpliedNegativeTable = BuildImpliedNegativeTable();

    private static ulong* BuildImpliedNegativeTable()
    {
        var table = (ulong*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(128 * sizeof(ulong), 64);
        for (uint i = 0; i < 128; i++)
        {
            int signs = Signs(i);
            ulong bytes = 0;
            for (int j = 0; j < 8; j++) bytes |= (ulong)((signs >> j & 1) != 0 ? 0xFF : 0) << (8 * j);
            table[i] = bytes;
        }
        return table;
    }

    /// <summary>Σ ±magnitude·q over 16 weights as 4 int32 partial sums; <paramref name="negative"/> is −1 where the sign is minus.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> SignedDot16(Vector128<byte> magnitudes, Vector128<byte> negative, sbyte* q) =>
        Vector128Dot.DotInt8(Vector128<int>.Zero, ((magnitudes ^ negative) - negative).AsSByte(), Vector128.Load(q));

    /// <summary>Two groups of 8 with implied-sign patterns <paramref name="s0"/>, <paramref name="s1"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> ImpliedNegative(uint s0, uint s1) =>
        Vector128.Create(ImpliedNegativeTable[s0], ImpliedNegativeTable[s1]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ2XXS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2XXS*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ2XXS)
            for (int b = 0; b < n / 256; b++)
            {
                var words = (uint*)x[b].Qs;
                sbyte* q8 = y[b].Qs;
                Vector128<int> sumi = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    uint indices = words[2 * ib], packed = words[2 * ib + 1];
                    var first = Vector128.Create(grid[indices & 0xFF], grid[indices >> 8 & 0xFF]).AsByte();
                    var second = Vector128.Create(grid[indices >> 16 & 0xFF], grid[indices >> 24]).AsByte();
                    Vector128<int> part = SignedDot16(first, ImpliedNegative(packed & 127, packed >> 7 & 127), q8)
                        + SignedDot16(second, ImpliedNegative(packed >> 14 & 127, packed >> 21 & 127), q8 + 16);
                    sumi += part * (int)(2 * (packed >> 28) + 1);
                }
                sum += (float)x[b].D * y[b].D * Vector128.Sum(sumi);
            }
        return 0.125f * sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ2XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2XS*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ2XS)
            for (int b = 0; b < n / 256; b++)
            {
                ushort* qs = x[b].Qs;
                sbyte* q8 = y[b].Qs;
                Vector128<int> sumi = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32, qs += 4)
                {
                    var first = Vector128.Create(grid[qs[0] & 511], grid[qs[1] & 511]).AsByte();
                    var second = Vector128.Create(grid[qs[2] & 511], grid[qs[3] & 511]).AsByte();
                    int scales = x[b].Scales[ib];
                    sumi += SignedDot16(first, ImpliedNegative((uint)qs[0] >> 9, (uint)qs[1] >> 9), q8) * (2 * (scales & 0xF) + 1)
                        + SignedDot16(second, ImpliedNegative((uint)qs[2] >> 9, (uint)qs[3] >> 9), q8 + 16) * (2 * (scales >> 4) + 1);
                }
                sum += (float)x[b].D * y[b].D * Vector128.Sum(sumi);
            }
        return 0.125f * sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ2S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2S*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ2S)
            for (int b = 0; b < n / 256; b++)
            {
                sbyte* q8 = y[b].Qs;
                ushort* signs = (ushort*)(x[b].Qs + 32);
                Vector128<int> sumi = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    var first = Vector128.Create(grid[IQ2SIndex(x + b, ib, 0)], grid[IQ2SIndex(x + b, ib, 1)]).AsByte();
                    var second = Vector128.Create(grid[IQ2SIndex(x + b, ib, 2)], grid[IQ2SIndex(x + b, ib, 3)]).AsByte();
                    int scales = x[b].Scales[ib];
                    sumi += SignedDot16(first, Vector128Dot.BitsToBytes(signs[2 * ib]), q8) * (2 * (scales & 0xF) + 1)
                        + SignedDot16(second, Vector128Dot.BitsToBytes(signs[2 * ib + 1]), q8 + 16) * (2 * (scales >> 4) + 1);
                }
                sum += (float)x[b].D * y[b].D * Vector128.Sum(sumi);
            }
        return 0.125f * sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ3XXS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ3XXS*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (uint* grid = LatticeGrids.IQ3XXS)
            for (int b = 0; b < n / 256; b++)
            {
                byte* qs = x[b].Qs;
                sbyte* q8 = y[b].Qs;
                Vector128<int> sumi = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    byte* index = qs + 8 * ib;
                    uint packed = Unsafe.ReadUnaligned<uint>(qs + 64 + 4 * ib);
                    var first = Vector128.Create(grid[index[0]], grid[index[1]], grid[index[2]], grid[index[3]]).AsByte();
                    var second = Vector128.Create(grid[index[4]], grid[index[5]], grid[index[6]], grid[index[7]]).AsByte();
                    Vector128<int> part = SignedDot16(first, ImpliedNegative(packed & 127, packed >> 7 & 127), q8)
                        + SignedDot16(second, ImpliedNegative(packed >> 14 & 127, packed >> 21 & 127), q8 + 16);
                    sumi += part * (int)(2 * (packed >> 28) + 1);
                }
                sum += (float)x[b].D * y[b].D * Vector128.Sum(sumi);
            }
        return 0.25f * sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ3S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ3S*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (uint* grid = LatticeGrids.IQ3S)
            for (int b = 0; b < n / 256; b++)
            {
                BlockIQ3S* block = x + b;
                sbyte* q8 = y[b].Qs;
                var signs = (ushort*)block->Signs;
                Vector128<int> sumi = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    var first = Vector128.Create(grid[IQ3SIndex(block, ib, 0)], grid[IQ3SIndex(block, ib, 1)], grid[IQ3SIndex(block, ib, 2)], grid[IQ3SIndex(block, ib, 3)]).AsByte();
                    var second = Vector128.Create(grid[IQ3SIndex(block, ib, 4)], grid[IQ3SIndex(block, ib, 5)], grid[IQ3SIndex(block, ib, 6)], grid[IQ3SIndex(block, ib, 7)]).AsByte();
                    Vector128<int> part = SignedDot16(first, Vector128Dot.BitsToBytes(signs[2 * ib]), q8)
                        + SignedDot16(second, Vector128Dot.BitsToBytes(signs[2 * ib + 1]), q8 + 16);
                    sumi += part * (2 * ((block->Scales[ib / 2] >> (4 * (ib % 2))) & 0xF) + 1);
                }
                sum += (float)x[b].D * y[b].D * Vector128.Sum(sumi);
            }
        return sum;
    }

    /// <summary>IQ1_S: the grid points (−1, 0, 1 bytes) are the signed weights; the ±1/8 shifts through the activations' 16-sums, as the reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ1S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1S*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ1S)
            for (int b = 0; b < n / 256; b++)
            {
                sbyte* q8 = y[b].Qs;
                Vector128<int> sumi = Vector128<int>.Zero;
                int shifts = 0;
                for (int ib = 0; ib < 8; ib++, q8 += 32)
                {
                    int qh = x[b].Qh[ib];
                    int ls = 2 * ((qh >> 12) & 7) + 1;
                    var first = Vector128.Create(grid[IQ1SIndex(x + b, ib, 0)], grid[IQ1SIndex(x + b, ib, 1)]).AsSByte();
                    var second = Vector128.Create(grid[IQ1SIndex(x + b, ib, 2)], grid[IQ1SIndex(x + b, ib, 3)]).AsSByte();
                    sumi += Vector128Dot.DotInt8(Vector128Dot.DotInt8(Vector128<int>.Zero, first, Vector128.Load(q8)), second, Vector128.Load(q8 + 16)) * ls;
                    int activationSum = y[b].BSums[2 * ib] + y[b].BSums[2 * ib + 1];
                    shifts += ls * ((qh & 0x8000) != 0 ? -activationSum : activationSum);
                }
                sum += (float)x[b].D * y[b].D * (Vector128.Sum(sumi) + IQ1Delta * shifts);
            }
        return sum;
    }

    /// <summary>IQ1_M: as <see cref="Vector128DotIQ1S"/>, the shifts per group of 8 by a dot of the activations with ±1 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotIQ1M(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1M*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        fixed (ulong* grid = LatticeGrids.IQ1S)
            for (int b = 0; b < n / 256; b++)
            {
                BlockIQ1M* block = x + b;
                sbyte* q8 = y[b].Qs;
                Vector128<int> sumi = Vector128<int>.Zero, shifts = Vector128<int>.Zero;
                for (int h = 0; h < 16; h++, q8 += 16)
                {
                    int g = 2 * h, ls = IQ1MMultiplier(block, h);
                    var points = Vector128.Create(grid[IQ1MIndex(block, g)], grid[IQ1MIndex(block, g + 1)]).AsSByte();
                    var shiftSigns = Vector128.Create(IQ1MNegative(block, g) ? ulong.MaxValue : 0x0101010101010101UL,
                        IQ1MNegative(block, g + 1) ? ulong.MaxValue : 0x0101010101010101UL).AsSByte();
                    Vector128<sbyte> q = Vector128.Load(q8);
                    sumi += Vector128Dot.DotInt8(Vector128<int>.Zero, points, q) * ls;
                    shifts += Vector128Dot.DotInt8(Vector128<int>.Zero, shiftSigns, q) * ls;
                }
                sum += Avx2Dot.Scale(IQ1MScaleHalf(block)) * y[b].D * (Vector128.Sum(sumi) + IQ1Delta * Vector128.Sum(shifts));
            }
        return sum;
    }
}
