using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The 512-bit GEMM micro-kernels, generic over <see cref="IWideOps"/> (the AVX-512 instructions, or their AVX2 twin in
/// the tests). They read the same panels as the 256-bit kernels and keep each (row, token)'s arithmetic: a 512-bit
/// register holds two 256-bit accumulators side by side — two tokens of one row (Q4_0/Q5_0/Q8_0), or two runs whose
/// integer lanes are added together before the float step (k-quants) — so every result is bit-identical to the 256-bit
/// GEMM and to decode. On CPUs with AVX-512 they halve the instructions per multiply-add, and the 32 vector registers
/// hold a 4-row by 4-token tile of Q8_0 accumulators (the 256-bit kernel fits 2 by 4 in its 16).
/// </summary>
internal static unsafe partial class Gemm
{
    /// <summary>Q4_0/Q5_0/Q8_0 rows per wide micro-kernel call.</summary>
    private const int WideBlock32Rows = 4;

    /// <summary>F32/F16 rows and tokens per wide micro-kernel call: sixteen 512-bit accumulators of the 32 registers.</summary>
    private const int WideFloatRows = 4, WideFloatTokens = 4;

    /// <summary>
    /// A group of F32 rows (or F16 rows widened into the panel) against every token, four rows by four tokens per
    /// micro-kernel call (<see cref="FloatGroup"/>'s walk; rows and tokens past the end repeat the last, results dropped).
    /// Plain Vector512 arithmetic, so the same code runs on AVX-512 and, as the twin does, on AVX2 halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WideFloatGroup(byte* rowsStart, long rowBytes, int rows, int cols, byte* tokens, int tokenBytes,
        int batch, float* output, int outputStride, float* results)
    {
        for (int t = 0; t < batch; t += WideFloatTokens)
        {
            float* y0 = (float*)(tokens + (long)t * tokenBytes);
            float* y1 = (float*)(tokens + (long)Math.Min(t + 1, batch - 1) * tokenBytes);
            float* y2 = (float*)(tokens + (long)Math.Min(t + 2, batch - 1) * tokenBytes);
            float* y3 = (float*)(tokens + (long)Math.Min(t + 3, batch - 1) * tokenBytes);
            int count = Math.Min(WideFloatTokens, batch - t);
            for (int r = 0; r < rows; r += WideFloatRows)
            {
                float* w0 = (float*)(rowsStart + r * rowBytes);
                float* w1 = (float*)(rowsStart + Math.Min(r + 1, rows - 1) * rowBytes);
                float* w2 = (float*)(rowsStart + Math.Min(r + 2, rows - 1) * rowBytes);
                float* w3 = (float*)(rowsStart + Math.Min(r + 3, rows - 1) * rowBytes);
                WideFloatKernel(w0, w1, w2, w3, y0, y1, y2, y3, cols, results);
                int rowCount = Math.Min(WideFloatRows, rows - r);
                for (int k = 0; k < rowCount; k++)
                    for (int j = 0; j < count; j++) output[(long)(t + j) * outputStride + r + k] = results[WideFloatTokens * k + j];
            }
        }
    }

    /// <summary>
    /// F32/F16, four rows by four tokens: per (row, token) one 512-bit accumulator holding <see cref="FloatKernel"/>'s two
    /// (elements 0..7 of each 16-element step in the low half, 8..15 in the high half), an 8-element remainder into the
    /// low half only, then Vector256.Sum of the halves' sum and the scalar tail: the same operations in the same order.
    /// Eight loads feed sixteen FMAs (the 256-bit kernel: five for six). results[4·r + k] is row r with token k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WideFloatKernel(float* w0, float* w1, float* w2, float* w3, float* y0, float* y1, float* y2, float* y3, int n, float* results)
    {
        Vector512<float> a00 = Vector512<float>.Zero, a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        Vector512<float> a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector512<float> x0 = Vector512.Load(w0 + i), x1 = Vector512.Load(w1 + i), x2 = Vector512.Load(w2 + i), x3 = Vector512.Load(w3 + i);
            Vector512<float> y = Vector512.Load(y0 + i);
            a00 = Vector512.FusedMultiplyAdd(x0, y, a00); a10 = Vector512.FusedMultiplyAdd(x1, y, a10);
            a20 = Vector512.FusedMultiplyAdd(x2, y, a20); a30 = Vector512.FusedMultiplyAdd(x3, y, a30);
            y = Vector512.Load(y1 + i);
            a01 = Vector512.FusedMultiplyAdd(x0, y, a01); a11 = Vector512.FusedMultiplyAdd(x1, y, a11);
            a21 = Vector512.FusedMultiplyAdd(x2, y, a21); a31 = Vector512.FusedMultiplyAdd(x3, y, a31);
            y = Vector512.Load(y2 + i);
            a02 = Vector512.FusedMultiplyAdd(x0, y, a02); a12 = Vector512.FusedMultiplyAdd(x1, y, a12);
            a22 = Vector512.FusedMultiplyAdd(x2, y, a22); a32 = Vector512.FusedMultiplyAdd(x3, y, a32);
            y = Vector512.Load(y3 + i);
            a03 = Vector512.FusedMultiplyAdd(x0, y, a03); a13 = Vector512.FusedMultiplyAdd(x1, y, a13);
            a23 = Vector512.FusedMultiplyAdd(x2, y, a23); a33 = Vector512.FusedMultiplyAdd(x3, y, a33);
        }
        FloatRow(w0, y0, y1, y2, y3, a00, a01, a02, a03, i, n, results);
        FloatRow(w1, y0, y1, y2, y3, a10, a11, a12, a13, i, n, results + 4);
        FloatRow(w2, y0, y1, y2, y3, a20, a21, a22, a23, i, n, results + 8);
        FloatRow(w3, y0, y1, y2, y3, a30, a31, a32, a33, i, n, results + 12);
    }

    /// <summary>One row's four tokens from step <paramref name="i"/> on: the 8-element remainder, the sums, the scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FloatRow(float* w, float* y0, float* y1, float* y2, float* y3,
        Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, int i, int n, float* results)
    {
        Vector256<float> l0 = a0.GetLower(), l1 = a1.GetLower(), l2 = a2.GetLower(), l3 = a3.GetLower();
        if (i + 8 <= n)
        {
            Vector256<float> x = Vector256.Load(w + i);
            l0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(y0 + i), l0);
            l1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(y1 + i), l1);
            l2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(y2 + i), l2);
            l3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(y3 + i), l3);
            i += 8;
        }
        float s0 = Vector256.Sum(l0 + a0.GetUpper()), s1 = Vector256.Sum(l1 + a1.GetUpper());
        float s2 = Vector256.Sum(l2 + a2.GetUpper()), s3 = Vector256.Sum(l3 + a3.GetUpper());
        for (; i < n; i++)
        {
            s0 += w[i] * y0[i]; s1 += w[i] * y1[i]; s2 += w[i] * y2[i]; s3 += w[i] * y3[i];
        }
        results[0] = s0; results[1] = s1; results[2] = s2; results[3] = s3;
    }

    /// <summary>
    /// One unpacked group of Q4_0/Q5_0/Q8_0 rows against every token, four rows by four tokens per micro-kernel call
    /// (<see cref="Block32Group"/>'s walk, with the wide kernel).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WideBlock32Group<TOps>(byte* panel, int panelRow, int rows, int cols, byte* activations, int activationRowBytes,
        float* tokenScales, int batch, float* output, int outputStride, float* results) where TOps : struct, IWideOps
    {
        int blocks = cols / 32;
        for (int t = 0; t < batch; t += Tokens)
        {
            // A short last step repeats its last token; the repeats' results are dropped.
            int t0 = t, t1 = Math.Min(t + 1, batch - 1), t2 = Math.Min(t + 2, batch - 1), t3 = Math.Min(t + 3, batch - 1);
            float* stepScales = tokenScales + (long)(t / Tokens) * blocks * Tokens;
            var y0 = (BlockQ8_0*)(activations + t0 * activationRowBytes);
            var y1 = (BlockQ8_0*)(activations + t1 * activationRowBytes);
            var y2 = (BlockQ8_0*)(activations + t2 * activationRowBytes);
            var y3 = (BlockQ8_0*)(activations + t3 * activationRowBytes);
            int count = Math.Min(Tokens, batch - t);
            for (int r = 0; r < rows; r += WideBlock32Rows)
            {
                // Rows past the group's last run as copies of it; the copies' results are dropped.
                byte* row0 = panel + r * panelRow;
                byte* row1 = panel + Math.Min(r + 1, rows - 1) * panelRow;
                byte* row2 = panel + Math.Min(r + 2, rows - 1) * panelRow;
                byte* row3 = panel + Math.Min(r + 3, rows - 1) * panelRow;
                WideBlock32Kernel<TOps>(row0, row1, row2, row3, cols, y0, y1, y2, y3, stepScales, results);
                int rowCount = Math.Min(WideBlock32Rows, rows - r);
                for (int k = 0; k < rowCount; k++)
                    for (int j = 0; j < count; j++) output[(long)(t + j) * outputStride + r + k] = results[Tokens * k + j];
            }
        }
    }

    /// <summary>
    /// Q4_0/Q5_0/Q8_0 against Q8_0, four unpacked rows by four tokens. Per block, the activations of tokens 0 and 1 share
    /// one register (token 0 in the low half, token 1 in the high half), as do tokens 2 and 3; each row's quants are
    /// broadcast to both halves, so each half carries out <see cref="Block32Kernel"/>'s arithmetic for its (row, token):
    /// |w| times y with w's sign (vpmaddubsw), pairs to int32 (vpmaddwd), to float, one FMA with d_w·d_y. Results as
    /// <see cref="Block32Kernel"/>: results[4·r + k] is row r with token k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WideBlock32Kernel<TOps>(byte* row0, byte* row1, byte* row2, byte* row3, int n,
        BlockQ8_0* y0, BlockQ8_0* y1, BlockQ8_0* y2, BlockQ8_0* y3, float* tokenScales, float* results) where TOps : struct, IWideOps
    {
        int blocks = n / 32;
        float* wd0 = (float*)(row0 + n), wd1 = (float*)(row1 + n), wd2 = (float*)(row2 + n), wd3 = (float*)(row3 + n);
        Vector512<short> ones = Vector512.Create((short)1);
        Vector512<int> firstPair = Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
        Vector512<int> secondPair = Vector512.Create(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        Vector512<float> acc00 = Vector512<float>.Zero, acc01 = acc00, acc10 = acc00, acc11 = acc00;
        Vector512<float> acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00;
        for (int b = 0; b < blocks; b++)
        {
            // The tokens' scales [dy0 x8 | dy1 x8] and [dy2 x8 | dy3 x8], shared by the four rows.
            // Indices 0..3 read only the low 128 bits, so the rest of the register may hold anything.
            Vector512<float> dy = Vector128.Load(tokenScales + 4 * b).ToVector256Unsafe().ToVector512Unsafe();
            Vector512<float> dy01 = TOps.PermuteFloats(dy, firstPair), dy23 = TOps.PermuteFloats(dy, secondPair);
            Vector512<sbyte> ya = TOps.Combine(Vector256.Load((byte*)y0[b].Qs), Vector256.Load((byte*)y1[b].Qs)).AsSByte();
            Vector512<sbyte> yb = TOps.Combine(Vector256.Load((byte*)y2[b].Qs), Vector256.Load((byte*)y3[b].Qs)).AsSByte();
            Block32Row<TOps>(row0 + 32 * b, wd0[b], ya, yb, dy01, dy23, ones, ref acc00, ref acc01);
            Block32Row<TOps>(row1 + 32 * b, wd1[b], ya, yb, dy01, dy23, ones, ref acc10, ref acc11);
            Block32Row<TOps>(row2 + 32 * b, wd2[b], ya, yb, dy01, dy23, ones, ref acc20, ref acc21);
            Block32Row<TOps>(row3 + 32 * b, wd3[b], ya, yb, dy01, dy23, ones, ref acc30, ref acc31);
        }
        StoreTokenSums(acc00, acc01, results);
        StoreTokenSums(acc10, acc11, results + 4);
        StoreTokenSums(acc20, acc21, results + 8);
        StoreTokenSums(acc30, acc31, results + 12);
    }

    /// <summary>One row's block against the two token pairs: accumulators [token 0 | token 1] and [token 2 | token 3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block32Row<TOps>(byte* quants, float wd, Vector512<sbyte> ya, Vector512<sbyte> yb, Vector512<float> dy01, Vector512<float> dy23,
        Vector512<short> ones, ref Vector512<float> acc01, ref Vector512<float> acc23) where TOps : struct, IWideOps
    {
        Vector512<sbyte> w = TOps.BroadcastVector256(quants).AsSByte();
        Vector512<byte> absW = TOps.Abs(w);
        Vector512<float> scale = Vector512.Create(wd);
        acc01 = Vector512.FusedMultiplyAdd(scale * dy01,
            Vector512.ConvertToSingle(TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(absW, TOps.NegateWhereNegative(ya, w)), ones)), acc01);
        acc23 = Vector512.FusedMultiplyAdd(scale * dy23,
            Vector512.ConvertToSingle(TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(absW, TOps.NegateWhereNegative(yb, w)), ones)), acc23);
    }

    /// <summary>The four tokens' Vector256.Sum of their eight lanes, as the 256-bit kernels reduce each accumulator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTokenSums(Vector512<float> acc01, Vector512<float> acc23, float* results)
    {
        results[0] = Vector256.Sum(acc01.GetLower());
        results[1] = Vector256.Sum(acc01.GetUpper());
        results[2] = Vector256.Sum(acc23.GetLower());
        results[3] = Vector256.Sum(acc23.GetUpper());
    }

    /// <summary>
    /// <see cref="KQuantKernel"/> with 512-bit integer work: panel runs 2c and 2c + 1 (64 quants, their two scale
    /// vectors) and the matching 64 activation bytes each fill one register, so a block takes four steps instead of
    /// eight. The two halves' int32 lanes are added before the float step: integer sums are exact in any order, so the
    /// lanes, and every float operation after them, are those of the 256-bit kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WideKQuantKernel<TOps>(byte* row, int n, TensorType type, BlockQ8K* y0, BlockQ8K* y1, BlockQ8K* y2, BlockQ8K* y3, float* results)
        where TOps : struct, IWideOps
    {
        int blocks = n / 256;
        int shift = OffsetShift(type);
        Vector128<int> shiftCount = Vector128.CreateScalar(shift);
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        Vector256<float> min0 = acc0, min1 = acc0, min2 = acc0, min3 = acc0;
        byte* block = row;
        for (int b = 0; b < blocks; b++, block += KPanelBlockBytes)
        {
            Vector512<int> w0 = Vector512<int>.Zero, w1 = w0, w2 = w0, w3 = w0;
            sbyte* q0 = y0[b].Qs, q1 = y1[b].Qs, q2 = y2[b].Qs, q3 = y3[b].Qs;
            WidePanelRuns<TOps>(block, 0, q0, q1, q2, q3, ref w0, ref w1, ref w2, ref w3);
            WidePanelRuns<TOps>(block, 1, q0, q1, q2, q3, ref w0, ref w1, ref w2, ref w3);
            WidePanelRuns<TOps>(block, 2, q0, q1, q2, q3, ref w0, ref w1, ref w2, ref w3);
            WidePanelRuns<TOps>(block, 3, q0, q1, q2, q3, ref w0, ref w1, ref w2, ref w3);
            Vector256<int> s0 = w0.GetLower() + w0.GetUpper(), s1 = w1.GetLower() + w1.GetUpper();
            Vector256<int> s2 = w2.GetLower() + w2.GetUpper(), s3 = w3.GetLower() + w3.GetUpper();
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
        Sse.Store(results, Avx2Dot.Sum4(acc0, acc1, acc2, acc3) - Avx2Dot.Sum4(min0, min1, min2, min3));
    }

    /// <summary>Panel runs 2c and 2c + 1 against four tokens: one weight and one scale load serve all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidePanelRuns<TOps>(byte* block, int c, sbyte* q0, sbyte* q1, sbyte* q2, sbyte* q3,
        ref Vector512<int> s0, ref Vector512<int> s1, ref Vector512<int> s2, ref Vector512<int> s3) where TOps : struct, IWideOps
    {
        Vector512<byte> w = Vector512.Load(block + 64 * c);
        Vector512<short> scale = Vector512.Load((short*)(block + KPanelScales) + 32 * c);
        s0 += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(w, Vector512.Load(q0 + 64 * c)), scale);
        s1 += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(w, Vector512.Load(q1 + 64 * c)), scale);
        s2 += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(w, Vector512.Load(q2 + 64 * c)), scale);
        s3 += TOps.MultiplyAddAdjacent(TOps.MultiplyAddAdjacent(w, Vector512.Load(q3 + 64 * c)), scale);
    }
}
