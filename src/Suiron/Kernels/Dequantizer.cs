using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Scalar dequantizers, one per block type: the spec for what a block means (ggml's dequantize_row_*).
/// Used for embedding lookups and tests; the matmul path never dequantizes.
/// </summary>
internal static unsafe class Dequantizer
{
    public static void Q4_0(BlockQ4_0* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = (float)x[i].D;
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((x[i].Qs[j] & 0x0F) - 8) * d;
                y[j + 16] = ((x[i].Qs[j] >> 4) - 8) * d;
            }
        }
    }

    public static void Q4_1(BlockQ4_1* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = (float)x[i].D, m = (float)x[i].M;
            for (int j = 0; j < 16; j++)
            {
                y[j] = (x[i].Qs[j] & 0x0F) * d + m;
                y[j + 16] = (x[i].Qs[j] >> 4) * d + m;
            }
        }
    }

    public static void Q5_0(BlockQ5_0* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = (float)x[i].D;
            uint qh = *(uint*)x[i].Qh;
            for (int j = 0; j < 16; j++)
            {
                int high0 = (int)((qh >> j) << 4) & 0x10;
                int high1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = (((x[i].Qs[j] & 0x0F) | high0) - 16) * d;
                y[j + 16] = (((x[i].Qs[j] >> 4) | high1) - 16) * d;
            }
        }
    }

    public static void Q5_1(BlockQ5_1* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = (float)x[i].D, m = (float)x[i].M;
            uint qh = *(uint*)x[i].Qh;
            for (int j = 0; j < 16; j++)
            {
                int high0 = (int)((qh >> j) << 4) & 0x10;
                int high1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = ((x[i].Qs[j] & 0x0F) | high0) * d + m;
                y[j + 16] = ((x[i].Qs[j] >> 4) | high1) * d + m;
            }
        }
    }

    public static void Q8_0(BlockQ8_0* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = (float)x[i].D;
            for (int j = 0; j < 32; j++) y[j] = x[i].Qs[j] * d;
        }
    }

    public static void Q8_1(BlockQ8_1* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = (float)x[i].D;
            for (int j = 0; j < 32; j++) y[j] = x[i].Qs[j] * d;
        }
    }

    public static void Q2K(BlockQ2K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            float d = (float)x[i].D, min = (float)x[i].DMin;
            byte* q = x[i].Qs;
            int group = 0;
            for (int half = 0; half < 2; half++, q += 32)
            {
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int sub = 0; sub < 2; sub++)
                    {
                        byte sc = x[i].Scales[group++];
                        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) *y++ = dl * ((q[16 * sub + l] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    public static void Q3K(BlockQ3K* x, float* y, int blocks)
    {
        sbyte* scales = stackalloc sbyte[16];
        for (int i = 0; i < blocks; i++)
        {
            float dAll = (float)x[i].D;
            KQuantLayout.Q3Scales(x[i].Scales, scales);
            byte* q = x[i].Qs;
            byte* hm = x[i].HMask;
            byte m = 1;
            int group = 0;
            for (int half = 0; half < 2; half++, q += 32)
            {
                for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                {
                    for (int sub = 0; sub < 2; sub++)
                    {
                        float dl = dAll * scales[group++];
                        for (int l = 16 * sub; l < 16 * sub + 16; l++)
                            *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    public static void Q4K(BlockQ4K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            byte* q = x[i].Qs;
            float d = (float)x[i].D, min = (float)x[i].DMin;
            for (int group = 0; group < 8; group += 2, q += 32)
            {
                KQuantLayout.ScaleMin(group, x[i].Scales, out byte sc, out byte m);
                float d1 = d * sc, m1 = min * m;
                KQuantLayout.ScaleMin(group + 1, x[i].Scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
            }
        }
    }

    public static void Q5K(BlockQ5K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            byte* ql = x[i].Qs;
            byte* qh = x[i].Qh;
            float d = (float)x[i].D, min = (float)x[i].DMin;
            byte u1 = 1, u2 = 2;
            for (int group = 0; group < 8; group += 2, ql += 32)
            {
                KQuantLayout.ScaleMin(group, x[i].Scales, out byte sc, out byte m);
                float d1 = d * sc, m1 = min * m;
                KQuantLayout.ScaleMin(group + 1, x[i].Scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
                u1 <<= 2; u2 <<= 2;
            }
        }
    }

    public static void Q6K(BlockQ6K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            float d = (float)x[i].D;
            byte* ql = x[i].Ql;
            byte* qh = x[i].Qh;
            sbyte* sc = x[i].Scales;
            for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
            {
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = d * sc[s] * q1;
                    y[l + 32] = d * sc[s + 2] * q2;
                    y[l + 64] = d * sc[s + 4] * q3;
                    y[l + 96] = d * sc[s + 6] * q4;
                }
            }
        }
    }

    public static void Q8K(BlockQ8K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 256)
        {
            float d = x[i].D;
            for (int j = 0; j < 256; j++) y[j] = d * x[i].Qs[j];
        }
    }

    /// <summary>IQ4_NL: x = d * grid[q].</summary>
    public static void IQ4NL(BlockIQ4NL* x, float* y, int blocks)
    {
        ReadOnlySpan<sbyte> grid = IQ4Values.Table;
        for (int b = 0; b < blocks; b++, y += 32) GridBlock(x[b].Qs, (float)x[b].D, grid, y);
    }

    /// <summary>MXFP4: x = 2^(e − 128) · table[q] (the doubled E2M1 values).</summary>
    public static void MXFP4(BlockMXFP4* x, float* y, int blocks)
    {
        ReadOnlySpan<sbyte> values = MXFP4Values.Table;
        for (int b = 0; b < blocks; b++, y += 32) GridBlock(x[b].Qs, MXFP4Values.HalfScale(x[b].E), values, y);
    }

    /// <summary>IQ4_XS: sub-block i of each super-block is IQ4_NL with scale d * (ls_i − 32).</summary>
    public static void IQ4XS(BlockIQ4XS* x, float* y, int blocks)
    {
        ReadOnlySpan<sbyte> grid = IQ4Values.Table;
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int i = 0; i < 8; i++, y += 32) GridBlock(x[b].Qs + 16 * i, d * (IQ4XSScale(&x[b], i) - 32), grid, y);
        }
    }

    /// <summary>32 weights d·grid[q] from one 16-byte run of 4-bit grid indices (element j low nibble, j + 16 high).</summary>
    private static void GridBlock(byte* qs, float d, ReadOnlySpan<sbyte> grid, float* y)
    {
        for (int j = 0; j < 16; j++)
        {
            y[j] = d * grid[qs[j] & 0xF];
            y[j + 16] = d * grid[qs[j] >> 4];
        }
    }

    /// <summary>The six-bit scale of sub-block <paramref name="i"/> (0..63; the sub-block's multiplier is it minus 32).</summary>
    internal static int IQ4XSScale(BlockIQ4XS* x, int i) => ((x->ScalesL[i / 2] >> (4 * (i % 2))) & 0xF) | (((x->ScalesH >> (2 * i)) & 3) << 4);
}
