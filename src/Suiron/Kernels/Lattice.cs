using System.Numerics;
using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The lattice i-quants IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and IQ1_M (block layouts in LatticeBlocks.cs,
/// codebooks in <see cref="LatticeGrids"/>): dequantizers bit-exact with ggml's dequantize_row_*, and the reference dots
/// against Q8_K activations the way ggml's CPU vec_dot computes them — per sub-block an exact integer sum times its
/// odd integer multiplier 2s + 1, per block one float product d_x · d_y, and the type's power-of-two factor at the end.
/// </summary>
internal static unsafe partial class Lattice
{
    /// <summary>
    /// Eight sign bits from the seven stored ones: the eighth makes the number of negative signs even, which is how
    /// ggml's quantizer chooses it (its ksigns_iq2xs table).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Signs(uint seven) => (int)(seven | ((uint)BitOperations.PopCount(seven) & 1) << 7);

    /// <summary>The ±1/8 shift of an IQ1 group: ggml's IQ1S_DELTA / IQ1M_DELTA.</summary>
    internal const float IQ1Delta = 0.125f;

    /// <summary>Eight weights db · magnitude, negated where the sign bit is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SignedGroup(ulong magnitudes, int signs, float db, float* y)
    {
        for (int j = 0; j < 8; j++)
        {
            float v = db * (byte)(magnitudes >> (8 * j));
            y[j] = (signs >> j & 1) != 0 ? -v : v;
        }
    }

    /// <summary>Σ ± magnitude_j · q_j over one group of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SignedGroupSum(ulong magnitudes, int signs, sbyte* q)
    {
        int sum = 0;
        for (int j = 0; j < 8; j++)
        {
            int p = (byte)(magnitudes >> (8 * j)) * q[j];
            sum += (signs >> j & 1) != 0 ? -p : p;
        }
        return sum;
    }

    /// <summary>Eight IQ1 weights dl · (v + delta), v ∈ {−1, 0, 1}.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShiftedGroup(ulong point, float delta, float dl, float* y)
    {
        for (int j = 0; j < 8; j++) y[j] = dl * ((sbyte)(point >> (8 * j)) + delta);
    }

    /// <summary>Σ v_j · q_j over one IQ1 group of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PointSum(ulong point, sbyte* q)
    {
        int sum = 0;
        for (int j = 0; j < 8; j++) sum += (sbyte)(point >> (8 * j)) * q[j];
        return sum;
    }

    private static int Sum8(sbyte* q)
    {
        int sum = 0;
        for (int j = 0; j < 8; j++) sum += q[j];
        return sum;
    }

    /// <summary>Two IQ3 grid points (four magnitudes each) as one group of eight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pair(ReadOnlySpan<uint> grid, int first, int second) => grid[first] | (ulong)grid[second] << 32;

    // Index and scale decoding, shared by the dequantizers, the dots and the SIMD kernels.

    /// <summary>IQ2_S: the 10-bit grid index of group l (0..3) of sub-block <paramref name="ib"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IQ2SIndex(BlockIQ2S* x, int ib, int l) => x->Qs[4 * ib + l] | (x->Qh[ib] << (8 - 2 * l) & 0x300);

    /// <summary>IQ3_S: the 9-bit grid index of point k (0..7) of sub-block <paramref name="ib"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IQ3SIndex(BlockIQ3S* x, int ib, int k) => x->Qs[8 * ib + k] | (x->Qh[ib] << (8 - k) & 0x100);

    /// <summary>IQ1_S: the 11-bit grid index of group l (0..3) of sub-block <paramref name="ib"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IQ1SIndex(BlockIQ1S* x, int ib, int l) => x->Qs[4 * ib + l] | ((x->Qh[ib] >> (3 * l)) & 7) << 8;

    /// <summary>IQ1_M: the 11-bit grid index of group <paramref name="g"/> (0..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IQ1MIndex(BlockIQ1M* x, int g) => x->Qs[g] | (x->Qh[g / 2] << (8 - 4 * (g % 2)) & 0x700);

    /// <summary>IQ1_M: whether group <paramref name="g"/>'s shift is −1/8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IQ1MNegative(BlockIQ1M* x, int g) => (x->Qh[g / 2] & (8 << (4 * (g % 2)))) != 0;

    /// <summary>IQ1_M: the multiplier 2s + 1 of the 16 weights <paramref name="h"/> (0..15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IQ1MMultiplier(BlockIQ1M* x, int h)
    {
        ushort word = ((ushort*)x->Scales)[h / 4];
        return 2 * ((word >> (3 * (h % 4))) & 7) + 1;
    }

    /// <summary>IQ1_M: the fp16 block scale, spread over the top nibbles of the four scale words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float IQ1MScale(BlockIQ1M* x) => (float)IQ1MScaleHalf(x);

    /// <summary>IQ1_M: the fp16 block scale as a <see cref="Half"/>, for kernels that convert it their own way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Half IQ1MScaleHalf(BlockIQ1M* x)
    {
        var sc = (ushort*)x->Scales;
        return BitConverter.UInt16BitsToHalf((ushort)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000)));
    }

    // Dequantizers.

    public static void DequantizeIQ2XXS(BlockIQ2XXS* x, float* y, int blocks)
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ2XXS;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            var words = (uint*)x[b].Qs;
            for (int ib = 0; ib < 8; ib++)
            {
                uint indices = words[2 * ib], signsAndScale = words[2 * ib + 1];
                float db = d * (0.5f + (signsAndScale >> 28)) * 0.25f;
                for (int l = 0; l < 4; l++, y += 8)
                    SignedGroup(grid[(int)(indices >> (8 * l)) & 0xFF], Signs(signsAndScale >> (7 * l) & 127), db, y);
            }
        }
    }

    public static void DequantizeIQ2XS(BlockIQ2XS* x, float* y, int blocks)
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ2XS;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int ib = 0; ib < 8; ib++)
            {
                float db0 = d * (0.5f + (x[b].Scales[ib] & 0xF)) * 0.25f;
                float db1 = d * (0.5f + (x[b].Scales[ib] >> 4)) * 0.25f;
                for (int l = 0; l < 4; l++, y += 8)
                {
                    int q = x[b].Qs[4 * ib + l];
                    SignedGroup(grid[q & 511], Signs((uint)q >> 9), l < 2 ? db0 : db1, y);
                }
            }
        }
    }

    public static void DequantizeIQ2S(BlockIQ2S* x, float* y, int blocks)
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ2S;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int ib = 0; ib < 8; ib++)
            {
                float db0 = d * (0.5f + (x[b].Scales[ib] & 0xF)) * 0.25f;
                float db1 = d * (0.5f + (x[b].Scales[ib] >> 4)) * 0.25f;
                for (int l = 0; l < 4; l++, y += 8)
                    SignedGroup(grid[IQ2SIndex(x + b, ib, l)], x[b].Qs[32 + 4 * ib + l], l < 2 ? db0 : db1, y);
            }
        }
    }

    public static void DequantizeIQ3XXS(BlockIQ3XXS* x, float* y, int blocks)
    {
        ReadOnlySpan<uint> grid = LatticeGrids.IQ3XXS;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            byte* qs = x[b].Qs;
            for (int ib = 0; ib < 8; ib++)
            {
                uint signsAndScale = Unsafe.ReadUnaligned<uint>(qs + 64 + 4 * ib);
                float db = d * (0.5f + (signsAndScale >> 28)) * 0.5f;
                for (int l = 0; l < 4; l++, y += 8)
                    SignedGroup(Pair(grid, qs[8 * ib + 2 * l], qs[8 * ib + 2 * l + 1]), Signs(signsAndScale >> (7 * l) & 127), db, y);
            }
        }
    }

    public static void DequantizeIQ3S(BlockIQ3S* x, float* y, int blocks)
    {
        ReadOnlySpan<uint> grid = LatticeGrids.IQ3S;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int ib = 0; ib < 8; ib++)
            {
                float db = d * (1 + 2 * ((x[b].Scales[ib / 2] >> (4 * (ib % 2))) & 0xF));
                for (int l = 0; l < 4; l++, y += 8)
                    SignedGroup(Pair(grid, IQ3SIndex(x + b, ib, 2 * l), IQ3SIndex(x + b, ib, 2 * l + 1)), x[b].Signs[4 * ib + l], db, y);
            }
        }
    }

    public static void DequantizeIQ1S(BlockIQ1S* x, float* y, int blocks)
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ1S;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int ib = 0; ib < 8; ib++)
            {
                int qh = x[b].Qh[ib];
                float dl = d * (2 * ((qh >> 12) & 7) + 1);
                float delta = (qh & 0x8000) != 0 ? -IQ1Delta : IQ1Delta;
                for (int l = 0; l < 4; l++, y += 8) ShiftedGroup(grid[IQ1SIndex(x + b, ib, l)], delta, dl, y);
            }
        }
    }

    public static void DequantizeIQ1M(BlockIQ1M* x, float* y, int blocks)
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ1S;
        for (int b = 0; b < blocks; b++)
        {
            float d = IQ1MScale(x + b);
            for (int g = 0; g < 32; g++, y += 8)
            {
                float dl = d * IQ1MMultiplier(x + b, g / 2);
                ShiftedGroup(grid[IQ1MIndex(x + b, g)], IQ1MNegative(x + b, g) ? -IQ1Delta : IQ1Delta, dl, y);
            }
        }
    }

    // Reference dots against Q8_K.

    public static float DotIQ2XXS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2XXS*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ2XXS;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            var words = (uint*)x[b].Qs;
            sbyte* q8 = y[b].Qs;
            int sumi = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                uint indices = words[2 * ib], signsAndScale = words[2 * ib + 1];
                int part = 0;
                for (int l = 0; l < 4; l++, q8 += 8)
                    part += SignedGroupSum(grid[(int)(indices >> (8 * l)) & 0xFF], Signs(signsAndScale >> (7 * l) & 127), q8);
                sumi += part * (int)(2 * (signsAndScale >> 28) + 1);
            }
            sum += (float)x[b].D * y[b].D * sumi;
        }
        return 0.125f * sum;
    }

    public static float DotIQ2XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2XS*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ2XS;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            sbyte* q8 = y[b].Qs;
            int sumi = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                int part0 = 0, part1 = 0;
                for (int l = 0; l < 4; l++, q8 += 8)
                {
                    int q = x[b].Qs[4 * ib + l];
                    int s = SignedGroupSum(grid[q & 511], Signs((uint)q >> 9), q8);
                    if (l < 2) part0 += s; else part1 += s;
                }
                sumi += part0 * (2 * (x[b].Scales[ib] & 0xF) + 1) + part1 * (2 * (x[b].Scales[ib] >> 4) + 1);
            }
            sum += (float)x[b].D * y[b].D * sumi;
        }
        return 0.125f * sum;
    }

    public static float DotIQ2S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ2S*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ2S;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            sbyte* q8 = y[b].Qs;
            int sumi = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                int part0 = 0, part1 = 0;
                for (int l = 0; l < 4; l++, q8 += 8)
                {
                    int s = SignedGroupSum(grid[IQ2SIndex(x + b, ib, l)], x[b].Qs[32 + 4 * ib + l], q8);
                    if (l < 2) part0 += s; else part1 += s;
                }
                sumi += part0 * (2 * (x[b].Scales[ib] & 0xF) + 1) + part1 * (2 * (x[b].Scales[ib] >> 4) + 1);
            }
            sum += (float)x[b].D * y[b].D * sumi;
        }
        return 0.125f * sum;
    }

    public static float DotIQ3XXS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ3XXS*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<uint> grid = LatticeGrids.IQ3XXS;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            byte* qs = x[b].Qs;
            sbyte* q8 = y[b].Qs;
            int sumi = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                uint signsAndScale = Unsafe.ReadUnaligned<uint>(qs + 64 + 4 * ib);
                int part = 0;
                for (int l = 0; l < 4; l++, q8 += 8)
                    part += SignedGroupSum(Pair(grid, qs[8 * ib + 2 * l], qs[8 * ib + 2 * l + 1]), Signs(signsAndScale >> (7 * l) & 127), q8);
                sumi += part * (int)(2 * (signsAndScale >> 28) + 1);
            }
            sum += (float)x[b].D * y[b].D * sumi;
        }
        return 0.25f * sum;
    }

    public static float DotIQ3S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ3S*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<uint> grid = LatticeGrids.IQ3S;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            sbyte* q8 = y[b].Qs;
            int sumi = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                int part = 0;
                for (int l = 0; l < 4; l++, q8 += 8)
                    part += SignedGroupSum(Pair(grid, IQ3SIndex(x + b, ib, 2 * l), IQ3SIndex(x + b, ib, 2 * l + 1)), x[b].Signs[4 * ib + l], q8);
                sumi += part * (2 * ((x[b].Scales[ib / 2] >> (4 * (ib % 2))) & 0xF) + 1);
            }
            sum += (float)x[b].D * y[b].D * sumi;
        }
        return sum;
    }

    public static float DotIQ1S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1S*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ1S;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            sbyte* q8 = y[b].Qs;
            int sumi = 0, shifts = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                int qh = x[b].Qh[ib];
                int ls = 2 * ((qh >> 12) & 7) + 1;
                int part = 0;
                for (int l = 0; l < 4; l++, q8 += 8) part += PointSum(grid[IQ1SIndex(x + b, ib, l)], q8);
                sumi += ls * part;
                int activationSum = y[b].BSums[2 * ib] + y[b].BSums[2 * ib + 1];
                shifts += ls * ((qh & 0x8000) != 0 ? -activationSum : activationSum);
            }
            sum += (float)x[b].D * y[b].D * (sumi + IQ1Delta * shifts);
        }
        return sum;
    }

    public static float DotIQ1M(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1M*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ1S;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            sbyte* q8 = y[b].Qs;
            int sumi = 0, shifts = 0;
            for (int g = 0; g < 32; g++, q8 += 8)
            {
                int ls = IQ1MMultiplier(x + b, g / 2);
                sumi += ls * PointSum(grid[IQ1MIndex(x + b, g)], q8);
                int activationSum = Sum8(q8);
                shifts += ls * (IQ1MNegative(x + b, g) ? -activationSum : activationSum);
            }
            sum += IQ1MScale(x + b) * y[b].D * (sumi + IQ1Delta * shifts);
        }
        return sum;
    }
}
