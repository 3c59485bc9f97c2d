using System.Runtime.CompilerServices;

namespace Suiron.Kernels;

/// <summary>
/// The float decode dots (F32, F16, BF16 weights), written once over <see cref="IFloatSimdOps{TFloats, THalves}"/> and
/// specialised per width: <see cref="Vector128FloatOps"/>, <see cref="Avx2FloatOps"/>, <see cref="Avx512FloatOps"/> and
/// <see cref="Avx512TwinFloatOps"/>.
/// <para>
/// Every dot walks 16-element steps into one sixteen-lane accumulator (the AVX2 form's two 256-bit accumulators:
/// elements i..i+7 of a step in lanes 0..7, i+8..i+15 in lanes 8..15), an 8-element remainder into lanes 0..7, then
/// <see cref="IFloatSimdOps{TFloats, THalves}.Sum"/> and the scalar tail in order. The GEMM (<see cref="Gemm"/>'s float
/// kernels) repeats exactly this, so decode, GEMM and every width give the same bits wherever FMA is fused; the scalar
/// reference (<see cref="ScalarDot"/>) sums in element order and agrees to float rounding.
/// </para>
/// </summary>
internal static unsafe class FloatDot<TOps, TFloats, THalves>
    where TOps : struct, IFloatSimdOps<TFloats, THalves> where TFloats : struct where THalves : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32(byte* w, byte* a, int n) => Dot<Singles, Singles>(w, a, n);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16(byte* w, byte* a, int n) => Dot<Halves, Halves>(w, a, n);

    /// <summary>
    /// F16 weights against F16-encoded activations already widened to F32 (exactly, once per matmul): <see cref="F16"/>'s
    /// arithmetic with half the conversions (the 128-bit path's F16 matmul kernel).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16xF32(byte* w, byte* a, int n) => Dot<Halves, Singles>(w, a, n);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16(byte* w, byte* a, int n) => Dot<BFloat16s, BFloat16s>(w, a, n);

    /// <summary>Σ weight·activation over both rows' element formats, in the order the class describes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot<TWeights, TActivations>(byte* w, byte* a, int n)
        where TWeights : struct, IElements where TActivations : struct, IElements
    {
        TFloats acc = default;
        nint i = 0;
        for (; i + 16 <= n; i += 16) TActivations.MultiplyAdd(ref acc, TWeights.Load(w, i, 16), a, i, 16);
        if (i + 8 <= n)
        {
            TActivations.MultiplyAdd(ref acc, TWeights.Load(w, i, 8), a, i, 8);
            i += 8;
        }
        float sum = TOps.Sum(acc);
        for (; i < n; i++) sum += TWeights.Scalar(w, i) * TActivations.Scalar(a, i);
        return sum;
    }

    /// <summary>
    /// F16 weights against F16-encoded activations widened to F32 and pre-scaled by 2^112
    /// (<see cref="HalfConversion.HalfToRebiasedSingle"/>): the decode kernel for F16 matmuls, bit-identical to <see cref="F16"/>.
    /// <para>
    /// Why it is exact: a finite half h with its 15 magnitude bits shifted into float position (sign kept) is the float
    /// h·2^-112, exactly (normal halves become normal floats, subnormal halves subnormal floats). Its product with
    /// a·2^112 is the real number h·a, so each FMA rounds the same value onto the same accumulator as <see cref="F16"/>
    /// does: same bits, with three integer operations per eight weights instead of a full conversion (the dot is bound by
    /// the conversion otherwise). a·2^112 cannot overflow: |a| ≤ 65504 and 65504·2^112 &lt; FLT_MAX. Infinite and NaN
    /// weights (exponent 31) would be misread as finite numbers, so the loop keeps a running maximum of the weights'
    /// magnitude bits, and a row that holds one is recomputed by <see cref="F16xRebiasedF32Exact"/>.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16xRebiasedF32(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        TFloats acc = default;
        THalves magnitudeMax = default;
        TFloats keptBits = TOps.ShiftedHalfBits;
        THalves magnitudeBits = TOps.MagnitudeBits;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x + i, 16, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x + i + 16, 16, magnitudeBits);
            TOps.MultiplyAdd(ref acc, TOps.ShiftHalves(x + i, 16, keptBits), y + i, 16);
            TOps.MultiplyAdd(ref acc, TOps.ShiftHalves(x + i + 16, 16, keptBits), y + i + 16, 16);
        }
        if (i + 16 <= n)
        {
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x + i, 16, magnitudeBits);
            TOps.MultiplyAdd(ref acc, TOps.ShiftHalves(x + i, 16, keptBits), y + i, 16);
            i += 16;
        }
        if (i + 8 <= n)
        {
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x + i, 8, magnitudeBits);
            TOps.MultiplyAdd(ref acc, TOps.ShiftHalves(x + i, 8, keptBits), y + i, 8);
            i += 8;
        }
        if (TOps.HasExponent31(magnitudeMax)) return F16xRebiasedF32Exact(w, a, n);
        float sum = TOps.Sum(acc);
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(x[i]) * (y[i] * Avx2Dot.HalfRebiasInverse);
        return sum;
    }

    /// <summary>
    /// <see cref="F16xRebiasedF32"/> for a row holding an infinite or NaN weight: full conversions on both sides (scaling
    /// the activations back by 2^-112 is exact), in <see cref="F16"/>'s order.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static float F16xRebiasedF32Exact(byte* w, byte* a, int n) => Dot<Halves, RebiasedSingles>(w, a, n);

    /// <summary>
    /// <see cref="F16xRebiasedF32"/> of four weight rows, <paramref name="w"/> + k·<paramref name="rowDistance"/> for k = 0..3,
    /// against one activation row, into <paramref name="y"/>[k·<paramref name="outputDistance"/>]. Decode is bound by how
    /// many weight bytes one core keeps in flight: MatMul hands it four rows far apart (a quarter of its row range each),
    /// so four independent streams run at once (bench/README: one row per call ~10 GB/s, four rows far apart ~16, two
    /// adjacent rows slower than one). Each row's FMAs run in <see cref="F16xRebiasedF32"/>'s order into its own
    /// accumulator, the activations are loaded once for all four, and each result is bit-identical to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void F16xRebiasedF32FourRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
    {
        ushort* x0 = (ushort*)w, x1 = (ushort*)(w + rowDistance), x2 = (ushort*)(w + 2 * rowDistance), x3 = (ushort*)(w + 3 * rowDistance);
        float* act = (float*)a;
        TFloats acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        THalves magnitudeMax = default;
        TFloats keptBits = TOps.ShiftedHalfBits;
        THalves magnitudeBits = TOps.MagnitudeBits;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x0 + i, 16, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x1 + i, 16, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x2 + i, 16, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x3 + i, 16, magnitudeBits);
            TFloats activations = TOps.LoadSingles(act + i, 16);
            TOps.MultiplyAdd(ref acc0, TOps.ShiftHalves(x0 + i, 16, keptBits), activations, 16);
            TOps.MultiplyAdd(ref acc1, TOps.ShiftHalves(x1 + i, 16, keptBits), activations, 16);
            TOps.MultiplyAdd(ref acc2, TOps.ShiftHalves(x2 + i, 16, keptBits), activations, 16);
            TOps.MultiplyAdd(ref acc3, TOps.ShiftHalves(x3 + i, 16, keptBits), activations, 16);
        }
        if (i + 8 <= n)
        {
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x0 + i, 8, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x1 + i, 8, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x2 + i, 8, magnitudeBits);
            magnitudeMax = TOps.MaxMagnitude(magnitudeMax, x3 + i, 8, magnitudeBits);
            TFloats activations = TOps.LoadSingles(act + i, 8);
            TOps.MultiplyAdd(ref acc0, TOps.ShiftHalves(x0 + i, 8, keptBits), activations, 8);
            TOps.MultiplyAdd(ref acc1, TOps.ShiftHalves(x1 + i, 8, keptBits), activations, 8);
            TOps.MultiplyAdd(ref acc2, TOps.ShiftHalves(x2 + i, 8, keptBits), activations, 8);
            TOps.MultiplyAdd(ref acc3, TOps.ShiftHalves(x3 + i, 8, keptBits), activations, 8);
            i += 8;
        }
        // An infinite or NaN weight in any of the rows (rare): each row through the one-row kernel, which handles it.
        if (TOps.HasExponent31(magnitudeMax))
        {
            for (int k = 0; k < 4; k++) y[k * outputDistance] = F16xRebiasedF32(w + k * rowDistance, a, n);
            return;
        }
        float sum0 = TOps.Sum(acc0), sum1 = TOps.Sum(acc1), sum2 = TOps.Sum(acc2), sum3 = TOps.Sum(acc3);
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

    /// <summary>How one side of a float dot is stored: its vector loads (as floats, exactly) and its scalar value.</summary>
    private interface IElements
    {
        /// <summary>Elements <paramref name="index"/>.. (16 or 8 of them, a constant) of the row as floats.</summary>
        static abstract TFloats Load(byte* row, nint index, int count);

        /// <summary>accumulator += weights · elements <paramref name="index"/>.. of the row (as <see cref="IFloatSimdOps{TFloats, THalves}.MultiplyAdd(ref TFloats, TFloats, TFloats, int)"/>).</summary>
        static abstract void MultiplyAdd(ref TFloats accumulator, TFloats weights, byte* row, nint index, int count);

        static abstract float Scalar(byte* row, nint index);
    }

    /// <summary>F32.</summary>
    private readonly struct Singles : IElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TFloats Load(byte* row, nint index, int count) => TOps.LoadSingles((float*)row + index, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void MultiplyAdd(ref TFloats accumulator, TFloats weights, byte* row, nint index, int count) =>
            TOps.MultiplyAdd(ref accumulator, weights, (float*)row + index, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, nint index) => ((float*)row)[index];
    }

    /// <summary>F32 values times 2^112 (the rebiased F16 activations), read back as the values themselves; exact.</summary>
    private readonly struct RebiasedSingles : IElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TFloats Load(byte* row, nint index, int count) =>
            TOps.Multiply(TOps.LoadSingles((float*)row + index, count), Avx2Dot.HalfRebiasInverse);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void MultiplyAdd(ref TFloats accumulator, TFloats weights, byte* row, nint index, int count) =>
            TOps.MultiplyAdd(ref accumulator, weights, Load(row, index, count), count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, nint index) => ((float*)row)[index] * Avx2Dot.HalfRebiasInverse;
    }

    /// <summary>F16.</summary>
    private readonly struct Halves : IElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TFloats Load(byte* row, nint index, int count) => TOps.WidenHalves((ushort*)row + index, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void MultiplyAdd(ref TFloats accumulator, TFloats weights, byte* row, nint index, int count) =>
            TOps.MultiplyAdd(ref accumulator, weights, Load(row, index, count), count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, nint index) => (float)BitConverter.UInt16BitsToHalf(((ushort*)row)[index]);
    }

    /// <summary>BF16.</summary>
    private readonly struct BFloat16s : IElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TFloats Load(byte* row, nint index, int count) => TOps.WidenBFloat16((ushort*)row + index, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void MultiplyAdd(ref TFloats accumulator, TFloats weights, byte* row, nint index, int count) =>
            TOps.MultiplyAdd(ref accumulator, weights, Load(row, index, count), count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, nint index) => HalfConversion.BF16ToSingle(((ushort*)row)[index]);
    }
}
