using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Suiron.Kernels;

/// <summary>
/// The operations the IQ4 grid dot (<see cref="IQ4XSDot{TOps, TGridOps, TVector, TLanes}"/>) needs beyond
/// <see cref="ISimdOps{TVector, TLanes}"/>, for the 256-bit width (<see cref="Avx2GridOps"/>) and the 512-bit one
/// (<see cref="Avx512GridOps"/> and its twin <see cref="Avx512TwinGridOps"/>). A vector covers one 32-element run of
/// a block (256 bits) or two (512 bits), 16 packed bytes per run: low nibbles elements 0..15, high nibbles 16..31.
/// </summary>
internal unsafe interface INibbleGridOps<TVector> where TVector : struct
{
    /// <summary>Whether this CPU runs these operations.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>The 16 table bytes in every 128-bit lane.</summary>
    static abstract TVector Table(Vector128<sbyte> table);

    /// <summary>The table's entries for the nibbles of the runs at <paramref name="packed"/>, in element order (vpshufb).</summary>
    static abstract TVector LookUp(TVector table, byte* packed);

    /// <summary>|x| as unsigned bytes.</summary>
    static abstract TVector Abs(TVector signedBytes);

    /// <summary>
    /// The bytes of <paramref name="value"/> negated (two's complement) where <paramref name="sign"/>'s are negative, the
    /// rest unchanged: vpsignb for a sign that is never zero (no grid entry is).
    /// </summary>
    static abstract TVector NegateWhereNegative(TVector value, TVector sign);

    /// <summary>The word scales of the vector's runs: run k's int32 <paramref name="perRun"/>[<paramref name="first"/> + k] over its 32 bytes.</summary>
    static abstract TVector RunScales(int* perRun, int first);
}

/// <summary>The AVX2 operations.</summary>
internal readonly unsafe struct Avx2GridOps : INibbleGridOps<Vector256<byte>>
{
    public static bool IsSupported => Avx2Ops.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Table(Vector128<sbyte> table) => Vector256.Create(table, table).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> LookUp(Vector256<byte> table, byte* packed) => Avx2.Shuffle(table, Avx2Dot.BroadcastNibbles32(packed));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Abs(Vector256<byte> signedBytes) => Avx2.Abs(signedBytes.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> NegateWhereNegative(Vector256<byte> value, Vector256<byte> sign) => Avx2.Sign(value.AsSByte(), sign.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> RunScales(int* perRun, int first) => Vector256.Create(perRun[first]).AsByte();
}

/// <summary>The AVX-512 (F, BW) operations: two runs per vector.</summary>
internal readonly unsafe struct Avx512GridOps : INibbleGridOps<Vector512<byte>>
{
    public static bool IsSupported => Avx512Ops.IsSupported && Avx2Ops.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Table(Vector128<sbyte> table) => Vector512.Create(Vector256.Create(table, table), Vector256.Create(table, table)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LookUp(Vector512<byte> table, byte* packed) =>
        Avx512BW.Shuffle(table, Avx512Ops.Combine(Avx2Dot.BroadcastNibbles32(packed), Avx2Dot.BroadcastNibbles32(packed + 16)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Abs(Vector512<byte> signedBytes) => Avx512Ops.Abs(signedBytes.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> NegateWhereNegative(Vector512<byte> value, Vector512<byte> sign) =>
        Avx512Ops.NegateWhereNegative(value.AsSByte(), sign.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> RunScales(int* perRun, int first) =>
        Avx512Ops.Combine(Vector256.Create(perRun[first]).AsByte(), Vector256.Create(perRun[first + 1]).AsByte());
}

/// <summary>The software twin of <see cref="Avx512GridOps"/>: each operation on the two 256-bit halves with AVX2.</summary>
internal readonly unsafe struct Avx512TwinGridOps : INibbleGridOps<Vector512<byte>>
{
    public static bool IsSupported => Avx2Ops.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Table(Vector128<sbyte> table) => Vector512.Create(Vector256.Create(table, table), Vector256.Create(table, table)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> LookUp(Vector512<byte> table, byte* packed) =>
        Avx512TwinOps.ShuffleWithinLanes(table, Vector512.Create(Avx2Dot.BroadcastNibbles32(packed), Avx2Dot.BroadcastNibbles32(packed + 16)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Abs(Vector512<byte> signedBytes) => Avx512TwinOps.Abs(signedBytes.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> NegateWhereNegative(Vector512<byte> value, Vector512<byte> sign) =>
        Avx512TwinOps.NegateWhereNegative(value.AsSByte(), sign.AsSByte()).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> RunScales(int* perRun, int first) =>
        Vector512.Create(Vector256.Create(perRun[first]).AsByte(), Vector256.Create(perRun[first + 1]).AsByte());
}
