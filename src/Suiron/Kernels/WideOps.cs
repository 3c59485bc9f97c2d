using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Suiron.Kernels;

/// <summary>
/// The operations of the 512-bit kernels (<see cref="WideDot"/>, the wide GEMM micro-kernels) that Vector512 has no
/// cross-platform form for. A kernel is generic over the struct that implements them, so its logic is written once and
/// the JIT specialises it per struct: <see cref="Avx512Ops"/> runs it on the CPU's AVX-512BW instructions,
/// <see cref="Avx512TwinOps"/> builds every operation from two AVX2 halves with the same lane semantics, so that every
/// 512-bit kernel runs in the tests on an AVX2-only machine too and agrees bit for bit with the hardware one.
/// Everything else the kernels do (loads, adds, ands, shifts by a constant, int → float, FMA, halves) is Vector512's
/// own, which the runtime accelerates on AVX-512 and carries out half by half elsewhere, exactly rounded either way.
/// All byte and word operations act within 128-bit lanes, as their AVX2 forms do.
/// </summary>
internal unsafe interface IWideOps
{
    /// <summary>Whether this CPU runs these operations.</summary>
    static abstract bool IsSupported { get; }

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
}

/// <summary>
/// The software twin of <see cref="Avx512Ops"/>: each operation on the two 256-bit halves with AVX2, lane for lane what
/// the 512-bit instruction does (the tests check that, operation by operation, where the CPU has AVX-512).
/// </summary>
internal readonly unsafe struct Avx512TwinOps : IWideOps
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

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
}
