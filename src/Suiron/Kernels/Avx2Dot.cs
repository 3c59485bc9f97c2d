using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// AVX2 + FMA dot products (the decode hot path). Integer block sums are exact, as in <see cref="ScalarDot"/>;
/// only the order of the float accumulation differs, so results agree with the scalar reference to float rounding.
/// Signed int8 x int8 products use the usual AVX2 idiom: |x| as unsigned times sign(x)*y through vpmaddubsw,
/// then vpmaddwd against ones (or against the group scales) to reach int32 without overflow.
/// The k-quant kernels (Q2_K..Q6_K) are in Avx2Dot.KQuants.cs; Q8_1 and Q8_K weights (not ggml matmul types) run the scalar reference.
/// </summary>
internal static unsafe partial class Avx2Dot
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// A finite half block scale, exactly. A subnormal half (what a k-quant or IQ4_XS super-block scale almost always is:
    /// the largest sub-block scale over 63 or 127) is its 10-bit fraction times 2^-24, never a subnormal float operand:
    /// <see cref="Block32Scale"/>'s trick multiplies one, and on Zen 4 that halved the speed of the whole Q6_K and IQ4_XS
    /// decode kernels. The branch follows a tensor's scales, which are subnormal or not nearly throughout.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Scale(Half h)
    {
        int bits = (short)BitConverter.HalfToUInt16Bits(h);
        if ((bits & 0x7C00) == 0) return (bits & 0x3FF) * (bits < 0 ? -5.9604645e-08f : 5.9604645e-08f); // 2^-24
        return BitConverter.Int32BitsToSingle((bits << 13) & unchecked((int)0x8FFFE000)) * 5.192296858534828e33f; // 2^112
    }

    /// <summary>
    /// The scale of a 32-element block (Q4_0 … Q8_0, and Q8_0/Q8_1 activations), exactly, in five scalar operations:
    /// sign-extend, shift the magnitude into float position keeping the sign bit, rescale by 2^112 (which also normalizes
    /// subnormals). Cheaper than <see cref="Scale"/>'s test where a scale comes every 32 elements; such scales are rarely
    /// subnormal (a block's largest weight over 127 or 8), which only costs time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Block32Scale(Half h)
    {
        int bits = (short)BitConverter.HalfToUInt16Bits(h);
        return BitConverter.Int32BitsToSingle((bits << 13) & unchecked((int)0x8FFFE000)) * 5.192296858534828e33f; // 2^112
    }

    /// <summary>Sum of x*y over 32 signed bytes, as 8 int32 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotInt8(Vector256<sbyte> x, Vector256<sbyte> y)
    {
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(Avx2.Sign(x, x).AsByte(), Avx2.Sign(y, x));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    /// <summary>Same accumulation order as <see cref="F16"/> (two accumulators over 16-element steps), which the GEMM repeats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32(byte* w, byte* a, int n)
    {
        float* x = (float*)w, y = (float*)a;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), acc0);
            acc1 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 8), Avx.LoadVector256(y + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w, y = (ushort*)a;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(HalfConversion.HalfToSingle(Sse2.LoadVector128(x + i)), HalfConversion.HalfToSingle(Sse2.LoadVector128(y + i)), acc0);
            acc1 = Fma.MultiplyAdd(HalfConversion.HalfToSingle(Sse2.LoadVector128(x + i + 8)), HalfConversion.HalfToSingle(Sse2.LoadVector128(y + i + 8)), acc1);
        }
        for (; i + 8 <= n; i += 8)
            acc0 = Fma.MultiplyAdd(HalfConversion.HalfToSingle(Sse2.LoadVector128(x + i)), HalfConversion.HalfToSingle(Sse2.LoadVector128(y + i)), acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(x[i]) * (float)BitConverter.UInt16BitsToHalf(y[i]);
        return sum;
    }

    /// <summary>2^112: the factor between an F16 value and the float whose bits are the half's bits shifted into place.</summary>
    internal const float HalfRebias = 5.192296858534828e33f;

    /// <summary>2^-112, the inverse of <see cref="HalfRebias"/>.</summary>
    internal const float HalfRebiasInverse = 1.92592994e-34f;

    /// <summary>
    /// F16 weights against F16-encoded activations widened to F32 and pre-scaled by 2^112 (see
    /// <see cref="HalfConversion.HalfToRebiasedSingle"/>): the decode kernel for F16 matmuls, bit-identical to <see cref="F16"/>.
    /// <para>
    /// Why it is exact: a finite half h with its 15 magnitude bits shifted into float position (sign kept) is the float
    /// h * 2^-112, exactly (normal halves become normal floats, subnormal halves subnormal floats). Its product with
    /// a * 2^112 is the real number h * a, so each FMA rounds the same value onto the same accumulator as <see cref="F16"/>
    /// does: same bits, with three integer operations per eight weights instead of a full conversion (this dot is
    /// bound by the conversion, not by memory, otherwise). a * 2^112 cannot overflow: |a| ≤ 65504 and 65504 * 2^112 &lt; FLT_MAX.
    /// Infinite and NaN weights (exponent 31) would be misread as finite numbers, so the loop keeps a running maximum of
    /// the weights' magnitude bits, and a row that holds one is recomputed by <see cref="F16xRebiasedF32Exact"/>.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16xRebiasedF32(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        Vector256<ushort> magnitudeMax = Vector256<ushort>.Zero;
        Vector256<ushort> magnitudeMask = Vector256.Create((ushort)0x7FFF);
        Vector256<int> keptBits = Vector256.Create(unchecked((int)0x8FFFE000));
        int i = 0;
        // Two 16-element steps per iteration, each as in F16: acc0 takes elements [i, i+8), acc1 [i+8, i+16).
        for (; i + 32 <= n; i += 32)
        {
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x + i) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x + i + 16) & magnitudeMask);
            acc0 = Fma.MultiplyAdd(ShiftedHalves(x + i, keptBits), Avx.LoadVector256(y + i), acc0);
            acc1 = Fma.MultiplyAdd(ShiftedHalves(x + i + 8, keptBits), Avx.LoadVector256(y + i + 8), acc1);
            acc0 = Fma.MultiplyAdd(ShiftedHalves(x + i + 16, keptBits), Avx.LoadVector256(y + i + 16), acc0);
            acc1 = Fma.MultiplyAdd(ShiftedHalves(x + i + 24, keptBits), Avx.LoadVector256(y + i + 24), acc1);
        }
        for (; i + 16 <= n; i += 16)
        {
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x + i) & magnitudeMask);
            acc0 = Fma.MultiplyAdd(ShiftedHalves(x + i, keptBits), Avx.LoadVector256(y + i), acc0);
            acc1 = Fma.MultiplyAdd(ShiftedHalves(x + i + 8, keptBits), Avx.LoadVector256(y + i + 8), acc1);
        }
        if (i + 8 <= n)
        {
            magnitudeMax = Avx2.Max(magnitudeMax, Vector256.Create(Sse2.LoadVector128(x + i), Vector128<ushort>.Zero) & magnitudeMask);
            acc0 = Fma.MultiplyAdd(ShiftedHalves(x + i, keptBits), Avx.LoadVector256(y + i), acc0);
            i += 8;
        }
        // 0x7C00 and above: exponent 31, an infinity or a NaN.
        if (!Vector256.EqualsAll(Avx2.Max(magnitudeMax, Vector256.Create((ushort)0x7BFF)), Vector256.Create((ushort)0x7BFF)))
            return F16xRebiasedF32Exact(w, a, n);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(x[i]) * (y[i] * HalfRebiasInverse);
        return sum;
    }

    /// <summary>
    /// <see cref="F16xRebiasedF32"/> of four weight rows, <paramref name="w"/> + k·<paramref name="rowDistance"/> for k = 0..3,
    /// against one activation row, into <paramref name="y"/>[k·<paramref name="outputDistance"/>]. Decode is bound by how
    /// many weight bytes one core keeps in flight: MatMul hands it four rows far apart (a quarter of its row range each),
    /// so four independent streams run at once: per Llama-3.2-1B tensor, one thread, weights from DRAM, ~10 GB/s with one
    /// row per call became ~16 on the (loaded) dev box. Two rows per call from far apart gave ~13; two adjacent rows
    /// (4 KB apart at 2048 columns) ~8, slower than one row, which is why an earlier adjacent two-row kernel lost there.
    /// Each row's FMAs run in <see cref="F16xRebiasedF32"/>'s order into its own two accumulators (eight chains in all,
    /// so FMA latency no longer limits it), and each result is bit-identical to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void F16xRebiasedF32FourRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
    {
        ushort* x0 = (ushort*)w, x1 = (ushort*)(w + rowDistance), x2 = (ushort*)(w + 2 * rowDistance), x3 = (ushort*)(w + 3 * rowDistance);
        float* act = (float*)a;
        Vector256<float> acc00 = Vector256<float>.Zero, acc01 = acc00, acc10 = acc00, acc11 = acc00;
        Vector256<float> acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00;
        Vector256<ushort> magnitudeMax = Vector256<ushort>.Zero;
        Vector256<ushort> magnitudeMask = Vector256.Create((ushort)0x7FFF);
        Vector256<int> keptBits = Vector256.Create(unchecked((int)0x8FFFE000));
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x0 + i) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x1 + i) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x2 + i) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Avx.LoadVector256(x3 + i) & magnitudeMask);
            Vector256<float> low = Avx.LoadVector256(act + i), high = Avx.LoadVector256(act + i + 8);
            acc00 = Fma.MultiplyAdd(ShiftedHalves(x0 + i, keptBits), low, acc00);
            acc01 = Fma.MultiplyAdd(ShiftedHalves(x0 + i + 8, keptBits), high, acc01);
            acc10 = Fma.MultiplyAdd(ShiftedHalves(x1 + i, keptBits), low, acc10);
            acc11 = Fma.MultiplyAdd(ShiftedHalves(x1 + i + 8, keptBits), high, acc11);
            acc20 = Fma.MultiplyAdd(ShiftedHalves(x2 + i, keptBits), low, acc20);
            acc21 = Fma.MultiplyAdd(ShiftedHalves(x2 + i + 8, keptBits), high, acc21);
            acc30 = Fma.MultiplyAdd(ShiftedHalves(x3 + i, keptBits), low, acc30);
            acc31 = Fma.MultiplyAdd(ShiftedHalves(x3 + i + 8, keptBits), high, acc31);
        }
        if (i + 8 <= n)
        {
            magnitudeMax = Avx2.Max(magnitudeMax, Vector256.Create(Sse2.LoadVector128(x0 + i), Vector128<ushort>.Zero) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Vector256.Create(Sse2.LoadVector128(x1 + i), Vector128<ushort>.Zero) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Vector256.Create(Sse2.LoadVector128(x2 + i), Vector128<ushort>.Zero) & magnitudeMask);
            magnitudeMax = Avx2.Max(magnitudeMax, Vector256.Create(Sse2.LoadVector128(x3 + i), Vector128<ushort>.Zero) & magnitudeMask);
            Vector256<float> low = Avx.LoadVector256(act + i);
            acc00 = Fma.MultiplyAdd(ShiftedHalves(x0 + i, keptBits), low, acc00);
            acc10 = Fma.MultiplyAdd(ShiftedHalves(x1 + i, keptBits), low, acc10);
            acc20 = Fma.MultiplyAdd(ShiftedHalves(x2 + i, keptBits), low, acc20);
            acc30 = Fma.MultiplyAdd(ShiftedHalves(x3 + i, keptBits), low, acc30);
            i += 8;
        }
        // An infinite or NaN weight in any of the rows (rare): each row through the one-row kernel, which handles it.
        if (!Vector256.EqualsAll(Avx2.Max(magnitudeMax, Vector256.Create((ushort)0x7BFF)), Vector256.Create((ushort)0x7BFF)))
        {
            for (int k = 0; k < 4; k++) y[k * outputDistance] = F16xRebiasedF32(w + k * rowDistance, a, n);
            return;
        }
        float sum0 = Vector256.Sum(acc00 + acc01), sum1 = Vector256.Sum(acc10 + acc11);
        float sum2 = Vector256.Sum(acc20 + acc21), sum3 = Vector256.Sum(acc30 + acc31);
        for (; i < n; i++)
        {
            float activation = act[i] * HalfRebiasInverse;
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

    /// <summary>Eight halves with their magnitude bits shifted into float position: h * 2^-112 for every finite half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ShiftedHalves(ushort* p, Vector256<int> keptBits) =>
        (Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((short*)p), 13) & keptBits).AsSingle();

    /// <summary>
    /// <see cref="F16xRebiasedF32"/> for a row holding an infinite or NaN weight: full conversions on both sides
    /// (scaling the activations back by 2^-112 is exact), the accumulation order of <see cref="F16"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static float F16xRebiasedF32Exact(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        Vector256<float> inverse = Vector256.Create(HalfRebiasInverse);
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(HalfConversion.HalfToSingleFast(Sse2.LoadVector128(x + i)), Avx.LoadVector256(y + i) * inverse, acc0);
            acc1 = Fma.MultiplyAdd(HalfConversion.HalfToSingleFast(Sse2.LoadVector128(x + i + 8)), Avx.LoadVector256(y + i + 8) * inverse, acc1);
        }
        for (; i + 8 <= n; i += 8)
            acc0 = Fma.MultiplyAdd(HalfConversion.HalfToSingleFast(Sse2.LoadVector128(x + i)), Avx.LoadVector256(y + i) * inverse, acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(x[i]) * (y[i] * HalfRebiasInverse);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w, y = (ushort*)a;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(WidenBF16(x + i), WidenBF16(y + i), acc0);
            acc1 = Fma.MultiplyAdd(WidenBF16(x + i + 8), WidenBF16(y + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(WidenBF16(x + i), WidenBF16(y + i), acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += HalfConversion.BF16ToSingle(x[i]) * HalfConversion.BF16ToSingle(y[i]);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WidenBF16(ushort* p) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();

    /// <summary>The float scales of Q8_0 activation blocks, converted once so the row dots of a matmul need not each convert them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ActivationScales(BlockQ8_0* y, float* scales, int blocks)
    {
        for (int b = 0; b < blocks; b++) scales[b] = Block32Scale(y[b].D);
    }

    /// <summary>
    /// 32 nibbles of one 16-byte run in element order (low nibbles 0..15, high 16..31) from one 16-byte broadcast: the high
    /// 128-bit lane shifts its 32-bit words right by 4, then one mask keeps each byte's low nibble (what crosses from the
    /// neighbouring byte lands in the masked-off top half). Measured ~20% faster per Q5_0 block in the decode kernels than
    /// a shift-and-insert of the two halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> BroadcastNibbles32(byte* qs) =>
        Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(qs).AsUInt32(), Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4)).AsByte()
        & Vector256.Create((byte)0x0F);

    /// <summary>
    /// 32 bits to 32 bytes: byte j is 0xFF where bit j of <paramref name="bits"/> is set, else 0.
    /// Each byte picks its source byte j/8 by a shuffle, then tests its own bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> BitsToBytes(uint bits)
    {
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Avx2.CompareEqual(spread & bit, bit);
    }

    /// <summary>The 32 grid values of one 16-byte IQ4 run in element order (an IQ4_XS sub-block), for the GEMM panel.</summary>
    internal static Vector256<sbyte> IQ4Quants(byte* qs) => IQ4Weights(qs, IQ4Grid);

    /// <summary><see cref="IQ4Values.Table"/> in both 128-bit lanes, for a vpshufb lookup of 32 nibbles at once: a literal, so that the JIT emits a constant (built from the span it was rebuilt on every block).</summary>
    private static Vector256<sbyte> IQ4Grid
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
            -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    }

    /// <summary>32 IQ4 weights of one 16-byte run in element order, looked up on the grid: signed bytes −127..113.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> IQ4Weights(byte* qs, Vector256<sbyte> grid) => Avx2.Shuffle(grid, BroadcastNibbles32(qs).AsSByte());

    /// <summary>
    /// IQ4_XS against Q8_K: each 32-element sub-block's signed products reach int32 through vpmaddwd with its multiplier
    /// (ls − 32) in place of ones, so a super-block's integers add up exactly before its one FMA with d_x·d_y. The eight
    /// multipliers are unpacked together (<see cref="IQ4XSMultipliers"/>) and stored, and each reaches its sub-block by a
    /// broadcast load, which takes a load port where a vpermd took one of the shuffle ports the lookups need.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ4XS*)w;
        var y = (BlockQ8K*)a;
        Vector256<sbyte> grid = IQ4Grid;
        Vector256<float> acc = Vector256<float>.Zero;
        int* multipliers = stackalloc int[8];
        for (int b = 0; b < n / 256; b++)
        {
            IQ4XSMultipliers(x + b).Store(multipliers);
            Vector256<int> sumi = IQ4XSSubBlockPair(x[b].Qs, y[b].Qs, grid, multipliers, 0)
                + IQ4XSSubBlockPair(x[b].Qs, y[b].Qs, grid, multipliers, 2)
                + IQ4XSSubBlockPair(x[b].Qs, y[b].Qs, grid, multipliers, 4)
                + IQ4XSSubBlockPair(x[b].Qs, y[b].Qs, grid, multipliers, 6);
            acc = Fma.MultiplyAdd(Vector256.Create(Scale(x[b].D) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
        }
        return Sum8(acc);
    }

    /// <summary>
    /// <see cref="IQ4XS"/> of two rows far apart (<paramref name="w"/> and <paramref name="w"/> + <paramref name="rowDistance"/>)
    /// into <paramref name="y"/>[0] and <paramref name="y"/>[<paramref name="outputDistance"/>]: two weight streams in flight and
    /// each activation run loaded once for both, each row's integers and float steps those of <see cref="IQ4XS"/>, so its
    /// result is bit-identical to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void IQ4XSTwoRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
    {
        var x0 = (BlockIQ4XS*)w;
        var x1 = (BlockIQ4XS*)(w + rowDistance);
        var q8 = (BlockQ8K*)a;
        Vector256<sbyte> grid = IQ4Grid;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        int* multipliers0 = stackalloc int[16];
        int* multipliers1 = multipliers0 + 8;
        for (int b = 0; b < n / 256; b++)
        {
            IQ4XSMultipliers(x0 + b).Store(multipliers0);
            IQ4XSMultipliers(x1 + b).Store(multipliers1);
            Vector256<int> sumi0 = Vector256<int>.Zero, sumi1 = sumi0;
            for (int i = 0; i < 8; i++)
            {
                Vector256<sbyte> activations = Avx.LoadVector256(q8[b].Qs + 32 * i);
                Vector256<sbyte> weights0 = Avx2.Shuffle(grid, BroadcastNibbles32(x0[b].Qs + 16 * i).AsSByte());
                Vector256<sbyte> weights1 = Avx2.Shuffle(grid, BroadcastNibbles32(x1[b].Qs + 16 * i).AsSByte());
                sumi0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Sign(weights0, weights0).AsByte(), Avx2.Sign(activations, weights0)),
                    Vector256.Create(multipliers0[i]).AsInt16());
                sumi1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Sign(weights1, weights1).AsByte(), Avx2.Sign(activations, weights1)),
                    Vector256.Create(multipliers1[i]).AsInt16());
            }
            float yd = q8[b].D;
            acc0 = Fma.MultiplyAdd(Vector256.Create(Scale(x0[b].D) * yd), Avx.ConvertToVector256Single(sumi0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(Scale(x1[b].D) * yd), Avx.ConvertToVector256Single(sumi1), acc1);
        }
        y[0] = Sum8(acc0);
        y[outputDistance] = Sum8(acc1);
    }

    /// <summary>
    /// The eight sub-block multipliers ls − 32 of an IQ4_XS block, one per int32 lane and repeated in both of its int16
    /// halves (what vpmaddwd multiplies a pair by): lane i takes nibble i of scales_l and bits 2i..2i+1 of scales_h.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> IQ4XSMultipliers(BlockIQ4XS* x)
    {
        Vector256<uint> low = Avx2.ShiftRightLogicalVariable(Vector256.Create(*(uint*)x->ScalesL), Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28)) & Vector256.Create(0xFu);
        Vector256<uint> high = Avx2.ShiftRightLogicalVariable(Vector256.Create((uint)x->ScalesH), Vector256.Create(0u, 2, 4, 6, 8, 10, 12, 14)) & Vector256.Create(3u);
        Vector256<int> multiplier = (low | (high << 4)).AsInt32() - Vector256.Create(32);
        return (multiplier & Vector256.Create(0xFFFF)) | (multiplier << 16);
    }

    /// <summary>Sub-blocks <paramref name="i"/> and i + 1 of one IQ4_XS block against their 64 activations: the int32 lanes, scaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> IQ4XSSubBlockPair(byte* qs, sbyte* q8, Vector256<sbyte> grid, int* multipliers, int i) =>
        IQ4XSSubBlock(qs, q8, grid, multipliers, i) + IQ4XSSubBlock(qs, q8, grid, multipliers, i + 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> IQ4XSSubBlock(byte* qs, sbyte* q8, Vector256<sbyte> grid, int* multipliers, int i)
    {
        Vector256<sbyte> weights = Avx2.Shuffle(grid, BroadcastNibbles32(qs + 16 * i).AsSByte());
        Vector256<sbyte> activations = Avx.LoadVector256(q8 + 32 * i);
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(Avx2.Sign(weights, weights).AsByte(), Avx2.Sign(activations, weights));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create(multipliers[i]).AsInt16());
    }
}
