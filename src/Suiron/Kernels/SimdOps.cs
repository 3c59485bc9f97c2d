using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Suiron.Kernels;

// CA1857 wants literal shift counts; the operations take them as parameters that every caller passes as constants, so
// after inlining the JIT emits immediate shifts.
#pragma warning disable CA1857

/// <summary>
/// The few operations the integer decode kernels (<see cref="KQuantDot{TOps, TVector, TLanes}"/>,
/// <see cref="Block32Dot{TOps, TVector, TLanes}"/>, <see cref="TernaryDot{TOps, TVector, TLanes}"/>) are written in, per vector width, so that each
/// kernel's logic exists once and the JIT specialises it per struct (the way Highway's targets or TensorPrimitives'
/// operator structs work): <see cref="Vector128Ops"/> (SSE on x86, NEON on ARM64), <see cref="Avx2Ops"/>,
/// <see cref="Avx512Ops"/> and its software twin <see cref="Avx512TwinOps"/>.
/// <para>
/// <typeparamref name="TVector"/> is the width's byte vector; each operation reads it as the element type its name says.
/// A kernel walks its data <see cref="VectorBytes"/> at a time, so a 32-element run of a block is two 128-bit vectors, one
/// 256-bit vector or half a 512-bit one. <typeparamref name="TLanes"/> holds the eight int32 or float lanes every width
/// reduces a run to (a 256-bit vector, or two 128-bit ones): lane k sums elements 4k..4k+3 of each run, exactly as the
/// AVX2 kernels and the GEMM lay them out, so every width's float steps, and hence its results, are the same bits.
/// </para>
/// Byte and word operations act within 128-bit lanes, as their x86 forms do.
/// </summary>
internal unsafe interface ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
{
    /// <summary>Whether this CPU runs these operations.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>16, 32 or 64.</summary>
    static abstract int VectorBytes { get; }

    static abstract TVector Load(void* address);

    /// <summary>
    /// Bytes <paramref name="offset"/>.. of a 32-byte run (<see cref="VectorBytes"/> ≤ 32), or the whole run in both
    /// 256-bit halves (64-byte vectors; <paramref name="offset"/> 0).
    /// </summary>
    static abstract TVector LoadFromRun(byte* run, int offset);

    static abstract TVector Create(byte value);
    static abstract TVector And(TVector left, TVector right);
    static abstract TVector Or(TVector left, TVector right);

    /// <summary>
    /// The 32-bit elements of the k-th 32-byte run of the vector shifted right by <paramref name="first"/> + k·<paramref name="step"/>
    /// (left by its magnitude where negative; the runs of one vector shift the same way, by at most 7). Callers pass
    /// constants and mask what crosses from the neighbouring bytes.
    /// </summary>
    static abstract TVector ShiftPerRun(TVector value, int first, int step);

    /// <summary>
    /// Σ over each four bytes of unsigned × signed, times that int32 lane's scale (the word pair of
    /// <paramref name="wordScales"/>, both words equal): vpmaddubsw then vpmaddwd on x86. Requires unsigned &lt; 128
    /// and every adjacent pair's sum within int16 (k-quant quants are at most six bits), so no form saturates.
    /// </summary>
    static abstract TVector ScaledDot(TVector unsignedBytes, TVector signedBytes, TVector wordScales);

    static abstract TVector AddInt32(TVector left, TVector right);

    /// <summary>Bytes 8·<paramref name="half"/>..8·half + 7 of <paramref name="bytes"/> sign-extended to int16, in every 128-bit lane.</summary>
    static abstract TVector RepeatHalf(Vector128<sbyte> bytes, int half);

    /// <summary>
    /// Scales for the vector of elements <paramref name="firstElement"/>.. from <see cref="RepeatHalf"/>'s words: each
    /// 128-bit lane (16 elements as eight int16 pair sums) gets word (firstElement + 16·lane) / <paramref name="groupElements"/>
    /// in every int16. Callers pass constants.
    /// </summary>
    static abstract TVector GroupScales(TVector repeatedWords, int firstElement, int groupElements);

    /// <summary>
    /// A run's eight int32 lanes from its integer sums: <paramref name="sum"/> itself (256-bit), its two runs added (512-bit),
    /// or <paramref name="sum"/> as lanes 0..3 and <paramref name="secondHalfSum"/> (the run's elements 16..31) as 4..7 (128-bit).
    /// </summary>
    static abstract TLanes RunLanes(TVector sum, TVector secondHalfSum);

    /// <summary>vpmaddwd of the 16 int16 at <paramref name="words"/> with the 16 <paramref name="bytes"/> sign-extended: the eight int32 pair sums.</summary>
    static abstract TLanes MultiplyAddBytes(short* words, Vector128<sbyte> bytes);

    static abstract TLanes SubtractInt32(TLanes left, TLanes right);
    static abstract TLanes ShiftLeftInt32(TLanes value, int count);

    /// <summary>acc + scale · float(lanes), fused, lane by lane.</summary>
    static abstract TLanes MultiplyAdd(float scale, TLanes int32Lanes, TLanes floatAccumulator);

    /// <summary>The eight floats summed as ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)) (<see cref="Avx2Dot.Sum8"/>).</summary>
    static abstract float Sum(TLanes floats);

    // ---- The block-32 family (Block32Dot: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4) ----
    // A 32-element block is two 16-byte vectors (half 0: elements 0..15, half 1: 16..31), one 256-bit vector, or one
    // half of a 512-bit vector, which holds the two blocks "first" and "second" (the arguments 32- and 16-byte vectors
    // ignore). Every integer operation gives the AVX2 kernels' int32 lanes: lane k of a block sums its elements 4k..4k+3.

    /// <summary>The 32 bytes at <paramref name="first"/>: bytes 16·<paramref name="half"/>.. (16-byte vectors), all 32 (32), or those of first then second (64).</summary>
    static abstract TVector LoadRuns(byte* first, byte* second, int half);

    /// <summary>
    /// The 32 nibbles of the 16 bytes at <paramref name="first"/> (and <paramref name="second"/>) in element order, low
    /// nibbles elements 0..15, high ones 16..31, split or paired as <see cref="LoadRuns"/>.
    /// </summary>
    static abstract TVector Nibbles(byte* first, byte* second, int half);

    /// <summary>Byte j of a block 0xFF where bit j of its 32 bits is set, else 0; split or paired as <see cref="LoadRuns"/>.</summary>
    static abstract TVector BitsToBytes(uint first, uint second, int half);

    /// <summary>The 16 bytes in every 128-bit lane: a table for <see cref="LookUp"/>.</summary>
    static abstract TVector RepeatLanes(Vector128<byte> bytes);

    /// <summary>vpshufb: each byte takes the byte of <paramref name="table"/>'s 128-bit lane that it names (indices 0..15).</summary>
    static abstract TVector LookUp(TVector table, TVector indices);

    static abstract TVector SubtractBytes(TVector left, TVector right);
    static abstract TVector SubtractInt16(TVector left, TVector right);

    /// <summary>vpmaddubsw: unsigned × signed bytes, adjacent products summed to int16; callers keep every pair sum within int16.</summary>
    static abstract TVector MultiplyAddPairs(TVector unsignedBytes, TVector signedBytes);

    /// <summary>Adjacent int16 summed to int32 (vpmaddwd with ones).</summary>
    static abstract TVector SumPairs(TVector words);

    /// <summary>Σ x·y over each four signed bytes into their int32 lane, exactly, where <paramref name="y"/> stays within ±127 (x may be −128).</summary>
    static abstract TVector SignedDot(TVector x, TVector y);

    /// <summary>
    /// A block's eight lanes: <paramref name="sum"/> (256-bit), its half <paramref name="block"/> (512-bit), or
    /// <paramref name="sum"/> as lanes 0..3 and <paramref name="secondHalfSum"/> (the block's half 1) as 4..7 (128-bit).
    /// </summary>
    static abstract TLanes BlockLanes(TVector sum, TVector secondHalfSum, int block);

    static abstract void Store(void* address, TVector value);

    // ---- ternary family ----
    // (TernaryDot: TQ1_0, TQ2_0.) Runs and blocks as the block-32 family's: a 64-byte vector holds a 32-byte run of a
    // first and of a second block, a 16-byte vector half 0 or 1 of a run.

    /// <summary>Bytes added modulo 256.</summary>
    static abstract TVector AddBytes(TVector left, TVector right);

    /// <summary>int16 added (wrapping; callers stay within int16).</summary>
    static abstract TVector AddInt16(TVector left, TVector right);

    /// <summary>
    /// <paramref name="counts"/> plus one (modulo 256) in each byte where the signed byte of <paramref name="value"/> is
    /// greater than <paramref name="threshold"/>'s, the rest unchanged.
    /// </summary>
    static abstract TVector IncrementWhereGreater(TVector counts, TVector value, TVector threshold);

    /// <summary>
    /// A 32-byte run of <paramref name="lower"/> then <paramref name="upper"/>: 16-byte vectors take lower for half 0 and
    /// upper for half 1; 64-byte vectors hold then the second block's run, <paramref name="secondLower"/> and
    /// <paramref name="secondUpper"/>.
    /// </summary>
    static abstract TVector FromLanes(Vector128<byte> lower, Vector128<byte> upper, Vector128<byte> secondLower, Vector128<byte> secondUpper, int half);

    /// <summary>
    /// Each block's sum of its int16 words. 16- and 32-byte vectors hold one block: element 0 the sum of
    /// <paramref name="firstWords"/>, 1 of <paramref name="secondWords"/>, 2 and 3 the same again. 64-byte vectors hold two:
    /// the sums of firstWords' first and second block, then of secondWords'.
    /// </summary>
    static abstract Vector128<int> BlockSums(TVector firstWords, TVector secondWords);

    // ---- lattice family ----
    // LatticeDot (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M): a vector's weights come from a codebook of
    // eight-byte (IQ2, IQ1) or four-byte (IQ3) grid points, one scalar-indexed load per point, side by side in element order.

    /// <summary>The eight-byte points grid[indices[0]], grid[indices[1]], … side by side: <see cref="VectorBytes"/>/8 of them.</summary>
    static abstract TVector GridPoints(ulong* grid, ushort* indices);

    /// <summary>The four-byte points grid[indices[0]], grid[indices[1]], … side by side: <see cref="VectorBytes"/>/4 of them.</summary>
    static abstract TVector GridPoints(uint* grid, ushort* indices);

    /// <summary>The four-byte points whose indices are the bytes at <paramref name="indices"/>: <see cref="VectorBytes"/>/4 of them.</summary>
    static abstract TVector GridPoints(uint* grid, byte* indices);

    /// <summary>
    /// 0xFF for each element whose sign bit is set, from the sign dwords of the vector's sub-blocks at <paramref name="signs"/>
    /// (bit j of byte l: element 8l + j); a 16-byte vector takes the 16 bits of its <paramref name="half"/> of signs[0].
    /// <see cref="BitsToBytes"/> of the loaded dwords, with the loads left to the broadcasts.
    /// </summary>
    static abstract TVector NegativeMask(uint* signs, int half);

    /// <summary>(bytes ^ negative) − negative per byte: each byte negated (two's complement) where <paramref name="negative"/>'s is 0xFF, kept where 0.</summary>
    static abstract TVector NegateWhere(TVector bytes, TVector negative);

    /// <summary>The eight int32 lanes added (wrapping, so in any order the same integer).</summary>
    static abstract int IntegerSum(TLanes int32Lanes);

    /// <summary>
    /// The int at <paramref name="perSubBlock"/>[k] over every dword of the vector's k-th 32-byte run (a 16-byte vector:
    /// perSubBlock[0] over all of it).
    /// </summary>
    static abstract TVector SubBlockScales(int* perSubBlock);

    /// <summary>The int16 at <paramref name="perSixteen"/>, <see cref="VectorBytes"/>/16 of them, each over the eight words of its 16 bytes.</summary>
    static abstract TVector SixteenScales(short* perSixteen);
}

/// <summary>Eight 32-bit lanes as two 128-bit vectors: <see cref="Vector128Ops"/>' <c>TLanes</c>.</summary>
internal struct Vector128Pair
{
    public Vector128<byte> Lower, Upper;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128Pair(Vector128<byte> lower, Vector128<byte> upper)
    {
        Lower = lower;
        Upper = upper;
    }
}

/// <summary>
/// The 128-bit operations through the cross-platform Vector128 API, with SSSE3's vpmaddubsw and SSE2's vpmaddwd on x86
/// and sdot on ARM64 where present; every operation has a portable form, so this runs wherever Vector128 is accelerated.
/// </summary>
internal readonly unsafe struct Vector128Ops : ISimdOps<Vector128<byte>, Vector128Pair>
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    public static int VectorBytes => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Load(void* address) => Vector128.Load((byte*)address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> LoadFromRun(byte* run, int offset) => Vector128.Load(run + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Create(byte value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> And(Vector128<byte> left, Vector128<byte> right) => left & right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Or(Vector128<byte> left, Vector128<byte> right) => left | right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> ShiftPerRun(Vector128<byte> value, int first, int step) =>
        first == 0 ? value : first > 0 ? (value.AsUInt32() >>> first).AsByte() : (value.AsUInt32() << -first).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> ScaledDot(Vector128<byte> unsignedBytes, Vector128<byte> signedBytes, Vector128<byte> wordScales)
    {
        if (Ssse3.IsSupported)
            return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()), wordScales.AsInt16()).AsByte();
        // sdot sums the same four products per lane; unsigned < 128 reads the same as signed.
        if (Dp.IsSupported)
            return (Dp.DotProduct(Vector128<int>.Zero, unsignedBytes.AsSByte(), signedBytes.AsSByte()) * (wordScales.AsInt32() >> 16)).AsByte();
        return MultiplyAddAdjacent(MultiplyAddAdjacentPortable(unsignedBytes, signedBytes.AsSByte()), wordScales.AsInt16()).AsByte();
    }

    /// <summary>vpmaddubsw without saturation (callers stay within int16): odd and even bytes widened, multiplied and added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<short> MultiplyAddAdjacentPortable(Vector128<byte> unsignedBytes, Vector128<sbyte> signedBytes)
    {
        Vector128<short> unsignedEven = (unsignedBytes.AsUInt16() & Vector128.Create((ushort)0xFF)).AsInt16();
        Vector128<short> unsignedOdd = (unsignedBytes.AsUInt16() >>> 8).AsInt16();
        Vector128<short> signedEven = (signedBytes.AsInt16() << 8) >> 8, signedOdd = signedBytes.AsInt16() >> 8;
        return unsignedEven * signedEven + unsignedOdd * signedOdd;
    }

    /// <summary>vpmaddwd: int16 × int16, adjacent products summed to int32 (SSE2 on x86; sign-extended halves elsewhere).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> MultiplyAddAdjacent(Vector128<short> left, Vector128<short> right)
    {
        if (Sse2.IsSupported) return Sse2.MultiplyAddAdjacent(left, right);
        return MultiplyAddAdjacentPortable(left, right);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> MultiplyAddAdjacentPortable(Vector128<short> left, Vector128<short> right)
    {
        Vector128<int> leftEven = (left.AsInt32() << 16) >> 16, rightEven = (right.AsInt32() << 16) >> 16;
        return leftEven * rightEven + (left.AsInt32() >> 16) * (right.AsInt32() >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> AddInt32(Vector128<byte> left, Vector128<byte> right) => (left.AsInt32() + right.AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> RepeatHalf(Vector128<sbyte> bytes, int half) =>
        (half == 0 ? Vector128.WidenLower(bytes) : Vector128.WidenUpper(bytes)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> GroupScales(Vector128<byte> repeatedWords, int firstElement, int groupElements) =>
        Vector128.Shuffle(repeatedWords.AsInt16(), Vector128.Create((short)(firstElement / groupElements))).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Pair RunLanes(Vector128<byte> sum, Vector128<byte> secondHalfSum) => new(sum, secondHalfSum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Pair MultiplyAddBytes(short* words, Vector128<sbyte> bytes) =>
        new(MultiplyAddAdjacent(Vector128.Load(words), Vector128.WidenLower(bytes)).AsByte(),
            MultiplyAddAdjacent(Vector128.Load(words + 8), Vector128.WidenUpper(bytes)).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Pair SubtractInt32(Vector128Pair left, Vector128Pair right) =>
        new((left.Lower.AsInt32() - right.Lower.AsInt32()).AsByte(), (left.Upper.AsInt32() - right.Upper.AsInt32()).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Pair ShiftLeftInt32(Vector128Pair value, int count) =>
        new((value.Lower.AsInt32() << count).AsByte(), (value.Upper.AsInt32() << count).AsByte());

    /// <summary>Fused wherever the CPU has FMA (ARM64, x86 since Haswell), as the AVX2 kernels' vfmadd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Pair MultiplyAdd(float scale, Vector128Pair int32Lanes, Vector128Pair floatAccumulator)
    {
        Vector128<float> factor = Vector128.Create(scale);
        return new(
            Vector128.MultiplyAddEstimate(factor, Vector128.ConvertToSingle(int32Lanes.Lower.AsInt32()), floatAccumulator.Lower.AsSingle()).AsByte(),
            Vector128.MultiplyAddEstimate(factor, Vector128.ConvertToSingle(int32Lanes.Upper.AsInt32()), floatAccumulator.Upper.AsSingle()).AsByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128Pair floats)
    {
        Vector128<float> lower = floats.Lower.AsSingle(), upper = floats.Upper.AsSingle();
        return ((lower.GetElement(0) + lower.GetElement(1)) + (lower.GetElement(2) + lower.GetElement(3)))
            + ((upper.GetElement(0) + upper.GetElement(1)) + (upper.GetElement(2) + upper.GetElement(3)));
    }

    // ---- The block-32 family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> LoadRuns(byte* first, byte* second, int half) => Vector128.Load(first + 16 * half);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Nibbles(byte* first, byte* second, int half)
    {
        Vector128<byte> packed = Vector128.Load(first);
        return (half == 0 ? packed : (packed.AsUInt16() >>> 4).AsByte()) & Vector128.Create((byte)0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> BitsToBytes(uint first, uint second, int half) => Vector128Dot.BitsToBytes((ushort)(first >> (16 * half)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> RepeatLanes(Vector128<byte> bytes) => bytes;

    /// <summary>pshufb on x86, tbl on ARM64 (both take indices 0..15 as they are).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> LookUp(Vector128<byte> table, Vector128<byte> indices)
    {
        if (Ssse3.IsSupported) return Ssse3.Shuffle(table, indices);
        if (AdvSimd.Arm64.IsSupported) return AdvSimd.Arm64.VectorTableLookup(table, indices);
        return Vector128.Shuffle(table, indices);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SubtractBytes(Vector128<byte> left, Vector128<byte> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SubtractInt16(Vector128<byte> left, Vector128<byte> right) => (left.AsInt16() - right.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> MultiplyAddPairs(Vector128<byte> unsignedBytes, Vector128<byte> signedBytes) =>
        Ssse3.IsSupported ? Ssse3.MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()).AsByte()
        : MultiplyAddAdjacentPortable(unsignedBytes, signedBytes.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SumPairs(Vector128<byte> words) => MultiplyAddAdjacent(words.AsInt16(), Vector128.Create((short)1)).AsByte();

    /// <summary>
    /// SSSE3: |x| × (y with x's sign) through pmaddubsw, as the AVX2 kernels; ARM64: sdot where present (the same four
    /// products per lane); elsewhere the int16 products of odd and even bytes (each within ±128·127, so their pair sum fits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SignedDot(Vector128<byte> x, Vector128<byte> y)
    {
        if (Ssse3.IsSupported)
            return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Ssse3.Abs(x.AsSByte()), Ssse3.Sign(y.AsSByte(), x.AsSByte())), Vector128.Create((short)1)).AsByte();
        if (Dp.IsSupported) return Dp.DotProduct(Vector128<int>.Zero, x.AsSByte(), y.AsSByte()).AsByte();
        Vector128<short> xEven = (x.AsInt16() << 8) >> 8, yEven = (y.AsInt16() << 8) >> 8;
        Vector128<short> pairs = xEven * yEven + (x.AsInt16() >> 8) * (y.AsInt16() >> 8);
        return MultiplyAddAdjacent(pairs, Vector128.Create((short)1)).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Pair BlockLanes(Vector128<byte> sum, Vector128<byte> secondHalfSum, int block) => new(sum, secondHalfSum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* address, Vector128<byte> value) => value.Store((byte*)address);

    // ---- ternary family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> AddBytes(Vector128<byte> left, Vector128<byte> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> AddInt16(Vector128<byte> left, Vector128<byte> right) => (left.AsInt16() + right.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> IncrementWhereGreater(Vector128<byte> counts, Vector128<byte> value, Vector128<byte> threshold) =>
        counts - Vector128.GreaterThan(value.AsSByte(), threshold.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> FromLanes(Vector128<byte> lower, Vector128<byte> upper, Vector128<byte> secondLower, Vector128<byte> secondUpper, int half) =>
        half == 0 ? lower : upper;

    /// <summary>phaddd twice on x86, addp twice on ARM64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> BlockSums(Vector128<byte> firstWords, Vector128<byte> secondWords)
    {
        Vector128<short> ones = Vector128.Create((short)1);
        Vector128<int> first = MultiplyAddAdjacent(firstWords.AsInt16(), ones), second = MultiplyAddAdjacent(secondWords.AsInt16(), ones);
        if (Ssse3.IsSupported)
        {
            Vector128<int> pairs = Ssse3.HorizontalAdd(first, second);
            return Ssse3.HorizontalAdd(pairs, pairs);
        }
        if (AdvSimd.Arm64.IsSupported)
        {
            Vector128<int> pairs = AdvSimd.Arm64.AddPairwise(first, second);
            return AdvSimd.Arm64.AddPairwise(pairs, pairs);
        }
        int firstSum = Vector128.Sum(first), secondSum = Vector128.Sum(second);
        return Vector128.Create(firstSum, secondSum, firstSum, secondSum);
    }

    // ---- lattice family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> GridPoints(ulong* grid, ushort* indices) => Vector128.Create(grid[indices[0]], grid[indices[1]]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> GridPoints(uint* grid, ushort* indices) =>
        Vector128.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> GridPoints(uint* grid, byte* indices) =>
        Vector128.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> NegativeMask(uint* signs, int half) => Vector128Dot.BitsToBytes(((ushort*)signs)[half]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> NegateWhere(Vector128<byte> bytes, Vector128<byte> negative) => (bytes ^ negative) - negative;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IntegerSum(Vector128Pair int32Lanes) => Vector128.Sum(int32Lanes.Lower.AsInt32() + int32Lanes.Upper.AsInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SubBlockScales(int* perSubBlock) => Vector128.Create(*perSubBlock).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SixteenScales(short* perSixteen) => Vector128.Create(*perSixteen).AsByte();
}

/// <summary>The AVX2 + FMA operations on 256-bit vectors.</summary>
internal readonly unsafe struct Avx2Ops : ISimdOps<Vector256<byte>, Vector256<byte>>
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    public static int VectorBytes => 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Load(void* address) => Avx.LoadVector256((byte*)address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> LoadFromRun(byte* run, int offset) => Avx.LoadVector256(run + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Create(byte value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> And(Vector256<byte> left, Vector256<byte> right) => left & right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Or(Vector256<byte> left, Vector256<byte> right) => left | right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> ShiftPerRun(Vector256<byte> value, int first, int step) => ShiftUniform(value, first);

    /// <summary>Every 32-bit element shifted right by <paramref name="count"/> (left where negative); a constant.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> ShiftUniform(Vector256<byte> value, int count) =>
        count == 0 ? value
        : count > 0 ? Avx2.ShiftRightLogical(value.AsUInt32(), (byte)count).AsByte() : Avx2.ShiftLeftLogical(value.AsUInt32(), (byte)-count).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> ScaledDot(Vector256<byte> unsignedBytes, Vector256<byte> signedBytes, Vector256<byte> wordScales) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()), wordScales.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> AddInt32(Vector256<byte> left, Vector256<byte> right) => Avx2.Add(left.AsInt32(), right.AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> RepeatHalf(Vector128<sbyte> bytes, int half)
    {
        // Widened in 128 bits and inserted: Q4_K measured ~3% faster so than with vpmovsxbw ymm + vpermq (bench/README).
        Vector128<short> words = half == 0 ? Vector128.WidenLower(bytes) : Vector128.WidenUpper(bytes);
        return Vector256.Create(words, words).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> GroupScales(Vector256<byte> repeatedWords, int firstElement, int groupElements) =>
        Avx2.Shuffle(repeatedWords, Avx2Dot.WordBroadcast(firstElement / groupElements, (firstElement + 16) / groupElements));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> RunLanes(Vector256<byte> sum, Vector256<byte> secondHalfSum) => sum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAddBytes(short* words, Vector128<sbyte> bytes) =>
        Avx2.MultiplyAddAdjacent(Avx.LoadVector256(words), Avx2.ConvertToVector256Int16(bytes)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SubtractInt32(Vector256<byte> left, Vector256<byte> right) => Avx2.Subtract(left.AsInt32(), right.AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> ShiftLeftInt32(Vector256<byte> value, int count) => Avx2.ShiftLeftLogical(value.AsInt32(), (byte)count).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAdd(float scale, Vector256<byte> int32Lanes, Vector256<byte> floatAccumulator) =>
        Fma.MultiplyAdd(Vector256.Create(scale), Avx.ConvertToVector256Single(int32Lanes.AsInt32()), floatAccumulator.AsSingle()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<byte> floats) => Avx2Dot.Sum8(floats.AsSingle());

    // ---- The block-32 family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> LoadRuns(byte* first, byte* second, int half) => Avx.LoadVector256(first);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles(byte* first, byte* second, int half) => Avx2Dot.BroadcastNibbles32(first);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BitsToBytes(uint first, uint second, int half) => Avx2Dot.BitsToBytes(first);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> RepeatLanes(Vector128<byte> bytes) => Vector256.Create(bytes, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> LookUp(Vector256<byte> table, Vector256<byte> indices) => Avx2.Shuffle(table, indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SubtractBytes(Vector256<byte> left, Vector256<byte> right) => Avx2.Subtract(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SubtractInt16(Vector256<byte> left, Vector256<byte> right) => Avx2.Subtract(left.AsInt16(), right.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAddPairs(Vector256<byte> unsignedBytes, Vector256<byte> signedBytes) =>
        Avx2.MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SumPairs(Vector256<byte> words) => Avx2.MultiplyAddAdjacent(words.AsInt16(), Vector256.Create((short)1)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SignedDot(Vector256<byte> x, Vector256<byte> y) => Avx2Dot.DotInt8(x.AsSByte(), y.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BlockLanes(Vector256<byte> sum, Vector256<byte> secondHalfSum, int block) => sum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* address, Vector256<byte> value) => Avx.Store((byte*)address, value);

    // ---- ternary family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> AddBytes(Vector256<byte> left, Vector256<byte> right) => Avx2.Add(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> AddInt16(Vector256<byte> left, Vector256<byte> right) => Avx2.Add(left.AsInt16(), right.AsInt16()).AsByte();

    /// <summary>The compare's 0xFF is −1: subtracted, it adds one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> IncrementWhereGreater(Vector256<byte> counts, Vector256<byte> value, Vector256<byte> threshold) =>
        Avx2.Subtract(counts, Avx2.CompareGreaterThan(value.AsSByte(), threshold.AsSByte()).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FromLanes(Vector128<byte> lower, Vector128<byte> upper, Vector128<byte> secondLower, Vector128<byte> secondUpper, int half) =>
        Vector256.Create(lower, upper);

    /// <summary>
    /// vpmaddwd with ones, then the two blocks' vphaddd steps shared: [f0+f1, f2+f3, s0+s1, s2+s3 | f4+f5, …], the
    /// 128-bit halves added, one phaddd more.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> BlockSums(Vector256<byte> firstWords, Vector256<byte> secondWords)
    {
        Vector256<short> ones = Vector256.Create((short)1);
        Vector256<int> halves = Avx2.HorizontalAdd(Avx2.MultiplyAddAdjacent(firstWords.AsInt16(), ones), Avx2.MultiplyAddAdjacent(secondWords.AsInt16(), ones));
        Vector128<int> quarters = halves.GetLower() + halves.GetUpper();
        return Ssse3.HorizontalAdd(quarters, quarters);
    }

    /// <summary>The sums of the eight int32 of each vector, in order: two vphaddd steps that the four share, then the 128-bit halves added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> SumsOfFour(Vector256<int> first, Vector256<int> second, Vector256<int> third, Vector256<int> fourth)
    {
        Vector256<int> sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(first, second), Avx2.HorizontalAdd(third, fourth));
        return sums.GetLower() + sums.GetUpper();
    }

    // ---- lattice family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> GridPoints(ulong* grid, ushort* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> GridPoints(uint* grid, ushort* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]],
            grid[indices[4]], grid[indices[5]], grid[indices[6]], grid[indices[7]]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> GridPoints(uint* grid, byte* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]],
            grid[indices[4]], grid[indices[5]], grid[indices[6]], grid[indices[7]]).AsByte();

    /// <summary><see cref="Avx2Dot.BitsToBytes"/> on a broadcast load (a vpbroadcastd from memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> NegativeMask(uint* signs, int half)
    {
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(*signs).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Avx2.CompareEqual(spread & bit, bit);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> NegateWhere(Vector256<byte> bytes, Vector256<byte> negative) => Avx2.Subtract(Avx2.Xor(bytes, negative), negative);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IntegerSum(Vector256<byte> int32Lanes) => Vector256.Sum(int32Lanes.AsInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SubBlockScales(int* perSubBlock) => Vector256.Create(*perSubBlock).AsByte();

    /// <summary>One broadcast load of both words and a vpshufb that spreads each over its 128-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SixteenScales(short* perSixteen) => Avx2.Shuffle(Vector256.Create(*(uint*)perSixteen).AsByte(),
        Vector256.Create((byte)0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3));
}
