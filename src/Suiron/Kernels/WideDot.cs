using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The 512-bit-only decode kernel: F16's four-row dot, generic over <see cref="IWideOps"/> (the AVX-512 instructions, or
/// their AVX2 twin in the tests). The k-quant decode dots are written once for every width in
/// <see cref="KQuantDot{TOps, TVector, TLanes}"/>.
/// </summary>
internal static unsafe class WideDot
{
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
}
