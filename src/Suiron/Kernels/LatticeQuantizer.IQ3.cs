using Suiron.Tensors;

namespace Suiron.Kernels;

// The 3-bit lattice types: groups of 4 magnitudes on levels 0..7, 8 sub-blocks of 32 per block.
internal static unsafe partial class LatticeQuantizer
{
    // ------------------------------------------------------------------------------------------------------------------
    // IQ3_XXS: 256 points (one index byte per group of 4), 7 sign bits per 8 weights, a 4-bit scale per sub-block.

    private static void IQ3XXS(float* x, BlockIQ3XXS* y, int n, float* quantWeights)
    {
        const int maxQ = 8;
        var book = LatticeCodebook.For(TensorType.IQ3_XXS);
        float* scales = stackalloc float[BlockSize / 32];
        float* weight = stackalloc float[32];
        float* xval = stackalloc float[32];
        float* rootWeight = stackalloc float[32];
        sbyte* levels = stackalloc sbyte[32];
        sbyte* trialLevels = stackalloc sbyte[32];
        bool* onGrid = stackalloc bool[8];
        bool* onGridTrial = stackalloc bool[8];
        byte* blockSigns = stackalloc byte[8];
        const int quantBytes = 3 * BlockSize / 8;
        byte* q3 = stackalloc byte[quantBytes];
        uint* scalesAndSigns = (uint*)(q3 + BlockSize / 4);

        for (int ibl = 0; ibl < n / BlockSize; ibl++)
        {
            y[ibl].D = (Half)0f;
            new Span<byte>(q3, quantBytes).Clear();
            float maxScale = 0;
            float* xbl = x + BlockSize * ibl;
            float sigma2 = 2 * SumOfSquares(xbl, BlockSize) / BlockSize;

            for (int ib = 0; ib < BlockSize / 32; ib++)
            {
                float* xb = xbl + 32 * ib;
                ComputeWeights(xb, quantWeights == null ? null : quantWeights + BlockSize * ibl + 32 * ib, sigma2, weight, 32);
                for (int i = 0; i < 32; i++) rootWeight[i] = MathF.Sqrt(weight[i]);
                for (int k = 0; k < 4; k++) blockSigns[k] = FoldSigns(xb + 8 * k, weight + 8 * k, xval + 8 * k, evenParity: true);
                float max = xval[0];
                for (int i = 1; i < 32; i++) max = Max(max, xval[i]);
                new Span<sbyte>(levels, 32).Clear();
                if (max < GroupMaxEpsIQ3XXS)
                {
                    scales[ib] = 0;
                    continue;
                }
                TrialScales(book, xval, weight, rootWeight, levels, trialLevels, onGrid, onGridTrial, groups: 8, max, maxQ, steps: 15, stepSize: 0.2f, out float scale);
                RefitOffGrid(book, xval, weight, rootWeight, levels, onGrid, groups: 8, maxQ, onlyOffGrid: true, ref scale);
                if (scale < 0)
                {
                    scale = -scale;
                    for (int k = 0; k < 4; k++) blockSigns[k] = (byte)(~blockSigns[k] & 127);
                }
                for (int k = 0; k < 8; k++) q3[8 * ib + k] = (byte)GridIndex(book, levels + 4 * k);
                scalesAndSigns[ib] = blockSigns[0] | (uint)blockSigns[1] << 7 | (uint)blockSigns[2] << 14 | (uint)blockSigns[3] << 21;
                if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                scales[ib] = scale;
                maxScale = Max(maxScale, scale);
            }

            byte* qs = y[ibl].Qs;
            if (maxScale == 0)
            {
                new Span<byte>(qs, quantBytes).Clear();
                continue;
            }
            float d = maxScale / 31;
            y[ibl].D = (Half)(d * 1.0125f); // ggml's empirical correction of the block scale
            float inverseD = 1 / d;
            for (int ib = 0; ib < BlockSize / 32; ib++) scalesAndSigns[ib] |= (uint)ScaleCode(inverseD, scales[ib], 15) << 28;
            new Span<byte>(q3, quantBytes).CopyTo(new Span<byte>(qs, quantBytes));
        }
    }

    // ------------------------------------------------------------------------------------------------------------------
    // IQ3_S: 512 points (8 index bits in qs, the 9th in qh), all 8 signs stored, 4-bit scales.

    private static void IQ3S(float* x, BlockIQ3S* y, int n, float* quantWeights)
    {
        const int maxQ = 8;
        const int subBlock = 32;
        var book = LatticeCodebook.For(TensorType.IQ3_S);
        float* scales = stackalloc float[BlockSize / subBlock];
        float* weight = stackalloc float[subBlock];
        float* xval = stackalloc float[subBlock];
        float* rootWeight = stackalloc float[subBlock];
        sbyte* levels = stackalloc sbyte[subBlock];
        sbyte* trialLevels = stackalloc sbyte[subBlock];
        bool* onGrid = stackalloc bool[subBlock / 4];
        bool* onGridTrial = stackalloc bool[subBlock / 4];
        byte* blockSigns = stackalloc byte[subBlock / 8];

        for (int ibl = 0; ibl < n / BlockSize; ibl++)
        {
            BlockIQ3S* block = y + ibl;
            *block = default;
            // ggml advances these two write positions only past sub-blocks it encodes: after an all-zero sub-block the
            // following ones land one slot early (and the last slot stays zero). Reproduced for identical bytes.
            byte* qs = block->Qs;
            byte* signs = block->Signs;
            float maxScale = 0;
            float* xbl = x + BlockSize * ibl;
            float sigma2 = 2 * SumOfSquares(xbl, BlockSize) / BlockSize;

            for (int ib = 0; ib < BlockSize / subBlock; ib++)
            {
                float* xb = xbl + subBlock * ib;
                ComputeWeights(xb, quantWeights == null ? null : quantWeights + BlockSize * ibl + subBlock * ib, sigma2, weight, subBlock);
                for (int i = 0; i < subBlock; i++) rootWeight[i] = MathF.Sqrt(weight[i]);
                for (int k = 0; k < subBlock / 8; k++) blockSigns[k] = FoldSigns(xb + 8 * k, weight + 8 * k, xval + 8 * k, evenParity: false);
                float max = xval[0];
                for (int i = 1; i < subBlock; i++) max = Max(max, xval[i]);
                new Span<sbyte>(levels, subBlock).Clear();
                if (max == 0)
                {
                    scales[ib] = 0;
                    continue;
                }
                TrialScales(book, xval, weight, rootWeight, levels, trialLevels, onGrid, onGridTrial, groups: subBlock / 4, max, maxQ, steps: 9, stepSize: 0.2f,
                    out float scale, assumeOnGrid: false);
                RefitOffGrid(book, xval, weight, rootWeight, levels, onGrid, groups: subBlock / 4, maxQ, onlyOffGrid: false, ref scale);
                if (scale < 0)
                {
                    scale = -scale;
                    for (int k = 0; k < subBlock / 8; k++) blockSigns[k] = (byte)~blockSigns[k];
                }
                for (int k = 0; k < subBlock / 4; k++)
                {
                    int index = GridIndex(book, levels + 4 * k);
                    int group = ib * (subBlock / 4) + k;
                    qs[k] = (byte)index;
                    block->Qh[group / 8] |= (byte)((index >> 8) << (group % 8));
                }
                qs += subBlock / 4;
                for (int k = 0; k < subBlock / 8; k++) signs[k] = blockSigns[k];
                signs += subBlock / 8;
                if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                scales[ib] = scale;
                maxScale = Max(maxScale, scale);
            }

            if (maxScale == 0) continue;
            float d = maxScale / 31;
            block->D = (Half)(d * 1.033f); // ggml's empirical correction of the block scale
            float inverseD = 1 / d;
            for (int ib = 0; ib < BlockSize / subBlock; ib += 2)
                block->Scales[ib / 2] = (byte)(ScaleCode(inverseD, scales[ib], 15) | ScaleCode(inverseD, scales[ib + 1], 15) << 4);
        }
    }

    /// <summary>
    /// Each weight's share of the fit: its importance scaled by √(σ² + x²) (so large weights matter more, and small ones
    /// still count in proportion to the block's spread), or x² when no importance is given.
    /// </summary>
    private static void ComputeWeights(float* xb, float* qw, float sigma2, float* weight, int n)
    {
        if (qw != null)
            for (int i = 0; i < n; i++) weight[i] = qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
        else
            for (int i = 0; i < n; i++) weight[i] = xb[i] * xb[i];
    }
}
