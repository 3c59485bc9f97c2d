using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Ports of ggml's reference quantizers (<c>quantize_row_*_ref</c> in ggml-quants.c, no importance matrix).
/// They are the spec for the bytes a GGUF file holds, so every float operation keeps ggml's order
/// (C float arithmetic without contraction; RyuJIT never fuses a*b+c on its own). Speed is secondary:
/// these run when writing model files, not per token.
/// </summary>
internal static unsafe partial class ReferenceQuantizer
{
    internal const float GroupMaxEps = 1e-15f;

    public static void Q4_0(float* x, BlockQ4_0* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = (Half)d;
            for (int j = 0; j < 16; j++)
            {
                float x0 = x[j] * id, x1 = x[16 + j] * id;
                int xi0 = Math.Min(15, TruncToSByte(x0 + 8.5f));
                int xi1 = Math.Min(15, TruncToSByte(x1 + 8.5f));
                y[i].Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    public static void Q4_1(float* x, BlockQ4_1* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = (Half)d;
            y[i].M = (Half)min;
            for (int j = 0; j < 16; j++)
            {
                float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
                int xi0 = Math.Min(15, TruncToSByte(x0 + 0.5f));
                int xi1 = Math.Min(15, TruncToSByte(x1 + 0.5f));
                y[i].Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    public static void Q5_0(float* x, BlockQ5_0* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = (Half)d;
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                float x0 = x[j] * id, x1 = x[16 + j] * id;
                uint xi0 = (uint)(byte)Math.Min(31, TruncToSByte(x0 + 16.5f));
                uint xi1 = (uint)(byte)Math.Min(31, TruncToSByte(x1 + 16.5f));
                y[i].Qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
            }
            Unsafe.WriteUnaligned(y[i].Qh, qh);
        }
    }

    public static void Q5_1(float* x, BlockQ5_1* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = (Half)d;
            y[i].M = (Half)min;
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
                uint xi0 = (byte)(int)(x0 + 0.5f);
                uint xi1 = (byte)(int)(x1 + 0.5f);
                y[i].Qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
            }
            Unsafe.WriteUnaligned(y[i].Qh, qh);
        }
    }

    public static void Q8_0(float* x, BlockQ8_0* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = (Half)d;
            for (int j = 0; j < 32; j++) y[i].Qs[j] = (sbyte)RoundAway(x[j] * id);
        }
    }

    /// <summary>
    /// MXFP4: the shared exponent puts the block's largest magnitude in [4, 8) times the half scale (the table's top is
    /// 12 = 2·6), then each value takes the nearest table entry, the first one on a tie (ggml's best_index_mxfp4).
    /// </summary>
    public static void MXFP4(float* x, BlockMXFP4* y, int blocks)
    {
        ReadOnlySpan<sbyte> values = MXFP4Values.Table;
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            // A magnitude below 2^-125 would make the exponent negative; ggml's cast is undefined there, 0 is its nearest.
            byte e = amax > 0 ? (byte)Math.Clamp(MathF.Floor(MathF.Log2(amax)) - 2 + 127, 0, 255) : (byte)0;
            float d = MXFP4Values.HalfScale(e);
            y[i].E = e;
            for (int j = 0; j < 16; j++)
                y[i].Qs[j] = (byte)(NearestMXFP4(values, x[j], d) | (NearestMXFP4(values, x[j + 16], d) << 4));
        }
    }

    private static int NearestMXFP4(ReadOnlySpan<sbyte> values, float x, float d)
    {
        int best = 0;
        float bestError = MathF.Abs(values[0] * d - x);
        for (int k = 1; k < 16; k++)
        {
            float error = MathF.Abs(values[k] * d - x);
            if (error < bestError) (best, bestError) = (k, error);
        }
        return best;
    }

    /// <summary>
    /// IQ4_NL: one 32-weight block at a time through <see cref="IQ4Blocks"/>: ggml's quantize_iq4_nl without an importance
    /// matrix, what llama-quantize writes (quantize_row_iq4_nl_ref alone skips the scale search).
    /// </summary>
    public static void IQ4NL(float* x, BlockIQ4NL* y, int blocks)
    {
        Span<float> scales = stackalloc float[1];
        Span<float> weights = stackalloc float[32];
        Span<byte> levels = stackalloc byte[32];
        for (int i = 0; i < blocks; i++, x += 32)
        {
            ushort scalesHigh = 0;
            IQ4Blocks(new ReadOnlySpan<float>(x, 32), 32, out y[i].D, new Span<byte>(y[i].Qs, 16), ref scalesHigh, default, scales, weights, levels, default);
        }
    }

    /// <summary>IQ4_XS: eight 32-weight sub-blocks a super-block, their scales on a six-bit grid (ggml's quantize_iq4_xs without an importance matrix).</summary>
    public static void IQ4XS(float* x, BlockIQ4XS* y, int blocks)
    {
        Span<float> scales = stackalloc float[8];
        Span<float> weights = stackalloc float[32];
        Span<byte> levels = stackalloc byte[256];
        for (int i = 0; i < blocks; i++, x += 256)
            IQ4Blocks(new ReadOnlySpan<float>(x, 256), 32, out y[i].D, new Span<byte>(y[i].Qs, 128), ref y[i].ScalesH, new Span<byte>(y[i].ScalesL, 4),
                scales, weights, levels, default);
    }

    /// <summary>
    /// ggml's quantize_row_iq4_nl_impl with ntry 7: weights x² without an importance matrix, qw·√(σ² + x²) with one
    /// (σ² twice the block's mean square). Per 32-weight block: the scale
    /// that maps the largest magnitude onto the grid's end, then 15 trial scales around it, keeping the weighted
    /// least-squares best. With several blocks (IQ4_XS) the block scales are then rounded to (l − 32)·d, l six bits, and
    /// every weight re-picked for its rounded scale; with one (IQ4_NL) the block's own scale is stored and its weights
    /// re-picked for it.
    /// </summary>
    private static void IQ4Blocks(ReadOnlySpan<float> x, int blockSize, out Half dh, Span<byte> q4, ref ushort scalesHigh, Span<byte> scalesLow,
        Span<float> scales, Span<float> weight, Span<byte> levels, ReadOnlySpan<float> quantWeights)
    {
        const int tries = 7;
        ReadOnlySpan<sbyte> values = IQ4Values.Table;
        int blockCount = x.Length / blockSize;
        float sigma2 = 0;
        if (!quantWeights.IsEmpty)
        {
            for (int j = 0; j < x.Length; j++) sigma2 += x[j] * x[j];
            sigma2 *= 2f / x.Length;
        }
        q4.Clear();
        float maxScale = 0, absMaxScale = 0;
        for (int ib = 0; ib < blockCount; ib++)
        {
            ReadOnlySpan<float> xb = x.Slice(ib * blockSize, blockSize);
            Span<byte> lb = levels.Slice(ib * blockSize, blockSize);
            if (quantWeights.IsEmpty)
                for (int j = 0; j < blockSize; j++) weight[j] = xb[j] * xb[j];
            else
                for (int j = 0; j < blockSize; j++) weight[j] = quantWeights[ib * blockSize + j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
            float amax = 0, max = 0;
            for (int j = 0; j < blockSize; j++)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax) { amax = ax; max = xb[j]; }
            }
            if (amax < GroupMaxEps)
            {
                scales[ib] = 0;
                continue;
            }
            float d = -max / values[0];
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < blockSize; j++)
            {
                float al = id * xb[j];
                int l = BestIndexInt8(values, al);
                lb[j] = (byte)l;
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            d = sumqx / sumq2;
            float best = d * sumqx;
            for (int itry = -tries; itry <= tries; itry++)
            {
                id = (itry + values[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < blockSize; j++)
                {
                    float al = id * xb[j];
                    int l = BestIndexInt8(values, al);
                    float q = values[l];
                    float w = weight[j];
                    sumqx += w * q * xb[j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = MathF.Abs(d);
            if (absD > absMaxScale) { absMaxScale = absD; maxScale = d; }
        }

        if (blockCount > 1)
        {
            scalesHigh = 0;
            float d = -maxScale / 32;
            dh = (Half)d;
            float id = d != 0 ? 1 / d : 0f;
            for (int ib = 0; ib < blockCount; ib++)
            {
                int l = Math.Clamp(NearestInt(id * scales[ib]), -32, 31);
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0f;
                for (int j = 0; j < blockSize; j++)
                    levels[ib * blockSize + j] = (byte)BestIndexInt8(values, idl * x[ib * blockSize + j]);
                l += 32;
                byte low = (byte)(l & 0xF), high = (byte)(l >> 4);
                if (ib % 2 == 0) scalesLow[ib / 2] = low;
                else scalesLow[ib / 2] |= (byte)(low << 4);
                scalesHigh |= (ushort)(high << (2 * (ib % 8)));
            }
        }
        else
        {
            dh = (Half)scales[0];
            float id = scales[0] != 0 ? 1 / scales[0] : 0;
            for (int j = 0; j < x.Length; j++) levels[j] = (byte)BestIndexInt8(values, id * x[j]);
        }

        for (int i = 0; i < x.Length / 32; i++)
            for (int j = 0; j < 16; j++)
                q4[16 * i + j] = (byte)(levels[32 * i + j] | (levels[32 * i + 16 + j] << 4));
    }

    /// <summary>The index of the grid value nearest <paramref name="x"/>, the upper one on a tie (ggml's best_index_int8).</summary>
    private static int BestIndexInt8(ReadOnlySpan<sbyte> values, float x)
    {
        if (x <= values[0]) return 0;
        if (x >= values[^1]) return values.Length - 1;
        int ml = 0, mu = values.Length - 1;
        while (mu - ml > 1)
        {
            int mav = (ml + mu) / 2;
            if (x < values[mav]) mu = mav; else ml = mav;
        }
        return x - values[mu - 1] < values[mu] - x ? mu - 1 : mu;
    }

    public static void Q8_1(float* x, BlockQ8_1* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = (Half)d;
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                sbyte q = (sbyte)RoundAway(x[j] * id);
                y[i].Qs[j] = q;
                sum += q;
            }
            y[i].S = (Half)(sum * d);
        }
    }

    public static void Q2K(float* x, BlockQ2K* y, int blocks)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[16];
        float* weights = stackalloc float[16];
        float* mins = stackalloc float[16];
        float* scales = stackalloc float[16];
        const float q4scale = 15f;

        for (int i = 0; i < blocks; i++, x += 256)
        {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 16; j++)
            {
                for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(x[16 * j + l]);
                scales[j] = MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], laux, -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }

            if (maxScale > 0)
            {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < 16; j++) y[i].Scales[j] = (byte)NearestInt(iscale * scales[j]);
                y[i].D = (Half)(maxScale / q4scale);
            }
            else
            {
                for (int j = 0; j < 16; j++) y[i].Scales[j] = 0;
                y[i].D = (Half)0f;
            }
            if (maxMin > 0)
            {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < 16; j++) y[i].Scales[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
                y[i].DMin = (Half)(maxMin / q4scale);
            }
            else
            {
                y[i].DMin = (Half)0f;
            }
            Q2KRequantizeAndPack(x, &y[i], L);
        }
    }

    /// <summary>Q2_K's last step once scales and mins are packed: every weight re-picked for its rounded scale and min, then packed.</summary>
    private static void Q2KRequantizeAndPack(float* x, BlockQ2K* y, byte* L)
    {
        for (int j = 0; j < 16; j++)
        {
            float d = (float)y->D * (y->Scales[j] & 0xF);
            if (d == 0) continue;
            float dm = (float)y->DMin * (y->Scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
            {
                int l = NearestInt((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = (byte)Math.Clamp(l, 0, 3);
            }
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                y->Qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }

    public static void Q3K(float* x, BlockQ3K* y, int blocks)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];

        for (int i = 0; i < blocks; i++, x += 256)
        {
            float maxScale = 0, amax = 0;
            for (int j = 0; j < 16; j++)
            {
                scales[j] = MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j, true);
                float scale = MathF.Abs(scales[j]);
                if (scale > amax) { amax = scale; maxScale = scales[j]; }
            }

            for (int j = 0; j < 12; j++) y[i].Scales[j] = 0;
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int j = 0; j < 16; j++)
                {
                    sbyte l = (sbyte)NearestInt(iscale * scales[j]);
                    l = (sbyte)(Math.Clamp((int)l, -32, 31) + 32);
                    if (j < 8) y[i].Scales[j] = (byte)(l & 0xF);
                    else y[i].Scales[j - 8] |= (byte)((l & 0xF) << 4);
                    l >>= 4;
                    y[i].Scales[j % 4 + 8] |= (byte)((byte)l << (2 * (j / 4)));
                }
                y[i].D = (Half)(1 / iscale);
            }
            else
            {
                y[i].D = (Half)0f;
            }

            Q3KRequantizeAndPack(x, &y[i], L);
        }
    }

    /// <summary>Q3_K's last step once the scales are packed: every weight re-picked for its rounded scale, high bits into the mask.</summary>
    private static void Q3KRequantizeAndPack(float* x, BlockQ3K* y, sbyte* L)
    {
        for (int j = 0; j < 16; j++)
        {
            int sc = j < 8 ? y->Scales[j] & 0xF : y->Scales[j - 8] >> 4;
            sc = (sbyte)((sc | (((y->Scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
            float d = (float)y->D * sc;
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++)
            {
                int l = NearestInt(x[16 * j + ii] / d);
                L[16 * j + ii] = (sbyte)(Math.Clamp(l, -4, 3) + 4);
            }
        }

        for (int j = 0; j < 32; j++) y->HMask[j] = 0;
        int m = 0;
        byte hm = 1;
        for (int j = 0; j < 256; j++)
        {
            if (L[j] > 3) { y->HMask[m] |= hm; L[j] -= 4; }
            if (++m == 32) { m = 0; hm <<= 1; }
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                y->Qs[j / 4 + l] = (byte)((byte)L[j + l] | ((byte)L[j + l + 32] << 2) | ((byte)L[j + l + 64] << 4) | ((byte)L[j + l + 96] << 6));
    }

    public static void Q4K(float* x, BlockQ4K* y, int blocks)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];

        for (int i = 0; i < blocks; i++, x += 256)
        {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                ScaleWeights(x + 32 * j, weights);
                scales[j] = MakeQkx2Quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], laux, -1f, 0.1f, 20, false);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            PackScalesAndMins(y[i].Scales, scales, mins, maxScale, maxMin);
            y[i].D = (Half)(maxScale / 63f);
            y[i].DMin = (Half)(maxMin / 63f);

            Q4KRequantizeAndPack(x, &y[i], L);
        }
    }

    /// <summary>Q4_K's last step once scales and mins are packed: every weight re-picked for its rounded scale and min.</summary>
    private static void Q4KRequantizeAndPack(float* x, BlockQ4K* y, byte* L)
    {
        for (int j = 0; j < 8; j++)
        {
            KQuantLayout.ScaleMin(j, y->Scales, out byte sc, out byte mn);
            float d = (float)y->D * sc;
            if (d == 0) continue;
            float dm = (float)y->DMin * mn;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Clamp(l, 0, 15);
            }
        }
        byte* q = y->Qs;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
    }

    public static void Q5K(float* x, BlockQ5K* y, int blocks)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];

        for (int i = 0; i < blocks; i++, x += 256)
        {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                ScaleWeights(x + 32 * j, weights);
                scales[j] = MakeQkx2Quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], laux, -0.5f, 0.1f, 15, false);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            PackScalesAndMins(y[i].Scales, scales, mins, maxScale, maxMin);
            y[i].D = (Half)(maxScale / 63f);
            y[i].DMin = (Half)(maxMin / 63f);

            Q5KRequantizeAndPack(x, &y[i], L);
        }
    }

    /// <summary>Q5_K's last step once scales and mins are packed: every weight re-picked for its rounded scale and min.</summary>
    private static void Q5KRequantizeAndPack(float* x, BlockQ5K* y, byte* L)
    {
        for (int j = 0; j < 8; j++)
        {
            KQuantLayout.ScaleMin(j, y->Scales, out byte sc, out byte mn);
            float d = (float)y->D * sc;
            if (d == 0) continue;
            float dm = (float)y->DMin * mn;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Clamp(l, 0, 31);
            }
        }

        byte* qh = y->Qh;
        byte* ql = y->Qs;
        for (int j = 0; j < 32; j++) qh[j] = 0;
        byte m1 = 1, m2 = 2;
        for (int n = 0; n < 256; n += 64)
        {
            for (int j = 0; j < 32; j++)
            {
                int l1 = L[n + j];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                int l2 = L[n + j + 32];
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (byte)(l1 | (l2 << 4));
            }
            m1 <<= 2; m2 <<= 2;
            ql += 32;
        }
    }

    public static void Q6K(float* x, BlockQ6K* y, int blocks)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];

        for (int i = 0; i < blocks; i++, x += 256)
        {
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                float scale = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, 1);
                scales[ib] = scale;
                float absScale = MathF.Abs(scale);
                if (absScale > maxAbsScale) { maxAbsScale = absScale; maxScale = scale; }
            }
            Q6KFromScales(x, &y[i], L, scales, maxScale, maxAbsScale);
        }
    }

    /// <summary>Q6_K once the 16 group scales are chosen: the scales rounded to eight bits under one F16 scale, every weight re-picked, packed.</summary>
    private static void Q6KFromScales(float* x, BlockQ6K* y, sbyte* L, float* scales, float maxScale, float maxAbsScale)
    {
        if (maxAbsScale < GroupMaxEps)
        {
            new Span<byte>(y, sizeof(BlockQ6K)).Clear();
            return;
        }

        float iscale = -128f / maxScale;
        y->D = (Half)(1 / iscale);
        for (int ib = 0; ib < 16; ib++) y->Scales[ib] = (sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));

        for (int j = 0; j < 16; j++)
        {
            float d = (float)y->D * y->Scales[j];
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++)
            {
                int l = NearestInt(x[16 * j + ii] / d);
                L[16 * j + ii] = (sbyte)(Math.Clamp(l, -32, 31) + 32);
            }
        }

        byte* ql = y->Ql;
        byte* qh = y->Qh;
        for (int j = 0; j < 256; j += 128, ql += 64, qh += 32)
        {
            for (int l = 0; l < 32; l++)
            {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (byte)(q1 | (q3 << 4));
                ql[l + 32] = (byte)(q2 | (q4 << 4));
                qh[l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // also the activation encoder of every k-quant matmul
    public static void Q8K(float* x, BlockQ8K* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 256)
        {
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax) { amax = ax; max = x[j]; }
            }
            if (amax == 0)
            {
                new Span<byte>(&y[i], sizeof(BlockQ8K)).Clear();
                continue;
            }
            // ggml scales by -127/max (not -128) so that no quant is -128; the AVX dot products rely on it.
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++) y[i].Qs[j] = (sbyte)Math.Min(127, NearestInt(iscale * x[j]));
            for (int j = 0; j < 16; j++)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ii++) sum += y[i].Qs[j * 16 + ii];
                y[i].BSums[j] = (short)sum;
            }
            y[i].D = 1 / iscale;
        }
    }

    // ---- helpers shared by the k-quants (make_qx_quants, make_q3_quants, make_qkx2_quants in ggml) ----

    /// <summary>Round half away from zero via the 1.5 * 2^23 trick, exactly as ggml's nearest_int (valid for |x| &lt; 2^22).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        int bits = BitConverter.SingleToInt32Bits(shifted);
        return (bits & 0x007FFFFF) - 0x00400000;
    }

    /// <summary>C's roundf: halves away from zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RoundAway(float value) => MathF.Round(value, MidpointRounding.AwayFromZero);

    /// <summary>C's <c>(int8_t)f</c> for the in-range values ggml feeds it: truncation toward zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TruncToSByte(float value) => (sbyte)(int)value;

    /// <summary>Q4_K/Q5_K group weights: rms of the group plus |x|.</summary>
    private static void ScaleWeights(float* x, float* weights)
    {
        float sumX2 = 0;
        for (int l = 0; l < 32; l++) sumX2 += x[l] * x[l];
        float avX = MathF.Sqrt(sumX2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[l]);
    }

    /// <summary>Q4_K/Q5_K: 8 six-bit scales and 8 six-bit mins packed into 12 bytes.</summary>
    private static void PackScalesAndMins(byte* packed, float* scales, float* mins, float maxScale, float maxMin)
    {
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            byte ls = Math.Min((byte)63, (byte)NearestInt(invScale * scales[j]));
            byte lm = Math.Min((byte)63, (byte)NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                packed[j] = ls;
                packed[j + 4] = lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
    }

    private static float MakeQxQuants(int n, int nmax, float* x, sbyte* L, int rmseType, float* weights = null)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        if (rmseType == 0)
        {
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * x[i]);
                L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
            }
            return 1 / iscale;
        }
        bool returnEarly = false;
        if (rmseType < 0) { rmseType = -rmseType; returnEarly = true; }
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)(l + nmax);
            float w = weights != null ? weights[i] : QxWeight(rmseType, x[i]);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * x[i]);
                l = Math.Max(-nmax, Math.Min(nmax - 1, l));
                float w = weights != null ? weights[i] : QxWeight(rmseType, x[i]);
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                {
                    int l = NearestInt(iscale * x[i]);
                    L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float QxWeight(int rmseType, float x) => rmseType switch
    {
        1 => x * x,
        2 => 1,
        3 => MathF.Abs(x),
        _ => MathF.Sqrt(MathF.Abs(x)),
    };

    private static float MakeQ3Quants(int n, int nmax, float* x, sbyte* L, bool doRmse)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        if (doRmse)
        {
            float sumlx = 0, suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * x[i]);
                l = Math.Max(-nmax, Math.Min(nmax - 1, l));
                L[i] = (sbyte)l;
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            for (int attempt = 0; attempt < 5; attempt++)
            {
                int changed = 0;
                for (int i = 0; i < n; i++)
                {
                    float w = x[i] * x[i];
                    float slx = sumlx - w * x[i] * L[i];
                    if (slx > 0)
                    {
                        float sl2 = suml2 - w * L[i] * L[i];
                        int newL = NearestInt(x[i] * sl2 / slx);
                        newL = Math.Max(-nmax, Math.Min(nmax - 1, newL));
                        if (newL != L[i])
                        {
                            slx += w * x[i] * newL;
                            sl2 += w * newL * newL;
                            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                            {
                                L[i] = (sbyte)newL;
                                sumlx = slx;
                                suml2 = sl2;
                                changed++;
                            }
                        }
                    }
                }
                if (changed == 0) break;
            }
            for (int i = 0; i < n; i++) L[i] += (sbyte)nmax;
            return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
        }
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)(l + nmax);
        }
        return 1 / iscale;
    }

    private static float MakeQkx2Quants(int n, int nmax, float* x, float* weights, byte* L, float* theMin, byte* laux,
        float rmin, float rdelta, int nstep, bool useMad)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            *theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1)
        {
            *theMin = -min;
            return scale;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError)
                {
                    for (int i = 0; i < n; i++) L[i] = laux[i];
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        *theMin = -min;
        return scale;
    }
}
