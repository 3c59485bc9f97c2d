using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// 512-bit decode kernels, generic over <see cref="IWideOps"/> (the AVX-512 instructions, or their AVX2 twin in the
/// tests). Each 512-bit register holds two 32-element runs of a k-quant block, the integer lanes of the two halves are
/// added before the float step, and everything from there on is <see cref="Avx2Dot"/>'s: integer sums are exact in any
/// order, so each result is bit-identical to the AVX2 kernel's (and to the GEMM's). Per run pair a row takes one
/// broadcast load, one shift, one and, one scale shuffle and two multiplies where the AVX2 kernels take twelve
/// instructions; the activations are loaded once for both rows.
/// </summary>
internal static unsafe class WideDot
{
    /// <summary>
    /// vpshufb masks, 64 bytes each: the low 256 bits broadcast int16 word a in the low 128-bit lane and b in the high one
    /// (as <see cref="Avx2Dot.WordBroadcast"/>), the high 256 bits c and d. Masks 0..3: Q4_K pair p, (2p, 2p, 2p+1, 2p+1);
    /// mask 4: Q6_K runs 0-1, (0, 1, 2, 3); mask 5: runs 2-3, (4, 5, 6, 7). A table in the image, because the JIT builds
    /// Vector512.Create of two constant halves anew on every use instead of folding it.
    /// </summary>
    private static ReadOnlySpan<byte> ScaleMasks =>
    [
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
        2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
        4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5,
        6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
        8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9,
        10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
        12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
        14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
        4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
        8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
        12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
    ];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> ScaleMask(int mask) =>
        Vector512.LoadUnsafe(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(ScaleMasks), (nuint)(64 * mask));

    /// <summary>
    /// <see cref="Avx2Dot.F16xRebiasedF32FourRows"/> sixteen halves per row and step: each row's two 256-bit accumulators
    /// side by side in one register (elements 0..7 of a 16-element step low, 8..15 high), the 8-element remainder into the
    /// low half only, then the same sums and tail, so each result is bit-identical to <see cref="Avx2Dot.F16xRebiasedF32"/>.
    /// A row holding an infinite or NaN weight goes through the one-row kernel, as there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void F16xRebiasedF32FourRows<TOps>(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance) where TOps : struct, IWideOps
    {
        ushort* x0 = (ushort*)w, x1 = (ushort*)(w + rowDistance), x2 = (ushort*)(w + 2 * rowDistance), x3 = (ushort*)(w + 3 * rowDistance);
        float* act = (float*)a;
        Vector512<float> acc0 = Vector512<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        Vector512<int> keptBits = Vector512.Create(unchecked((int)0x8FFFE000));
        Vector256<ushort> magnitudeMask = Vector256.Create((ushort)0x7FFF);
        Vector256<ushort> magnitudeMax = Vector256<ushort>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Load(x0 + i) & magnitudeMask);
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Load(x1 + i) & magnitudeMask);
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Load(x2 + i) & magnitudeMask);
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Load(x3 + i) & magnitudeMask);
            Vector512<float> activations = Vector512.Load(act + i);
            acc0 = Vector512.FusedMultiplyAdd(ShiftedHalves<TOps>(x0 + i, keptBits), activations, acc0);
            acc1 = Vector512.FusedMultiplyAdd(ShiftedHalves<TOps>(x1 + i, keptBits), activations, acc1);
            acc2 = Vector512.FusedMultiplyAdd(ShiftedHalves<TOps>(x2 + i, keptBits), activations, acc2);
            acc3 = Vector512.FusedMultiplyAdd(ShiftedHalves<TOps>(x3 + i, keptBits), activations, acc3);
        }
        Vector256<float> low0 = acc0.GetLower(), low1 = acc1.GetLower(), low2 = acc2.GetLower(), low3 = acc3.GetLower();
        if (i + 8 <= n)
        {
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Create(Vector128.Load(x0 + i), Vector128<ushort>.Zero) & magnitudeMask);
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Create(Vector128.Load(x1 + i), Vector128<ushort>.Zero) & magnitudeMask);
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Create(Vector128.Load(x2 + i), Vector128<ushort>.Zero) & magnitudeMask);
            magnitudeMax = Vector256.Max(magnitudeMax, Vector256.Create(Vector128.Load(x3 + i), Vector128<ushort>.Zero) & magnitudeMask);
            Vector256<int> kept = keptBits.GetLower();
            Vector256<float> activations = Vector256.Load(act + i);
            low0 = Fma.MultiplyAdd(Avx2Dot.ShiftedHalves(x0 + i, kept), activations, low0);
            low1 = Fma.MultiplyAdd(Avx2Dot.ShiftedHalves(x1 + i, kept), activations, low1);
            low2 = Fma.MultiplyAdd(Avx2Dot.ShiftedHalves(x2 + i, kept), activations, low2);
            low3 = Fma.MultiplyAdd(Avx2Dot.ShiftedHalves(x3 + i, kept), activations, low3);
            i += 8;
        }
        // 0x7C00 and above: exponent 31, an infinity or a NaN, in one of the rows: each row through the one-row kernel.
        if (!Vector256.EqualsAll(Vector256.Max(magnitudeMax, Vector256.Create((ushort)0x7BFF)), Vector256.Create((ushort)0x7BFF)))
        {
            for (int k = 0; k < 4; k++) y[k * outputDistance] = Avx2Dot.F16xRebiasedF32(w + k * rowDistance, a, n);
            return;
        }
        float sum0 = Vector256.Sum(low0 + acc0.GetUpper()), sum1 = Vector256.Sum(low1 + acc1.GetUpper());
        float sum2 = Vector256.Sum(low2 + acc2.GetUpper()), sum3 = Vector256.Sum(low3 + acc3.GetUpper());
        for (; i < n; i++)
        {
            float activation = act[i] * Avx2Dot.HalfRebiasInverse;
            sum0 += (float)BitConverter.UInt16BitsToHalf(x0[i]) * activation;
            sum1 += (float)BitConverter.UInt16BitsToHalf(x1[i]) * activation;
            sum2 += (float)BitConverter.UInt16BitsToHalf(x2[i]) * activation;
            sum3 += (float)BitConverter.UInt16BitsToHalf(x3[i]) * activation;
        }
        y[0] = sum0;
        y[outputDistance] = sum1;
        y[2 * outputDistance] = sum2;
        y[3 * outputDistance] = sum3;
    }

    /// <summary>Sixteen halves with their magnitude bits shifted into float position (<see cref="Avx2Dot.ShiftedHalves"/>, sixteen wide).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ShiftedHalves<TOps>(ushort* p, Vector512<int> keptBits) where TOps : struct, IWideOps =>
        (Vector512.ShiftLeft(TOps.WidenInt16((short*)p), 13) & keptBits).AsSingle();

    /// <summary>
    /// <see cref="Avx2Dot.Q4KTwoRows"/> with pair p's 64 activations in one register: row r's 32 packed bytes broadcast to
    /// both halves, the low half keeps the low nibbles (group 2p), the high half the high nibbles (group 2p + 1; a 32-bit
    /// shift by 4, then the mask: what crosses from the neighbouring byte lands in the masked-off top nibble).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4KTwoRows<TOps>(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance) where TOps : struct, IWideOps
    {
        var x0 = (BlockQ4K*)w;
        var x1 = (BlockQ4K*)(w + rowDistance);
        var q8 = (BlockQ8K*)a;
        Vector512<uint> nibbleShift = Vector512.Create(Vector256<uint>.Zero, Vector256.Create(4u));
        Vector256<float> acc0 = Vector256<float>.Zero, accMin0 = acc0, acc1 = acc0, accMin1 = acc0;
        for (int b = 0; b < n / 256; b++)
        {
            Vector256<short> bsums = Avx.LoadVector256(q8[b].BSums);
            Vector256<short> scalesMins0 = Avx2Dot.Q4KScalesMins(x0[b].Scales), scalesMins1 = Avx2Dot.Q4KScalesMins(x1[b].Scales);
            Vector256<int> minLanes0 = Avx2.MultiplyAddAdjacent(bsums, Avx2Dot.Q4KMinsPerBSum(scalesMins0));
            Vector256<int> minLanes1 = Avx2.MultiplyAddAdjacent(bsums, Avx2Dot.Q4KMinsPerBSum(scalesMins1));
            Vector256<short> scales0 = Avx2Dot.Q4KScalesBothLanes(scalesMins0), scales1 = Avx2Dot.Q4KScalesBothLanes(scalesMins1);
            Vector512<byte> wideScales0 = TOps.Combine(scales0.AsByte(), scales0.AsByte()), wideScales1 = TOps.Combine(scales1.AsByte(), scales1.AsByte());
            Vector512<int> sum0 = Vector512<int>.Zero, sum1 = sum0;
            sbyte* activations = q8[b].Qs;
            Q4KPair<TOps>(x0[b].Qs, x1[b].Qs, activations, wideScales0, wideScales1, nibbleShift, 0, ref sum0, ref sum1);
            Q4KPair<TOps>(x0[b].Qs, x1[b].Qs, activations, wideScales0, wideScales1, nibbleShift, 1, ref sum0, ref sum1);
            Q4KPair<TOps>(x0[b].Qs, x1[b].Qs, activations, wideScales0, wideScales1, nibbleShift, 2, ref sum0, ref sum1);
            Q4KPair<TOps>(x0[b].Qs, x1[b].Qs, activations, wideScales0, wideScales1, nibbleShift, 3, ref sum0, ref sum1);
            float yd = q8[b].D;
            acc0 = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x0[b].D) * yd), Avx.ConvertToVector256Single(sum0.GetLower() + sum0.GetUpper()), acc0);
            accMin0 = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x0[b].DMin) * yd), Avx.ConvertToVector256Single(minLanes0), accMin0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x1[b].D) * yd), Avx.ConvertToVector256Single(sum1.GetLower() + sum1.GetUpper()), acc1);
            accMin1 = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x1[b].DMin) * yd), Avx.ConvertToVector256Single(minLanes1), accMin1);
        }
        y[0] = Avx2Dot.Sum8(acc0) - Avx2Dot.Sum8(accMin0);
        y[outputDistance] = Avx2Dot.Sum8(acc1) - Avx2Dot.Sum8(accMin1);
    }

    /// <summary>Pair <paramref name="pair"/> of two Q4_K rows against the same 64 activations, loaded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPair<TOps>(byte* qs0, byte* qs1, sbyte* q8, Vector512<byte> wideScales0, Vector512<byte> wideScales1,
        Vector512<uint> nibbleShift, int pair, ref Vector512<int> sum0, ref Vector512<int> sum1) where TOps : struct, IWideOps
    {
        Vector512<byte> nibble = Vector512.Create((byte)0x0F);
        Vector512<byte> scaleMask = ScaleMask(pair);
        Vector512<sbyte> activations = Vector512.Load(q8 + 64 * pair);
        Vector512<byte> quants0 = TOps.ShiftRightLogicalVariable(TOps.BroadcastVector256(qs0 + 32 * pair).AsUInt32(), nibbleShift).AsByte() & nibble;
        Vector512<byte> quants1 = TOps.ShiftRightLogicalVariable(TOps.BroadcastVector256(qs1 + 32 * pair).AsUInt32(), nibbleShift).AsByte() & nibble;
        sum0 += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(quants0, activations), TOps.ShuffleWithinLanes(wideScales0, scaleMask).AsInt16());
        sum1 += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(quants1, activations), TOps.ShuffleWithinLanes(wideScales1, scaleMask).AsInt16());
    }

    /// <summary>
    /// <see cref="Avx2Dot.Q6KTwoRows"/> with two runs per register: a half's 64 ql bytes hold runs 0 and 1 (low nibbles)
    /// and runs 2 and 3 (high nibbles), its 32 qh bytes broadcast to both halves give their two high bits by per-half shifts,
    /// and runs 0-1 and 2-3 meet 64 contiguous activations each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6KTwoRows<TOps>(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance) where TOps : struct, IWideOps
    {
        var x0 = (BlockQ6K*)w;
        var x1 = (BlockQ6K*)(w + rowDistance);
        var q8 = (BlockQ8K*)a;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        for (int b = 0; b < n / 256; b++)
        {
            Vector256<short> scales0 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128(x0[b].Scales));
            Vector256<short> scales1 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128(x1[b].Scales));
            Vector512<int> sum0 = Vector512<int>.Zero, sum1 = sum0;
            Q6KHalfTwoRows<TOps>(x0 + b, x1 + b, q8[b].Qs, scales0, scales1, 0, ref sum0, ref sum1);
            Q6KHalfTwoRows<TOps>(x0 + b, x1 + b, q8[b].Qs, scales0, scales1, 1, ref sum0, ref sum1);
            Vector256<short> bsums = Avx.LoadVector256(q8[b].BSums);
            Vector256<int> sumi0 = sum0.GetLower() + sum0.GetUpper() - Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(scales0, bsums), 5);
            Vector256<int> sumi1 = sum1.GetLower() + sum1.GetUpper() - Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(scales1, bsums), 5);
            float yd = q8[b].D;
            acc0 = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x0[b].D) * yd), Avx.ConvertToVector256Single(sumi0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(x1[b].D) * yd), Avx.ConvertToVector256Single(sumi1), acc1);
        }
        y[0] = Avx2Dot.Sum8(acc0);
        y[outputDistance] = Avx2Dot.Sum8(acc1);
    }

    /// <summary>
    /// Half <paramref name="half"/> (128 elements) of two Q6_K blocks as two registers of two runs each, scaled, into
    /// <paramref name="sum0"/> and <paramref name="sum1"/>; the activations loaded once for both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KHalfTwoRows<TOps>(BlockQ6K* x0, BlockQ6K* x1, sbyte* q8, Vector256<short> scales0, Vector256<short> scales1, int half,
        ref Vector512<int> sum0, ref Vector512<int> sum1) where TOps : struct, IWideOps
    {
        Vector512<sbyte> runs01 = Vector512.Load(q8 + 128 * half), runs23 = Vector512.Load(q8 + 128 * half + 64);
        Q6KHalf<TOps>(x0, runs01, runs23, scales0, half, ref sum0);
        Q6KHalf<TOps>(x1, runs01, runs23, scales1, half, ref sum1);
    }

    /// <summary>One row's half: runs 0-1 against activations <paramref name="y01"/>, runs 2-3 against <paramref name="y23"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KHalf<TOps>(BlockQ6K* x, Vector512<sbyte> y01, Vector512<sbyte> y23, Vector256<short> scales, int half, ref Vector512<int> sum)
        where TOps : struct, IWideOps
    {
        Vector512<byte> nibble = Vector512.Create((byte)0x0F), twoBits = Vector512.Create((byte)0x30);
        Vector256<short> halfScales = Avx2Dot.HalfScalesBothLanes(scales, half);
        Vector512<byte> wideScales = TOps.Combine(halfScales.AsByte(), halfScales.AsByte());
        Vector512<byte> ql = Vector512.Load(x->Ql + 64 * half);
        Vector512<uint> qh = TOps.BroadcastVector256(x->Qh + 32 * half).AsUInt32();
        // Runs 0 and 1: low nibbles, qh bits 0-1 and 2-3 moved to bits 4-5.
        Vector512<byte> runs01 = (ql & nibble)
            | (TOps.ShiftLeftLogicalVariable(qh, Vector512.Create(Vector256.Create(4u), Vector256.Create(2u))).AsByte() & twoBits);
        sum += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(runs01, y01), TOps.ShuffleWithinLanes(wideScales, ScaleMask(4)).AsInt16());
        // Runs 2 and 3: high nibbles, qh bits 4-5 and 6-7.
        Vector512<byte> runs23 = (Vector512.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & nibble)
            | (TOps.ShiftRightLogicalVariable(qh, Vector512.Create(Vector256<uint>.Zero, Vector256.Create(2u))).AsByte() & twoBits);
        sum += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(runs23, y23), TOps.ShuffleWithinLanes(wideScales, ScaleMask(5)).AsInt16());
    }
}
