using Suiron.Tensors;

namespace Suiron.Kernels;

// The 1-bit lattice types: each weight is −1, 0 or 1 shifted by ±delta (the shift's sign is stored per sub-block, or per
// half sub-block for IQ1_M); groups of 8 are points of a 2048-point grid.
internal static unsafe partial class LatticeQuantizer
{
    private const float IQ1Delta = 0.125f;

    // The three values of a level with the shift up (+delta) and down (−delta).
    private static readonly float[] s_shiftedUp = [-1 + IQ1Delta, IQ1Delta, 1 + IQ1Delta];
    private static readonly float[] s_shiftedDown = [-1 - IQ1Delta, -IQ1Delta, 1 - IQ1Delta];

    /// <summary>
    /// Sorts the indices 0..n−1 by x ascending, ties in index order: the order glibc's qsort (a merge sort) leaves ggml's
    /// (value, index) pairs in. Insertion sort: n is 16 or 32.
    /// </summary>
    private static void SortIndicesByValue(float* x, int* order, int n)
    {
        for (int j = 0; j < n; j++)
        {
            int i = j;
            float value = x[j];
            while (i > 0 && x[order[i - 1]] > value)
            {
                order[i] = order[i - 1];
                i--;
            }
            order[i] = j;
        }
    }

    /// <summary>
    /// The neighbour of an off-grid level vector that best fits the signed weights <paramref name="xb"/> at
    /// <paramref name="scale"/> with the level values <paramref name="values"/>; writes its levels and returns its index.
    /// </summary>
    private static int BestShiftedNeighbour(LatticeCodebook book, int key, float* xb, float* weight, float scale, float* values, sbyte* levels)
    {
        ushort* neighbours = book.NeighboursPointer + (-book.MapPointer[key] - 1);
        float best = float.MaxValue;
        int bestIndex = -1;
        for (int j = 1; j <= neighbours[0]; j++)
        {
            byte* point = book.PointsPointer + 8 * neighbours[j];
            float d2 = 0;
            for (int i = 0; i < 8; i++)
            {
                float q = values[(point[i] - 1) / 2];
                float w = weight[i];
                float diff = scale * q - xb[i];
                d2 += w * diff * diff;
            }
            if (d2 < best)
            {
                best = d2;
                bestIndex = neighbours[j];
            }
        }
        // ggml then scans the whole grid, which only happens for non-finite sums.
        if (bestIndex < 0) throw NonFinite();
        CopyLevels(book, bestIndex, levels);
        return bestIndex;
    }

    /// <summary>Looks up (or snaps to the grid) each group of 8 levels; returns false when some group was off the grid.</summary>
    private static bool SnapGroups(LatticeCodebook book, float* xb, float* weight, float scale, sbyte* levels, int groups,
        float* firstValues, float* otherValues, ushort* index)
    {
        bool allOnGrid = true;
        for (int k = 0; k < groups; k++)
        {
            float* values = k == 0 ? firstValues : otherValues;
            int key = 0;
            for (int j = 0; j < 8; j++) key |= levels[8 * k + j] << (2 * j);
            int gridIndex = book.MapPointer[key];
            if (gridIndex < 0)
            {
                allOnGrid = false;
                gridIndex = BestShiftedNeighbour(book, key, xb + 8 * k, weight + 8 * k, scale, values, levels + 8 * k);
            }
            index[k] = (ushort)gridIndex;
        }
        return allOnGrid;
    }

    /// <summary>Least-squares scale of the signed weights on the chosen grid points; the old one when the fit is not positive.</summary>
    private static float RefitShifted(LatticeCodebook book, float* xb, float* weight, ushort* index, int groups,
        float* firstValues, float* otherValues, float scale)
    {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < groups; k++)
        {
            float* values = k == 0 ? firstValues : otherValues;
            byte* point = book.PointsPointer + 8 * index[k];
            for (int j = 0; j < 8; j++)
            {
                float w = weight[8 * k + j];
                float q = values[(point[j] - 1) / 2];
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
        return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
    }

    // ------------------------------------------------------------------------------------------------------------------
    // IQ1_S: 8 sub-blocks of 32, one shift sign and a 3-bit scale each; needs importance.

    private static void IQ1S(float* x, BlockIQ1S* y, int n, float* quantWeights)
    {
        const int subBlock = 32;
        var book = LatticeCodebook.For(TensorType.IQ1_S);
        float* scales = stackalloc float[BlockSize / subBlock];
        sbyte* shifts = stackalloc sbyte[BlockSize / subBlock];
        float* weight = stackalloc float[subBlock];
        float* sumx = stackalloc float[subBlock + 1];
        float* sumw = stackalloc float[subBlock + 1];
        int* order = stackalloc int[subBlock];
        sbyte* levels = stackalloc sbyte[subBlock];
        ushort* index = stackalloc ushort[subBlock / 8];

        fixed (float* up = s_shiftedUp)
        fixed (float* down = s_shiftedDown)
        {
            for (int ibl = 0; ibl < n / BlockSize; ibl++)
            {
                BlockIQ1S* block = y + ibl;
                *block = default;
                float maxScale = 0;
                float* xbl = x + BlockSize * ibl;
                float sigma2 = 2 * SumOfSquares(xbl, BlockSize) / BlockSize;

                for (int ib = 0; ib < BlockSize / subBlock; ib++)
                {
                    float* xb = xbl + subBlock * ib;
                    ComputeWeights(xb, quantWeights + BlockSize * ibl + subBlock * ib, sigma2, weight, subBlock);
                    float max = MathF.Abs(xb[0]);
                    for (int i = 1; i < subBlock; i++) max = Max(max, MathF.Abs(xb[i]));
                    if (max < GroupMaxEpsIQ1S)
                    {
                        scales[ib] = 0;
                        shifts[ib] = 1;
                        continue;
                    }
                    // With three values per weight the weighted least-squares optimum is found exactly: sorted by value,
                    // the weights split into −1 | 0 | +1 at two boundaries, and prefix sums give every split's fit in O(1).
                    SortIndicesByValue(xb, order, subBlock);
                    sumx[0] = sumw[0] = 0;
                    for (int j = 0; j < subBlock; j++)
                    {
                        int i = order[j];
                        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
                        sumw[j + 1] = sumw[j] + weight[i];
                    }
                    float bestScore = -float.MaxValue, scale = max;
                    int best1 = -1, best2 = -1, bestShift = 0;
                    for (int i1 = 0; i1 <= subBlock; i1++)
                    {
                        for (int i2 = i1; i2 <= subBlock; i2++)
                        {
                            for (int shift = 1; shift >= -1; shift -= 2)
                            {
                                float* v = shift == 1 ? up : down;
                                float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] + (sumx[subBlock] - sumx[i2]) * v[2];
                                float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1]
                                    + (sumw[subBlock] - sumw[i2]) * v[2] * v[2];
                                if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2)
                                {
                                    scale = sumqx / sumq2;
                                    bestScore = scale * sumqx;
                                    best1 = i1;
                                    best2 = i2;
                                    bestShift = shift;
                                }
                            }
                        }
                    }
                    if (best1 < 0 || best2 < 0 || bestShift == 0)
                    {
                        scales[ib] = 0;
                        shifts[ib] = 1;
                        continue;
                    }
                    for (int j = 0; j < best1; j++) levels[order[j]] = 0;
                    for (int j = best1; j < best2; j++) levels[order[j]] = 1;
                    for (int j = best2; j < subBlock; j++) levels[order[j]] = 2;
                    if (scale < 0)
                    {
                        for (int j = 0; j < subBlock; j++) levels[j] = (sbyte)(2 - levels[j]);
                        scale = -scale;
                        bestShift = -bestShift;
                    }
                    float* values = bestShift == 1 ? up : down;
                    if (!SnapGroups(book, xb, weight, scale, levels, subBlock / 8, values, values, index))
                        scale = RefitShifted(book, xb, weight, index, subBlock / 8, values, values, scale);
                    int high = 0;
                    for (int k = 0; k < subBlock / 8; k++)
                    {
                        block->Qs[subBlock / 8 * ib + k] = (byte)index[k];
                        high |= (index[k] >> 8) << (3 * k);
                    }
                    block->Qh[ib] = (ushort)high;
                    if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                    scales[ib] = scale;
                    shifts[ib] = (sbyte)bestShift;
                    maxScale = Max(maxScale, scale);
                }

                if (maxScale == 0) continue;
                float d = maxScale / 15;
                block->D = (Half)(d * 1.125f); // ggml's empirical correction of the block scale
                float inverseD = 1 / d;
                for (int ib = 0; ib < BlockSize / subBlock; ib++)
                {
                    int l = ScaleCode(inverseD, scales[ib], 7);
                    if (shifts[ib] == -1) l |= 8;
                    block->Qh[ib] |= (ushort)(l << 12);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------------
    // IQ1_M: 16 sub-blocks of 16, a shift sign per half (8 weights) and a 3-bit scale each; the block scale is spread over
    // the top nibbles of the four scale words. Works without importance.

    private static void IQ1M(float* x, BlockIQ1M* y, int n, float* quantWeights)
    {
        const int subBlock = 16;
        var book = LatticeCodebook.For(TensorType.IQ1_M);
        float* scales = stackalloc float[BlockSize / subBlock];
        sbyte* shifts = stackalloc sbyte[BlockSize / subBlock];
        float* weight = stackalloc float[subBlock];
        int* order = stackalloc int[subBlock];
        sbyte* levels = stackalloc sbyte[subBlock];
        ushort* index = stackalloc ushort[subBlock / 8];
        float* sumqx = stackalloc float[4];
        float* sumq2 = stackalloc float[4];
        float* products = stackalloc float[subBlock * 3 * 4];
        bool* firstHalf = stackalloc bool[subBlock];
        ReadOnlySpan<byte> shiftMasks = [0x00, 0x80, 0x08, 0x88];

        fixed (float* up = s_shiftedUp)
        fixed (float* down = s_shiftedDown)
        {
            for (int ibl = 0; ibl < n / BlockSize; ibl++)
            {
                BlockIQ1M* block = y + ibl;
                *block = default;
                float maxScale = 0;
                float* xbl = x + BlockSize * ibl;
                float sigma2 = 2 * SumOfSquares(xbl, BlockSize) / BlockSize;
                float* qwBlock = quantWeights == null ? null : quantWeights + BlockSize * ibl;

                for (int ib = 0; ib < BlockSize / subBlock; ib++)
                {
                    float* xb = xbl + subBlock * ib;
                    ComputeWeights(xb, qwBlock == null ? null : qwBlock + subBlock * ib, sigma2, weight, subBlock);
                    float max = MathF.Abs(xb[0]);
                    for (int i = 1; i < subBlock; i++) max = Max(max, MathF.Abs(xb[i]));
                    if (max < GroupMaxEpsIQ1M)
                    {
                        scales[ib] = 0;
                        shifts[ib] = 0;
                        continue;
                    }
                    SortIndicesByValue(xb, order, subBlock);
                    for (int j = 0; j < subBlock; j++) firstHalf[j] = order[j] < subBlock / 2;
                    // The products each split adds up, per sorted weight, level and shift: w·v·x and w·v·v, formed as ggml
                    // forms them, so that the sums below add the same float values in the same order.
                    for (int j = 0; j < subBlock; j++)
                    {
                        int i = order[j];
                        float w = weight[i];
                        for (int level = 0; level < 3; level++)
                        {
                            float* terms = products + (j * 3 + level) * 4;
                            terms[0] = w * up[level] * xb[i];
                            terms[1] = w * up[level] * up[level];
                            terms[2] = w * down[level] * xb[i];
                            terms[3] = w * down[level] * down[level];
                        }
                    }
                    // Exhaustive over the two split points and the four (first half, second half) shift combinations
                    // 0: (+,+), 1: (+,−), 2: (−,+), 3: (−,−). ggml sums each split from scratch, in sorted order.
                    float bestScore = -float.MaxValue, scale = max;
                    int best1 = -1, best2 = -1, bestCombination = -1;
                    for (int i1 = 0; i1 <= subBlock; i1++)
                    {
                        for (int i2 = i1; i2 <= subBlock; i2++)
                        {
                            for (int k = 0; k < 4; k++) sumqx[k] = sumq2[k] = 0;
                            for (int j = 0; j < subBlock; j++)
                            {
                                int level = j < i1 ? 0 : j < i2 ? 1 : 2;
                                float* terms = products + (j * 3 + level) * 4;
                                // First half: combinations 0, 1 shift up; second half: combinations 0, 2.
                                float* mixed1 = firstHalf[j] ? terms : terms + 2;
                                float* mixed2 = firstHalf[j] ? terms + 2 : terms;
                                sumqx[0] += terms[0];
                                sumqx[1] += mixed1[0];
                                sumqx[2] += mixed2[0];
                                sumqx[3] += terms[2];
                                sumq2[0] += terms[1];
                                sumq2[1] += mixed1[1];
                                sumq2[2] += mixed2[1];
                                sumq2[3] += terms[3];
                            }
                            for (int k = 0; k < 4; k++)
                            {
                                if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > bestScore * sumq2[k])
                                {
                                    scale = sumqx[k] / sumq2[k];
                                    bestScore = scale * sumqx[k];
                                    best1 = i1;
                                    best2 = i2;
                                    bestCombination = k;
                                }
                            }
                        }
                    }
                    if (best1 < 0 || best2 < 0 || bestCombination < 0)
                    {
                        scales[ib] = 0;
                        shifts[ib] = 0;
                        continue;
                    }
                    for (int j = 0; j < best1; j++) levels[order[j]] = 0;
                    for (int j = best1; j < best2; j++) levels[order[j]] = 1;
                    for (int j = best2; j < subBlock; j++) levels[order[j]] = 2;
                    if (scale < 0)
                    {
                        for (int j = 0; j < subBlock; j++) levels[j] = (sbyte)(2 - levels[j]);
                        scale = -scale;
                        bestCombination = 3 - bestCombination; // both halves' shifts flip
                    }
                    float* firstValues = bestCombination < 2 ? up : down;
                    float* secondValues = bestCombination % 2 == 0 ? up : down;
                    if (!SnapGroups(book, xb, weight, scale, levels, subBlock / 8, firstValues, secondValues, index))
                        scale = RefitShifted(book, xb, weight, index, subBlock / 8, firstValues, secondValues, scale);
                    block->Qs[2 * ib] = (byte)index[0];
                    block->Qs[2 * ib + 1] = (byte)index[1];
                    block->Qh[ib] = (byte)((index[0] >> 8) | (index[1] >> 8) << 4);
                    if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                    scales[ib] = scale;
                    shifts[ib] = (sbyte)bestCombination;
                    maxScale = Max(maxScale, scale);
                }

                if (maxScale == 0) continue;

                // The block scale is refitted to the quantized sub-block scales and grid points before it is stored.
                ushort* packedScales = (ushort*)block->Scales;
                float d = maxScale / 15;
                float inverseD = 1 / d;
                float fitX = 0, fitQ2 = 0;
                for (int ib = 0; ib < BlockSize / subBlock; ib++)
                {
                    int l = ScaleCode(inverseD, scales[ib], 7);
                    packedScales[ib / 4] |= (ushort)(l << (3 * (ib % 4)));
                    block->Qh[ib] |= shiftMasks[shifts[ib]];
                    float* xb = xbl + subBlock * ib;
                    ComputeWeights(xb, qwBlock == null ? null : qwBlock + subBlock * ib, sigma2, weight, subBlock);
                    for (int k = 0; k < subBlock / 8; k++)
                    {
                        float* values = (k == 0 ? shifts[ib] < 2 : shifts[ib] % 2 == 0) ? up : down;
                        int gridIndex = block->Qs[2 * ib + k] + ((block->Qh[ib] << (8 - 4 * k)) & 0x700);
                        byte* point = book.PointsPointer + 8 * gridIndex;
                        for (int j = 0; j < 8; j++)
                        {
                            float w = weight[8 * k + j];
                            float q = values[(point[j] - 1) / 2] * (2 * l + 1);
                            fitX += w * q * xb[8 * k + j];
                            fitQ2 += w * q * q;
                        }
                    }
                }
                if (fitQ2 > 0) d = fitX / fitQ2;
                ushort bits = BitConverter.HalfToUInt16Bits((Half)(d * 1.1125f)); // ggml's empirical correction
                packedScales[0] |= (ushort)((bits & 0x000f) << 12);
                packedScales[1] |= (ushort)((bits & 0x00f0) << 8);
                packedScales[2] |= (ushort)((bits & 0x0f00) << 4);
                packedScales[3] |= (ushort)(bits & 0xf000);
            }
        }
    }
}
