using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Reference dot products: one weight row (raw blocks) against one activation row already encoded in
/// <see cref="Quantization.ActivationType"/> of the weight type. This is the spec the SIMD kernels are tested
/// against. As in ggml, each block's integer dot product is exact and only the per-block scaling is float.
/// </summary>
internal static unsafe class ScalarDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32(byte* w, byte* a, int n)
    {
        float* x = (float*)w, y = (float*)a;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16(byte* w, byte* a, int n)
    {
        Half* x = (Half*)w, y = (Half*)a;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += (float)x[i] * (float)y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w, y = (ushort*)a;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += HalfConversion.BF16ToSingle(x[i]) * HalfConversion.BF16ToSingle(y[i]);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_0(byte* w, byte* a, int n)
    {
        var x = (BlockQ4_0*)w;
        var y = (BlockQ8_0*)a;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi += ((x[b].Qs[j] & 0x0F) - 8) * y[b].Qs[j];
                sumi += ((x[b].Qs[j] >> 4) - 8) * y[b].Qs[j + 16];
            }
            sum += sumi * ((float)x[b].D * (float)y[b].D);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_1(byte* w, byte* a, int n)
    {
        var x = (BlockQ4_1*)w;
        var y = (BlockQ8_1*)a;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi += (x[b].Qs[j] & 0x0F) * y[b].Qs[j];
                sumi += (x[b].Qs[j] >> 4) * y[b].Qs[j + 16];
            }
            // m * sum(x) = m * s: the Q8_1 block carries d * sum(q) so the min term costs one multiply.
            sum += (float)x[b].D * (float)y[b].D * sumi + (float)x[b].M * (float)y[b].S;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_0(byte* w, byte* a, int n)
    {
        var x = (BlockQ5_0*)w;
        var y = (BlockQ8_0*)a;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            uint qh = *(uint*)x[b].Qh;
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                int x0 = ((x[b].Qs[j] & 0x0F) | (int)(((qh >> j) << 4) & 0x10)) - 16;
                int x1 = ((x[b].Qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - 16;
                sumi += x0 * y[b].Qs[j] + x1 * y[b].Qs[j + 16];
            }
            sum += (float)x[b].D * (float)y[b].D * sumi;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_1(byte* w, byte* a, int n)
    {
        var x = (BlockQ5_1*)w;
        var y = (BlockQ8_1*)a;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            uint qh = *(uint*)x[b].Qh;
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                int x0 = (x[b].Qs[j] & 0x0F) | (int)(((qh >> j) << 4) & 0x10);
                int x1 = (x[b].Qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
                sumi += x0 * y[b].Qs[j] + x1 * y[b].Qs[j + 16];
            }
            sum += (float)x[b].D * (float)y[b].D * sumi + (float)x[b].M * (float)y[b].S;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8_0(byte* w, byte* a, int n)
    {
        var x = (BlockQ8_0*)w;
        var y = (BlockQ8_0*)a;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            int sumi = 0;
            for (int j = 0; j < 32; j++) sumi += x[b].Qs[j] * y[b].Qs[j];
            sum += sumi * ((float)x[b].D * (float)y[b].D);
        }
        return sum;
    }

    /// <summary>Q8_1 weights are not a ggml matmul type; kept so every quantizable type has a dot product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8_1(byte* w, byte* a, int n)
    {
        var x = (BlockQ8_1*)w;
        var y = (BlockQ8_1*)a;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            int sumi = 0;
            for (int j = 0; j < 32; j++) sumi += x[b].Qs[j] * y[b].Qs[j];
            sum += sumi * ((float)x[b].D * (float)y[b].D);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q2K(byte* w, byte* a, int n)
    {
        var x = (BlockQ2K*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            byte* q2 = x[b].Qs;
            sbyte* q8 = y[b].Qs;
            byte* sc = x[b].Scales;
            // The min term: sum over groups of min_g * sum(q8 in g), from the precomputed Q8_K group sums.
            int summs = 0;
            for (int g = 0; g < 16; g++) summs += y[b].BSums[g] * (sc[g] >> 4);

            int isum = 0, group = 0;
            for (int half = 0; half < 2; half++, q2 += 32)
            {
                for (int shift = 0; shift < 8; shift += 2, q8 += 32)
                {
                    for (int sub = 0; sub < 2; sub++)
                    {
                        int isuml = 0;
                        for (int l = 16 * sub; l < 16 * sub + 16; l++) isuml += q8[l] * ((q2[l] >> shift) & 3);
                        isum += (sc[group++] & 0xF) * isuml;
                    }
                }
            }
            float dall = y[b].D * (float)x[b].D;
            float dmin = y[b].D * (float)x[b].DMin;
            sum += dall * isum - dmin * summs;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q3K(byte* w, byte* a, int n)
    {
        var x = (BlockQ3K*)w;
        var y = (BlockQ8K*)a;
        sbyte* scales = stackalloc sbyte[16];
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            KQuantLayout.Q3Scales(x[b].Scales, scales);
            byte* q3 = x[b].Qs;
            byte* hm = x[b].HMask;
            sbyte* q8 = y[b].Qs;
            int isum = 0, group = 0;
            byte m = 1;
            for (int half = 0; half < 2; half++, q3 += 32)
            {
                for (int shift = 0; shift < 8; shift += 2, m <<= 1, q8 += 32)
                {
                    for (int sub = 0; sub < 2; sub++)
                    {
                        int isuml = 0;
                        for (int l = 16 * sub; l < 16 * sub + 16; l++)
                            isuml += q8[l] * (((q3[l] >> shift) & 3) - ((hm[l] & m) != 0 ? 0 : 4));
                        isum += scales[group++] * isuml;
                    }
                }
            }
            sum += (float)x[b].D * y[b].D * isum;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4K(byte* w, byte* a, int n)
    {
        var x = (BlockQ4K*)w;
        var y = (BlockQ8K*)a;
        byte* scales = stackalloc byte[8];
        byte* mins = stackalloc byte[8];
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            KQuantLayout.ScalesMins(x[b].Scales, scales, mins);
            int summs = 0;
            for (int g = 0; g < 16; g++) summs += y[b].BSums[g] * mins[g / 2];

            byte* q4 = x[b].Qs;
            sbyte* q8 = y[b].Qs;
            int isum = 0;
            for (int pair = 0; pair < 4; pair++, q4 += 32, q8 += 64)
            {
                int lo = 0, hi = 0;
                for (int l = 0; l < 32; l++)
                {
                    lo += (q4[l] & 0xF) * q8[l];
                    hi += (q4[l] >> 4) * q8[l + 32];
                }
                isum += scales[2 * pair] * lo + scales[2 * pair + 1] * hi;
            }
            float d = (float)x[b].D * y[b].D;
            float dmin = (float)x[b].DMin * y[b].D;
            sum += d * isum - dmin * summs;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5K(byte* w, byte* a, int n)
    {
        var x = (BlockQ5K*)w;
        var y = (BlockQ8K*)a;
        byte* scales = stackalloc byte[8];
        byte* mins = stackalloc byte[8];
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            KQuantLayout.ScalesMins(x[b].Scales, scales, mins);
            int summs = 0;
            for (int g = 0; g < 16; g++) summs += y[b].BSums[g] * mins[g / 2];

            byte* q4 = x[b].Qs;
            byte* qh = x[b].Qh;
            sbyte* q8 = y[b].Qs;
            int isum = 0;
            for (int pair = 0; pair < 4; pair++, q4 += 32, q8 += 64)
            {
                int lo = 0, hi = 0;
                int bitLo = 1 << (2 * pair), bitHi = 2 << (2 * pair);
                for (int l = 0; l < 32; l++)
                {
                    lo += ((q4[l] & 0xF) + ((qh[l] & bitLo) != 0 ? 16 : 0)) * q8[l];
                    hi += ((q4[l] >> 4) + ((qh[l] & bitHi) != 0 ? 16 : 0)) * q8[l + 32];
                }
                isum += scales[2 * pair] * lo + scales[2 * pair + 1] * hi;
            }
            float d = (float)x[b].D * y[b].D;
            float dmin = (float)x[b].DMin * y[b].D;
            sum += d * isum - dmin * summs;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6K(byte* w, byte* a, int n)
    {
        var x = (BlockQ6K*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            byte* ql = x[b].Ql;
            byte* qh = x[b].Qh;
            sbyte* sc = x[b].Scales;
            sbyte* q8 = y[b].Qs;
            int isum = 0;
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, q8 += 128)
            {
                // Four 32-element runs per half; run r uses scales sc[2r] (first 16) and sc[2r+1] (last 16).
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    isum += sc[s] * q1 * q8[l] + sc[s + 2] * q2 * q8[l + 32]
                          + sc[s + 4] * q3 * q8[l + 64] + sc[s + 6] * q4 * q8[l + 96];
                }
            }
            sum += (float)x[b].D * y[b].D * isum;
        }
        return sum;
    }

    /// <summary>Q8_K weights are not a ggml matmul type; kept so every quantizable type has a dot product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8K(byte* w, byte* a, int n)
    {
        var x = (BlockQ8K*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            int sumi = 0;
            for (int j = 0; j < 256; j++) sumi += x[b].Qs[j] * y[b].Qs[j];
            sum += x[b].D * y[b].D * sumi;
        }
        return sum;
    }

    /// <summary>IQ4_NL against Q8_0, as ggml's vec_dot_iq4_nl_q8_0: per block the exact integer sum, times d_x·d_y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4NL(byte* w, byte* a, int n)
    {
        var x = (BlockIQ4NL*)w;
        var y = (BlockQ8_0*)a;
        ReadOnlySpan<sbyte> grid = IQ4Values.Table;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            sum += GridBlockSum(x[b].Qs, y[b].Qs, grid) * ((float)x[b].D * (float)y[b].D);
        }
        return sum;
    }

    /// <summary>MXFP4 against Q8_0, as ggml's vec_dot_mxfp4_q8_0: per block the exact integer sum, times d_y·2^(e − 128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float MXFP4(byte* w, byte* a, int n)
    {
        var x = (BlockMXFP4*)w;
        var y = (BlockQ8_0*)a;
        ReadOnlySpan<sbyte> values = MXFP4Values.Table;
        float sum = 0;
        for (int b = 0; b < n / 32; b++)
        {
            sum += GridBlockSum(x[b].Qs, y[b].Qs, values) * ((float)y[b].D * MXFP4Values.HalfScale(x[b].E));
        }
        return sum;
    }

    /// <summary>IQ4_XS against Q8_K, as ggml's vec_dot_iq4_xs_q8_K: Σ over sub-blocks of (ls − 32)·(integer sum), times d_x·d_y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ4XS*)w;
        var y = (BlockQ8K*)a;
        ReadOnlySpan<sbyte> grid = IQ4Values.Table;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            int sumi = 0;
            for (int i = 0; i < 8; i++)
                sumi += (Dequantizer.IQ4XSScale(&x[b], i) - 32) * GridBlockSum(x[b].Qs + 16 * i, y[b].Qs + 32 * i, grid);
            sum += (float)x[b].D * y[b].D * sumi;
        }
        return sum;
    }

    /// <summary>Σ grid[q_j]·y_j over one 32-weight run of 4-bit grid indices (element j low nibble, j + 16 high): IQ4_NL, IQ4_XS, MXFP4.</summary>
    private static int GridBlockSum(byte* qs, sbyte* y, ReadOnlySpan<sbyte> grid)
    {
        int sum = 0;
        for (int j = 0; j < 16; j++) sum += grid[qs[j] & 0xF] * y[j] + grid[qs[j] >> 4] * y[j + 16];
        return sum;
    }
}
