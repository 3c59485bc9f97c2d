using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

// The GEMM's lattice i-quant part. Each 256-weight block is decoded once per row group into a k-quant panel slot: the
// 256 weights as signed bytes in element order, the 16 multipliers (one per 16 weights) as int16, the block scale d as
// a float. IQ2/IQ3 bytes are ±grid magnitude, so |w| and sign(w) reproduce the decode kernels' vpmaddubsw operands and
// each (row, token) gets the integer lanes and float steps of LatticeDot: bit-identical. IQ1 bytes are
// 8·(v ± 1/8) ∈ {±1, ±7, ±9}, so a block's integer sum is 8·Σ(grid·q) + Σ(shift·q) and one multiplication by 1/8 gives
// exactly the value the decode kernels form as Σ(grid·q) + Σ(shift·q)/8 (below 2^22 with three fractional bits: exact in
// float), hence the same bits there too.
internal static unsafe partial class Gemm
{
    private const int LatticePanelMultipliers = 256, LatticePanelFloat = 288;

    private static bool IsLattice(TensorType type) => type is TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S
        or TensorType.IQ3_XXS or TensorType.IQ3_S or TensorType.IQ1_S or TensorType.IQ1_M;

    /// <summary>The power of two the type's dot ends with (its multipliers are 2s + 1 where the format's are s + 1/2 or (s + 1/2)/2).</summary>
    private static float LatticeFactor(TensorType type) => type switch
    {
        TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S => 0.125f,
        TensorType.IQ3_XXS => 0.25f,
        _ => 1f,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackLattice(TensorType type, byte* src, byte* dst, int blocks)
    {
        fixed (ulong* grid2xxs = LatticeGrids.IQ2XXS) fixed (ulong* grid2xs = LatticeGrids.IQ2XS) fixed (ulong* grid2s = LatticeGrids.IQ2S)
        fixed (uint* grid3xxs = LatticeGrids.IQ3XXS) fixed (uint* grid3s = LatticeGrids.IQ3S) fixed (ulong* grid1s = LatticeGrids.IQ1S)
            for (int b = 0; b < blocks; b++, dst += KPanelBlockBytes)
            {
                var values = (sbyte*)dst;
                var multipliers = (short*)(dst + LatticePanelMultipliers);
                var d = (float*)(dst + LatticePanelFloat);
                switch (type)
                {
                    case TensorType.IQ2_XXS:
                    {
                        var x = (BlockIQ2XXS*)src + b;
                        var words = (uint*)x->Qs;
                        for (int ib = 0; ib < 8; ib++)
                        {
                            uint indices = words[2 * ib], signsAndScale = words[2 * ib + 1];
                            var magnitudes = Points(grid2xxs, (int)(indices & 0xFF), (int)(indices >> 8 & 0xFF), (int)(indices >> 16 & 0xFF), (int)(indices >> 24));
                            Avx.Store(values + 32 * ib, Avx2.Sign(magnitudes.AsSByte(), ImpliedSignVector(signsAndScale)));
                            multipliers[2 * ib] = multipliers[2 * ib + 1] = (short)(2 * (signsAndScale >> 28) + 1);
                        }
                        *d = Avx2Dot.Scale(x->D);
                        break;
                    }
                    case TensorType.IQ2_XS:
                    {
                        var x = (BlockIQ2XS*)src + b;
                        for (int ib = 0; ib < 8; ib++)
                        {
                            ushort* qs = x->Qs + 4 * ib;
                            var magnitudes = Points(grid2xs, qs[0] & 511, qs[1] & 511, qs[2] & 511, qs[3] & 511);
                            var signs = ImpliedSignVector((uint)qs[0] >> 9, (uint)qs[1] >> 9, (uint)qs[2] >> 9, (uint)qs[3] >> 9);
                            Avx.Store(values + 32 * ib, Avx2.Sign(magnitudes.AsSByte(), signs));
                            multipliers[2 * ib] = (short)(2 * (x->Scales[ib] & 0xF) + 1);
                            multipliers[2 * ib + 1] = (short)(2 * (x->Scales[ib] >> 4) + 1);
                        }
                        *d = Avx2Dot.Scale(x->D);
                        break;
                    }
                    case TensorType.IQ2_S:
                    {
                        var x = (BlockIQ2S*)src + b;
                        for (int ib = 0; ib < 8; ib++)
                        {
                            var magnitudes = Points(grid2s, Lattice.IQ2SIndex(x, ib, 0), Lattice.IQ2SIndex(x, ib, 1), Lattice.IQ2SIndex(x, ib, 2), Lattice.IQ2SIndex(x, ib, 3));
                            uint signs = Unsafe.ReadUnaligned<uint>(x->Qs + 32 + 4 * ib);
                            Avx.Store(values + 32 * ib, Avx2.Sign(magnitudes.AsSByte(), SignVector(signs)));
                            multipliers[2 * ib] = (short)(2 * (x->Scales[ib] & 0xF) + 1);
                            multipliers[2 * ib + 1] = (short)(2 * (x->Scales[ib] >> 4) + 1);
                        }
                        *d = Avx2Dot.Scale(x->D);
                        break;
                    }
                    case TensorType.IQ3_XXS:
                    {
                        var x = (BlockIQ3XXS*)src + b;
                        for (int ib = 0; ib < 8; ib++)
                        {
                            uint signsAndScale = Unsafe.ReadUnaligned<uint>(x->Qs + 64 + 4 * ib);
                            var magnitudes = Points(grid3xxs, x->Qs + 8 * ib);
                            Avx.Store(values + 32 * ib, Avx2.Sign(magnitudes.AsSByte(), ImpliedSignVector(signsAndScale)));
                            multipliers[2 * ib] = multipliers[2 * ib + 1] = (short)(2 * (signsAndScale >> 28) + 1);
                        }
                        *d = Avx2Dot.Scale(x->D);
                        break;
                    }
                    case TensorType.IQ3_S:
                    {
                        var x = (BlockIQ3S*)src + b;
                        byte* indices = stackalloc byte[8];
                        for (int ib = 0; ib < 8; ib++)
                        {
                            var magnitudes = Vector256.Create(
                                grid3s[Lattice.IQ3SIndex(x, ib, 0)], grid3s[Lattice.IQ3SIndex(x, ib, 1)], grid3s[Lattice.IQ3SIndex(x, ib, 2)], grid3s[Lattice.IQ3SIndex(x, ib, 3)],
                                grid3s[Lattice.IQ3SIndex(x, ib, 4)], grid3s[Lattice.IQ3SIndex(x, ib, 5)], grid3s[Lattice.IQ3SIndex(x, ib, 6)], grid3s[Lattice.IQ3SIndex(x, ib, 7)]).AsByte();
                            uint signs = Unsafe.ReadUnaligned<uint>(x->Signs + 4 * ib);
                            Avx.Store(values + 32 * ib, Avx2.Sign(magnitudes.AsSByte(), SignVector(signs)));
                            multipliers[2 * ib] = multipliers[2 * ib + 1] = (short)(2 * ((x->Scales[ib / 2] >> (4 * (ib % 2))) & 0xF) + 1);
                        }
                        *d = Avx2Dot.Scale(x->D);
                        break;
                    }
                    case TensorType.IQ1_S:
                    {
                        var x = (BlockIQ1S*)src + b;
                        for (int ib = 0; ib < 8; ib++)
                        {
                            int qh = x->Qh[ib];
                            var points = Points(grid1s, Lattice.IQ1SIndex(x, ib, 0), Lattice.IQ1SIndex(x, ib, 1), Lattice.IQ1SIndex(x, ib, 2), Lattice.IQ1SIndex(x, ib, 3)).AsSByte();
                            var shift = Vector256.Create((sbyte)((qh & 0x8000) != 0 ? -1 : 1));
                            Avx.Store(values + 32 * ib, Eight(points) + shift);
                            multipliers[2 * ib] = multipliers[2 * ib + 1] = (short)(2 * ((qh >> 12) & 7) + 1);
                        }
                        *d = Avx2Dot.Scale(x->D);
                        break;
                    }
                    case TensorType.IQ1_M:
                    {
                        var x = (BlockIQ1M*)src + b;
                        for (int ib = 0; ib < 8; ib++)
                        {
                            int g = 4 * ib;
                            var points = Points(grid1s, Lattice.IQ1MIndex(x, g), Lattice.IQ1MIndex(x, g + 1), Lattice.IQ1MIndex(x, g + 2), Lattice.IQ1MIndex(x, g + 3)).AsSByte();
                            Avx.Store(values + 32 * ib, Eight(points) + SignVector(IQ1MShiftSigns(x, ib)));
                            multipliers[2 * ib] = (short)Lattice.IQ1MMultiplier(x, 2 * ib);
                            multipliers[2 * ib + 1] = (short)Lattice.IQ1MMultiplier(x, 2 * ib + 1);
                        }
                        *d = Avx2Dot.Scale(Lattice.IQ1MScaleHalf(x));
                        break;
                    }
                    default: throw Quantization.Unsupported(type);
                }
            }
    }

    /// <summary>
    /// For each 7-bit stored sign pattern, its eight ±1 bytes (the eighth sign implied, see <see cref="Lattice.Signs"/>):
    /// one table load per group of 8. 1 KB, built once, never freed.
    /// </summary>
    private static readonly ulong* ImpliedSignTable = BuildImpliedSignTable();

    private static ulong* BuildImpliedSignTable()
    {
        var table = (ulong*)NativeMemory.AlignedAlloc(128 * sizeof(ulong), 64);
        for (uint i = 0; i < 128; i++)
        {
            int signs = Lattice.Signs(i);
            ulong bytes = 0;
            for (int j = 0; j < 8; j++) bytes |= (ulong)((signs >> j & 1) != 0 ? 0xFF : 0x01) << (8 * j);
            table[i] = bytes;
        }
        return table;
    }

    /// <summary>±1 bytes of four groups whose seven-bit sign patterns are <paramref name="s0"/>..<paramref name="s3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> ImpliedSignVector(uint s0, uint s1, uint s2, uint s3) =>
        Vector256.Create(ImpliedSignTable[s0], ImpliedSignTable[s1], ImpliedSignTable[s2], ImpliedSignTable[s3]).AsSByte();

    /// <summary>±1 bytes of a sub-block whose four seven-bit sign patterns are packed at bits 0, 7, 14, 21.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> ImpliedSignVector(uint packed) =>
        ImpliedSignVector(packed & 127, packed >> 7 & 127, packed >> 14 & 127, packed >> 21 & 127);

    /// <summary>±1 bytes, −1 where bit j of byte l of <paramref name="signBytes"/> is set (element 8l + j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> SignVector(uint signBytes) => (Avx2Dot.BitsToBytes(signBytes) | Vector256.Create((byte)1)).AsSByte();

    /// <summary>Four eight-byte grid points (IQ2, IQ1 codebooks) side by side: 32 weights in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Points(ulong* grid, int i0, int i1, int i2, int i3) =>
        Vector256.Create(grid[i0], grid[i1], grid[i2], grid[i3]).AsByte();

    /// <summary>Eight four-byte grid points (IQ3 codebooks) whose indices are the bytes at <paramref name="indices"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Points(uint* grid, byte* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]],
            grid[indices[4]], grid[indices[5]], grid[indices[6]], grid[indices[7]]).AsByte();

    /// <summary>
    /// IQ1_M: the shift signs of sub-block <paramref name="ib"/>'s four groups as sign bytes (0xFF where the shift is
    /// −1/8): bits 3 and 7 of each qh byte belong to its two groups.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint IQ1MShiftSigns(BlockIQ1M* block, int ib)
    {
        uint qh = *(ushort*)(block->Qh + 2 * ib);
        return (qh >> 3 & 1) * 0xFFu | (qh >> 7 & 1) * 0xFF00u | (qh >> 11 & 1) * 0xFF0000u | (qh >> 15 & 1) * 0xFF000000u;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Eight(Vector256<sbyte> v)
    {
        Vector256<sbyte> two = v + v, four = two + two;
        return four + four;
    }

    /// <summary>Σ |w|·(y with w's sign) over one 32-weight sub-block, pairs times the sub-block's two multipliers: 8 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> LatticeLanes(Vector256<byte> absW, Vector256<sbyte> w, sbyte* y, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(y), w)), scale);

    /// <summary>One unpacked IQ2/IQ3 row against four tokens: per block exact int32 lanes, one FMA with d_w·d_y each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LatticeKernel(byte* row, int n, float factor, BlockQ8K* y0, BlockQ8K* y1, BlockQ8K* y2, BlockQ8K* y3, float* results)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        byte* block = row;
        for (int b = 0; b < n / 256; b++, block += KPanelBlockBytes)
        {
            Vector256<int> s0 = Vector256<int>.Zero, s1 = s0, s2 = s0, s3 = s0;
            short* multipliers = (short*)(block + LatticePanelMultipliers);
            for (int i = 0; i < 8; i++)
            {
                Vector256<sbyte> w = Avx.LoadVector256((sbyte*)block + 32 * i);
                Vector256<byte> absW = Avx2.Abs(w);
                Vector256<short> scale = Vector256.Create(Vector128.Create(multipliers[2 * i]), Vector128.Create(multipliers[2 * i + 1]));
                s0 += LatticeLanes(absW, w, y0[b].Qs + 32 * i, scale);
                s1 += LatticeLanes(absW, w, y1[b].Qs + 32 * i, scale);
                s2 += LatticeLanes(absW, w, y2[b].Qs + 32 * i, scale);
                s3 += LatticeLanes(absW, w, y3[b].Qs + 32 * i, scale);
            }
            float wd = *(float*)(block + LatticePanelFloat);
            acc0 = Fma.MultiplyAdd(Vector256.Create(wd * y0[b].D), Avx.ConvertToVector256Single(s0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(wd * y1[b].D), Avx.ConvertToVector256Single(s1), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(wd * y2[b].D), Avx.ConvertToVector256Single(s2), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(wd * y3[b].D), Avx.ConvertToVector256Single(s3), acc3);
        }
        Sse.Store(results, Vector128.Create(factor) * Avx2Dot.Sum4(acc0, acc1, acc2, acc3));
    }

    /// <summary>One unpacked IQ1 row against four tokens: per block the exact integer 8·Σ(grid·q) + Σ(shift·q), then the decode kernels' float steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LatticeIQ1Kernel(byte* row, int n, BlockQ8K* y0, BlockQ8K* y1, BlockQ8K* y2, BlockQ8K* y3, float* results)
    {
        float sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
        byte* block = row;
        for (int b = 0; b < n / 256; b++, block += KPanelBlockBytes)
        {
            Vector256<int> s0 = Vector256<int>.Zero, s1 = s0, s2 = s0, s3 = s0;
            short* multipliers = (short*)(block + LatticePanelMultipliers);
            for (int i = 0; i < 8; i++)
            {
                Vector256<sbyte> w = Avx.LoadVector256((sbyte*)block + 32 * i);
                Vector256<byte> absW = Avx2.Abs(w);
                Vector256<short> scale = Vector256.Create(Vector128.Create(multipliers[2 * i]), Vector128.Create(multipliers[2 * i + 1]));
                s0 += LatticeLanes(absW, w, y0[b].Qs + 32 * i, scale);
                s1 += LatticeLanes(absW, w, y1[b].Qs + 32 * i, scale);
                s2 += LatticeLanes(absW, w, y2[b].Qs + 32 * i, scale);
                s3 += LatticeLanes(absW, w, y3[b].Qs + 32 * i, scale);
            }
            float wd = *(float*)(block + LatticePanelFloat);
            sum0 += wd * y0[b].D * (Vector256.Sum(s0) * Lattice.IQ1Delta);
            sum1 += wd * y1[b].D * (Vector256.Sum(s1) * Lattice.IQ1Delta);
            sum2 += wd * y2[b].D * (Vector256.Sum(s2) * Lattice.IQ1Delta);
            sum3 += wd * y3[b].D * (Vector256.Sum(s3) * Lattice.IQ1Delta);
        }
        results[0] = sum0;
        results[1] = sum1;
        results[2] = sum2;
        results[3] = sum3;
    }
}
