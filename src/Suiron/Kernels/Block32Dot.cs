using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The decode dots of the 32-element block types (Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4 against Q8_0 activations; Q4_1, Q5_1
/// against Q8_1), written once over <see cref="ISimdOps{TVector, TLanes}"/> and specialised per width:
/// <see cref="Vector128Ops"/> (the 128-bit path, ARM64), <see cref="Avx2Ops"/>, <see cref="Avx512Ops"/> and
/// <see cref="Avx512TwinOps"/>. A type says how its quants meet the activation bytes (<see cref="IQuants"/>); the block
/// walk, the float steps and the multi-row form are here.
/// <para>
/// Each block's Σ q·y comes out as eight int32 lanes, lane k summing elements 4k..4k+3 (the lanes of
/// <see cref="Avx2Dot.DotInt8"/> on the signed quants), whichever way a type gets there; per block, in float:
/// acc += (d_w·d_y)·float(lanes), in block order; the result is the eight-lane sum ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)).
/// Q4_1 and Q5_1 add Σ_b m_w·s_y over the blocks, in block order, at the end. <see cref="Gemm"/> repeats these lanes
/// and float steps, so every width, the GEMM and every row count give the same bits.
/// </para>
/// <para>
/// 16-byte vectors take a block in two halves (lanes 0..3 and 4..7); 512-bit vectors take two blocks at once, whose
/// float steps then run one after the other as at 256 bits (an odd last block fills both halves and keeps one).
/// </para>
/// </summary>
internal static unsafe class Block32Dot<TOps, TVector, TLanes>
    where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
{
    public static float Q8_0(byte* w, byte* a, int n) => Dot<Q8_0Quants>(w, a, n);

    /// <summary>Like <see cref="Q8_0"/>, with the activation block scales already converted (<see cref="Avx2Dot.ActivationScales"/>, once per matmul).</summary>
    public static float Q8_0Scaled(byte* w, byte* a, float* yScales, int n) => Scaled<Q8_0Quants>(w, a, yScales, n);

    /// <summary><see cref="Q8_0Scaled"/> of four rows far apart (<see cref="ScaledFourRows"/>); each result bit-identical to it.</summary>
    public static void Q8_0ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => ScaledFourRows<Q8_0Quants>(w, rowDistance, a, yScales, n, y, outputDistance);

    public static float Q4_0(byte* w, byte* a, int n) => Dot<Q4_0Quants>(w, a, n);

    public static float Q4_0Scaled(byte* w, byte* a, float* yScales, int n) => Scaled<Q4_0Quants>(w, a, yScales, n);

    public static void Q4_0ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => ScaledFourRows<Q4_0Quants>(w, rowDistance, a, yScales, n, y, outputDistance);

    public static float Q5_0(byte* w, byte* a, int n) => Dot<Q5_0Quants>(w, a, n);

    public static float Q5_0Scaled(byte* w, byte* a, float* yScales, int n) => Scaled<Q5_0Quants>(w, a, yScales, n);

    public static void Q5_0ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => ScaledFourRows<Q5_0Quants>(w, rowDistance, a, yScales, n, y, outputDistance);

    public static float IQ4NL(byte* w, byte* a, int n) => Dot<IQ4NLQuants>(w, a, n);

    public static float IQ4NLScaled(byte* w, byte* a, float* yScales, int n) => Scaled<IQ4NLQuants>(w, a, yScales, n);

    public static void IQ4NLScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => ScaledFourRows<IQ4NLQuants>(w, rowDistance, a, yScales, n, y, outputDistance);

    public static float MXFP4(byte* w, byte* a, int n) => Dot<MXFP4Quants>(w, a, n);

    public static float MXFP4Scaled(byte* w, byte* a, float* yScales, int n) => Scaled<MXFP4Quants>(w, a, yScales, n);

    public static void MXFP4ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => ScaledFourRows<MXFP4Quants>(w, rowDistance, a, yScales, n, y, outputDistance);

    /// <summary>Q4_1 against Q8_1: the unsigned nibbles times the activations, plus Σ m_w·s_y (s_y = d_y·Σ q_y).</summary>
    public static float Q4_1(byte* w, byte* a, int n) => Dot<Q4_1Quants>(w, a, n);

    /// <summary>Q5_1 against Q8_1: Q4_1's form with the fifth bit from qh.</summary>
    public static float Q5_1(byte* w, byte* a, int n) => Dot<Q5_1Quants>(w, a, n);

    /// <summary><see cref="Q4_1"/> of four rows far apart (<see cref="ScaledFourRows"/>'s form); each result bit-identical to it.</summary>
    public static void Q4_1FourRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
        => FourRowsFromBlocks<Q4_1Quants>(w, rowDistance, a, n, y, outputDistance);

    /// <summary><see cref="Q5_1"/> of four rows far apart; each result bit-identical to it.</summary>
    public static void Q5_1FourRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
        => FourRowsFromBlocks<Q5_1Quants>(w, rowDistance, a, n, y, outputDistance);

    /// <summary>
    /// One row of a Q8_0/Q4_0/Q5_0/IQ4_NL/MXFP4 tensor in the GEMM panel layout: the signed quants of every block, then
    /// its <paramref name="cols"/>/32 float weight scales.
    /// </summary>
    internal static void UnpackBlock32(TensorType type, byte* src, byte* dst, int cols)
    {
        switch (type)
        {
            case TensorType.Q8_0: Unpack<Q8_0Quants>(src, dst, cols); break;
            case TensorType.Q4_0: Unpack<Q4_0Quants>(src, dst, cols); break;
            case TensorType.Q5_0: Unpack<Q5_0Quants>(src, dst, cols); break;
            case TensorType.IQ4_NL: Unpack<IQ4NLQuants>(src, dst, cols); break;
            case TensorType.MXFP4: Unpack<MXFP4Quants>(src, dst, cols); break;
            default: throw Quantization.Unsupported(type);
        }
    }

    // The kernels below are NoInlining: inlined into the one-line entry points at tier 1, they ran past the JIT's
    // inlining budget and left the per-row steps as calls (the four-row Q8_0 decode at 0.4x).

    /// <summary>Blocks per vector step: two for 512-bit vectors, else one. (Not inlined without the attribute: a call in every loop, ~3x slower.)</summary>
    private static int BlocksPerStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TOps.VectorBytes == 64 ? 2 : 1;
    }

    /// <summary>
    /// A 32-element weight type. <see cref="Lanes"/> gives Σ q·y of a block (of each block, paired) as the int32 lanes
    /// the class comment names; <see cref="Shared"/> is the activation-only part of that work, done once per activation
    /// vector for all the rows of a multi-row call; <see cref="Table"/> a constant made once per call.
    /// </summary>
    private interface IQuants
    {
        static abstract int BlockBytes { get; }

        /// <summary>Bytes per activation block: a Q8_0 block (half d, 32 quants), or Q8_1's (half d, half s, 32 quants).</summary>
        static abstract int ActivationBytes { get; }

        /// <summary>The block's weight scale.</summary>
        static abstract float WeightScale(byte* block);

        /// <summary>Whether the type has a min (Q4_1, Q5_1): then the dot adds Σ <see cref="MinScale"/>·s_y.</summary>
        static abstract bool HasMin { get; }

        static abstract float MinScale(byte* block);

        static abstract TVector Table { get; }

        static abstract TVector Shared(TVector y);

        static abstract TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table);

        /// <summary>
        /// The block's signed quants in element order (the GEMM panel's bytes; Q4_1 and Q5_1, which have no panel, their
        /// unsigned ones), split or paired as the operations' loads.
        /// </summary>
        static abstract TVector Quants(byte* first, byte* second, int half, TVector table);
    }

    /// <summary>Q8_0: the quants are signed bytes already.</summary>
    private readonly struct Q8_0Quants : IQuants
    {
        public static int BlockBytes => sizeof(BlockQ8_0);
        public static int ActivationBytes => sizeof(BlockQ8_0);
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => Avx2Dot.Block32Scale(*(Half*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => 0;

        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            TOps.SignedDot(Quants(first, second, half, table), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) => TOps.LoadRuns(first + 2, second + 2, half);
    }

    /// <summary>
    /// Q4_0 and Q5_0 store q + offset (8, 16) unsigned: vpmaddubsw(q + offset, y) − vpmaddubsw(offset, y) per int16 pair
    /// is Σ q·y of the pair exactly (|pair| ≤ 4096 for Q5_0's five bits), so the pair sums give SignedDot's lanes, integer
    /// for integer, without its sign steps; the second vpmaddubsw is the activations' <c>Shared</c> part.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector OffsetLanes(TVector unsignedQuants, TVector y, TVector offsetTimesY) =>
        TOps.SumPairs(TOps.SubtractInt16(TOps.MultiplyAddPairs(unsignedQuants, y), offsetTimesY));

    /// <summary>Q4_0: nibbles q + 8.</summary>
    private readonly struct Q4_0Quants : IQuants
    {
        public static int BlockBytes => sizeof(BlockQ4_0);
        public static int ActivationBytes => sizeof(BlockQ8_0);
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => Avx2Dot.Block32Scale(*(Half*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => 0;

        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => TOps.MultiplyAddPairs(TOps.Create(8), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            OffsetLanes(TOps.Nibbles(first + 2, second + 2, half), y, shared);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) =>
            TOps.SubtractBytes(TOps.Nibbles(first + 2, second + 2, half), TOps.Create(8));
    }

    /// <summary>Q5_0: nibbles plus the fifth bit from qh (bit j for element j), q + 16.</summary>
    private readonly struct Q5_0Quants : IQuants
    {
        public static int BlockBytes => sizeof(BlockQ5_0);
        public static int ActivationBytes => sizeof(BlockQ8_0);
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => Avx2Dot.Block32Scale(*(Half*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => 0;

        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => TOps.MultiplyAddPairs(TOps.Create(16), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            OffsetLanes(Unsigned(first, second, half), y, shared);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) => TOps.SubtractBytes(Unsigned(first, second, half), TOps.Create(16));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TVector Unsigned(byte* first, byte* second, int half) =>
            TOps.Or(TOps.Nibbles(first + 6, second + 6, half), TOps.And(TOps.BitsToBytes(*(uint*)(first + 2), *(uint*)(second + 2), half), TOps.Create(16)));
    }

    /// <summary>IQ4_NL: the nibbles looked up on the grid are the signed quants.</summary>
    private readonly struct IQ4NLQuants : IQuants
    {
        public static int BlockBytes => sizeof(BlockIQ4NL);
        public static int ActivationBytes => sizeof(BlockQ8_0);
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => Avx2Dot.Block32Scale(*(Half*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => default;

        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => TOps.RepeatLanes(Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113).AsByte());
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            TOps.SignedDot(Quants(first, second, half, table), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) => TOps.LookUp(table, TOps.Nibbles(first + 2, second + 2, half));
    }

    /// <summary>MXFP4: the nibbles looked up on the doubled E2M1 table are the signed quants; the scale is 2^(e − 128).</summary>
    private readonly struct MXFP4Quants : IQuants
    {
        public static int BlockBytes => sizeof(BlockMXFP4);
        public static int ActivationBytes => sizeof(BlockQ8_0);
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => MXFP4Values.HalfScale(*block);

        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => TOps.RepeatLanes(Vector128.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12).AsByte());
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            TOps.SignedDot(Quants(first, second, half, table), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) => TOps.LookUp(table, TOps.Nibbles(first + 1, second + 1, half));
    }

    /// <summary>Q4_1: unsigned nibbles (q, no offset) and a min, against Q8_1.</summary>
    private readonly struct Q4_1Quants : IQuants
    {
        public static int BlockBytes => sizeof(BlockQ4_1);
        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => Avx2Dot.Block32Scale(*(Half*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => default;
        public static int ActivationBytes => sizeof(BlockQ8_1);
        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => Avx2Dot.Block32Scale(((BlockQ4_1*)block)->M);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            TOps.SumPairs(TOps.MultiplyAddPairs(Quants(first, second, half, table), y));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) => TOps.Nibbles(first + 4, second + 4, half);
    }

    /// <summary>Q5_1: Q4_1 with the fifth bit from qh (at most 31 × 127 × 2 per pair: no saturation).</summary>
    private readonly struct Q5_1Quants : IQuants
    {
        public static int BlockBytes => sizeof(BlockQ5_1);
        public static TVector Table
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => Avx2Dot.Block32Scale(*(Half*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Shared(TVector y) => default;
        public static int ActivationBytes => sizeof(BlockQ8_1);
        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float MinScale(byte* block) => Avx2Dot.Block32Scale(((BlockQ5_1*)block)->M);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Lanes(byte* first, byte* second, int half, TVector y, TVector shared, TVector table) =>
            TOps.SumPairs(TOps.MultiplyAddPairs(Quants(first, second, half, table), y));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Quants(byte* first, byte* second, int half, TVector table) =>
            TOps.Or(TOps.Nibbles(first + 8, second + 8, half), TOps.And(TOps.BitsToBytes(*(uint*)(first + 4), *(uint*)(second + 4), half), TOps.Create(16)));
    }

    /// <summary>
    /// Where a row's dot reads the activation block scales: converted once per matmul (<see cref="Converted"/>), or
    /// converted from each block as it is reached (<see cref="FromBlocks"/>; the same float either way).
    /// </summary>
    private interface IActivationScales
    {
        static abstract float Scale(float* converted, byte* block, int b);
    }

    private readonly struct Converted : IActivationScales
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(float* converted, byte* block, int b) => converted[b];
    }

    /// <summary>For one row alone: a pass converting the scales first cost Q4_1 ~20% at 4096 columns, cache-resident.</summary>
    private readonly struct FromBlocks : IActivationScales
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(float* converted, byte* block, int b) => Avx2Dot.Block32Scale(*(Half*)block);
    }

    /// <summary>One row's dot, the activation block scales converted as the blocks are reached.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TQuants>(byte* w, byte* a, int n) where TQuants : struct, IQuants => Row<TQuants, FromBlocks>(w, a, null, n);

    /// <summary>One row's dot with the activation block scales already converted.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Scaled<TQuants>(byte* w, byte* a, float* yScales, int n) where TQuants : struct, IQuants =>
        Row<TQuants, Converted>(w, a, yScales, n);

    /// <summary>One row's dot: per block acc += (d_w·d_y)·float(lanes), then the eight-lane sum (plus Σ m_w·s_y for Q4_1/Q5_1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Row<TQuants, TScales>(byte* w, byte* a, float* yScales, int n) where TQuants : struct, IQuants where TScales : struct, IActivationScales
    {
        TLanes acc = default;
        float minTerm = 0;
        TVector table = TQuants.Table;
        int blocks = n / 32, steps = blocks / BlocksPerStep;
        // Counted by steps, so that the JIT inverts the loop and hoists the constants out of it.
        for (int step = 0; step < steps; step++)
        {
            int b = step * BlocksPerStep, second = b + BlocksPerStep - 1;
            byte* y0 = a + (long)b * TQuants.ActivationBytes, y1 = a + (long)second * TQuants.ActivationBytes;
            byte* x0 = w + (long)b * TQuants.BlockBytes, x1 = w + (long)second * TQuants.BlockBytes;
            Step<TQuants>(x0, x1, y0, y1, TScales.Scale(yScales, y0, b), TScales.Scale(yScales, y1, second), BlocksPerStep, table, ref acc, ref minTerm);
        }
        if (steps * BlocksPerStep < blocks)
        {
            int b = blocks - 1;
            byte* y0 = a + (long)b * TQuants.ActivationBytes, x0 = w + (long)b * TQuants.BlockBytes;
            float yScale = TScales.Scale(yScales, y0, b);
            Step<TQuants>(x0, x0, y0, y0, yScale, yScale, 1, table, ref acc, ref minTerm);
        }
        return TQuants.HasMin ? TOps.Sum(acc) + minTerm : TOps.Sum(acc);
    }

    /// <summary>One vector step of one row: <paramref name="count"/> blocks (1, or 2 at 512 bits) from x0 (x1) against y0 (y1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<TQuants>(byte* x0, byte* x1, byte* y0, byte* y1, float yScale0, float yScale1, int count, TVector table,
        ref TLanes acc, ref float minTerm) where TQuants : struct, IQuants
    {
        int quantsOffset = TQuants.ActivationBytes - 32;
        TVector activations = TOps.LoadRuns(y0 + quantsOffset, y1 + quantsOffset, 0);
        TVector sum = TQuants.Lanes(x0, x1, 0, activations, TQuants.Shared(activations), table);
        TVector secondHalfSum = default;
        if (TOps.VectorBytes == 16)
        {
            TVector secondHalf = TOps.LoadRuns(y0 + quantsOffset, y0 + quantsOffset, 1);
            secondHalfSum = TQuants.Lanes(x0, x0, 1, secondHalf, TQuants.Shared(secondHalf), table);
        }
        acc = TOps.MultiplyAdd(TQuants.WeightScale(x0) * yScale0, TOps.BlockLanes(sum, secondHalfSum, 0), acc);
        if (TQuants.HasMin) minTerm += TQuants.MinScale(x0) * Avx2Dot.Block32Scale(((Half*)y0)[1]);
        if (count == 2)
        {
            acc = TOps.MultiplyAdd(TQuants.WeightScale(x1) * yScale1, TOps.BlockLanes(sum, secondHalfSum, 1), acc);
            if (TQuants.HasMin) minTerm += TQuants.MinScale(x1) * Avx2Dot.Block32Scale(((Half*)y1)[1]);
        }
    }

    /// <summary>
    /// <see cref="Scaled"/> of four weight rows, <paramref name="w"/> + k·<paramref name="rowDistance"/> for k = 0..3,
    /// into <paramref name="y"/>[k·<paramref name="outputDistance"/>]: four weight streams in flight on one core (MatMul
    /// hands it rows a quarter of its range apart) and each activation vector, its scale and its
    /// <see cref="IQuants.Shared"/> part loaded or computed once for all four. Each row runs the one-row steps in
    /// their order into its own accumulator, so each result is bit-identical to the one-row kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ScaledFourRows<TQuants>(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        where TQuants : struct, IQuants => FourRows<TQuants, Converted>(w, rowDistance, a, yScales, n, y, outputDistance);

    /// <summary><see cref="ScaledFourRows"/> converting the activation scales as it goes (Q4_1, Q5_1: no converted scales).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsFromBlocks<TQuants>(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
        where TQuants : struct, IQuants => FourRows<TQuants, FromBlocks>(w, rowDistance, a, null, n, y, outputDistance);

    /// <summary>The four rows' Σ m_w·s_y of Q4_1 and Q5_1, each in its row's block order.</summary>
    private struct FourMinTerms
    {
        public float Row0, Row1, Row2, Row3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourRows<TQuants, TScales>(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        where TQuants : struct, IQuants where TScales : struct, IActivationScales
    {
        TLanes acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        var mins = new FourMinTerms();
        TVector table = TQuants.Table;
        int blocks = n / 32, steps = blocks / BlocksPerStep;
        // Four row pointers stepped along, as the activation pointer: a pointer add per row and step, no multiplies.
        byte* x0 = w, x1 = w + rowDistance, x2 = w + 2 * rowDistance, x3 = w + 3 * rowDistance, activationBlock = a;
        for (int step = 0; step < steps; step++)
        {
            FourRowStep<TQuants, TScales>(x0, x1, x2, x3, activationBlock, yScales, step * BlocksPerStep, BlocksPerStep, table,
                ref acc0, ref acc1, ref acc2, ref acc3, ref mins);
            x0 += BlocksPerStep * TQuants.BlockBytes;
            x1 += BlocksPerStep * TQuants.BlockBytes;
            x2 += BlocksPerStep * TQuants.BlockBytes;
            x3 += BlocksPerStep * TQuants.BlockBytes;
            activationBlock += BlocksPerStep * TQuants.ActivationBytes;
        }
        if (steps * BlocksPerStep < blocks)
            FourRowStep<TQuants, TScales>(x0, x1, x2, x3, activationBlock, yScales, blocks - 1, 1, table, ref acc0, ref acc1, ref acc2, ref acc3, ref mins);
        y[0] = TQuants.HasMin ? TOps.Sum(acc0) + mins.Row0 : TOps.Sum(acc0);
        y[outputDistance] = TQuants.HasMin ? TOps.Sum(acc1) + mins.Row1 : TOps.Sum(acc1);
        y[2 * outputDistance] = TQuants.HasMin ? TOps.Sum(acc2) + mins.Row2 : TOps.Sum(acc2);
        y[3 * outputDistance] = TQuants.HasMin ? TOps.Sum(acc3) + mins.Row3 : TOps.Sum(acc3);
    }

    /// <summary>
    /// One step of four rows at x0..x3 against the activation block <paramref name="y0"/> (block <paramref name="b"/>):
    /// <paramref name="count"/> blocks (1, or 2 at 512 bits; a second block is the next one of each row and of the activations).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourRowStep<TQuants, TScales>(byte* x0, byte* x1, byte* x2, byte* x3, byte* y0, float* yScales, int b, int count, TVector table,
        ref TLanes acc0, ref TLanes acc1, ref TLanes acc2, ref TLanes acc3, ref FourMinTerms mins) where TQuants : struct, IQuants where TScales : struct, IActivationScales
    {
        int next = count == 2 ? TQuants.BlockBytes : 0, quantsOffset = TQuants.ActivationBytes - 32;
        byte* y1 = y0 + (count == 2 ? TQuants.ActivationBytes : 0);
        TVector activations = TOps.LoadRuns(y0 + quantsOffset, y1 + quantsOffset, 0), shared = TQuants.Shared(activations);
        TVector secondHalf = default, secondShared = default;
        if (TOps.VectorBytes == 16)
        {
            secondHalf = TOps.LoadRuns(y0 + quantsOffset, y0 + quantsOffset, 1);
            secondShared = TQuants.Shared(secondHalf);
        }
        float scale0 = TScales.Scale(yScales, y0, b), scale1 = count == 2 ? TScales.Scale(yScales, y1, b + 1) : scale0;
        RowStep<TQuants>(x0, x0 + next, activations, shared, secondHalf, secondShared, scale0, scale1, count, table, ref acc0);
        RowStep<TQuants>(x1, x1 + next, activations, shared, secondHalf, secondShared, scale0, scale1, count, table, ref acc1);
        RowStep<TQuants>(x2, x2 + next, activations, shared, secondHalf, secondShared, scale0, scale1, count, table, ref acc2);
        RowStep<TQuants>(x3, x3 + next, activations, shared, secondHalf, secondShared, scale0, scale1, count, table, ref acc3);
        if (TQuants.HasMin)
        {
            float sum0 = Avx2Dot.Block32Scale(((Half*)y0)[1]);
            mins.Row0 += TQuants.MinScale(x0) * sum0;
            mins.Row1 += TQuants.MinScale(x1) * sum0;
            mins.Row2 += TQuants.MinScale(x2) * sum0;
            mins.Row3 += TQuants.MinScale(x3) * sum0;
            if (count == 2)
            {
                float sum1 = Avx2Dot.Block32Scale(((Half*)y1)[1]);
                mins.Row0 += TQuants.MinScale(x0 + next) * sum1;
                mins.Row1 += TQuants.MinScale(x1 + next) * sum1;
                mins.Row2 += TQuants.MinScale(x2 + next) * sum1;
                mins.Row3 += TQuants.MinScale(x3 + next) * sum1;
            }
        }
    }

    /// <summary><see cref="Step"/>'s integer and float work for one row, the activations loaded by the caller.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowStep<TQuants>(byte* x0, byte* x1, TVector activations, TVector shared, TVector secondHalf, TVector secondShared,
        float yScale0, float yScale1, int count, TVector table, ref TLanes acc) where TQuants : struct, IQuants
    {
        TVector sum = TQuants.Lanes(x0, x1, 0, activations, shared, table);
        TVector secondHalfSum = TOps.VectorBytes == 16 ? TQuants.Lanes(x0, x0, 1, secondHalf, secondShared, table) : default;
        acc = TOps.MultiplyAdd(TQuants.WeightScale(x0) * yScale0, TOps.BlockLanes(sum, secondHalfSum, 0), acc);
        if (count == 2) acc = TOps.MultiplyAdd(TQuants.WeightScale(x1) * yScale1, TOps.BlockLanes(sum, secondHalfSum, 1), acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Unpack<TQuants>(byte* src, byte* dst, int cols) where TQuants : struct, IQuants
    {
        int blocks = cols / 32, steps = blocks / BlocksPerStep;
        float* d = (float*)(dst + cols);
        TVector table = TQuants.Table;
        for (int step = 0; step < steps; step++)
        {
            int b = step * BlocksPerStep;
            byte* x0 = src + (long)b * TQuants.BlockBytes, x1 = src + (long)(b + BlocksPerStep - 1) * TQuants.BlockBytes;
            TOps.Store(dst + 32 * b, TQuants.Quants(x0, x1, 0, table));
            if (TOps.VectorBytes == 16) TOps.Store(dst + 32 * b + 16, TQuants.Quants(x0, x0, 1, table));
            d[b] = TQuants.WeightScale(x0);
            if (BlocksPerStep == 2) d[b + 1] = TQuants.WeightScale(x1);
        }
        if (steps * BlocksPerStep < blocks)
        {
            // An odd last block at 512 bits fills both halves; a whole store would run into the scales.
            int b = blocks - 1;
            byte* x = src + (long)b * TQuants.BlockBytes;
            byte* both = stackalloc byte[64];
            TOps.Store(both, TQuants.Quants(x, x, 0, table));
            Buffer.MemoryCopy(both, dst + 32 * b, 32, 32);
            d[b] = TQuants.WeightScale(x);
        }
    }
}
