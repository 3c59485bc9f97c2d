using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The batched matmul (prompt processing, compute-bound). A group of <see cref="RowGroup"/> weight rows is first
/// unpacked into a per-thread panel — quants as signed bytes in element order, block scales already converted —
/// so that decoding a block (nibble masks, bit gathers, half-to-float scales) is paid once per row instead of once
/// per (row, token). Then a micro-kernel meets a small tile of rows and tokens at a time, so that each weight vector
/// load (and its absolute value) serves several tokens and each activation load several rows, while the few
/// activation rows of the tile stay in L1 as the group's rows pass over them: 2 rows x 4 tokens for Q4_0/Q5_0/Q8_0,
/// 2 rows x 3 tokens for F32/F16, 1 row x 4 tokens for the k-quants.
/// <para>
/// Results are bit-identical to <see cref="Avx2Dot"/>'s per-row kernels: each (row, token) keeps its own vector
/// accumulators with the same eight integer lanes per block (integer sums are exact whatever their order),
/// the same per-block scale product and the same final reduction. The matmul tests assert that equality.
/// </para>
/// </summary>
internal static unsafe partial class Gemm
{
    /// <summary>Weight rows unpacked together; their panels (≤ 8 × a few KB) stay in L1/L2 while the tokens stream by.</summary>
    public const int RowGroup = 8;

    /// <summary>Tokens per micro-kernel call (Block32 and k-quant kernels).</summary>
    internal const int Tokens = 4;

    public static bool Supports(TensorType type) => Avx2Dot.IsSupported && type switch
    {
        TensorType.F32 or TensorType.F16 or TensorType.Q4_0 or TensorType.Q5_0 or TensorType.Q8_0 or TensorType.IQ4_NL or TensorType.IQ4_XS or TensorType.MXFP4
            or TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K => true,
        _ => IsLattice(type),
    };

    private enum Family { Float, Block32, KQuant }

    private static Family FamilyOf(TensorType type) => type switch
    {
        TensorType.F32 or TensorType.F16 => Family.Float,
        TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K or TensorType.IQ4_XS => Family.KQuant,
        _ when IsLattice(type) => Family.KQuant,
        _ => Family.Block32,
    };

    /// <summary>
    /// Bytes of extra activation data the GEMM wants next to the encoded activations, per token: the F32 values
    /// of F16 activations, or the float scales of Q8_0 blocks.
    /// </summary>
    public static int ExtraBytesPerToken(TensorType weightType, int cols) => FamilyOf(weightType) switch
    {
        Family.Float => weightType == TensorType.F16 ? cols * 4 : 0,
        Family.Block32 => cols / 32 * 4,
        _ => 0,
    };

    /// <summary>
    /// Fills the extra per-token data from one encoded activation row. <paramref name="rebiasHalves"/>: F16 activations
    /// are widened to F32 times 2^112, for <see cref="FloatDot{TOps, TFloats, THalves}.F16xRebiasedF32"/> (the decode path), not for the GEMM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PrepareToken(TensorType weightType, byte* encoded, byte* extra, int cols, bool rebiasHalves)
    {
        if (weightType == TensorType.F16)
        {
            if (rebiasHalves) HalfConversion.HalfToRebiasedSingle((Half*)encoded, (float*)extra, cols);
            else HalfConversion.HalfToSingle((Half*)encoded, (float*)extra, cols);
        }
        else if (FamilyOf(weightType) == Family.Block32)
        {
            Avx2Dot.ActivationScales((BlockQ8_0*)encoded, (float*)extra, cols / 32);
        }
    }

    /// <summary>Panel bytes for one unpacked row.</summary>
    private static int PanelRowBytes(TensorType type, int cols) => FamilyOf(type) switch
    {
        Family.Float => cols * 4,
        Family.Block32 => cols + cols / 32 * 4,
        _ => cols / 256 * KPanelBlockBytes,
    };

    [ThreadStatic] private static byte* panel;
    [ThreadStatic] private static int panelBytes;

    private static byte* Panel(int bytes)
    {
        if (panelBytes < bytes)
        {
            if (panel != null) NativeMemory.AlignedFree(panel);
            panel = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
            panelBytes = bytes;
        }
        return panel;
    }

    /// <summary>
    /// Rows [<paramref name="firstRow"/>, <paramref name="endRow"/>) against every token:
    /// <c>output[t * outputStride + r] = dot(row r, token t)</c>.
    /// </summary>
    /// <param name="type">The weights' tensor type.</param>
    /// <param name="weights">The first weight row.</param>
    /// <param name="weightRowBytes">Bytes per weight row.</param>
    /// <param name="firstRow">First row to compute.</param>
    /// <param name="endRow">Row after the last to compute.</param>
    /// <param name="cols">Elements per row.</param>
    /// <param name="activations">The tokens' activations, encoded for the weight type, one row per token.</param>
    /// <param name="activationRowBytes">Bytes per activation row.</param>
    /// <param name="extra">Per-row extras of the encoding (block sums for the k-quants' minimums), or null.</param>
    /// <param name="extraRowBytes">Bytes per row of <paramref name="extra"/>.</param>
    /// <param name="batch">Tokens.</param>
    /// <param name="output">The results, token-major.</param>
    /// <param name="outputStride">Floats from one token's outputs to the next's.</param>
    /// <param name="path"><see cref="DotPath.Avx512"/> or <see cref="DotPath.Avx512Twin"/> run the wide micro-kernels
    /// (Gemm.Wide.cs) on the AVX-512 instructions or their AVX2 twin, anything else the 256-bit ones; all give the same bits.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(TensorType type, byte* weights, long weightRowBytes, int firstRow, int endRow, int cols,
        byte* activations, int activationRowBytes, byte* extra, int extraRowBytes, int batch, float* output, int outputStride,
        DotPath path = DotPath.Avx2)
    {
        Family family = FamilyOf(type);
        int panelRow = PanelRowBytes(type, cols);
        // Block32 types also keep every token's block scales after the panel, interleaved by steps of four tokens
        // (see InterleaveTokenScales): once per call, not once per row group. That is batch x cols / 8 bytes per thread
        // (256 KB for a 256-token pass over 8192 columns), kept like the panel.
        long tokenScaleBytes = family == Family.Block32 ? (long)(batch + Tokens - 1) / Tokens * (cols / 32) * Tokens * sizeof(float) : 0;
        byte* p = type == TensorType.F32 ? null : Panel(checked((int)(panelRow * RowGroup + tokenScaleBytes)));
        float* tokenScales = family == Family.Block32 ? (float*)(p + panelRow * RowGroup) : null;
        if (tokenScales != null) InterleaveTokenScales(extra, extraRowBytes, batch, cols / 32, tokenScales);
        float* results = stackalloc float[WideFloatRows * WideFloatTokens];
        for (int group = firstRow; group < endRow; group += RowGroup)
        {
            int rows = Math.Min(RowGroup, endRow - group);
            if (p != null)
                for (int r = 0; r < rows; r++) Unpack(type, weights + (group + r) * weightRowBytes, p + r * panelRow, cols);
            if (family == Family.Block32)
            {
                if (path == DotPath.Avx512)
                    WideBlock32Group<Avx512Ops>(p, panelRow, rows, cols, activations, activationRowBytes, tokenScales, batch, output + group, outputStride, results);
                else if (path == DotPath.Avx512Twin)
                    WideBlock32Group<Avx512TwinOps>(p, panelRow, rows, cols, activations, activationRowBytes, tokenScales, batch, output + group, outputStride, results);
                else
                    Block32Group(p, panelRow, rows, cols, activations, activationRowBytes, tokenScales, batch, output + group, outputStride, results);
                continue;
            }
            if (family == Family.Float)
            {
                // F16 rows were widened into the panel; F32 rows are read where they are. F16 tokens are the widened extras.
                byte* floatRows = p != null ? p : weights + group * weightRowBytes;
                long floatRowBytes = p != null ? panelRow : weightRowBytes;
                byte* floatTokens = type == TensorType.F16 ? extra : activations;
                int floatTokenBytes = type == TensorType.F16 ? extraRowBytes : activationRowBytes;
                if (path is DotPath.Avx512 or DotPath.Avx512Twin)
                    WideFloatGroup(floatRows, floatRowBytes, rows, cols, floatTokens, floatTokenBytes, batch, output + group, outputStride, results);
                else
                    FloatGroup(floatRows, floatRowBytes, rows, cols, floatTokens, floatTokenBytes, batch, output + group, outputStride, results);
                continue;
            }

            for (int t = 0; t < batch; t += Tokens)
            {
                // A short last step repeats its last token; the repeats' results are dropped.
                int t0 = t, t1 = Math.Min(t + 1, batch - 1), t2 = Math.Min(t + 2, batch - 1), t3 = Math.Min(t + 3, batch - 1);
                for (int r = 0; r < rows; r++)
                {
                    byte* row = p != null ? p + r * panelRow : weights + (group + r) * weightRowBytes;
                    var q0 = (BlockQ8K*)(activations + t0 * activationRowBytes);
                    var q1 = (BlockQ8K*)(activations + t1 * activationRowBytes);
                    var q2 = (BlockQ8K*)(activations + t2 * activationRowBytes);
                    var q3 = (BlockQ8K*)(activations + t3 * activationRowBytes);
                    if (type == TensorType.IQ4_XS) IQ4XSKernel(row, cols, q0, q1, q2, q3, results);
                    else if (type is TensorType.IQ1_S or TensorType.IQ1_M) LatticeIQ1Kernel(row, cols, q0, q1, q2, q3, results);
                    else if (IsLattice(type)) LatticeKernel(row, cols, LatticeFactor(type), q0, q1, q2, q3, results);
                    else if (path == DotPath.Avx512) WideKQuantKernel<Avx512Ops>(row, cols, type, q0, q1, q2, q3, results);
                    else if (path == DotPath.Avx512Twin) WideKQuantKernel<Avx512TwinOps>(row, cols, type, q0, q1, q2, q3, results);
                    else KQuantKernel(row, cols, type, q0, q1, q2, q3, results);
                    int count = Math.Min(Tokens, batch - t);
                    for (int k = 0; k < count; k++) output[(long)(t + k) * outputStride + group + r] = results[k];
                }
            }
        }
    }

    // ---- Unpacking: one weight row into the panel layout ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Unpack(TensorType type, byte* src, byte* dst, int cols)
    {
        switch (type)
        {
            case TensorType.F16: HalfConversion.HalfToSingle((Half*)src, (float*)dst, cols); break;
            case TensorType.Q8_0 or TensorType.Q4_0 or TensorType.Q5_0 or TensorType.IQ4_NL or TensorType.MXFP4:
                Block32Dot<Avx2Ops, Vector256<byte>, Vector256<byte>>.UnpackBlock32(type, src, dst, cols); break;
            case TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K:
                UnpackKQuant(type, src, dst, cols / 256); break;
            case TensorType.IQ4_XS:
                UnpackIQ4XS((BlockIQ4XS*)src, dst, cols / 256); break;
            case TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S or TensorType.IQ3_XXS or TensorType.IQ3_S
                or TensorType.IQ1_S or TensorType.IQ1_M:
                UnpackLattice(type, src, dst, cols / 256); break;
            default: throw Quantization.Unsupported(type);
        }
    }

    // ---- Micro-kernels: a tile of unpacked rows against a few tokens ----

    /// <summary>Tokens per F32/F16 micro-kernel call: 2 rows x 3 tokens x 2 accumulators fill twelve of the sixteen registers.</summary>
    private const int FloatTokens = 3;

    /// <summary>
    /// A group of F32 rows (or F16 rows widened into the panel) against every token, two rows by three tokens per
    /// micro-kernel call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FloatGroup(byte* rowsStart, long rowBytes, int rows, int cols, byte* tokens, int tokenBytes,
        int batch, float* output, int outputStride, float* results)
    {
        for (int t = 0; t < batch; t += FloatTokens)
        {
            // A short last step repeats its last token; the repeats' results are dropped.
            float* y0 = (float*)(tokens + t * tokenBytes);
            float* y1 = (float*)(tokens + Math.Min(t + 1, batch - 1) * tokenBytes);
            float* y2 = (float*)(tokens + Math.Min(t + 2, batch - 1) * tokenBytes);
            int count = Math.Min(FloatTokens, batch - t);
            for (int r = 0; r < rows; r += 2)
            {
                // An odd last row runs as both rows of the pair; the copy's results are dropped.
                float* row0 = (float*)(rowsStart + r * rowBytes), row1 = r + 1 < rows ? (float*)((byte*)row0 + rowBytes) : row0;
                FloatKernel(row0, row1, y0, y1, y2, cols, results);
                for (int k = 0; k < count; k++) output[(long)(t + k) * outputStride + r] = results[k];
                if (r + 1 < rows)
                    for (int k = 0; k < count; k++) output[(long)(t + k) * outputStride + r + 1] = results[FloatTokens + k];
            }
        }
    }

    /// <summary>
    /// F32/F16, two rows by three tokens: per (row, token) the accumulation order of <see cref="FloatDot{TOps, TFloats, THalves}.F16"/> and
    /// <see cref="FloatDot{TOps, TFloats, THalves}.F32"/> (accumulator 0 takes the first eight elements of each 16-element step, accumulator 1
    /// the second eight, an 8-element remainder goes to accumulator 0, then the sum of both, then the scalar tail).
    /// Five loads feed six FMAs, where one row by four tokens needed ten loads for eight (this kernel was load-bound).
    /// results[k] is row 0 with token k, results[3 + k] row 1 with token k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FloatKernel(float* w0, float* w1, float* y0, float* y1, float* y2, int n, float* results)
    {
        Vector256<float> a000 = Vector256<float>.Zero, a001 = a000, a010 = a000, a011 = a000, a020 = a000, a021 = a000;
        Vector256<float> a100 = a000, a101 = a000, a110 = a000, a111 = a000, a120 = a000, a121 = a000;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector256<float> x0 = Avx.LoadVector256(w0 + i), x1 = Avx.LoadVector256(w1 + i);
            Vector256<float> y = Avx.LoadVector256(y0 + i);
            a000 = Fma.MultiplyAdd(x0, y, a000); a100 = Fma.MultiplyAdd(x1, y, a100);
            y = Avx.LoadVector256(y1 + i);
            a010 = Fma.MultiplyAdd(x0, y, a010); a110 = Fma.MultiplyAdd(x1, y, a110);
            y = Avx.LoadVector256(y2 + i);
            a020 = Fma.MultiplyAdd(x0, y, a020); a120 = Fma.MultiplyAdd(x1, y, a120);
            x0 = Avx.LoadVector256(w0 + i + 8); x1 = Avx.LoadVector256(w1 + i + 8);
            y = Avx.LoadVector256(y0 + i + 8);
            a001 = Fma.MultiplyAdd(x0, y, a001); a101 = Fma.MultiplyAdd(x1, y, a101);
            y = Avx.LoadVector256(y1 + i + 8);
            a011 = Fma.MultiplyAdd(x0, y, a011); a111 = Fma.MultiplyAdd(x1, y, a111);
            y = Avx.LoadVector256(y2 + i + 8);
            a021 = Fma.MultiplyAdd(x0, y, a021); a121 = Fma.MultiplyAdd(x1, y, a121);
        }
        if (i + 8 <= n)
        {
            Vector256<float> x0 = Avx.LoadVector256(w0 + i), x1 = Avx.LoadVector256(w1 + i);
            Vector256<float> y = Avx.LoadVector256(y0 + i);
            a000 = Fma.MultiplyAdd(x0, y, a000); a100 = Fma.MultiplyAdd(x1, y, a100);
            y = Avx.LoadVector256(y1 + i);
            a010 = Fma.MultiplyAdd(x0, y, a010); a110 = Fma.MultiplyAdd(x1, y, a110);
            y = Avx.LoadVector256(y2 + i);
            a020 = Fma.MultiplyAdd(x0, y, a020); a120 = Fma.MultiplyAdd(x1, y, a120);
            i += 8;
        }
        float s00 = Vector256.Sum(a000 + a001), s01 = Vector256.Sum(a010 + a011), s02 = Vector256.Sum(a020 + a021);
        float s10 = Vector256.Sum(a100 + a101), s11 = Vector256.Sum(a110 + a111), s12 = Vector256.Sum(a120 + a121);
        for (; i < n; i++)
        {
            s00 += w0[i] * y0[i]; s01 += w0[i] * y1[i]; s02 += w0[i] * y2[i];
            s10 += w1[i] * y0[i]; s11 += w1[i] * y1[i]; s12 += w1[i] * y2[i];
        }
        results[0] = s00; results[1] = s01; results[2] = s02;
        results[3] = s10; results[4] = s11; results[5] = s12;
    }

    /// <summary>
    /// Rewrites the tokens' float block scales (the extras, one row of <paramref name="blocks"/> floats per token) by
    /// steps of four tokens: <c>tokenScales[(t / 4) * blocks * 4 + 4b + t % 4]</c> = scale of block b of token t, so that
    /// the micro-kernel forms a row's four scale products with one multiply. A short last step repeats its last
    /// token, as the micro-kernel's token pointers do. Done once per <see cref="Rows"/> call: redoing it for every row
    /// group and step of four tokens was ~5% of a Q8_0 prefill.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InterleaveTokenScales(byte* extra, int extraRowBytes, int batch, int blocks, float* tokenScales)
    {
        for (int t = 0; t < batch; t += Tokens)
        {
            float* d0 = (float*)(extra + (long)t * extraRowBytes), d1 = (float*)(extra + (long)Math.Min(t + 1, batch - 1) * extraRowBytes);
            float* d2 = (float*)(extra + (long)Math.Min(t + 2, batch - 1) * extraRowBytes), d3 = (float*)(extra + (long)Math.Min(t + 3, batch - 1) * extraRowBytes);
            float* step = tokenScales + (long)(t / Tokens) * blocks * Tokens;
            for (int b = 0; b < blocks; b++)
                Sse.Store(step + 4 * b, Vector128.Create(d0[b], d1[b], d2[b], d3[b]));
        }
    }

    /// <summary>
    /// Whether FMAs take a broadcast memory operand (EVEX embedded broadcast, AVX-512VL): then
    /// <see cref="Block32KernelBroadcastScales"/> runs, else <see cref="Block32Kernel"/>. Settable only so that the
    /// bench (<c>paths --block32-scales</c>) can A/B the two in one process; nothing else writes it.
    /// </summary>
    internal static bool BroadcastScaleOperands { get; set; } = Avx512F.VL.IsSupported;

    /// <summary>
    /// One unpacked group of Q4_0/Q5_0/Q8_0 rows against every token, two rows by four tokens per micro-kernel call,
    /// with the tokens' block scales already interleaved by <see cref="InterleaveTokenScales"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block32Group(byte* panel, int panelRow, int rows, int cols, byte* activations, int activationRowBytes,
        float* tokenScales, int batch, float* output, int outputStride, float* results)
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
            for (int r = 0; r < rows; r += 2)
            {
                // An odd last row runs as both rows of the pair; the copy's results are dropped.
                byte* row0 = panel + r * panelRow, row1 = r + 1 < rows ? row0 + panelRow : row0;
                if (BroadcastScaleOperands) Block32KernelBroadcastScales(row0, row1, cols, y0, y1, y2, y3, stepScales, results);
                else Block32Kernel(row0, row1, cols, y0, y1, y2, y3, stepScales, results);
                for (int k = 0; k < count; k++) output[(long)(t + k) * outputStride + r] = results[k];
                if (r + 1 < rows)
                    for (int k = 0; k < count; k++) output[(long)(t + k) * outputStride + r + 1] = results[Tokens + k];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> SignedDot(Vector256<byte> absW, Vector256<sbyte> w, Vector256<sbyte> y, Vector256<short> ones) =>
        Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(y, w)), ones));

    /// <summary>
    /// Q4_0/Q5_0/Q8_0 against Q8_0, two unpacked rows by four tokens: the arithmetic of <see cref="Block32Dot{TOps, TVector, TLanes}.Q8_0Scaled"/>
    /// per (row, token) — the same eight int32 lanes per block, the same scale product, one FMA per block into the
    /// pair's own accumulator, the same final sum. Each token's quants are loaded once for both rows, each row's
    /// quants and their absolute values once for four tokens; the eight scale products of a block take two multiplies
    /// and reach their lanes by in-lane permutes.
    /// results[k] is row 0 with token k, results[4 + k] row 1 with token k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Block32Kernel(byte* row0, byte* row1, int n, BlockQ8_0* y0, BlockQ8_0* y1, BlockQ8_0* y2, BlockQ8_0* y3,
        float* tokenScales, float* results)
    {
        int blocks = n / 32;
        float* wd0 = (float*)(row0 + n), wd1 = (float*)(row1 + n);
        Vector256<short> ones = Vector256.Create((short)1);
        Vector256<float> acc00 = Vector256<float>.Zero, acc01 = acc00, acc02 = acc00, acc03 = acc00;
        Vector256<float> acc10 = acc00, acc11 = acc00, acc12 = acc00, acc13 = acc00;
        for (int b = 0; b < blocks; b++)
        {
            // The block's eight scale products as two vectors, row r: [d_r·dy0 .. d_r·dy3] in both 128-bit lanes; each
            // product reaches all eight lanes by one in-lane vpermilps. Three loads where eight broadcast loads and two
            // stores of a products array stood: this kernel was bound by loads (about one 32-byte load a cycle here).
            Vector256<float> dy = Avx.BroadcastVector128ToVector256(tokenScales + 4 * b);
            Vector256<float> p0 = Avx.BroadcastScalarToVector256(wd0 + b) * dy, p1 = Avx.BroadcastScalarToVector256(wd1 + b) * dy;
            Vector256<sbyte> w0 = Avx.LoadVector256((sbyte*)row0 + 32 * b), w1 = Avx.LoadVector256((sbyte*)row1 + 32 * b);
            Vector256<byte> abs0 = Avx2.Abs(w0), abs1 = Avx2.Abs(w1);
            Vector256<sbyte> y = Avx.LoadVector256(y0[b].Qs);
            acc00 = Fma.MultiplyAdd(Avx.Permute(p0, 0b00_00_00_00), SignedDot(abs0, w0, y, ones), acc00);
            acc10 = Fma.MultiplyAdd(Avx.Permute(p1, 0b00_00_00_00), SignedDot(abs1, w1, y, ones), acc10);
            y = Avx.LoadVector256(y1[b].Qs);
            acc01 = Fma.MultiplyAdd(Avx.Permute(p0, 0b01_01_01_01), SignedDot(abs0, w0, y, ones), acc01);
            acc11 = Fma.MultiplyAdd(Avx.Permute(p1, 0b01_01_01_01), SignedDot(abs1, w1, y, ones), acc11);
            y = Avx.LoadVector256(y2[b].Qs);
            acc02 = Fma.MultiplyAdd(Avx.Permute(p0, 0b10_10_10_10), SignedDot(abs0, w0, y, ones), acc02);
            acc12 = Fma.MultiplyAdd(Avx.Permute(p1, 0b10_10_10_10), SignedDot(abs1, w1, y, ones), acc12);
            y = Avx.LoadVector256(y3[b].Qs);
            acc03 = Fma.MultiplyAdd(Avx.Permute(p0, 0b11_11_11_11), SignedDot(abs0, w0, y, ones), acc03);
            acc13 = Fma.MultiplyAdd(Avx.Permute(p1, 0b11_11_11_11), SignedDot(abs1, w1, y, ones), acc13);
        }
        results[0] = Vector256.Sum(acc00); results[1] = Vector256.Sum(acc01); results[2] = Vector256.Sum(acc02); results[3] = Vector256.Sum(acc03);
        results[4] = Vector256.Sum(acc10); results[5] = Vector256.Sum(acc11); results[6] = Vector256.Sum(acc12); results[7] = Vector256.Sum(acc13);
    }

    /// <summary>
    /// <see cref="Block32Kernel"/> for CPUs with AVX-512VL, the same arithmetic and bits: the block's eight scale
    /// products go through a small stack array, and each FMA reads its product as an embedded-broadcast memory operand
    /// ({1to8}), which costs a load but no ALU op, where <see cref="Block32Kernel"/> spends one vpermilps per
    /// (row, token, block). Five vector ALU ops per (row, token, block) instead of six; without AVX-512 the broadcast
    /// would be a separate instruction, so the AVX2-only CPUs keep the permutes. It also needs fewer registers: the
    /// JIT keeps all eight accumulators in registers here, where it spills two of <see cref="Block32Kernel"/>'s
    /// (vpsignb has no EVEX form, so its operands must live in ymm0–15).
    /// results[k] is row 0 with token k, results[4 + k] row 1 with token k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Block32KernelBroadcastScales(byte* row0, byte* row1, int n, BlockQ8_0* y0, BlockQ8_0* y1, BlockQ8_0* y2, BlockQ8_0* y3,
        float* tokenScales, float* results)
    {
        int blocks = n / 32;
        float* wd0 = (float*)(row0 + n), wd1 = (float*)(row1 + n);
        float* products = stackalloc float[2 * Tokens];
        Vector256<short> ones = Vector256.Create((short)1);
        Vector256<float> acc00 = Vector256<float>.Zero, acc01 = acc00, acc02 = acc00, acc03 = acc00;
        Vector256<float> acc10 = acc00, acc11 = acc00, acc12 = acc00, acc13 = acc00;
        for (int b = 0; b < blocks; b++)
        {
            Vector128<float> dy = Sse.LoadVector128(tokenScales + 4 * b);
            Sse.Store(products, Vector128.Create(wd0[b]) * dy);
            Sse.Store(products + Tokens, Vector128.Create(wd1[b]) * dy);
            Vector256<sbyte> w0 = Avx.LoadVector256((sbyte*)row0 + 32 * b), w1 = Avx.LoadVector256((sbyte*)row1 + 32 * b);
            Vector256<byte> abs0 = Avx2.Abs(w0), abs1 = Avx2.Abs(w1);
            Vector256<sbyte> y = Avx.LoadVector256(y0[b].Qs);
            acc00 = Fma.MultiplyAdd(SignedDot(abs0, w0, y, ones), Vector256.Create(products[0]), acc00);
            acc10 = Fma.MultiplyAdd(SignedDot(abs1, w1, y, ones), Vector256.Create(products[4]), acc10);
            y = Avx.LoadVector256(y1[b].Qs);
            acc01 = Fma.MultiplyAdd(SignedDot(abs0, w0, y, ones), Vector256.Create(products[1]), acc01);
            acc11 = Fma.MultiplyAdd(SignedDot(abs1, w1, y, ones), Vector256.Create(products[5]), acc11);
            y = Avx.LoadVector256(y2[b].Qs);
            acc02 = Fma.MultiplyAdd(SignedDot(abs0, w0, y, ones), Vector256.Create(products[2]), acc02);
            acc12 = Fma.MultiplyAdd(SignedDot(abs1, w1, y, ones), Vector256.Create(products[6]), acc12);
            y = Avx.LoadVector256(y3[b].Qs);
            acc03 = Fma.MultiplyAdd(SignedDot(abs0, w0, y, ones), Vector256.Create(products[3]), acc03);
            acc13 = Fma.MultiplyAdd(SignedDot(abs1, w1, y, ones), Vector256.Create(products[7]), acc13);
        }
        results[0] = Vector256.Sum(acc00); results[1] = Vector256.Sum(acc01); results[2] = Vector256.Sum(acc02); results[3] = Vector256.Sum(acc03);
        results[4] = Vector256.Sum(acc10); results[5] = Vector256.Sum(acc11); results[6] = Vector256.Sum(acc12); results[7] = Vector256.Sum(acc13);
    }
}
