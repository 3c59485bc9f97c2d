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
/// per (row, token). Then each row meets the activations four tokens at a time: one weight vector load (and its
/// absolute value) serves four tokens, and the four activation rows stay in L1 while the group's rows pass over them.
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

    /// <summary>Tokens per micro-kernel call.</summary>
    private const int Tokens = 4;

    public static bool Supports(TensorType type) => Avx2Dot.IsSupported && type switch
    {
        TensorType.F32 or TensorType.F16 or TensorType.Q4_0 or TensorType.Q5_0 or TensorType.Q8_0
            or TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K => true,
        _ => false,
    };

    private enum Family { Float, Block32, KQuant }

    private static Family FamilyOf(TensorType type) => type switch
    {
        TensorType.F32 or TensorType.F16 => Family.Float,
        TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K => Family.KQuant,
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

    /// <summary>Fills the extra per-token data from one encoded activation row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PrepareToken(TensorType weightType, byte* encoded, byte* extra, int cols)
    {
        if (weightType == TensorType.F16)
        {
            HalfConversion.HalfToSingle((Half*)encoded, (float*)extra, cols);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(TensorType type, byte* weights, long weightRowBytes, int firstRow, int endRow, int cols,
        byte* activations, int activationRowBytes, byte* extra, int extraRowBytes, int batch, float* output, int outputStride)
    {
        Family family = FamilyOf(type);
        int panelRow = PanelRowBytes(type, cols);
        byte* p = type == TensorType.F32 ? null : Panel(panelRow * RowGroup);
        float* results = stackalloc float[Tokens];
        for (int group = firstRow; group < endRow; group += RowGroup)
        {
            int rows = Math.Min(RowGroup, endRow - group);
            if (p != null)
                for (int r = 0; r < rows; r++) Unpack(type, weights + (group + r) * weightRowBytes, p + r * panelRow, cols);

            for (int t = 0; t < batch; t += Tokens)
            {
                // A short last step repeats its last token; the repeats' results are dropped.
                int t0 = t, t1 = Math.Min(t + 1, batch - 1), t2 = Math.Min(t + 2, batch - 1), t3 = Math.Min(t + 3, batch - 1);
                for (int r = 0; r < rows; r++)
                {
                    byte* row = p != null ? p + r * panelRow : weights + (group + r) * weightRowBytes;
                    switch (family)
                    {
                        case Family.Float:
                            byte* a = type == TensorType.F16 ? extra : activations;
                            int stride = type == TensorType.F16 ? extraRowBytes : activationRowBytes;
                            FloatKernel((float*)row, (float*)(a + t0 * stride), (float*)(a + t1 * stride),
                                (float*)(a + t2 * stride), (float*)(a + t3 * stride), cols, results);
                            break;
                        case Family.Block32:
                            Block32Kernel(row, cols,
                                activations + t0 * activationRowBytes, activations + t1 * activationRowBytes,
                                activations + t2 * activationRowBytes, activations + t3 * activationRowBytes,
                                (float*)(extra + t0 * extraRowBytes), (float*)(extra + t1 * extraRowBytes),
                                (float*)(extra + t2 * extraRowBytes), (float*)(extra + t3 * extraRowBytes), results);
                            break;
                        default:
                            KQuantKernel(row, cols, type,
                                (BlockQ8K*)(activations + t0 * activationRowBytes), (BlockQ8K*)(activations + t1 * activationRowBytes),
                                (BlockQ8K*)(activations + t2 * activationRowBytes), (BlockQ8K*)(activations + t3 * activationRowBytes), results);
                            break;
                    }
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
            case TensorType.Q8_0:
            {
                var x = (BlockQ8_0*)src;
                float* d = (float*)(dst + cols);
                for (int b = 0; b < cols / 32; b++)
                {
                    Avx.Store(dst + 32 * b, Avx.LoadVector256((byte*)x[b].Qs));
                    d[b] = Avx2Dot.Scale(x[b].D);
                }
                break;
            }
            case TensorType.Q4_0:
            {
                var x = (BlockQ4_0*)src;
                float* d = (float*)(dst + cols);
                for (int b = 0; b < cols / 32; b++)
                {
                    Avx.Store(dst + 32 * b, Avx2.Subtract(Avx2Dot.Nibbles32(x[b].Qs), Vector256.Create((byte)8)));
                    d[b] = Avx2Dot.Scale(x[b].D);
                }
                break;
            }
            case TensorType.Q5_0:
            {
                var x = (BlockQ5_0*)src;
                float* d = (float*)(dst + cols);
                for (int b = 0; b < cols / 32; b++)
                {
                    Avx.Store((sbyte*)dst + 32 * b, Avx2Dot.Q5_0Quants(x + b));
                    d[b] = Avx2Dot.Scale(x[b].D);
                }
                break;
            }
            case TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K:
                UnpackKQuant(type, src, dst, cols / 256); break;
            default: throw Quantization.Unsupported(type);
        }
    }

    // ---- Micro-kernels: one unpacked row against four tokens ----

    /// <summary>F32/F16: the accumulation order of <see cref="Avx2Dot.F16"/> (two accumulators over 16-element steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FloatKernel(float* w, float* y0, float* y1, float* y2, float* y3, int n, float* results)
    {
        Vector256<float> a00 = Vector256<float>.Zero, a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector256<float> w0 = Avx.LoadVector256(w + i), w1 = Avx.LoadVector256(w + i + 8);
            a00 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y0 + i), a00);
            a01 = Fma.MultiplyAdd(w1, Avx.LoadVector256(y0 + i + 8), a01);
            a10 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y1 + i), a10);
            a11 = Fma.MultiplyAdd(w1, Avx.LoadVector256(y1 + i + 8), a11);
            a20 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y2 + i), a20);
            a21 = Fma.MultiplyAdd(w1, Avx.LoadVector256(y2 + i + 8), a21);
            a30 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y3 + i), a30);
            a31 = Fma.MultiplyAdd(w1, Avx.LoadVector256(y3 + i + 8), a31);
        }
        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> w0 = Avx.LoadVector256(w + i);
            a00 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y0 + i), a00);
            a10 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y1 + i), a10);
            a20 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y2 + i), a20);
            a30 = Fma.MultiplyAdd(w0, Avx.LoadVector256(y3 + i), a30);
        }
        float s0 = Vector256.Sum(a00 + a01), s1 = Vector256.Sum(a10 + a11), s2 = Vector256.Sum(a20 + a21), s3 = Vector256.Sum(a30 + a31);
        for (; i < n; i++)
        {
            s0 += w[i] * y0[i];
            s1 += w[i] * y1[i];
            s2 += w[i] * y2[i];
            s3 += w[i] * y3[i];
        }
        results[0] = s0; results[1] = s1; results[2] = s2; results[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedDot(Vector256<byte> absW, Vector256<sbyte> w, sbyte* y) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(y), w)), Vector256.Create((short)1));

    /// <summary>Q4_0/Q5_0/Q8_0 against Q8_0: the arithmetic of <see cref="Avx2Dot.Q8_0"/> per (row, token).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block32Kernel(byte* row, int n, byte* y0, byte* y1, byte* y2, byte* y3,
        float* d0, float* d1, float* d2, float* d3, float* results)
    {
        int blocks = n / 32;
        float* wd = (float*)(row + n);
        var b0 = (BlockQ8_0*)y0; var b1 = (BlockQ8_0*)y1; var b2 = (BlockQ8_0*)y2; var b3 = (BlockQ8_0*)y3;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < blocks; b++)
        {
            Vector256<sbyte> w = Avx.LoadVector256((sbyte*)row + 32 * b);
            Vector256<byte> absW = Avx2.Abs(w);
            float d = wd[b];
            acc0 = Fma.MultiplyAdd(Vector256.Create(d * d0[b]), Avx.ConvertToVector256Single(SignedDot(absW, w, b0[b].Qs)), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(d * d1[b]), Avx.ConvertToVector256Single(SignedDot(absW, w, b1[b].Qs)), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(d * d2[b]), Avx.ConvertToVector256Single(SignedDot(absW, w, b2[b].Qs)), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(d * d3[b]), Avx.ConvertToVector256Single(SignedDot(absW, w, b3[b].Qs)), acc3);
        }
        results[0] = Vector256.Sum(acc0); results[1] = Vector256.Sum(acc1); results[2] = Vector256.Sum(acc2); results[3] = Vector256.Sum(acc3);
    }
}
