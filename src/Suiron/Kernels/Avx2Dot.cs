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


    /// <summary>The float scales of Q8_0 activation blocks, converted once so the row dots of a matmul need not each convert them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ActivationScales(BlockQ8_0* y, float* scales, int blocks)
    {
        for (int b = 0; b < blocks; b++) scales[b] = Block32Scale(y[b].D);
    }

    /// <summary>
    /// 32 nibbles of one 16-byte run in element order (low nibbles 0..15, high 16..31) from one 16-byte broadcast: the high
    /// 128-bit lane shifts its 32-bit words right by 4, then one mask keeps each byte's low nibble (what crosses from the
    /// neighbouring byte lands in the masked-off top half). Measured ~20% faster per Q5_0 block in the decode kernels than
    /// a shift-and-insert of the two halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> BroadcastNibbles32(byte* qs) =>
        Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(qs).AsUInt32(), Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4)).AsByte()
        & Vector256.Create((byte)0x0F);

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

    /// <summary>The 32 grid values of one 16-byte IQ4 run in element order (an IQ4_XS sub-block), for the GEMM panel.</summary>
    internal static Vector256<sbyte> IQ4Quants(byte* qs) => IQ4Weights(qs, IQ4Grid);

    /// <summary><see cref="IQ4Values.Table"/> in both 128-bit lanes, for a vpshufb lookup of 32 nibbles at once: a literal, so that the JIT emits a constant (built from the span it was rebuilt on every block).</summary>
    private static Vector256<sbyte> IQ4Grid
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
            -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    }

    /// <summary>32 IQ4 weights of one 16-byte run in element order, looked up on the grid: signed bytes −127..113.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> IQ4Weights(byte* qs, Vector256<sbyte> grid) => Avx2.Shuffle(grid, BroadcastNibbles32(qs).AsSByte());

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
