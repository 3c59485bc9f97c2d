using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The GEMM's k-quant part (Q2_K..Q6_K). One panel layout serves all five: each 256-element block is unpacked once per
/// row group into unsigned quants in element order, the eight group-scale vectors the row kernels build, the 16 int16
/// multipliers of the Q8_K bsums (per-bsum mins for Q2_K/Q4_K/Q5_K, the group scales for the offset types Q3_K/Q6_K)
/// and the two block scales as floats. The micro-kernel then does, per (row, token), exactly the integer lanes and float
/// operations of the decode kernels (<see cref="Avx2Dot"/>'s Q2_K, <see cref="KQuantDot{TOps, TVector, TLanes}"/>'s others), so results are bit-identical to decode.
/// </summary>
internal static unsafe partial class Gemm
{
    // K-quant panel block: 256 unsigned quants, 8 scale vectors (16 × int16: lanes 0..7 scale the first 16 of 32 elements,
    // lanes 8..15 the last 16), 16 int16 bsum multipliers, d and dmin as floats; padded to a multiple of 32 bytes.
    private const int KPanelBlockBytes = 256 + 8 * 32 + 32 + 8 + 24;
    private const int KPanelScales = 256, KPanelBSumMultipliers = 512, KPanelFloats = 544;

    /// <summary>
    /// For offset types (quants stored as q − offset, offset = 2^shift): the shift; 0 for types with a min term.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OffsetShift(TensorType type) => type switch
    {
        TensorType.Q3_K => 2,
        TensorType.Q6_K => 5,
        _ => 0,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackKQuant(TensorType type, byte* src, byte* dst, int blocks)
    {
        for (int b = 0; b < blocks; b++, dst += KPanelBlockBytes)
        {
            short* scaleVectors = (short*)(dst + KPanelScales);
            short* multipliers = (short*)(dst + KPanelBSumMultipliers);
            float* f = (float*)(dst + KPanelFloats);
            switch (type)
            {
                case TensorType.Q4_K:
                case TensorType.Q5_K:
                {
                    // Same leading fields (d, dmin, scales; Q5_K then adds qh before qs), different block sizes.
                    var x4 = (BlockQ4K*)src + b;
                    var x5 = (BlockQ5K*)src + b;
                    var head = type == TensorType.Q4_K ? x4 : (BlockQ4K*)x5;
                    Vector256<short> scalesMins = Avx2Dot.Q4KScalesMins(head->Scales);
                    Vector256<short> scales = Avx2Dot.Q4KScalesBothLanes(scalesMins);
                    // Group c's broadcast mask is word c in every lane: one add per group from group 0's. (Avx2Dot.Broadcast
                    // with a loop variable built its mask from sixteen scalars each time: unpacking a Q4_K row cost about
                    // five per-row dots instead of one.)
                    Vector256<ushort> mask = Avx2Dot.WordBroadcast(0, 0).AsUInt16();
                    for (int c = 0; c < 8; c++, mask += Vector256.Create((ushort)0x0202))
                        Avx.Store(scaleVectors + 16 * c, Avx2.Shuffle(scales.AsByte(), mask.AsByte()).AsInt16());
                    Avx.Store(multipliers, Avx2Dot.Q4KMinsPerBSum(scalesMins));
                    if (type == TensorType.Q4_K)
                    {
                        Vector256<byte> nibble = Vector256.Create((byte)0x0F);
                        for (int pair = 0; pair < 4; pair++)
                        {
                            Vector256<byte> packed = Avx.LoadVector256(x4->Qs + 32 * pair);
                            Avx.Store(dst + 64 * pair, packed & nibble);
                            Avx.Store(dst + 64 * pair + 32, Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & nibble);
                        }
                    }
                    else
                    {
                        Vector256<byte> qh = Avx.LoadVector256(x5->Qh);
                        StoreQ5KPair(x5->Qs, qh, 0, dst);
                        StoreQ5KPair(x5->Qs, qh, 1, dst);
                        StoreQ5KPair(x5->Qs, qh, 2, dst);
                        StoreQ5KPair(x5->Qs, qh, 3, dst);
                    }
                    f[0] = Avx2Dot.Scale(head->D);
                    f[1] = Avx2Dot.Scale(head->DMin);
                    break;
                }
                case TensorType.Q6_K:
                {
                    var x = (BlockQ6K*)src + b;
                    Vector256<short> scales = Avx2.ConvertToVector256Int16(Sse2.LoadVector128(x->Scales));
                    StoreRunScales(scales, scaleVectors);
                    Avx.Store(multipliers, scales);
                    for (int half = 0; half < 2; half++)
                    {
                        Avx2Dot.Q6KHalf(x, half, out Vector256<byte> r0, out Vector256<byte> r1, out Vector256<byte> r2, out Vector256<byte> r3);
                        StoreRuns(dst + 128 * half, r0, r1, r2, r3);
                    }
                    f[0] = Avx2Dot.Scale(x->D);
                    f[1] = 0;
                    break;
                }
                case TensorType.Q2_K:
                {
                    var x = (BlockQ2K*)src + b;
                    Avx2Dot.Q2KScalesMins(x->Scales, out Vector256<short> scales, out Vector256<short> mins);
                    StoreRunScales(scales, scaleVectors);
                    Avx.Store(multipliers, mins);
                    for (int half = 0; half < 2; half++)
                    {
                        Vector256<byte> packed = Avx.LoadVector256(x->Qs + 32 * half);
                        StoreRuns(dst + 128 * half, Avx2Dot.Q2KRun(packed, 0), Avx2Dot.Q2KRun(packed, 1),
                            Avx2Dot.Q2KRun(packed, 2), Avx2Dot.Q2KRun(packed, 3));
                    }
                    f[0] = Avx2Dot.Scale(x->D);
                    f[1] = Avx2Dot.Scale(x->DMin);
                    break;
                }
                case TensorType.Q3_K:
                {
                    var x = (BlockQ3K*)src + b;
                    Vector256<short> scales = Avx2Dot.Q3KScales(x->Scales);
                    StoreRunScales(scales, scaleVectors);
                    Avx.Store(multipliers, scales);
                    Vector256<byte> hmask = Avx.LoadVector256(x->HMask);
                    Vector256<byte> p0 = Avx.LoadVector256(x->Qs), p1 = Avx.LoadVector256(x->Qs + 32);
                    StoreRuns(dst, Avx2Dot.Q3KRun(p0, hmask, 0, 0), Avx2Dot.Q3KRun(p0, hmask, 0, 1),
                        Avx2Dot.Q3KRun(p0, hmask, 0, 2), Avx2Dot.Q3KRun(p0, hmask, 0, 3));
                    StoreRuns(dst + 128, Avx2Dot.Q3KRun(p1, hmask, 1, 0), Avx2Dot.Q3KRun(p1, hmask, 1, 1),
                        Avx2Dot.Q3KRun(p1, hmask, 1, 2), Avx2Dot.Q3KRun(p1, hmask, 1, 3));
                    f[0] = Avx2Dot.Scale(x->D);
                    f[1] = 0;
                    break;
                }
                default: throw Quantization.Unsupported(type);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreQ5KPair(byte* qs, Vector256<byte> qh, int pair, byte* dst)
    {
        Avx2Dot.Q5KPair(qs, qh, pair, out Vector256<byte> low, out Vector256<byte> high);
        Avx.Store(dst + 64 * pair, low);
        Avx.Store(dst + 64 * pair + 32, high);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRuns(byte* dst, Vector256<byte> r0, Vector256<byte> r1, Vector256<byte> r2, Vector256<byte> r3)
    {
        Avx.Store(dst, r0);
        Avx.Store(dst + 32, r1);
        Avx.Store(dst + 64, r2);
        Avx.Store(dst + 96, r3);
    }

    /// <summary>16 per-16-element scales → the 8 run scale vectors (run c: scale 2c in lanes 0..7, 2c + 1 in lanes 8..15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRunScales(Vector256<short> scales16, short* scaleVectors)
    {
        Vector256<short> first = Avx2Dot.HalfScalesBothLanes(scales16, 0), second = Avx2Dot.HalfScalesBothLanes(scales16, 1);
        Avx.Store(scaleVectors, Avx2Dot.RunScales(first, 0));
        Avx.Store(scaleVectors + 16, Avx2Dot.RunScales(first, 1));
        Avx.Store(scaleVectors + 32, Avx2Dot.RunScales(first, 2));
        Avx.Store(scaleVectors + 48, Avx2Dot.RunScales(first, 3));
        Avx.Store(scaleVectors + 64, Avx2Dot.RunScales(second, 0));
        Avx.Store(scaleVectors + 80, Avx2Dot.RunScales(second, 1));
        Avx.Store(scaleVectors + 96, Avx2Dot.RunScales(second, 2));
        Avx.Store(scaleVectors + 112, Avx2Dot.RunScales(second, 3));
    }

    /// <summary>One 32-element run of the panel against a token's activations, scaled, as 8 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PanelRun(Vector256<byte> w, sbyte* y, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, Avx.LoadVector256(y)), scale);

    /// <summary>Run <paramref name="c"/> of a panel block against four tokens: one weight and one scale load serve all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PanelRuns(byte* block, int c, sbyte* q0, sbyte* q1, sbyte* q2, sbyte* q3,
        ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
    {
        Vector256<byte> w = Avx.LoadVector256(block + 32 * c);
        Vector256<short> scale = Avx.LoadVector256((short*)(block + KPanelScales) + 16 * c);
        s0 += PanelRun(w, q0 + 32 * c, scale);
        s1 += PanelRun(w, q1 + 32 * c, scale);
        s2 += PanelRun(w, q2 + 32 * c, scale);
        s3 += PanelRun(w, q3 + 32 * c, scale);
    }

    /// <summary>Per-bsum products of one token's block: min lanes, or the offset's share before its shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> BSumLanes(BlockQ8K* y, Vector256<short> multipliers) =>
        Avx2.MultiplyAddAdjacent(Avx.LoadVector256(y->BSums), multipliers);

    /// <summary>One unpacked k-quant row against four tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KQuantKernel(byte* row, int n, TensorType type, BlockQ8K* y0, BlockQ8K* y1, BlockQ8K* y2, BlockQ8K* y3, float* results)
    {
        int blocks = n / 256;
        int shift = OffsetShift(type);
        Vector128<int> shiftCount = Vector128.CreateScalar(shift);
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        Vector256<float> min0 = acc0, min1 = acc0, min2 = acc0, min3 = acc0;
        byte* block = row;
        for (int b = 0; b < blocks; b++, block += KPanelBlockBytes)
        {
            Vector256<int> s0 = Vector256<int>.Zero, s1 = s0, s2 = s0, s3 = s0;
            sbyte* q0 = y0[b].Qs, q1 = y1[b].Qs, q2 = y2[b].Qs, q3 = y3[b].Qs;
            // Unrolled by hand: constant offsets leave only the loads and the arithmetic (13 instructions per run, not 18).
            PanelRuns(block, 0, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 1, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 2, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 3, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 4, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 5, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 6, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            PanelRuns(block, 7, q0, q1, q2, q3, ref s0, ref s1, ref s2, ref s3);
            Vector256<short> m = Avx.LoadVector256((short*)(block + KPanelBSumMultipliers));
            float* f = (float*)(block + KPanelFloats);
            if (shift != 0)
            {
                s0 -= Avx2.ShiftLeftLogical(BSumLanes(y0 + b, m), shiftCount);
                s1 -= Avx2.ShiftLeftLogical(BSumLanes(y1 + b, m), shiftCount);
                s2 -= Avx2.ShiftLeftLogical(BSumLanes(y2 + b, m), shiftCount);
                s3 -= Avx2.ShiftLeftLogical(BSumLanes(y3 + b, m), shiftCount);
            }
            else
            {
                // The min term, on its own accumulators as in the row kernels.
                float dmin = f[1];
                min0 = Fma.MultiplyAdd(Vector256.Create(dmin * y0[b].D), Avx.ConvertToVector256Single(BSumLanes(y0 + b, m)), min0);
                min1 = Fma.MultiplyAdd(Vector256.Create(dmin * y1[b].D), Avx.ConvertToVector256Single(BSumLanes(y1 + b, m)), min1);
                min2 = Fma.MultiplyAdd(Vector256.Create(dmin * y2[b].D), Avx.ConvertToVector256Single(BSumLanes(y2 + b, m)), min2);
                min3 = Fma.MultiplyAdd(Vector256.Create(dmin * y3[b].D), Avx.ConvertToVector256Single(BSumLanes(y3 + b, m)), min3);
            }
            float wd = f[0];
            acc0 = Fma.MultiplyAdd(Vector256.Create(wd * y0[b].D), Avx.ConvertToVector256Single(s0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(wd * y1[b].D), Avx.ConvertToVector256Single(s1), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(wd * y2[b].D), Avx.ConvertToVector256Single(s2), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(wd * y3[b].D), Avx.ConvertToVector256Single(s3), acc3);
        }
        // Offset types leave the min accumulators at zero: x − 0 is x.
        Sse.Store(results, Avx2Dot.Sum4(acc0, acc1, acc2, acc3) - Avx2Dot.Sum4(min0, min1, min2, min3));
    }

    // IQ4_XS panel block, in a k-quant panel slot: the 256 grid values as signed bytes in element order, the eight
    // sub-block multipliers (ls − 32) as int16, d as a float.
    private const int IQ4XSPanelScales = 256, IQ4XSPanelFloat = 272;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackIQ4XS(BlockIQ4XS* x, byte* dst, int blocks)
    {
        for (int b = 0; b < blocks; b++, dst += KPanelBlockBytes)
        {
            for (int i = 0; i < 8; i++)
            {
                Avx.Store((sbyte*)dst + 32 * i, Avx2Dot.IQ4Quants(x[b].Qs + 16 * i));
                ((short*)(dst + IQ4XSPanelScales))[i] = (short)(Dequantizer.IQ4XSScale(x + b, i) - 32);
            }
            *(float*)(dst + IQ4XSPanelFloat) = Avx2Dot.Scale(x[b].D);
        }
    }

    /// <summary>
    /// One unpacked IQ4_XS row against four tokens, with <see cref="IQ4XSDot{TOps, TGridOps, TVector, TLanes}.IQ4XS"/>'s arithmetic per (row, token): per
    /// sub-block |w| times y with w's sign (vpmaddubsw), pairs times the sub-block's multiplier (vpmaddwd) into int32
    /// lanes summed over the super-block, one FMA with d_w·d_y, and the same final sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IQ4XSKernel(byte* row, int n, BlockQ8K* y0, BlockQ8K* y1, BlockQ8K* y2, BlockQ8K* y3, float* results)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        byte* block = row;
        for (int b = 0; b < n / 256; b++, block += KPanelBlockBytes)
        {
            Vector256<int> s0 = Vector256<int>.Zero, s1 = s0, s2 = s0, s3 = s0;
            short* multipliers = (short*)(block + IQ4XSPanelScales);
            for (int i = 0; i < 8; i++)
            {
                Vector256<sbyte> w = Avx.LoadVector256((sbyte*)block + 32 * i);
                Vector256<byte> absW = Avx2.Abs(w);
                Vector256<short> scale = Vector256.Create(multipliers[i]);
                s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(y0[b].Qs + 32 * i), w)), scale);
                s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(y1[b].Qs + 32 * i), w)), scale);
                s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(y2[b].Qs + 32 * i), w)), scale);
                s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(y3[b].Qs + 32 * i), w)), scale);
            }
            float wd = *(float*)(block + IQ4XSPanelFloat);
            acc0 = Fma.MultiplyAdd(Vector256.Create(wd * y0[b].D), Avx.ConvertToVector256Single(s0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(wd * y1[b].D), Avx.ConvertToVector256Single(s1), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(wd * y2[b].D), Avx.ConvertToVector256Single(s2), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(wd * y3[b].D), Avx.ConvertToVector256Single(s3), acc3);
        }
        Sse.Store(results, Avx2Dot.Sum4(acc0, acc1, acc2, acc3));
    }
}
