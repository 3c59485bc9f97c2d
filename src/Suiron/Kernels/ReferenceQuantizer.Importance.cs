using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// ggml's quantizers given an importance matrix (<c>quantize_row_*_impl</c> with <c>quant_weights</c>, what
/// <c>ggml_quantize_chunk</c> runs when llama-quantize has an imatrix). These are different algorithms from the
/// reference ones, not the same ones weighted: the legacy types search a scale per block instead of taking max/−8, and
/// the k-quants search both levels of scales (make_qkx3_quants, then make_qp_quants over the block scales). Each works
/// on one row of <c>n</c> weights, because some weigh by the row's own mean square; <c>qw</c> holds one importance per
/// column.
/// </summary>
internal static unsafe partial class ReferenceQuantizer
{
    /// <summary>The mean square of a row (σ² of the weighting qw·√(σ² + x²) in the legacy types).</summary>
    private static float RowMeanSquare(float* x, int n)
    {
        float sumX2 = 0;
        for (int j = 0; j < n; j++) sumX2 += x[j] * x[j];
        return sumX2 / n;
    }

    public static void Q4_0Weighted(float* x, BlockQ4_0* y, int n, float* qw)
    {
        float* weight = stackalloc float[32];
        sbyte* L = stackalloc sbyte[32];
        float sigma2 = RowMeanSquare(x, n);
        for (int ib = 0; ib < n / 32; ib++)
        {
            float* xb = x + 32 * ib;
            for (int j = 0; j < 32; j++) weight[j] = qw[32 * ib + j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
            float d = MakeQxQuants(32, 8, xb, L, 1, weight);
            y[ib].D = (Half)d;
            for (int j = 0; j < 16; j++) y[ib].Qs[j] = (byte)((byte)L[j] | ((byte)L[j + 16] << 4));
        }
    }

    public static void Q4_1Weighted(float* x, BlockQ4_1* y, int n, float* qw)
    {
        float* weight = stackalloc float[32];
        byte* L = stackalloc byte[32];
        byte* laux = stackalloc byte[32];
        float sigma2 = RowMeanSquare(x, n);
        for (int ib = 0; ib < n / 32; ib++)
        {
            float* xb = x + 32 * ib;
            for (int j = 0; j < 32; j++) weight[j] = qw[32 * ib + j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
            float min;
            float d = MakeQkx3Quants(32, 15, xb, weight, L, &min, laux, -0.9f, 0.05f, 36);
            y[ib].D = (Half)d;
            y[ib].M = (Half)(-min);
            for (int j = 0; j < 16; j++) y[ib].Qs[j] = (byte)(L[j] | (L[j + 16] << 4));
        }
    }

    public static void Q5_0Weighted(float* x, BlockQ5_0* y, int n, float* qw)
    {
        float* weight = stackalloc float[32];
        sbyte* L = stackalloc sbyte[32];
        float sigma2 = RowMeanSquare(x, n);
        for (int ib = 0; ib < n / 32; ib++)
        {
            float* xb = x + 32 * ib;
            for (int j = 0; j < 32; j++) weight[j] = qw[32 * ib + j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
            float d = MakeQxQuants(32, 16, xb, L, 1, weight);
            y[ib].D = (Half)d;
            PackQ5(y[ib].Qs, y[ib].Qh, (byte*)L);
        }
    }

    public static void Q5_1Weighted(float* x, BlockQ5_1* y, int n, float* qw)
    {
        float* weight = stackalloc float[32];
        byte* L = stackalloc byte[32];
        byte* laux = stackalloc byte[32];
        float sigma2 = RowMeanSquare(x, n);
        for (int ib = 0; ib < n / 32; ib++)
        {
            float* xb = x + 32 * ib;
            for (int j = 0; j < 32; j++) weight[j] = qw[32 * ib + j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
            float min;
            float d = MakeQkx3Quants(32, 31, xb, weight, L, &min, laux, -0.9f, 0.05f, 36);
            y[ib].D = (Half)d;
            y[ib].M = (Half)(-min);
            PackQ5(y[ib].Qs, y[ib].Qh, L);
        }
    }

    /// <summary>32 five-bit levels: low nibbles in pairs (j, j+16), the fifth bits in a 32-bit mask.</summary>
    private static void PackQ5(byte* qs, byte* qhBytes, byte* L)
    {
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            uint xi0 = L[j], xi1 = L[j + 16];
            qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << j;
            qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
        }
        Unsafe.WriteUnaligned(qhBytes, qh);
    }

    public static void Q2KWeighted(float* x, BlockQ2K* y, int n, float* qw)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[16];
        float* mins = stackalloc float[16];
        float* scales = stackalloc float[16];
        float* sw = stackalloc float[16];
        float* weight = stackalloc float[16];
        byte* ls = stackalloc byte[16];
        byte* lm = stackalloc byte[16];

        for (int i = 0; i < n / 256; i++, x += 256)
        {
            float sumX2 = 0;
            for (int j = 0; j < 256; j++) sumX2 += x[j] * x[j];
            float sigma2 = sumX2 / 256;
            for (int j = 0; j < 16; j++)
            {
                float* q = qw + 256 * i + 16 * j;
                for (int l = 0; l < 16; l++) weight[l] = q[l] * MathF.Sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
                sw[j] = 0;
                for (int l = 0; l < 16; l++) sw[j] += weight[l];
                scales[j] = MakeQkx3Quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], laux, -0.9f, 0.05f, 36);
            }
            float dm = MakeQpQuants(16, 15, scales, ls, sw);
            float mm = MakeQpQuants(16, 15, mins, lm, sw);
            y[i].D = (Half)dm;
            y[i].DMin = (Half)mm;
            for (int j = 0; j < 16; j++) y[i].Scales[j] = (byte)(ls[j] | (lm[j] << 4));
            Q2KRequantizeAndPack(x, &y[i], L);
        }
    }

    public static void Q3KWeighted(float* x, BlockQ3K* y, int n, float* qw)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        float* weight = stackalloc float[16];
        float* sw = stackalloc float[16];
        sbyte* ls = stackalloc sbyte[16];

        for (int i = 0; i < n / 256; i++, x += 256)
        {
            float sumX2 = 0;
            for (int j = 0; j < 256; j++) sumX2 += x[j] * x[j];
            float sigma2 = 2 * sumX2 / 256;
            for (int j = 0; j < 16; j++)
            {
                float* q = qw + 256 * i + 16 * j;
                for (int l = 0; l < 16; l++) weight[l] = q[l] * MathF.Sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
                float sumW = 0;
                for (int l = 0; l < 16; l++) sumW += weight[l];
                sw[j] = sumW;
                scales[j] = MakeQxQuants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
            }

            for (int j = 0; j < 12; j++) y[i].Scales[j] = 0;
            float dBlock = MakeQxQuants(16, 32, scales, ls, 1, sw);
            for (int j = 0; j < 16; j++)
            {
                int l = ls[j];
                if (j < 8) y[i].Scales[j] = (byte)(l & 0xF);
                else y[i].Scales[j - 8] |= (byte)((l & 0xF) << 4);
                l >>= 4;
                y[i].Scales[j % 4 + 8] |= (byte)(l << (2 * (j / 4)));
            }
            y[i].D = (Half)dBlock;
            Q3KRequantizeAndPack(x, &y[i], L);
        }
    }

    public static void Q4KWeighted(float* x, BlockQ4K* y, int n, float* qw)
    {
        byte* L = stackalloc byte[256];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        for (int i = 0; i < n / 256; i++, x += 256)
        {
            ChooseScalesAndMins(x, qw + 256 * i, 15, L, scales, mins, y[i].Scales, out float dBlock, out float mBlock);
            y[i].D = (Half)dBlock;
            y[i].DMin = (Half)mBlock;
            Q4KRequantizeAndPack(x, &y[i], L);
        }
    }

    public static void Q5KWeighted(float* x, BlockQ5K* y, int n, float* qw)
    {
        byte* L = stackalloc byte[256];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        for (int i = 0; i < n / 256; i++, x += 256)
        {
            ChooseScalesAndMins(x, qw + 256 * i, 31, L, scales, mins, y[i].Scales, out float dBlock, out float mBlock);
            y[i].D = (Half)dBlock;
            y[i].DMin = (Half)mBlock;
            Q5KRequantizeAndPack(x, &y[i], L);
        }
    }

    /// <summary>
    /// Q4_K/Q5_K with an importance matrix: per 32-weight group a scale and min (make_qkx3_quants), then the eight scales
    /// and eight mins each put on a six-bit grid under one super-block scale (make_qp_quants weighted by the groups'
    /// total importance), packed into 12 bytes.
    /// </summary>
    private static void ChooseScalesAndMins(float* x, float* qw, int nmax, byte* L, float* scales, float* mins, byte* packed,
        out float dBlock, out float mBlock)
    {
        float* weights = stackalloc float[32];
        float* sw = stackalloc float[8];
        byte* laux = stackalloc byte[32];
        byte* ls = stackalloc byte[8];
        byte* lm = stackalloc byte[8];

        float sumX2 = 0;
        for (int l = 0; l < 256; l++) sumX2 += x[l] * x[l];
        float sigma2 = 2 * sumX2 / 256;
        for (int j = 0; j < 8; j++)
        {
            float* q = qw + 32 * j;
            for (int l = 0; l < 32; l++) weights[l] = q[l] * MathF.Sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
            float sumW = 0;
            for (int l = 0; l < 32; l++) sumW += weights[l];
            sw[j] = sumW;
            scales[j] = MakeQkx3Quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], laux, -0.9f, 0.05f, 36);
        }
        dBlock = MakeQpQuants(8, 63, scales, ls, sw);
        mBlock = MakeQpQuants(8, 63, mins, lm, sw);
        for (int j = 0; j < 8; j++)
        {
            byte s = Math.Min((byte)63, ls[j]), m = Math.Min((byte)63, lm[j]);
            if (j < 4)
            {
                packed[j] = s;
                packed[j + 4] = m;
            }
            else
            {
                packed[j + 4] = (byte)((s & 0xF) | ((m & 0xF) << 4));
                packed[j - 4] |= (byte)((s >> 4) << 6);
                packed[j] |= (byte)((m >> 4) << 6);
            }
        }
    }

    public static void Q6KWeighted(float* x, BlockQ6K* y, int n, float* qw)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        for (int i = 0; i < n / 256; i++, x += 256)
        {
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                // ggml weighs Q6_K by the importance alone, without the σ² term of the other types.
                float scale = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw + 256 * i + 16 * ib);
                scales[ib] = scale;
                float absScale = MathF.Abs(scale);
                if (absScale > maxAbsScale) { maxAbsScale = absScale; maxScale = scale; }
            }
            Q6KFromScales(x, &y[i], L, scales, maxScale, maxAbsScale);
        }
    }

    public static void IQ4NLWeighted(float* x, BlockIQ4NL* y, int n, float* qw)
    {
        Span<float> scales = stackalloc float[1];
        Span<float> weights = stackalloc float[32];
        Span<byte> levels = stackalloc byte[32];
        for (int i = 0; i < n / 32; i++, x += 32)
        {
            ushort scalesHigh = 0;
            IQ4Blocks(new ReadOnlySpan<float>(x, 32), 32, out y[i].D, new Span<byte>(y[i].Qs, 16), ref scalesHigh, default, scales, weights, levels,
                new ReadOnlySpan<float>(qw + 32 * i, 32));
        }
    }

    public static void IQ4XSWeighted(float* x, BlockIQ4XS* y, int n, float* qw)
    {
        Span<float> scales = stackalloc float[8];
        Span<float> weights = stackalloc float[32];
        Span<byte> levels = stackalloc byte[256];
        for (int i = 0; i < n / 256; i++, x += 256)
            IQ4Blocks(new ReadOnlySpan<float>(x, 256), 32, out y[i].D, new Span<byte>(y[i].Qs, 128), ref y[i].ScalesH, new Span<byte>(y[i].ScalesL, 4),
                scales, weights, levels, new ReadOnlySpan<float>(qw + 256 * i, 256));
    }

    /// <summary>
    /// ggml's make_qkx3_quants with weights: like make_qkx2_quants (a scale and a non-positive min fitted by weighted
    /// least squares over a sweep of trial scales), squared error, finer and wider sweep.
    /// </summary>
    private static float MakeQkx3Quants(int n, int nmax, float* x, float* weights, byte* L, float* theMin, byte* laux,
        float rmin, float rdelta, int nstep)
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
        if (max <= min)
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
            diff *= diff;
            bestError += weights[i] * diff;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                // The trial scale can put a value past the top level (or, at a degenerate min, make it non-finite): clamp first.
                float v = iscale * (x[i] - min);
                int l = v > 0 ? NearestInt(MathF.Min(v, nmax)) : 0;
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
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff *= diff;
                    error += weights[i] * diff;
                }
                if (error < bestError)
                {
                    for (int i = 0; i < n; i++) L[i] = laux[i];
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        *theMin = -min;
        return scale;
    }

    /// <summary>
    /// ggml's make_qp_quants: non-negative values (a super-block's scales or mins) on the grid 0..nmax under one scale,
    /// the scale picked from nine trials by weighted squared error, then levels refined one at a time while the weighted
    /// least-squares fit improves.
    /// </summary>
    internal static float MakeQpQuants(int n, int nmax, float* x, byte* L, float* quantWeights)
    {
        float max = 0;
        for (int i = 0; i < n; i++) max = MathF.Max(max, x[i]);
        if (max < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = nmax / max;
        for (int i = 0; i < n; i++) L[i] = (byte)NearestInt(iscale * x[i]);
        float scale = 1 / iscale;
        float bestMse = 0;
        for (int i = 0; i < n; i++)
        {
            float diff = x[i] - scale * L[i];
            bestMse += quantWeights[i] * diff * diff;
        }
        for (int step = -4; step <= 4; step++)
        {
            if (step == 0) continue;
            float trialIscale = (0.1f * step + nmax) / max;
            float trialScale = 1 / trialIscale;
            float mse = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Min(nmax, NearestInt(trialIscale * x[i]));
                float diff = x[i] - trialScale * l;
                mse += quantWeights[i] * diff * diff;
            }
            if (mse < bestMse)
            {
                bestMse = mse;
                iscale = trialIscale;
            }
        }
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Min(nmax, NearestInt(iscale * x[i]));
            L[i] = (byte)l;
            float w = quantWeights[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = quantWeights[i];
                float slx = sumlx - w * x[i] * L[i];
                float sl2 = suml2 - w * L[i] * L[i];
                if (slx > 0 && sl2 > 0)
                {
                    int newL = Math.Min(nmax, NearestInt(x[i] * sl2 / slx));
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (byte)newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }
}
