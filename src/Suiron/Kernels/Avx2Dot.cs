using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// AVX2 + FMA dot products (the decode hot path). Integer block sums are exact, as in <see cref="ScalarDot"/>;
/// only the order of the float accumulation differs, so results agree with the scalar reference to float rounding.
/// Signed int8 x int8 products use the usual AVX2 idiom: |x| as unsigned times sign(x)*y through vpmaddubsw,
/// then vpmaddwd against ones (or against the group scales) to reach int32 without overflow.
/// The k-quant kernels (Q2_K..Q6_K) are in Avx2Dot.KQuants.cs and <see cref="KQuantDot{TOps, TVector, TLanes}"/>, the float
/// dots (F32, F16, BF16) in <see cref="FloatDot{TOps, TFloats, THalves}"/>; Q8_1 and Q8_K weights (not ggml matmul types) run the scalar reference.
/// </summary>
internal static unsafe partial class Avx2Dot
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// A finite half block scale, exactly. A subnormal half (what a k-quant or IQ4_XS super-block scale almost always is:
    /// the largest sub-block scale over 63 or 127) is its 10-bit fraction times 2^-24, never a subnormal float operand:
    /// <see cref="Block32Scale"/>'s trick multiplies one, and on Zen 4 that halved the speed of the whole Q6_K and IQ4_XS
    /// decode kernels. The branch follows a tensor's scales, which are subnormal or not nearly throughout.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Scale(Half h)
    {
        int bits = (short)BitConverter.HalfToUInt16Bits(h);
        if ((bits & 0x7C00) == 0) return (bits & 0x3FF) * (bits < 0 ? -5.9604645e-08f : 5.9604645e-08f); // 2^-24
        return BitConverter.Int32BitsToSingle((bits << 13) & unchecked((int)0x8FFFE000)) * 5.192296858534828e33f; // 2^112
    }

    /// <summary>
    /// The scale of a 32-element block (Q4_0 … Q8_0, and Q8_0/Q8_1 activations), exactly, in five scalar operations:
    /// sign-extend, shift the magnitude into float position keeping the sign bit, rescale by 2^112 (which also normalizes
    /// subnormals). Cheaper than <see cref="Scale"/>'s test where a scale comes every 32 elements; such scales are rarely
    /// subnormal (a block's largest weight over 127 or 8), which only costs time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Block32Scale(Half h)
    {
        int bits = (short)BitConverter.HalfToUInt16Bits(h);
        return BitConverter.Int32BitsToSingle((bits << 13) & unchecked((int)0x8FFFE000)) * 5.192296858534828e33f; // 2^112
    }

    /// <summary>Sum of x*y over 32 signed bytes, as 8 int32 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotInt8(Vector256<sbyte> x, Vector256<sbyte> y)
    {
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(Avx2.Sign(x, x).AsByte(), Avx2.Sign(y, x));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    /// <summary>Sum of u*y over 32 bytes, u unsigned and small (u*127*2 fits int16), as 16 int16 pair sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> DotUInt8Pairs(Vector256<byte> u, Vector256<sbyte> y) => Avx2.MultiplyAddAdjacent(u, y);

    /// <summary>
    /// 2^112: the factor between an F16 value and the float whose bits are the half's bits shifted into place (the
    /// rebiased F16 dot, <see cref="FloatDot{TOps, TFloats, THalves}.F16xRebiasedF32"/>).
    /// </summary>
    internal const float HalfRebias = 5.192296858534828e33f;

    /// <summary>2^-112, the inverse of <see cref="HalfRebias"/>.</summary>
    internal const float HalfRebiasInverse = 1.92592994e-34f;

    /// <summary>Eight halves with their magnitude bits shifted into float position: h * 2^-112 for every finite half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ShiftedHalves(ushort* p, Vector256<int> keptBits) =>
        (Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((short*)p), 13) & keptBits).AsSingle();

    public static float Q8_0(byte* w, byte* a, int n) => Block32<Q8_0Block>(w, a, n);

    /// <summary>Like <see cref="Q8_0"/>, with the activation block scales already converted (once per matmul).</summary>
    public static float Q8_0Scaled(byte* w, byte* a, float* yScales, int n) => Block32Scaled<Q8_0Block>(w, a, yScales, n);

    /// <summary>
    /// <see cref="Q8_0Scaled"/> of four weight rows, <paramref name="w"/> + k·<paramref name="rowDistance"/> for k = 0..3,
    /// into <paramref name="y"/>[k·<paramref name="outputDistance"/>]: see <see cref="Block32ScaledFourRows"/>.
    /// </summary>
    public static void Q8_0ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => Block32ScaledFourRows<Q8_0Block>(w, rowDistance, a, yScales, n, y, outputDistance);

    /// <summary>
    /// A 32-element weight block type against Q8_0 activations (Q4_0, Q5_0, Q8_0: a half scale d first, then the quants).
    /// <see cref="Lanes"/> gives Σ q·y of one block as the eight int32 lanes of <see cref="DotInt8"/> on the signed
    /// quants — element 4k..4k+3 in lane k — however it gets there, so every type's results keep the arithmetic the
    /// GEMM repeats (<see cref="Gemm"/> runs the signed quants through that very form). <see cref="Shared"/> is the
    /// activation-only part of that work, done once per activation block for all the rows of a multi-row call.
    /// </summary>
    private interface IBlock32Quants
    {
        static abstract int BlockBytes { get; }

        /// <summary>The block's weight scale: an fp16 at its start for every type but MXFP4.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static virtual float WeightScale(byte* block) => Block32Scale(*(Half*)block);

        /// <summary>The block's 32 signed quants in element order (the GEMM panel's bytes).</summary>
        static abstract Vector256<sbyte> Quants(byte* block);

        static abstract Vector256<short> Shared(Vector256<sbyte> y);
        static abstract Vector256<int> Lanes(byte* block, Vector256<sbyte> y, Vector256<short> shared);
    }

    /// <summary>Q8_0: the quants are signed bytes already.</summary>
    private struct Q8_0Block : IBlock32Quants
    {
        public static int BlockBytes => sizeof(BlockQ8_0);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Quants(byte* block) => Avx.LoadVector256((sbyte*)block + 2);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> y) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, Vector256<sbyte> y, Vector256<short> shared) =>
            DotInt8(Quants(block), y);
    }

    /// <summary>
    /// Q4_0 and Q5_0 store q + offset (8, 16) unsigned: vpmaddubsw(q + offset, y) − vpmaddubsw(offset, y) per int16 pair
    /// is Σ q·y of the pair exactly (|pair| ≤ 4096 for Q5_0's five bits), so vpmaddwd with ones gives <see cref="DotInt8"/>'s
    /// lanes, integer for integer, without its two vpsignb and the − offset; the second vpmaddubsw is <c>Shared</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> OffsetLanes(Vector256<byte> unsignedQuants, Vector256<sbyte> y, Vector256<short> offsetTimesY) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(unsignedQuants, y) - offsetTimesY, Vector256.Create((short)1));

    /// <summary>
    /// 32 nibbles of one 16-byte run in element order (low nibbles 0..15, high 16..31) from one 16-byte broadcast: the high
    /// 128-bit lane shifts its 32-bit words right by 4, then one mask keeps each byte's low nibble (what crosses from the
    /// neighbouring byte lands in the masked-off top half). Measured ~20% faster per Q5_0 block in the decode kernels than
    /// <see cref="Nibbles32"/>'s shift-and-insert.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> BroadcastNibbles32(byte* qs) =>
        Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(qs).AsUInt32(), Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4)).AsByte()
        & Vector256.Create((byte)0x0F);

    /// <summary>Q4_0: nibbles q + 8.</summary>
    private struct Q4_0Block : IBlock32Quants
    {
        public static int BlockBytes => sizeof(BlockQ4_0);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Quants(byte* block) => Avx2.Subtract(Nibbles32(((BlockQ4_0*)block)->Qs), Vector256.Create((byte)8)).AsSByte();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> y) => Avx2.MultiplyAddAdjacent(Vector256.Create((byte)8), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, Vector256<sbyte> y, Vector256<short> shared) =>
            OffsetLanes(BroadcastNibbles32(((BlockQ4_0*)block)->Qs), y, shared);
    }

    /// <summary>Q5_0: nibbles plus the fifth bit from qh (bit j for element j), q + 16.</summary>
    private struct Q5_0Block : IBlock32Quants
    {
        public static int BlockBytes => sizeof(BlockQ5_0);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Quants(byte* block) => Q5_0Quants((BlockQ5_0*)block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> y) => Avx2.MultiplyAddAdjacent(Vector256.Create((byte)16), y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, Vector256<sbyte> y, Vector256<short> shared)
        {
            var x = (BlockQ5_0*)block;
            return OffsetLanes(BroadcastNibbles32(x->Qs) | (BitsToBytes(*(uint*)x->Qh) & Vector256.Create((byte)16)), y, shared);
        }
    }

    /// <summary>One row's dot, converting the activation block scales first (<see cref="Block32Scaled"/> takes them converted).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Block32<TQuants>(byte* w, byte* a, int n) where TQuants : struct, IBlock32Quants
    {
        float* yScales = stackalloc float[n / 32];
        ActivationScales((BlockQ8_0*)a, yScales, n / 32);
        return Block32Scaled<TQuants>(w, a, yScales, n);
    }

    /// <summary>One row's dot: per block acc += (d_w·d_y)·float(lanes), then the eight-lane sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Block32Scaled<TQuants>(byte* w, byte* a, float* yScales, int n) where TQuants : struct, IBlock32Quants
    {
        var y = (BlockQ8_0*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        for (int b = 0; b < n / 32; b++)
        {
            byte* x = w + (long)b * TQuants.BlockBytes;
            Vector256<sbyte> activations = Avx.LoadVector256(y[b].Qs);
            Vector256<int> sumi = TQuants.Lanes(x, activations, TQuants.Shared(activations));
            acc = Fma.MultiplyAdd(Vector256.Create(TQuants.WeightScale(x) * yScales[b]), Avx.ConvertToVector256Single(sumi), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// <see cref="Block32Scaled"/> of four weight rows, <paramref name="w"/> + k·<paramref name="rowDistance"/> for k = 0..3,
    /// into <paramref name="y"/>[k·<paramref name="outputDistance"/>]: four weight streams in flight on one core (MatMul
    /// hands it rows a quarter of its range apart, as for F16 and Q4_K) and each activation block, its scale and its
    /// <see cref="IBlock32Quants.Shared"/> part loaded or computed once for all four. Each row runs the one-row
    /// operations in their order into its own accumulator, so each result is bit-identical to the one-row kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block32ScaledFourRows<TQuants>(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        where TQuants : struct, IBlock32Quants
    {
        byte* x0 = w, x1 = w + rowDistance, x2 = w + 2 * rowDistance, x3 = w + 3 * rowDistance;
        var q = (BlockQ8_0*)a;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < n / 32; b++, x0 += TQuants.BlockBytes, x1 += TQuants.BlockBytes, x2 += TQuants.BlockBytes, x3 += TQuants.BlockBytes)
        {
            Vector256<sbyte> activations = Avx.LoadVector256(q[b].Qs);
            Vector256<short> shared = TQuants.Shared(activations);
            float scale = yScales[b];
            acc0 = Fma.MultiplyAdd(Vector256.Create(TQuants.WeightScale(x0) * scale), Avx.ConvertToVector256Single(TQuants.Lanes(x0, activations, shared)), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(TQuants.WeightScale(x1) * scale), Avx.ConvertToVector256Single(TQuants.Lanes(x1, activations, shared)), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(TQuants.WeightScale(x2) * scale), Avx.ConvertToVector256Single(TQuants.Lanes(x2, activations, shared)), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(TQuants.WeightScale(x3) * scale), Avx.ConvertToVector256Single(TQuants.Lanes(x3, activations, shared)), acc3);
        }
        y[0] = Vector256.Sum(acc0);
        y[outputDistance] = Vector256.Sum(acc1);
        y[2 * outputDistance] = Vector256.Sum(acc2);
        y[3 * outputDistance] = Vector256.Sum(acc3);
    }

    /// <summary>
    /// One row of a Q8_0/Q4_0/Q5_0/IQ4_NL/MXFP4 tensor in the GEMM panel layout: the signed quants of every block, then
    /// its <paramref name="cols"/>/32 float weight scales.
    /// </summary>
    internal static void UnpackBlock32(TensorType type, byte* src, byte* dst, int cols)
    {
        switch (type)
        {
            case TensorType.Q8_0: UnpackBlock32<Q8_0Block>(src, dst, cols); break;
            case TensorType.Q4_0: UnpackBlock32<Q4_0Block>(src, dst, cols); break;
            case TensorType.Q5_0: UnpackBlock32<Q5_0Block>(src, dst, cols); break;
            case TensorType.IQ4_NL: UnpackBlock32<IQ4NLBlock>(src, dst, cols); break;
            case TensorType.MXFP4: UnpackBlock32<MXFP4Block>(src, dst, cols); break;
            default: throw Quantization.Unsupported(type);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnpackBlock32<TQuants>(byte* src, byte* dst, int cols) where TQuants : struct, IBlock32Quants
    {
        float* d = (float*)(dst + cols);
        for (int b = 0; b < cols / 32; b++, src += TQuants.BlockBytes)
        {
            Avx.Store((sbyte*)dst + 32 * b, TQuants.Quants(src));
            d[b] = TQuants.WeightScale(src);
        }
    }

    /// <summary>The float scales of Q8_0 activation blocks, converted once so the row dots of a matmul need not each convert them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ActivationScales(BlockQ8_0* y, float* scales, int blocks)
    {
        for (int b = 0; b < blocks; b++) scales[b] = Block32Scale(y[b].D);
    }

    /// <summary>32 nibbles of a Q4_0/Q4_1 block in element order: low nibbles are elements 0..15, high ones 16..31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Nibbles32(byte* qs)
    {
        Vector128<byte> packed = Sse2.LoadVector128(qs);
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        return Vector256.Create(packed & mask, Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask);
    }

    public static float Q4_0(byte* w, byte* a, int n) => Block32<Q4_0Block>(w, a, n);

    /// <summary>Like <see cref="Q4_0"/>, with the activation block scales already converted (once per matmul).</summary>
    public static float Q4_0Scaled(byte* w, byte* a, float* yScales, int n) => Block32Scaled<Q4_0Block>(w, a, yScales, n);

    /// <summary><see cref="Q4_0Scaled"/> of four rows far apart (<see cref="Block32ScaledFourRows"/>); each result bit-identical to it.</summary>
    public static void Q4_0ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => Block32ScaledFourRows<Q4_0Block>(w, rowDistance, a, yScales, n, y, outputDistance);

    /// <summary>
    /// 32 bits to 32 bytes: byte j is 0xFF where bit j of <paramref name="bits"/> is set, else 0.
    /// Each byte picks its source byte j/8 by a shuffle, then tests its own bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> BitsToBytes(uint bits)
    {
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Avx2.CompareEqual(spread & bit, bit);
    }

    /// <summary>Q5_0's 32 quants minus 16, in element order: nibbles as in Q4_0, the fifth bit from qh (bit j for element j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Q5_0Quants(BlockQ5_0* block)
    {
        Vector256<byte> high = BitsToBytes(*(uint*)block->Qh) & Vector256.Create((byte)16);
        return Avx2.Subtract(Nibbles32(block->Qs) | high, Vector256.Create((byte)16)).AsSByte();
    }

    public static float Q5_0(byte* w, byte* a, int n) => Block32<Q5_0Block>(w, a, n);

    /// <summary>Like <see cref="Q5_0"/>, with the activation block scales already converted (once per matmul).</summary>
    public static float Q5_0Scaled(byte* w, byte* a, float* yScales, int n) => Block32Scaled<Q5_0Block>(w, a, yScales, n);

    /// <summary><see cref="Q5_0Scaled"/> of four rows far apart (<see cref="Block32ScaledFourRows"/>); each result bit-identical to it.</summary>
    public static void Q5_0ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => Block32ScaledFourRows<Q5_0Block>(w, rowDistance, a, yScales, n, y, outputDistance);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_1(byte* w, byte* a, int n)
    {
        var x = (BlockQ5_1*)w;
        var y = (BlockQ8_1*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<short> ones = Vector256.Create((short)1);
        float minTerm = 0;
        for (int b = 0; b < n / 32; b++)
        {
            Vector256<byte> q = Nibbles32(x[b].Qs) | (BitsToBytes(*(uint*)x[b].Qh) & Vector256.Create((byte)16));
            Vector256<int> sumi = Avx2.MultiplyAddAdjacent(DotUInt8Pairs(q, Avx.LoadVector256(y[b].Qs)), ones);
            acc = Fma.MultiplyAdd(Vector256.Create(Block32Scale(x[b].D) * Block32Scale(y[b].D)), Avx.ConvertToVector256Single(sumi), acc);
            minTerm += Block32Scale(x[b].M) * Block32Scale(y[b].S);
        }
        return Vector256.Sum(acc) + minTerm;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_1(byte* w, byte* a, int n)
    {
        var x = (BlockQ4_1*)w;
        var y = (BlockQ8_1*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<short> ones = Vector256.Create((short)1);
        float minTerm = 0;
        for (int b = 0; b < n / 32; b++)
        {
            Vector256<int> sumi = Avx2.MultiplyAddAdjacent(DotUInt8Pairs(Nibbles32(x[b].Qs), Avx.LoadVector256(y[b].Qs)), ones);
            acc = Fma.MultiplyAdd(Vector256.Create(Block32Scale(x[b].D) * Block32Scale(y[b].D)), Avx.ConvertToVector256Single(sumi), acc);
            minTerm += Block32Scale(x[b].M) * Block32Scale(y[b].S);
        }
        return Vector256.Sum(acc) + minTerm;
    }

    /// <summary>IQ4_NL: the nibbles looked up on the grid are the signed quants, then <see cref="DotInt8"/>'s lanes as Q8_0's.</summary>
    private struct IQ4NLBlock : IBlock32Quants
    {
        public static int BlockBytes => sizeof(BlockIQ4NL);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Quants(byte* block) => IQ4Weights(((BlockIQ4NL*)block)->Qs, IQ4Grid);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> y) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, Vector256<sbyte> y, Vector256<short> shared) =>
            DotInt8(Quants(block), y);
    }

    /// <summary>Like <see cref="IQ4NL"/>, with the activation block scales already converted (once per matmul).</summary>
    public static float IQ4NLScaled(byte* w, byte* a, float* yScales, int n) => Block32Scaled<IQ4NLBlock>(w, a, yScales, n);

    /// <summary><see cref="IQ4NLScaled"/> of four rows far apart (<see cref="Block32ScaledFourRows"/>); each result bit-identical to it.</summary>
    public static void IQ4NLScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => Block32ScaledFourRows<IQ4NLBlock>(w, rowDistance, a, yScales, n, y, outputDistance);

    /// <summary>MXFP4: the nibbles looked up on the doubled E2M1 table are the signed quants; the scale is 2^(e − 128).</summary>
    private struct MXFP4Block : IBlock32Quants
    {
        public static int BlockBytes => sizeof(BlockMXFP4);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Quants(byte* block) => IQ4Weights(((BlockMXFP4*)block)->Qs, MXFP4Grid);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float WeightScale(byte* block) => MXFP4Values.HalfScale(*block);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(Vector256<sbyte> y) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, Vector256<sbyte> y, Vector256<short> shared) =>
            DotInt8(Quants(block), y);
    }

    /// <summary>MXFP4 against Q8_0 (<see cref="Block32"/> over <see cref="MXFP4Block"/>).</summary>
    public static float MXFP4(byte* w, byte* a, int n) => Block32<MXFP4Block>(w, a, n);

    /// <summary>Like <see cref="MXFP4"/>, with the activation block scales already converted.</summary>
    public static float MXFP4Scaled(byte* w, byte* a, float* yScales, int n) => Block32Scaled<MXFP4Block>(w, a, yScales, n);

    /// <summary><see cref="MXFP4Scaled"/> of four rows far apart; each result bit-identical to it.</summary>
    public static void MXFP4ScaledFourRows(byte* w, long rowDistance, byte* a, float* yScales, int n, float* y, long outputDistance)
        => Block32ScaledFourRows<MXFP4Block>(w, rowDistance, a, yScales, n, y, outputDistance);

    /// <summary>
    /// <see cref="MXFP4Values.Table"/> in both 128-bit lanes, for a vpshufb lookup. Written out as a literal so that the
    /// JIT emits a constant; built from the span it was rebuilt on every block.
    /// </summary>
    private static Vector256<sbyte> MXFP4Grid
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    }

    /// <summary>The 32 grid values of one 16-byte IQ4 run in element order (an IQ4_XS sub-block), for the GEMM panel.</summary>
    internal static Vector256<sbyte> IQ4Quants(byte* qs) => IQ4Weights(qs, IQ4Grid);

    /// <summary><see cref="IQ4Values.Table"/> in both 128-bit lanes, for a vpshufb lookup of 32 nibbles at once (a literal, as <see cref="MXFP4Grid"/>).</summary>
    private static Vector256<sbyte> IQ4Grid
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
            -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    }

    /// <summary>32 IQ4 weights of one 16-byte run in element order, looked up on the grid: signed bytes −127..113.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> IQ4Weights(byte* qs, Vector256<sbyte> grid) => Avx2.Shuffle(grid, BroadcastNibbles32(qs).AsSByte());

    /// <summary>IQ4_NL against Q8_0: per block the grid values by one vpshufb, <see cref="DotInt8"/>'s lanes, one FMA with d_x·d_y (<see cref="Block32Scaled"/>).</summary>
    public static float IQ4NL(byte* w, byte* a, int n) => Block32<IQ4NLBlock>(w, a, n);

    /// <summary>
    /// The eight sub-block multipliers ls − 32 of an IQ4_XS block, one per int32 lane and repeated in both of its int16
    /// halves (what vpmaddwd multiplies a pair by): lane i takes nibble i of scales_l and bits 2i..2i+1 of scales_h.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> IQ4XSMultipliers(BlockIQ4XS* x)
    {
        Vector256<uint> low = Avx2.ShiftRightLogicalVariable(Vector256.Create(*(uint*)x->ScalesL), Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28)) & Vector256.Create(0xFu);
        Vector256<uint> high = Avx2.ShiftRightLogicalVariable(Vector256.Create((uint)x->ScalesH), Vector256.Create(0u, 2, 4, 6, 8, 10, 12, 14)) & Vector256.Create(3u);
        Vector256<int> multiplier = (low | (high << 4)).AsInt32() - Vector256.Create(32);
        return (multiplier & Vector256.Create(0xFFFF)) | (multiplier << 16);
    }
}
