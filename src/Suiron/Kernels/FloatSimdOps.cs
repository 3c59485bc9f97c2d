using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Suiron.Kernels;

/// <summary>
/// The few operations the float decode dots (<see cref="FloatDot{TOps, TFloats, THalves}"/>: F32, F16, BF16) are written
/// in, per vector width, so that each dot's logic exists once and the JIT specialises it per struct:
/// <see cref="Vector128FloatOps"/> (SSE on x86, NEON on ARM64), <see cref="Avx2FloatOps"/>, <see cref="Avx512FloatOps"/>
/// and its software twin <see cref="Avx512TwinFloatOps"/>.
/// <para>
/// <typeparamref name="TFloats"/> holds the sixteen float lanes of one 16-element step at every width (four 128-bit
/// vectors, two 256-bit ones, one 512-bit one): lanes 0..7 are the AVX2 kernels' first accumulator, lanes 8..15 their
/// second, and <see cref="Sum"/> reduces them in the order of <c>Vector256.Sum(acc0 + acc1)</c>, which the GEMM repeats.
/// So every width does the same float operations on the same values in the same order, and gives the same bits.
/// <typeparamref name="THalves"/> holds the running maximum of F16 weight magnitudes (the rebiased F16 dot's check for
/// infinities and NaNs).
/// </para>
/// Counts are 16 or 8 and callers pass constants; with 8, lanes 8..15 of a load are unspecified and only a multiply-add
/// of count 8 may consume it.
/// </summary>
internal unsafe interface IFloatSimdOps<TFloats, THalves> where TFloats : struct where THalves : struct
{
    /// <summary>Whether this CPU runs these operations.</summary>
    static abstract bool IsSupported { get; }

    static abstract TFloats LoadSingles(float* address, int count);

    /// <summary>Halves converted exactly (subnormals, infinities and NaNs included).</summary>
    static abstract TFloats WidenHalves(ushort* address, int count);

    /// <summary>BF16 values, which are the top halves of their floats.</summary>
    static abstract TFloats WidenBFloat16(ushort* address, int count);

    /// <summary>
    /// Halves with their magnitude bits shifted into float position and the sign kept: h·2^-112, exactly, for every finite
    /// half (see <see cref="FloatDot{TOps, TFloats, THalves}.F16xRebiasedF32"/>); exponent-31 halves become finite
    /// garbage. <paramref name="keptBits"/> is <see cref="ShiftedHalfBits"/>.
    /// </summary>
    static abstract TFloats ShiftHalves(ushort* address, int count, TFloats keptBits);

    /// <summary>
    /// 0x8FFFE000 in every lane: the bits a half sign-extended and shifted left by 13 keeps. The kernels make this and
    /// <see cref="MagnitudeBits"/> before their loops and pass them in: made inside, the JIT reloaded them on every iteration.
    /// </summary>
    static abstract TFloats ShiftedHalfBits { get; }

    /// <summary>0x7FFF in every lane: a half's magnitude bits.</summary>
    static abstract THalves MagnitudeBits { get; }

    static abstract TFloats Multiply(TFloats left, float right);

    /// <summary>
    /// accumulator += left·right lane by lane, fused where the CPU has FMA (everywhere but x86 before Haswell): all sixteen
    /// lanes (count 16), or lanes 0..7 (count 8: an 8-element remainder; lanes 8..15 kept). The accumulator is updated in
    /// place: returned as a new value, the JIT computed each FMA into a fresh register and moved it back.
    /// </summary>
    static abstract void MultiplyAdd(ref TFloats accumulator, TFloats left, TFloats right, int count);

    /// <summary><see cref="MultiplyAdd(ref TFloats, TFloats, TFloats, int)"/> with the floats at <paramref name="right"/>, loaded inside the operation so that the load becomes the FMA's memory operand.</summary>
    static abstract void MultiplyAdd(ref TFloats accumulator, TFloats left, float* right, int count);

    /// <summary>
    /// s = lanes 0..7 + lanes 8..15, then ((s0+s1)+(s2+s3)) + ((s4+s5)+(s6+s7)): <c>Vector256.Sum(acc0 + acc1)</c>.
    /// </summary>
    static abstract float Sum(TFloats floats);

    /// <summary>The lane-wise maximum of <paramref name="max"/> and the magnitude bits (h &amp; <see cref="MagnitudeBits"/>) of the halves at the address.</summary>
    static abstract THalves MaxMagnitude(THalves max, ushort* address, int count, THalves magnitudeBits);

    /// <summary>Whether a lane of <see cref="MaxMagnitude"/>'s maximum is 0x7C00 or above: an infinity or a NaN.</summary>
    static abstract bool HasExponent31(THalves max);
}

/// <summary>Sixteen float lanes as four 128-bit vectors: <see cref="Vector128FloatOps"/>' <c>TFloats</c>.</summary>
internal struct Vector128x4
{
    public Vector128<float> V0, V1, V2, V3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128x4(Vector128<float> v0, Vector128<float> v1, Vector128<float> v2, Vector128<float> v3)
    {
        V0 = v0;
        V1 = v1;
        V2 = v2;
        V3 = v3;
    }
}

/// <summary>Sixteen float lanes as two 256-bit vectors: <see cref="Avx2FloatOps"/>' <c>TFloats</c>.</summary>
internal struct Vector256x2
{
    public Vector256<float> Lower, Upper;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256x2(Vector256<float> lower, Vector256<float> upper)
    {
        Lower = lower;
        Upper = upper;
    }
}

/// <summary>
/// The 128-bit operations through the cross-platform Vector128 API: runs wherever Vector128 is accelerated (ARM64's
/// NEON; SSE on x86, where the tests run it).
/// </summary>
internal readonly unsafe struct Vector128FloatOps : IFloatSimdOps<Vector128x4, Vector128<ushort>>
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x4 LoadSingles(float* address, int count) => count == 16
        ? new(Vector128.Load(address), Vector128.Load(address + 4), Vector128.Load(address + 8), Vector128.Load(address + 12))
        : new(Vector128.Load(address), Vector128.Load(address + 4), default, default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x4 WidenHalves(ushort* address, int count)
    {
        (Vector128<float> v0, Vector128<float> v1) = HalfConversion.HalfToSingle128(Vector128.Load(address));
        if (count != 16) return new(v0, v1, default, default);
        (Vector128<float> v2, Vector128<float> v3) = HalfConversion.HalfToSingle128(Vector128.Load(address + 8));
        return new(v0, v1, v2, v3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x4 WidenBFloat16(ushort* address, int count)
    {
        Vector128<ushort> lower = Vector128.Load(address);
        Vector128<ushort> upper = count == 16 ? Vector128.Load(address + 8) : default;
        return new(WidenBFloat16(lower, 0), WidenBFloat16(lower, 1), WidenBFloat16(upper, 0), WidenBFloat16(upper, 1));
    }

    /// <summary>BF16 values 4·<paramref name="half"/>.. of eight as floats: on x86 one punpcklwd/punpckhwd with zeros (below each value).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> WidenBFloat16(Vector128<ushort> values, int half)
    {
        if (Sse2.IsSupported)
            return (half == 0 ? Sse2.UnpackLow(Vector128<ushort>.Zero, values) : Sse2.UnpackHigh(Vector128<ushort>.Zero, values)).AsSingle();
        return ((half == 0 ? Vector128.WidenLower(values) : Vector128.WidenUpper(values)) << 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x4 ShiftHalves(ushort* address, int count, Vector128x4 keptBits)
    {
        Vector128<short> lower = Vector128.Load((short*)address);
        Vector128<short> upper = count == 16 ? Vector128.Load((short*)address + 8) : default;
        Vector128<int> kept = keptBits.V0.AsInt32();
        return new(Shift(Vector128.WidenLower(lower), kept), Shift(Vector128.WidenUpper(lower), kept),
            Shift(Vector128.WidenLower(upper), kept), Shift(Vector128.WidenUpper(upper), kept));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Shift(Vector128<int> signExtended, Vector128<int> keptBits) => ((signExtended << 13) & keptBits).AsSingle();

    public static Vector128x4 ShiftedHalfBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            Vector128<float> bits = Vector128.Create(unchecked((int)0x8FFFE000)).AsSingle();
            return new(bits, bits, bits, bits);
        }
    }

    public static Vector128<ushort> MagnitudeBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector128.Create((ushort)0x7FFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x4 Multiply(Vector128x4 left, float right)
    {
        Vector128<float> factor = Vector128.Create(right);
        return new(left.V0 * factor, left.V1 * factor, left.V2 * factor, left.V3 * factor);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector128x4 accumulator, Vector128x4 left, Vector128x4 right, int count)
    {
        accumulator.V0 = Vector128.MultiplyAddEstimate(left.V0, right.V0, accumulator.V0);
        accumulator.V1 = Vector128.MultiplyAddEstimate(left.V1, right.V1, accumulator.V1);
        if (count != 16) return;
        accumulator.V2 = Vector128.MultiplyAddEstimate(left.V2, right.V2, accumulator.V2);
        accumulator.V3 = Vector128.MultiplyAddEstimate(left.V3, right.V3, accumulator.V3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector128x4 accumulator, Vector128x4 left, float* right, int count)
    {
        accumulator.V0 = Vector128.MultiplyAddEstimate(left.V0, Vector128.Load(right), accumulator.V0);
        accumulator.V1 = Vector128.MultiplyAddEstimate(left.V1, Vector128.Load(right + 4), accumulator.V1);
        if (count != 16) return;
        accumulator.V2 = Vector128.MultiplyAddEstimate(left.V2, Vector128.Load(right + 8), accumulator.V2);
        accumulator.V3 = Vector128.MultiplyAddEstimate(left.V3, Vector128.Load(right + 12), accumulator.V3);
    }

    /// <summary>Vector128.Sum adds (e0+e1)+(e2+e3), as the JIT emits it (shuffles and adds on x86, faddp on ARM64) and in its software form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128x4 floats) => Vector128.Sum(floats.V0 + floats.V2) + Vector128.Sum(floats.V1 + floats.V3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> MaxMagnitude(Vector128<ushort> max, ushort* address, int count, Vector128<ushort> magnitudeBits)
    {
        max = Vector128.Max(max, Vector128.Load(address) & magnitudeBits);
        return count == 16 ? Vector128.Max(max, Vector128.Load(address + 8) & magnitudeBits) : max;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasExponent31(Vector128<ushort> max) => Vector128.GreaterThanAny(max, Vector128.Create((ushort)0x7BFF));
}

/// <summary>The AVX2 + FMA operations, as the intrinsics themselves (their managed bodies stay within the JIT's inlining budget).</summary>
internal readonly unsafe struct Avx2FloatOps : IFloatSimdOps<Vector256x2, Vector256<ushort>>
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256x2 LoadSingles(float* address, int count) =>
        new(Avx.LoadVector256(address), count == 16 ? Avx.LoadVector256(address + 8) : default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256x2 WidenHalves(ushort* address, int count) => new(HalfConversion.HalfToSingleFast(Sse2.LoadVector128(address)),
        count == 16 ? HalfConversion.HalfToSingleFast(Sse2.LoadVector128(address + 8)) : default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256x2 WidenBFloat16(ushort* address, int count) =>
        new(WidenBFloat16(address), count == 16 ? WidenBFloat16(address + 8) : default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WidenBFloat16(ushort* address) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(address), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256x2 ShiftHalves(ushort* address, int count, Vector256x2 keptBits) =>
        new(ShiftHalves(address, keptBits.Lower), count == 16 ? ShiftHalves(address + 8, keptBits.Lower) : default);

    /// <summary>Eight halves shifted (vpmovsxwd from memory, vpslld, vpand).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ShiftHalves(ushort* address, Vector256<float> keptBits) =>
        Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((short*)address), 13), keptBits.AsInt32()).AsSingle();

    public static Vector256x2 ShiftedHalfBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            Vector256<float> bits = Vector256.Create(unchecked((int)0x8FFFE000)).AsSingle();
            return new(bits, bits);
        }
    }

    public static Vector256<ushort> MagnitudeBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create((ushort)0x7FFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256x2 Multiply(Vector256x2 left, float right)
    {
        Vector256<float> factor = Vector256.Create(right);
        return new(Avx.Multiply(left.Lower, factor), Avx.Multiply(left.Upper, factor));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector256x2 accumulator, Vector256x2 left, Vector256x2 right, int count)
    {
        accumulator.Lower = Fma.MultiplyAdd(left.Lower, right.Lower, accumulator.Lower);
        if (count == 16) accumulator.Upper = Fma.MultiplyAdd(left.Upper, right.Upper, accumulator.Upper);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector256x2 accumulator, Vector256x2 left, float* right, int count)
    {
        accumulator.Lower = Fma.MultiplyAdd(left.Lower, Avx.LoadVector256(right), accumulator.Lower);
        if (count == 16) accumulator.Upper = Fma.MultiplyAdd(left.Upper, Avx.LoadVector256(right + 8), accumulator.Upper);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256x2 floats) => Vector256.Sum(Avx.Add(floats.Lower, floats.Upper));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> MaxMagnitude(Vector256<ushort> max, ushort* address, int count, Vector256<ushort> magnitudeBits)
    {
        Vector256<ushort> bits = count == 16 ? Avx.LoadVector256(address) : Vector256.Create(Sse2.LoadVector128(address), Vector128<ushort>.Zero);
        return Avx2.Max(max, Avx2.And(bits, magnitudeBits));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasExponent31(Vector256<ushort> max) =>
        !Vector256.EqualsAll(Avx2.Max(max, Vector256.Create((ushort)0x7BFF)), Vector256.Create((ushort)0x7BFF));
}

/// <summary>
/// The AVX-512F operations: one 512-bit vector per step, lanes 0..7 and 8..15 the AVX2 kernels' two accumulators side by
/// side; an 8-element remainder goes into the low half, and the magnitudes stay 256 bits wide (sixteen halves a step).
/// </summary>
internal readonly unsafe struct Avx512FloatOps : IFloatSimdOps<Vector512<float>, Vector256<ushort>>
{
    public static bool IsSupported => Avx512F.IsSupported && Avx512BW.IsSupported && Avx2FloatOps.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadSingles(float* address, int count) =>
        count == 16 ? Avx512F.LoadVector512(address) : Avx.LoadVector256(address).ToVector512Unsafe();

    /// <summary>
    /// The conversion of <see cref="HalfConversion.HalfToSingleFast"/> sixteen wide; exponent-31 halves get the all-ones
    /// float exponent by an or with the shifted bits' own exponent test.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WidenHalves(ushort* address, int count)
    {
        Vector512<int> bits = ShiftedBits(address, count, Vector512.Create(unchecked((int)0x8FFFE000)));
        Vector512<float> value = Avx512F.Multiply(bits.AsSingle(), Vector512.Create(Avx2Dot.HalfRebias));
        Vector512<int> special = Vector512.Equals(Avx512F.And(bits, Vector512.Create(0x0F800000)), Vector512.Create(0x0F800000));
        return Avx512F.Or(value.AsInt32(), Avx512F.And(special, Vector512.Create(0x7F800000))).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WidenBFloat16(ushort* address, int count) => Avx512F.ShiftLeftLogical(count == 16
        ? Avx512F.ConvertToVector512UInt32(Avx.LoadVector256(address))
        : Avx2.ConvertToVector256Int32(address).AsUInt32().ToVector512Unsafe(), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ShiftHalves(ushort* address, int count, Vector512<float> keptBits) =>
        ShiftedBits(address, count, keptBits.AsInt32()).AsSingle();

    public static Vector512<float> ShiftedHalfBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(unchecked((int)0x8FFFE000)).AsSingle();
    }

    public static Vector256<ushort> MagnitudeBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx2FloatOps.MagnitudeBits;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> ShiftedBits(ushort* address, int count, Vector512<int> keptBits)
    {
        Vector512<int> widened = count == 16
            ? Avx512F.ConvertToVector512Int32(Avx.LoadVector256((short*)address))
            : Avx2.ConvertToVector256Int32((short*)address).ToVector512Unsafe();
        return Avx512F.And(Avx512F.ShiftLeftLogical(widened, 13), keptBits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, float right) => Avx512F.Multiply(left, Vector512.Create(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector512<float> accumulator, Vector512<float> left, Vector512<float> right, int count) =>
        accumulator = count == 16
            ? Avx512F.FusedMultiplyAdd(left, right, accumulator)
            : Avx512F.InsertVector256(accumulator, Fma.MultiplyAdd(left.GetLower(), right.GetLower(), accumulator.GetLower()), 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector512<float> accumulator, Vector512<float> left, float* right, int count) =>
        accumulator = count == 16
            ? Avx512F.FusedMultiplyAdd(left, Avx512F.LoadVector512(right), accumulator)
            : Avx512F.InsertVector256(accumulator, Fma.MultiplyAdd(left.GetLower(), Avx.LoadVector256(right), accumulator.GetLower()), 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> floats) => Vector256.Sum(Avx.Add(floats.GetLower(), floats.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> MaxMagnitude(Vector256<ushort> max, ushort* address, int count, Vector256<ushort> magnitudeBits) =>
        Avx2FloatOps.MaxMagnitude(max, address, count, magnitudeBits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasExponent31(Vector256<ushort> max) => Avx2FloatOps.HasExponent31(max);
}

/// <summary>
/// The software twin of <see cref="Avx512FloatOps"/>: each operation on the two 256-bit halves with AVX2, lane for lane
/// what the 512-bit instructions do (the tests check that, operation by operation, where the CPU has AVX-512).
/// </summary>
internal readonly unsafe struct Avx512TwinFloatOps : IFloatSimdOps<Vector512<float>, Vector256<ushort>>
{
    public static bool IsSupported => Avx2FloatOps.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadSingles(float* address, int count) => Twin(Avx2FloatOps.LoadSingles(address, count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WidenHalves(ushort* address, int count) => Twin(Avx2FloatOps.WidenHalves(address, count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WidenBFloat16(ushort* address, int count) => Twin(Avx2FloatOps.WidenBFloat16(address, count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ShiftHalves(ushort* address, int count, Vector512<float> keptBits) =>
        Twin(Avx2FloatOps.ShiftHalves(address, count, Halves(keptBits)));

    public static Vector512<float> ShiftedHalfBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Twin(Avx2FloatOps.ShiftedHalfBits);
    }

    public static Vector256<ushort> MagnitudeBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx2FloatOps.MagnitudeBits;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, float right) => Twin(Avx2FloatOps.Multiply(Halves(left), right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector512<float> accumulator, Vector512<float> left, Vector512<float> right, int count)
    {
        Vector256x2 halves = Halves(accumulator);
        Avx2FloatOps.MultiplyAdd(ref halves, Halves(left), Halves(right), count);
        accumulator = Twin(halves);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(ref Vector512<float> accumulator, Vector512<float> left, float* right, int count)
    {
        Vector256x2 halves = Halves(accumulator);
        Avx2FloatOps.MultiplyAdd(ref halves, Halves(left), right, count);
        accumulator = Twin(halves);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> floats) => Avx2FloatOps.Sum(Halves(floats));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> MaxMagnitude(Vector256<ushort> max, ushort* address, int count, Vector256<ushort> magnitudeBits) =>
        Avx2FloatOps.MaxMagnitude(max, address, count, magnitudeBits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasExponent31(Vector256<ushort> max) => Avx2FloatOps.HasExponent31(max);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Twin(Vector256x2 halves) => Vector512.Create(halves.Lower, halves.Upper);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256x2 Halves(Vector512<float> value) => new(value.GetLower(), value.GetUpper());
}
