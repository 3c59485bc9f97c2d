using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Suiron.Kernels;

// CA1857: shift counts are parameters that every caller passes as constants (immediate shifts after inlining).
#pragma warning disable CA1857

/// <summary>
/// The 512-bit member of <see cref="ISimdOps{TVector, TLanes}"/> (what the width-generic decode kernels run on), plus the
/// typed operations of the 512-bit-only kernels (the wide GEMM micro-kernels) that Vector512 has
/// no cross-platform form for. A kernel is generic over the struct that implements them, so its logic is written once and
/// the JIT specialises it per struct: <see cref="Avx512Ops"/> runs it on the CPU's AVX-512BW instructions,
/// <see cref="Avx512TwinOps"/> builds every operation from two AVX2 halves with the same lane semantics, so that every
/// 512-bit kernel runs in the tests on an AVX2-only machine too and agrees bit for bit with the hardware one.
/// Everything else the kernels do (loads, adds, ands, shifts by a constant, int → float, FMA, halves) is Vector512's
/// own, which the runtime accelerates on AVX-512 and carries out half by half elsewhere, exactly rounded either way.
/// All byte and word operations act within 128-bit lanes, as their AVX2 forms do.
/// </summary>
internal unsafe interface IWideOps : ISimdOps<Vector512<byte>, Vector256<byte>>
{
    /// <summary>vpmaddubsw: unsigned × signed bytes, adjacent products summed to int16 with signed saturation.</summary>
    static abstract Vector512<short> MultiplyAddAdjacent(Vector512<byte> unsigned, Vector512<sbyte> signed);

    /// <summary>vpmaddwd: int16 × int16, adjacent products summed to int32.</summary>
    static abstract Vector512<int> MultiplyAddAdjacent(Vector512<short> left, Vector512<short> right);

    /// <summary>vpabsb: |x| as unsigned bytes (|−128| = 128).</summary>
    static abstract Vector512<byte> Abs(Vector512<sbyte> x);

    /// <summary>y with the bytes where <paramref name="sign"/> is negative negated (two's complement, so −(−128) = −128); the rest unchanged.</summary>
    static abstract Vector512<sbyte> NegateWhereNegative(Vector512<sbyte> y, Vector512<sbyte> sign);

    /// <summary>vpshufb: each byte takes the byte of its own 128-bit lane that the low four bits of its index name, 0 where the index's top bit is set.</summary>
    static abstract Vector512<byte> ShuffleWithinLanes(Vector512<byte> value, Vector512<byte> indices);

    /// <summary>vpsrlvd: each 32-bit element shifted right logically by its own count (≥ 32 gives 0).</summary>
    static abstract Vector512<uint> ShiftRightLogicalVariable(Vector512<uint> value, Vector512<uint> counts);

    /// <summary>vpsllvd: each 32-bit element shifted left by its own count (≥ 32 gives 0).</summary>
    static abstract Vector512<uint> ShiftLeftLogicalVariable(Vector512<uint> value, Vector512<uint> counts);

    /// <summary>vpermps: float i of the result is float indices[i] &amp; 15 of <paramref name="value"/>, across the whole register.</summary>
    static abstract Vector512<float> PermuteFloats(Vector512<float> value, Vector512<int> indices);

    /// <summary>vbroadcasti64x4: the 32 bytes at <paramref name="address"/> in both 256-bit halves.</summary>
    static abstract Vector512<byte> BroadcastVector256(byte* address);

    /// <summary>vpmovsxwd: sixteen int16 at <paramref name="address"/> sign-extended to int32.</summary>
    static abstract Vector512<int> WidenInt16(short* address);

    /// <summary>The two halves in one register (one vinserti64x4 that depends on nothing but its inputs).</summary>
    static abstract Vector512<byte> Combine(Vector256<byte> lower, Vector256<byte> upper);
}

/// <summary>The AVX-512 (F, BW) instructions themselves.</summary>
internal readonly unsafe struct Avx512Ops : IWideOps
{
    public static bool IsSupported => Avx512F.IsSupported && Avx512BW.IsSupported;

    public static int VectorBytes => 64;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Load(void* address) => Avx512F.LoadVector512((byte*)address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LoadFromRun(byte* run, int offset)
    {
        Vector256<byte> half = Avx.LoadVector256(run + offset);
        return Avx512F.InsertVector256(half.ToVector512Unsafe(), half, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Create(byte value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> And(Vector512<byte> left, Vector512<byte> right) => Avx512F.And(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Or(Vector512<byte> left, Vector512<byte> right) => Avx512F.Or(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> ShiftPerRun(Vector512<byte> value, int first, int step) =>
        step == 0 ? ShiftUniform(value, first)
        : first >= 0 ? Avx512F.ShiftRightLogicalVariable(value.AsUInt32(), WideOpsConstants.RunCounts((uint)first, (uint)(first + step))).AsByte()
        : Avx512F.ShiftLeftLogicalVariable(value.AsUInt32(), WideOpsConstants.RunCounts((uint)-first, (uint)-(first + step))).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> ShiftUniform(Vector512<byte> value, int count) =>
        count == 0 ? value
        : count > 0 ? Avx512F.ShiftRightLogical(value.AsUInt32(), (byte)count).AsByte() : Avx512F.ShiftLeftLogical(value.AsUInt32(), (byte)-count).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> ScaledDot(Vector512<byte> unsignedBytes, Vector512<byte> signedBytes, Vector512<byte> wordScales) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()), wordScales.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> AddInt32(Vector512<byte> left, Vector512<byte> right) => Avx512F.Add(left.AsInt32(), right.AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> RepeatHalf(Vector128<sbyte> bytes, int half)
    {
        Vector256<byte> words = Avx2Ops.RepeatHalf(bytes, half);
        return Combine(words, words);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GroupScales(Vector512<byte> repeatedWords, int firstElement, int groupElements) =>
        Avx512BW.Shuffle(repeatedWords, WideOpsConstants.GroupScaleMask(firstElement, groupElements));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> RunLanes(Vector512<byte> sum, Vector512<byte> secondHalfSum) => Avx2.Add(sum.GetLower().AsInt32(), sum.GetUpper().AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAddBytes(short* words, Vector128<sbyte> bytes) => Avx2Ops.MultiplyAddBytes(words, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SubtractInt32(Vector256<byte> left, Vector256<byte> right) => Avx2Ops.SubtractInt32(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> ShiftLeftInt32(Vector256<byte> value, int count) => Avx2Ops.ShiftLeftInt32(value, count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAdd(float scale, Vector256<byte> int32Lanes, Vector256<byte> floatAccumulator) =>
        Avx2Ops.MultiplyAdd(scale, int32Lanes, floatAccumulator);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<byte> floats) => Avx2Ops.Sum(floats);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> MultiplyAddAdjacent(Vector512<byte> unsigned, Vector512<sbyte> signed) => Avx512BW.MultiplyAddAdjacent(unsigned, signed);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MultiplyAddAdjacent(Vector512<short> left, Vector512<short> right) => Avx512BW.MultiplyAddAdjacent(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Abs(Vector512<sbyte> x) => Avx512BW.Abs(x);

    /// <summary>AVX-512 has no vpsignb: a compare into a mask register and a masked subtract from zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> NegateWhereNegative(Vector512<sbyte> y, Vector512<sbyte> sign) =>
        Vector512.ConditionalSelect(Vector512.LessThan(sign, Vector512<sbyte>.Zero), Vector512<sbyte>.Zero - y, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> ShuffleWithinLanes(Vector512<byte> value, Vector512<byte> indices) => Avx512BW.Shuffle(value, indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> ShiftRightLogicalVariable(Vector512<uint> value, Vector512<uint> counts) =>
        Avx512F.ShiftRightLogicalVariable(value, counts);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> ShiftLeftLogicalVariable(Vector512<uint> value, Vector512<uint> counts) =>
        Avx512F.ShiftLeftLogicalVariable(value, counts);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> PermuteFloats(Vector512<float> value, Vector512<int> indices) => Avx512F.PermuteVar16x32(value, indices);

    /// <summary>
    /// A 256-bit load put in both halves by <see cref="Combine"/>. Not Avx512F.BroadcastVector256ToVector512: inside the
    /// kernels, .NET 10's JIT gave wrong results with it (the decode kernels disagreed with the twin while the operation
    /// alone agreed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> BroadcastVector256(byte* address)
    {
        Vector256<byte> half = Avx.LoadVector256(address);
        return Combine(half, half);
    }

    /// <summary>
    /// Not Vector512.Create(lower, upper): .NET 10 lowers that to two inserts into the destination's old value, a false
    /// dependency that chained each loop iteration to the one before (the decode kernels ran ~20% slower than AVX2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Combine(Vector256<byte> lower, Vector256<byte> upper) =>
        Avx512F.InsertVector256(lower.ToVector512Unsafe(), upper, 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> WidenInt16(short* address) => Avx512F.ConvertToVector512Int32(Avx.LoadVector256(address));

    // ---- The block-32 family ----

    /// <summary>One vinserti64x4 with a memory operand on a 256-bit load.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LoadRuns(byte* first, byte* second, int half) => Combine(Avx.LoadVector256(first), Avx.LoadVector256(second));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Nibbles(byte* first, byte* second, int half) => Combine(Avx2Dot.BroadcastNibbles32(first), Avx2Dot.BroadcastNibbles32(second));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> BitsToBytes(uint first, uint second, int half) => Combine(Avx2Dot.BitsToBytes(first), Avx2Dot.BitsToBytes(second));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> RepeatLanes(Vector128<byte> bytes)
    {
        Vector256<byte> half = Vector256.Create(bytes, bytes);
        return Combine(half, half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LookUp(Vector512<byte> table, Vector512<byte> indices) => Avx512BW.Shuffle(table, indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SubtractBytes(Vector512<byte> left, Vector512<byte> right) => Avx512BW.Subtract(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SubtractInt16(Vector512<byte> left, Vector512<byte> right) => Avx512BW.Subtract(left.AsInt16(), right.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> MultiplyAddPairs(Vector512<byte> unsignedBytes, Vector512<byte> signedBytes) =>
        Avx512BW.MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SumPairs(Vector512<byte> words) => Avx512BW.MultiplyAddAdjacent(words.AsInt16(), Vector512.Create((short)1)).AsByte();

    /// <summary>|x| × (y negated where x is negative): vpsignb's products wherever x ≠ 0, and 0 = |x| × y where x = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SignedDot(Vector512<byte> x, Vector512<byte> y) =>
        SumPairs(Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(x.AsSByte()), NegateWhereNegative(y.AsSByte(), x.AsSByte())).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BlockLanes(Vector512<byte> sum, Vector512<byte> secondHalfSum, int block) => block == 0 ? sum.GetLower() : sum.GetUpper();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* address, Vector512<byte> value) => Avx512F.Store((byte*)address, value);

    // ---- ternary family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> AddBytes(Vector512<byte> left, Vector512<byte> right) => Avx512BW.Add(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> AddInt16(Vector512<byte> left, Vector512<byte> right) => Avx512BW.Add(left.AsInt16(), right.AsInt16()).AsByte();

    /// <summary>vpcmpgtb into a mask register and a masked add (a subtract of the expanded mask would take a vpmovm2b more).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> IncrementWhereGreater(Vector512<byte> counts, Vector512<byte> value, Vector512<byte> threshold) =>
        Vector512.ConditionalSelect(Avx512BW.CompareGreaterThan(value.AsSByte(), threshold.AsSByte()).AsByte(), Avx512BW.Add(counts, Vector512<byte>.One), counts);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> FromLanes(Vector128<byte> lower, Vector128<byte> upper, Vector128<byte> secondLower, Vector128<byte> secondUpper, int half) =>
        Combine(Vector256.Create(lower, upper), Vector256.Create(secondLower, secondUpper));

    /// <summary>vpmaddwd with ones, then <see cref="Avx2Ops.SumsOfFour"/> of the four 256-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> BlockSums(Vector512<byte> firstWords, Vector512<byte> secondWords)
    {
        Vector512<short> ones = Vector512.Create((short)1);
        Vector512<int> first = Avx512BW.MultiplyAddAdjacent(firstWords.AsInt16(), ones), second = Avx512BW.MultiplyAddAdjacent(secondWords.AsInt16(), ones);
        return Avx2Ops.SumsOfFour(first.GetLower(), first.GetUpper(), second.GetLower(), second.GetUpper());
    }

    // ---- lattice family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GridPoints(ulong* grid, ushort* indices) =>
        Combine(Avx2Ops.GridPoints(grid, indices), Avx2Ops.GridPoints(grid, indices + 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GridPoints(uint* grid, ushort* indices) =>
        Combine(Avx2Ops.GridPoints(grid, indices), Avx2Ops.GridPoints(grid, indices + 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GridPoints(uint* grid, byte* indices) =>
        Combine(Avx2Ops.GridPoints(grid, indices), Avx2Ops.GridPoints(grid, indices + 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> NegativeMask(uint* signs, int half) => Combine(Avx2Ops.NegativeMask(signs, 0), Avx2Ops.NegativeMask(signs + 1, 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> NegateWhere(Vector512<byte> bytes, Vector512<byte> negative) =>
        Avx512BW.Subtract(Avx512F.Xor(bytes, negative), negative);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IntegerSum(Vector256<byte> int32Lanes) => Avx2Ops.IntegerSum(int32Lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SubBlockScales(int* perSubBlock) => Combine(Avx2Ops.SubBlockScales(perSubBlock), Avx2Ops.SubBlockScales(perSubBlock + 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SixteenScales(short* perSixteen) => Combine(Avx2Ops.SixteenScales(perSixteen), Avx2Ops.SixteenScales(perSixteen + 2));
}

/// <summary>
/// The software twin of <see cref="Avx512Ops"/>: each operation on the two 256-bit halves with AVX2, lane for lane what
/// the 512-bit instruction does (the tests check that, operation by operation, where the CPU has AVX-512).
/// </summary>
internal readonly unsafe struct Avx512TwinOps : IWideOps
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    public static int VectorBytes => 64;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Load(void* address) => Vector512.Load((byte*)address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LoadFromRun(byte* run, int offset) => BroadcastVector256(run + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Create(byte value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> And(Vector512<byte> left, Vector512<byte> right) => left & right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Or(Vector512<byte> left, Vector512<byte> right) => left | right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> ShiftPerRun(Vector512<byte> value, int first, int step) =>
        step == 0 ? ShiftUniform(value, first)
        : first >= 0 ? ShiftRightLogicalVariable(value.AsUInt32(), WideOpsConstants.RunCounts((uint)first, (uint)(first + step))).AsByte()
        : ShiftLeftLogicalVariable(value.AsUInt32(), WideOpsConstants.RunCounts((uint)-first, (uint)-(first + step))).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> ShiftUniform(Vector512<byte> value, int count) =>
        count == 0 ? value
        : count > 0 ? Vector512.ShiftRightLogical(value.AsUInt32(), count).AsByte() : Vector512.ShiftLeft(value.AsUInt32(), -count).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> ScaledDot(Vector512<byte> unsignedBytes, Vector512<byte> signedBytes, Vector512<byte> wordScales) =>
        MultiplyAddAdjacent(MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()), wordScales.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> AddInt32(Vector512<byte> left, Vector512<byte> right) => (left.AsInt32() + right.AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> RepeatHalf(Vector128<sbyte> bytes, int half)
    {
        Vector256<byte> words = Avx2Ops.RepeatHalf(bytes, half);
        return Combine(words, words);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GroupScales(Vector512<byte> repeatedWords, int firstElement, int groupElements) =>
        ShuffleWithinLanes(repeatedWords, WideOpsConstants.GroupScaleMask(firstElement, groupElements));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> RunLanes(Vector512<byte> sum, Vector512<byte> secondHalfSum) => (sum.GetLower().AsInt32() + sum.GetUpper().AsInt32()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAddBytes(short* words, Vector128<sbyte> bytes) => Avx2Ops.MultiplyAddBytes(words, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> SubtractInt32(Vector256<byte> left, Vector256<byte> right) => Avx2Ops.SubtractInt32(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> ShiftLeftInt32(Vector256<byte> value, int count) => Avx2Ops.ShiftLeftInt32(value, count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> MultiplyAdd(float scale, Vector256<byte> int32Lanes, Vector256<byte> floatAccumulator) =>
        Avx2Ops.MultiplyAdd(scale, int32Lanes, floatAccumulator);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<byte> floats) => Avx2Ops.Sum(floats);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> MultiplyAddAdjacent(Vector512<byte> unsigned, Vector512<sbyte> signed) => Vector512.Create(
        Avx2.MultiplyAddAdjacent(unsigned.GetLower(), signed.GetLower()), Avx2.MultiplyAddAdjacent(unsigned.GetUpper(), signed.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MultiplyAddAdjacent(Vector512<short> left, Vector512<short> right) => Vector512.Create(
        Avx2.MultiplyAddAdjacent(left.GetLower(), right.GetLower()), Avx2.MultiplyAddAdjacent(left.GetUpper(), right.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Abs(Vector512<sbyte> x) => Vector512.Create(Avx2.Abs(x.GetLower()), Avx2.Abs(x.GetUpper()));

    /// <summary>vpsignb negates where the sign is negative and zeroes where it is zero; sign | 1 is never zero and keeps the sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> NegateWhereNegative(Vector512<sbyte> y, Vector512<sbyte> sign)
    {
        Vector256<sbyte> one = Vector256.Create((sbyte)1);
        return Vector512.Create(Avx2.Sign(y.GetLower(), sign.GetLower() | one), Avx2.Sign(y.GetUpper(), sign.GetUpper() | one));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> ShuffleWithinLanes(Vector512<byte> value, Vector512<byte> indices) => Vector512.Create(
        Avx2.Shuffle(value.GetLower(), indices.GetLower()), Avx2.Shuffle(value.GetUpper(), indices.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> ShiftRightLogicalVariable(Vector512<uint> value, Vector512<uint> counts) => Vector512.Create(
        Avx2.ShiftRightLogicalVariable(value.GetLower(), counts.GetLower()), Avx2.ShiftRightLogicalVariable(value.GetUpper(), counts.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> ShiftLeftLogicalVariable(Vector512<uint> value, Vector512<uint> counts) => Vector512.Create(
        Avx2.ShiftLeftLogicalVariable(value.GetLower(), counts.GetLower()), Avx2.ShiftLeftLogicalVariable(value.GetUpper(), counts.GetUpper()));

    /// <summary>Each half through vpermps on both source halves, then a blend on bit 3 of the index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> PermuteFloats(Vector512<float> value, Vector512<int> indices) =>
        Vector512.Create(PermuteHalf(value, indices.GetLower()), PermuteHalf(value, indices.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> PermuteHalf(Vector512<float> value, Vector256<int> indices)
    {
        Vector256<float> fromLower = Avx2.PermuteVar8x32(value.GetLower(), indices), fromUpper = Avx2.PermuteVar8x32(value.GetUpper(), indices);
        Vector256<int> upper = Vector256.Equals(indices & Vector256.Create(8), Vector256.Create(8));
        return Vector256.ConditionalSelect(upper.AsSingle(), fromUpper, fromLower);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> BroadcastVector256(byte* address)
    {
        Vector256<byte> half = Avx.LoadVector256(address);
        return Vector512.Create(half, half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> WidenInt16(short* address) =>
        Vector512.Create(Avx2.ConvertToVector256Int32(address), Avx2.ConvertToVector256Int32(address + 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Combine(Vector256<byte> lower, Vector256<byte> upper) => Vector512.Create(lower, upper);

    // ---- The block-32 family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LoadRuns(byte* first, byte* second, int half) => Combine(Avx.LoadVector256(first), Avx.LoadVector256(second));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Nibbles(byte* first, byte* second, int half) => Combine(Avx2Dot.BroadcastNibbles32(first), Avx2Dot.BroadcastNibbles32(second));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> BitsToBytes(uint first, uint second, int half) => Combine(Avx2Dot.BitsToBytes(first), Avx2Dot.BitsToBytes(second));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> RepeatLanes(Vector128<byte> bytes)
    {
        Vector256<byte> half = Vector256.Create(bytes, bytes);
        return Vector512.Create(half, half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LookUp(Vector512<byte> table, Vector512<byte> indices) => ShuffleWithinLanes(table, indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SubtractBytes(Vector512<byte> left, Vector512<byte> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SubtractInt16(Vector512<byte> left, Vector512<byte> right) => (left.AsInt16() - right.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> MultiplyAddPairs(Vector512<byte> unsignedBytes, Vector512<byte> signedBytes) =>
        MultiplyAddAdjacent(unsignedBytes, signedBytes.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SumPairs(Vector512<byte> words) => MultiplyAddAdjacent(words.AsInt16(), Vector512.Create((short)1)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SignedDot(Vector512<byte> x, Vector512<byte> y) =>
        SumPairs(MultiplyAddAdjacent(Abs(x.AsSByte()), NegateWhereNegative(y.AsSByte(), x.AsSByte())).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BlockLanes(Vector512<byte> sum, Vector512<byte> secondHalfSum, int block) => block == 0 ? sum.GetLower() : sum.GetUpper();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* address, Vector512<byte> value) => value.Store((byte*)address);

    // ---- ternary family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> AddBytes(Vector512<byte> left, Vector512<byte> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> AddInt16(Vector512<byte> left, Vector512<byte> right) => (left.AsInt16() + right.AsInt16()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> IncrementWhereGreater(Vector512<byte> counts, Vector512<byte> value, Vector512<byte> threshold) => Vector512.Create(
        Avx2Ops.IncrementWhereGreater(counts.GetLower(), value.GetLower(), threshold.GetLower()),
        Avx2Ops.IncrementWhereGreater(counts.GetUpper(), value.GetUpper(), threshold.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> FromLanes(Vector128<byte> lower, Vector128<byte> upper, Vector128<byte> secondLower, Vector128<byte> secondUpper, int half) =>
        Vector512.Create(Vector256.Create(lower, upper), Vector256.Create(secondLower, secondUpper));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> BlockSums(Vector512<byte> firstWords, Vector512<byte> secondWords)
    {
        Vector512<short> ones = Vector512.Create((short)1);
        Vector512<int> first = MultiplyAddAdjacent(firstWords.AsInt16(), ones), second = MultiplyAddAdjacent(secondWords.AsInt16(), ones);
        return Avx2Ops.SumsOfFour(first.GetLower(), first.GetUpper(), second.GetLower(), second.GetUpper());
    }

    // ---- lattice family ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GridPoints(ulong* grid, ushort* indices) =>
        Vector512.Create(Avx2Ops.GridPoints(grid, indices), Avx2Ops.GridPoints(grid, indices + 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GridPoints(uint* grid, ushort* indices) =>
        Vector512.Create(Avx2Ops.GridPoints(grid, indices), Avx2Ops.GridPoints(grid, indices + 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GridPoints(uint* grid, byte* indices) =>
        Vector512.Create(Avx2Ops.GridPoints(grid, indices), Avx2Ops.GridPoints(grid, indices + 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> NegativeMask(uint* signs, int half) => Vector512.Create(Avx2Ops.NegativeMask(signs, 0), Avx2Ops.NegativeMask(signs + 1, 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> NegateWhere(Vector512<byte> bytes, Vector512<byte> negative) => (bytes ^ negative) - negative;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IntegerSum(Vector256<byte> int32Lanes) => Vector256.Sum(int32Lanes.AsInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SubBlockScales(int* perSubBlock) => Vector512.Create(Avx2Ops.SubBlockScales(perSubBlock), Avx2Ops.SubBlockScales(perSubBlock + 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> SixteenScales(short* perSixteen) => Vector512.Create(Avx2Ops.SixteenScales(perSixteen), Avx2Ops.SixteenScales(perSixteen + 2));
}

/// <summary>
/// The constant vectors of the 512-bit operations, as tables in the image: the JIT builds Vector512.Create of constant
/// halves anew on every use instead of folding it, and a Create of every element makes each inlined use large enough
/// to exhaust the kernels' inlining budget.
/// </summary>
internal static unsafe class WideOpsConstants
{

    /// <summary>vpsrlvd/vpsllvd counts: <paramref name="lower"/> (0..7) in the low 256-bit half, <paramref name="upper"/> in the high one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> RunCounts(uint lower, uint upper) => Vector512.Load((uint*)(RunCountTableAddress + 64 * (8 * lower + upper)));

    /// <summary>
    /// The vpshufb mask of <see cref="ISimdOps{TVector, TLanes}.GroupScales"/>: 128-bit lane k broadcasts int16 word
    /// (firstElement + 16k) / groupElements (16 or 32; words 0..7).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> GroupScaleMask(int firstElement, int groupElements) =>
        Vector512.Load(GroupScaleTableAddress + 64 * ((groupElements == 32 ? 8 : 0) + firstElement / groupElements));

    /// <summary>
    /// Whether the tables' addresses are set; <see cref="DotKernels"/> reads it when it initialises, so that every kernel
    /// is compiled after this class, with the addresses as constants (otherwise the JIT checks the class's initialisation
    /// inside the loops).
    /// </summary>
    public static readonly bool Initialized = true;

    // The tables live in the image's read-only data, which never moves; a plain address keeps each inlined use small
    // enough that the two-row kernels stay within the JIT's inlining budget.
    private static readonly byte* RunCountTableAddress = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(RunCountTable));
    private static readonly byte* GroupScaleTableAddress = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(GroupScaleTable));

    /// <summary>Entry 8a + b: sixteen uint32, a in the first eight, b in the last.</summary>
    private static ReadOnlySpan<byte> RunCountTable =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0, 6, 0, 0, 0,
        7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0,
    ];

    /// <summary>Entries 0..7: 16-element groups from word w (lane k: word w + k); 8..15: 32-element groups (lane k: word w + k / 2).</summary>
    private static ReadOnlySpan<byte> GroupScaleTable =>
    [
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
        2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9,
        4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
        6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
        8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
        10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
        12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
        14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5,
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
        2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5,
        4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
        6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9,
        8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
        10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
        12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
        14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
    ];
}
