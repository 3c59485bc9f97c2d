using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Encoders of the lattice i-quants, byte-identical to ggml's quantize_iq2_xxs / iq2_xs / iq2_s / iq3_xxs / iq3_s /
/// iq1_s / iq1_m (ggml-quants.c). Each takes one row of <c>n</c> weights (whole 256-blocks) and, where ggml accepts one,
/// the row's importance (null = none). The searches compare float sums, so every float expression keeps ggml's
/// operand order and precision; a different order can pick another grid point and change the bytes.
/// <para>
/// The common shape: a block's weights are split into sub-blocks with one scale each; signs are taken out (the lattice
/// holds magnitudes), a range of trial scales is tried, each rounding every group of 4 or 8 magnitudes to levels and,
/// when that vector is not a grid point, to its best neighbour on the grid; the trial with the best weighted
/// least-squares fit wins and its scale is refitted. Sub-block scales are then quantized against the block's largest.
/// </para>
/// Work buffers are on the stack: a row allocates nothing.
/// </summary>
internal static unsafe partial class LatticeQuantizer
{
    private const int BlockSize = 256;
    private const float GroupMaxEps = 1e-15f;
    private const float GroupMaxEpsIQ3XXS = 1e-8f;
    private const float GroupMaxEpsIQ2S = 1e-8f;
    private const float GroupMaxEpsIQ1M = 1e-7f;
    private const float GroupMaxEpsIQ1S = 1e-12f;

    /// <summary>True for the types whose ggml encoder refuses to run without an importance vector.</summary>
    public static bool RequiresImportance(TensorType type) => type is TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ1_S;

    /// <summary>Encodes one row of <paramref name="n"/> weights of a lattice type into <paramref name="y"/>.</summary>
    public static void QuantizeRow(TensorType type, float* x, byte* y, int n, float* quantWeights)
    {
        if (quantWeights == null && RequiresImportance(type))
            throw new ArgumentException($"{type} needs an importance matrix: ggml refuses to quantize it without one.");
        switch (type)
        {
            case TensorType.IQ2_XXS: IQ2XXS(x, (BlockIQ2XXS*)y, n, quantWeights); break;
            case TensorType.IQ2_XS: IQ2XS(x, (BlockIQ2XS*)y, n, quantWeights); break;
            case TensorType.IQ2_S: IQ2S(x, (BlockIQ2S*)y, n, quantWeights); break;
            case TensorType.IQ3_XXS: IQ3XXS(x, (BlockIQ3XXS*)y, n, quantWeights); break;
            case TensorType.IQ3_S: IQ3S(x, (BlockIQ3S*)y, n, quantWeights); break;
            case TensorType.IQ1_S: IQ1S(x, (BlockIQ1S*)y, n, quantWeights); break;
            case TensorType.IQ1_M: IQ1M(x, (BlockIQ1M*)y, n, quantWeights); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "Not a lattice type.");
        }
    }

    private static float Max(float a, float b) => a > b ? a : b; // C's MAX macro, operand order included

    private static float SumOfSquares(float* x, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += x[i] * x[i];
        return sum;
    }

    /// <summary>
    /// Magnitudes of 8 weights into <paramref name="xval"/> and their signs as a bit mask. With <paramref name="evenParity"/>
    /// (the types that store 7 sign bits and imply the 8th) an odd count of negatives is made even by flipping the sign of
    /// the weight that costs least (smallest weight·x²): that one is encoded with the wrong sign.
    /// </summary>
    private static byte FoldSigns(float* xb, float* weight, float* xval, bool evenParity)
    {
        int flips = 0;
        int signs = 0;
        for (int i = 0; i < 8; i++)
        {
            if (xb[i] >= 0) xval[i] = xb[i];
            else
            {
                xval[i] = -xb[i];
                flips++;
                signs |= 1 << i;
            }
        }
        if (evenParity && flips % 2 != 0)
        {
            int cheapest = 0;
            float min = weight[0] * xb[0] * xb[0];
            for (int i = 1; i < 8; i++)
            {
                float cost = weight[i] * xb[i] * xb[i];
                if (cost < min)
                {
                    min = cost;
                    cheapest = i;
                }
            }
            xval[cheapest] = -xval[cheapest];
            signs ^= 1 << cheapest;
        }
        return (byte)(evenParity ? signs & 127 : signs);
    }

    /// <summary>
    /// Rounds <paramref name="count"/> magnitudes at inverse scale <paramref name="inverseScale"/> to levels 0..maxLevel
    /// into <paramref name="levels"/> and returns their packed key.
    /// </summary>
    private static int RoundToLevels(float* xval, float inverseScale, int count, int maxLevel, int levelBits, sbyte* levels)
    {
        int key = 0;
        for (int i = 0; i < count; i++)
        {
            int l = ReferenceQuantizer.NearestInt(0.5f * (inverseScale * xval[i] - 1));
            l = Math.Max(0, Math.Min(maxLevel, l));
            levels[i] = (sbyte)l;
            key |= l << (levelBits * i);
        }
        return key;
    }

    /// <summary>
    /// The neighbour of an off-grid level vector closest to the magnitudes <paramref name="xval"/> at
    /// <paramref name="scale"/> (squared error weighted by <paramref name="weight"/>); writes its levels and returns its index.
    /// </summary>
    private static int BestNeighbour(LatticeCodebook book, int key, float* xval, float* weight, float scale, sbyte* levels)
    {
        ushort* neighbours = book.NeighboursPointer + (-book.MapPointer[key] - 1);
        int count = neighbours[0];
        float* values = book.PointValuesPointer;
        int dimension = book.Dimension;
        float best = float.MaxValue;
        int bestIndex = -1;
        for (int j = 1; j <= count; j++)
        {
            float* point = values + dimension * neighbours[j];
            float d2 = 0;
            for (int i = 0; i < dimension; i++)
            {
                float diff = scale * point[i] - xval[i];
                d2 += weight[i] * diff * diff;
            }
            if (d2 < best)
            {
                best = d2;
                bestIndex = neighbours[j];
            }
        }
        if (bestIndex < 0) throw NonFinite();
        CopyLevels(book, bestIndex, levels);
        return bestIndex;
    }

    /// <summary>The levels (0..7) of grid point <paramref name="index"/>.</summary>
    private static void CopyLevels(LatticeCodebook book, int index, sbyte* levels)
    {
        byte* point = book.PointsPointer + book.Dimension * index;
        for (int i = 0; i < book.Dimension; i++) levels[i] = (sbyte)((point[i] - 1) / 2);
    }

    /// <summary>The grid index of a level vector that must be on the grid (ggml aborts otherwise).</summary>
    private static int GridIndex(LatticeCodebook book, sbyte* levels)
    {
        int key = 0;
        for (int i = 0; i < book.Dimension; i++) key |= levels[i] << (book.LevelBits * i);
        int index = book.MapPointer[key];
        if (index < 0) throw NonFinite();
        return index;
    }

    /// <summary>Weighted least-squares fit of magnitudes to levels: Σw·x·q and Σw·q² with q = 2l+1.</summary>
    private static void FitSums(float* weight, float* xval, sbyte* levels, int n, out float sumqx, out float sumq2)
    {
        sumqx = 0;
        sumq2 = 0;
        for (int i = 0; i < n; i++)
        {
            float w = weight[i];
            float q = 2 * levels[i] + 1;
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
        }
    }

    /// <summary>ggml's sub-block scale code: <c>nearest_int(0.5·(scale/d − 1))</c>, clamped to 0..<paramref name="max"/>.</summary>
    private static int ScaleCode(float inverseD, float scale, int max) =>
        Math.Max(0, Math.Min(max, ReferenceQuantizer.NearestInt(0.5f * (inverseD * scale - 1))));

    private static InvalidDataException NonFinite() =>
        new("A lattice search found no grid point: the weights or their importance are not finite or are out of range.");

    // ------------------------------------------------------------------------------------------------------------------
    // IQ2_XXS: 8 sub-blocks of 32; each group of 8 magnitudes is one of 256 points (levels 0..2), 7 sign bits, 4-bit scale.

    private static void IQ2XXS(float* x, BlockIQ2XXS* y, int n, float* quantWeights)
    {
        const int maxQ = 3;
        var book = LatticeCodebook.For(TensorType.IQ2_XXS);
        float* scales = stackalloc float[BlockSize / 32];
        float* weight = stackalloc float[32];
        float* xval = stackalloc float[32];
        float* rootWeight = stackalloc float[32];
        sbyte* levels = stackalloc sbyte[32];
        sbyte* trialLevels = stackalloc sbyte[32];
        byte* blockSigns = stackalloc byte[4];
        uint* q2 = stackalloc uint[2 * (BlockSize / 32)];

        for (int ibl = 0; ibl < n / BlockSize; ibl++)
        {
            y[ibl].D = (Half)0f;
            new Span<uint>(q2, 2 * (BlockSize / 32)).Clear();
            float maxScale = 0;
            float* xbl = x + BlockSize * ibl;
            float sigma2 = SumOfSquares(xbl, BlockSize) / BlockSize;

            for (int ib = 0; ib < BlockSize / 32; ib++)
            {
                float* xb = xbl + 32 * ib;
                float* qw = quantWeights + BlockSize * ibl + 32 * ib;
                for (int i = 0; i < 32; i++) weight[i] = qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
                for (int i = 0; i < 32; i++) rootWeight[i] = MathF.Sqrt(weight[i]);
                for (int k = 0; k < 4; k++) blockSigns[k] = FoldSigns(xb + 8 * k, weight + 8 * k, xval + 8 * k, evenParity: true);
                float max = xval[0];
                for (int i = 1; i < 32; i++) max = Max(max, xval[i]);
                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    continue;
                }
                // The starting scale comes from fitting the magnitudes to 0..3 directly; the trials then search around it.
                float scale = ReferenceQuantizer.MakeQpQuants(32, maxQ + 1, xval, (byte*)levels, weight);
                float effectiveMax = scale * maxQ;
                if (effectiveMax <= 0)
                {
                    scales[ib] = 0;
                    continue;
                }
                float best = 0;
                for (int step = -6; step <= 6; step++)
                {
                    float id = (2 * maxQ - 1 + step * 0.1f) / effectiveMax;
                    float trialScale = 1 / id;
                    for (int k = 0; k < 4; k++)
                    {
                        int key = RoundToLevels(xval + 8 * k, id, 8, maxQ - 1, 2, trialLevels + 8 * k);
                        if (book.MapPointer[key] < 0) BestNeighbour(book, key, xval + 8 * k, rootWeight + 8 * k, trialScale, trialLevels + 8 * k);
                    }
                    FitSums(weight, xval, trialLevels, 32, out float sumqx, out float sumq2);
                    if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                    {
                        scale = sumqx / sumq2;
                        best = scale * sumqx;
                        new Span<sbyte>(trialLevels, 32).CopyTo(new Span<sbyte>(levels, 32));
                    }
                }
                if (scale > 0)
                {
                    float id = 1 / scale;
                    for (int k = 0; k < 4; k++)
                    {
                        int key = RoundToLevels(xval + 8 * k, id, 8, maxQ - 1, 2, levels + 8 * k);
                        if (book.MapPointer[key] < 0) BestNeighbour(book, key, xval + 8 * k, rootWeight + 8 * k, scale, levels + 8 * k);
                    }
                    FitSums(weight, xval, levels, 32, out float sumqx, out float sumq2);
                    if (sumq2 > 0) scale = sumqx / sumq2;
                }
                if (scale < 0)
                {
                    // Not expected; the scale is stored unsigned, so flip it and the signs with it.
                    scale = -scale;
                    for (int k = 0; k < 4; k++) blockSigns[k] = (byte)(~blockSigns[k] & 127);
                }
                for (int k = 0; k < 4; k++)
                {
                    int index = GridIndex(book, levels + 8 * k);
                    q2[2 * ib] |= (uint)index << (8 * k);
                    q2[2 * ib + 1] |= (uint)blockSigns[k] << (7 * k);
                }
                if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                scales[ib] = scale;
                maxScale = Max(maxScale, scale);
            }

            ushort* qs = y[ibl].Qs;
            if (maxScale == 0)
            {
                new Span<ushort>(qs, BlockSize / 8).Clear();
                continue;
            }
            float d = maxScale / 31;
            y[ibl].D = (Half)d;
            float inverseD = 1 / d;
            for (int ib = 0; ib < BlockSize / 32; ib++) q2[2 * ib + 1] |= (uint)ScaleCode(inverseD, scales[ib], 15) << 28;
            new Span<byte>(q2, BlockSize / 4).CopyTo(new Span<byte>(qs, BlockSize / 4));
        }
    }

    // ------------------------------------------------------------------------------------------------------------------
    // IQ2_XS: 16 sub-blocks of 16; each group of 8 is one of 512 points, stored as 9 index bits + 7 sign bits.

    private static void IQ2XS(float* x, BlockIQ2XS* y, int n, float* quantWeights)
    {
        const int maxQ = 3;
        var book = LatticeCodebook.For(TensorType.IQ2_XS);
        float* scales = stackalloc float[BlockSize / 16];
        float* weight = stackalloc float[16];
        float* xval = stackalloc float[16];
        float* rootWeight = stackalloc float[16];
        sbyte* levels = stackalloc sbyte[16];
        sbyte* trialLevels = stackalloc sbyte[16];
        bool* onGrid = stackalloc bool[2];
        bool* onGridTrial = stackalloc bool[2];
        byte* blockSigns = stackalloc byte[2];
        ushort* q2 = stackalloc ushort[2 * (BlockSize / 16)];

        for (int ibl = 0; ibl < n / BlockSize; ibl++)
        {
            y[ibl].D = (Half)0f;
            new Span<ushort>(q2, 2 * (BlockSize / 16)).Clear();
            new Span<byte>(y[ibl].Scales, BlockSize / 32).Clear();
            float maxScale = 0;
            float* xbl = x + BlockSize * ibl;
            float sigma2 = SumOfSquares(xbl, BlockSize) / BlockSize;

            for (int ib = 0; ib < BlockSize / 16; ib++)
            {
                float* xb = xbl + 16 * ib;
                float* qw = quantWeights + BlockSize * ibl + 16 * ib;
                for (int i = 0; i < 16; i++) weight[i] = qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
                for (int i = 0; i < 16; i++) rootWeight[i] = MathF.Sqrt(weight[i]);
                for (int k = 0; k < 2; k++) blockSigns[k] = FoldSigns(xb + 8 * k, weight + 8 * k, xval + 8 * k, evenParity: true);
                float max = xval[0];
                for (int i = 1; i < 16; i++) max = Max(max, xval[i]);
                new Span<sbyte>(levels, 16).Clear();
                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    continue;
                }
                TrialScales(book, xval, weight, rootWeight, levels, trialLevels, onGrid, onGridTrial, groups: 2, max, maxQ, steps: 9, stepSize: 0.1f, out float scale);
                RefitOffGrid(book, xval, weight, rootWeight, levels, onGrid, groups: 2, maxQ, onlyOffGrid: true, ref scale);
                if (scale < 0)
                {
                    scale = -scale;
                    for (int k = 0; k < 2; k++) blockSigns[k] = (byte)(~blockSigns[k] & 127);
                }
                for (int k = 0; k < 2; k++) q2[2 * ib + k] = (ushort)(GridIndex(book, levels + 8 * k) | blockSigns[k] << 9);
                if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                scales[ib] = scale;
                maxScale = Max(maxScale, scale);
            }

            ushort* qs = y[ibl].Qs;
            if (maxScale == 0)
            {
                new Span<ushort>(qs, BlockSize / 8).Clear();
                continue;
            }
            float d = maxScale / 31;
            y[ibl].D = (Half)d;
            float inverseD = 1 / d;
            PackScaleNibbles(y[ibl].Scales, scales, BlockSize / 16, inverseD);
            new Span<ushort>(q2, BlockSize / 8).CopyTo(new Span<ushort>(qs, BlockSize / 8));
        }
    }

    // ------------------------------------------------------------------------------------------------------------------
    // IQ2_S: 16 sub-blocks of 16; 1024 points (10 index bits: 8 in qs, 2 in qh), all 8 signs stored; works without importance.

    private static void IQ2S(float* x, BlockIQ2S* y, int n, float* quantWeights)
    {
        const int maxQ = 3;
        var book = LatticeCodebook.For(TensorType.IQ2_S);
        float* scales = stackalloc float[BlockSize / 16];
        float* weight = stackalloc float[16];
        float* xval = stackalloc float[16];
        float* rootWeight = stackalloc float[16];
        sbyte* levels = stackalloc sbyte[16];
        sbyte* trialLevels = stackalloc sbyte[16];
        bool* onGrid = stackalloc bool[2];
        bool* onGridTrial = stackalloc bool[2];
        byte* blockSigns = stackalloc byte[2];

        for (int ibl = 0; ibl < n / BlockSize; ibl++)
        {
            BlockIQ2S* block = y + ibl;
            *block = default;
            float maxScale = 0;
            float* xbl = x + BlockSize * ibl;
            float sigma2 = 2 * SumOfSquares(xbl, BlockSize) / BlockSize;

            for (int ib = 0; ib < BlockSize / 16; ib++)
            {
                float* xb = xbl + 16 * ib;
                if (quantWeights != null)
                {
                    float* qw = quantWeights + BlockSize * ibl + 16 * ib;
                    for (int i = 0; i < 16; i++) weight[i] = qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
                }
                else
                {
                    for (int i = 0; i < 16; i++) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
                }
                for (int i = 0; i < 16; i++) rootWeight[i] = MathF.Sqrt(weight[i]);
                for (int k = 0; k < 2; k++) blockSigns[k] = FoldSigns(xb + 8 * k, weight + 8 * k, xval + 8 * k, evenParity: false);
                float max = xval[0];
                for (int i = 1; i < 16; i++) max = Max(max, xval[i]);
                new Span<sbyte>(levels, 16).Clear();
                if (max < GroupMaxEpsIQ2S)
                {
                    scales[ib] = 0;
                    continue;
                }
                TrialScales(book, xval, weight, rootWeight, levels, trialLevels, onGrid, onGridTrial, groups: 2, max, maxQ, steps: 9, stepSize: 0.1f, out float scale);
                RefitOffGrid(book, xval, weight, rootWeight, levels, onGrid, groups: 2, maxQ, onlyOffGrid: true, ref scale);
                if (scale < 0)
                {
                    scale = -scale;
                    for (int k = 0; k < 2; k++) blockSigns[k] = (byte)~blockSigns[k];
                }
                for (int k = 0; k < 2; k++)
                {
                    int index = GridIndex(book, levels + 8 * k);
                    int group = 2 * ib + k;
                    block->Qs[group] = (byte)index;
                    block->Qh[group / 4] |= (byte)((index >> 8) << (2 * (group % 4)));
                    block->Qs[BlockSize / 8 + group] = blockSigns[k];
                }
                if (!(scale >= 0)) throw NonFinite(); // where ggml asserts (and aborts)
                scales[ib] = scale;
                maxScale = Max(maxScale, scale);
            }

            if (maxScale == 0) continue;
            float d = maxScale / 31;
            block->D = (Half)(d * 0.9875f);
            PackScaleNibbles(block->Scales, scales, BlockSize / 16, 1 / d);
        }
    }

    /// <summary>Two 4-bit sub-block scale codes per byte, the even sub-block in the low nibble.</summary>
    private static void PackScaleNibbles(byte* packed, float* scales, int count, float inverseD)
    {
        for (int ib = 0; ib < count; ib++)
        {
            int l = ScaleCode(inverseD, scales[ib], 15);
            if (ib % 2 == 0) packed[ib / 2] = (byte)l;
            else packed[ib / 2] |= (byte)(l << 4);
        }
    }

    /// <summary>
    /// The scale search of IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S: trial inverse scales <c>(2·maxQ − 1 + step·stepSize)/max</c>
    /// for step in ±<paramref name="steps"/>; each rounds every group (of the codebook's dimension) to levels, snaps off-grid
    /// groups to their best neighbour, and keeps the best least-squares fit. Leaves the winning levels in
    /// <paramref name="levels"/>, which groups were on the grid as rounded in <paramref name="onGrid"/>, and its scale.
    /// </summary>
    private static void TrialScales(LatticeCodebook book, float* xval, float* weight, float* rootWeight, sbyte* levels, sbyte* trialLevels,
        bool* onGrid, bool* onGridTrial, int groups, float max, int maxQ, int steps, float stepSize, out float scale, bool assumeOnGrid = true)
    {
        int dimension = book.Dimension;
        int n = groups * dimension;
        float best = 0;
        scale = max / (2 * maxQ - 1);
        // IQ3_S starts from "off the grid": when no trial fits (all sums zero) it still refits every group.
        for (int k = 0; k < groups; k++) onGrid[k] = assumeOnGrid;
        for (int step = -steps; step <= steps; step++)
        {
            float id = (2 * maxQ - 1 + step * stepSize) / max;
            float trialScale = 1 / id;
            for (int k = 0; k < groups; k++)
            {
                int key = RoundToLevels(xval + dimension * k, id, dimension, maxQ - 1, book.LevelBits, trialLevels + dimension * k);
                onGridTrial[k] = book.MapPointer[key] >= 0;
                if (!onGridTrial[k]) BestNeighbour(book, key, xval + dimension * k, rootWeight + dimension * k, trialScale, trialLevels + dimension * k);
            }
            FitSums(weight, xval, trialLevels, n, out float sumqx, out float sumq2);
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                scale = sumqx / sumq2;
                best = scale * sumqx;
                new Span<sbyte>(trialLevels, n).CopyTo(new Span<sbyte>(levels, n));
                new Span<bool>(onGridTrial, groups).CopyTo(new Span<bool>(onGrid, groups));
            }
        }
    }

    /// <summary>
    /// When some groups of the winning trial were off the grid, rounds them again at the winning scale (every group when
    /// <paramref name="onlyOffGrid"/> is false, as IQ3_S does), snaps them to the grid and refits the scale.
    /// </summary>
    private static void RefitOffGrid(LatticeCodebook book, float* xval, float* weight, float* rootWeight, sbyte* levels, bool* onGrid,
        int groups, int maxQ, bool onlyOffGrid, ref float scale)
    {
        int dimension = book.Dimension;
        int offGrid = 0;
        for (int k = 0; k < groups; k++) if (!onGrid[k]) offGrid++;
        if (offGrid == 0 || !(scale > 0)) return;
        float id = 1 / scale;
        for (int k = 0; k < groups; k++)
        {
            if (onlyOffGrid && onGrid[k]) continue;
            int key = RoundToLevels(xval + dimension * k, id, dimension, maxQ - 1, book.LevelBits, levels + dimension * k);
            if (book.MapPointer[key] < 0) BestNeighbour(book, key, xval + dimension * k, rootWeight + dimension * k, scale, levels + dimension * k);
        }
        FitSums(weight, xval, levels, groups * dimension, out float sumqx, out float sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
}
