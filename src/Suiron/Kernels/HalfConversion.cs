using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Suiron.Kernels;

/// <summary>
/// F16 and BF16 conversions. F16 is IEEE binary16 with round-to-nearest-even (what F16C's vcvtps2ph does for ggml);
/// BF16 rounds to nearest even and keeps NaNs quiet, exactly as ggml_compute_fp32_to_bf16.
/// </summary>
internal static unsafe class HalfConversion
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBF16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFFFFFF) > 0x7F800000) return (ushort)((u >> 16) | 64); // NaN: force quiet
        return (ushort)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void HalfToSingle(Half* src, float* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
                for (; i + 8 <= n; i += 8)
                    Vector256.Store(HalfToSingleFast(Vector128.Load((ushort*)src + i)), dst + i);
            for (; i + 8 <= n; i += 8)
                Vector256.Store(HalfToSingle(Vector128.Load((ushort*)src + i)), dst + i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                (Vector128<float> lower, Vector128<float> upper) = HalfToSingle128(Vector128.Load((ushort*)src + i));
                lower.Store(dst + i);
                upper.Store(dst + i + 4);
            }
        }
        for (; i < n; i++) dst[i] = (float)src[i];
    }

    /// <summary>
    /// Halves to floats times 2^112, the activation side of <see cref="FloatDot{TOps, TFloats, THalves}.F16xRebiasedF32"/>. Exact for every
    /// half: the largest finite one becomes 65504 * 2^112 &lt; FLT_MAX, infinities and NaNs stay what they are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void HalfToRebiasedSingle(Half* src, float* dst, int n)
    {
        HalfToSingle(src, dst, n);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                Vector256.Store(Vector256.Load(dst + i) * Vector256.Create(Avx2Dot.HalfRebias), dst + i);
        for (; i < n; i++) dst[i] *= Avx2Dot.HalfRebias;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SingleToHalf(float* src, Half* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> v = Vector256.Load(src + i);
                // Lanes at or beyond the largest finite half (and NaNs) take the scalar path below, the rest the vector one.
                if (Vector256.GreaterThanOrEqualAny(Vector256.Abs(v), Vector256.Create(65504f)) || !Vector256.EqualsAll(v, v))
                {
                    for (int k = i; k < i + 8; k++) dst[k] = (Half)src[k];
                    continue;
                }
                SingleToHalf(v).Store((ushort*)dst + i);
            }
        }
        for (; i < n; i++) dst[i] = (Half)src[i];
    }

    /// <summary>
    /// Eight finite floats of magnitude below 65504 to halves, rounding to nearest even (subnormals included):
    /// the classic branch-free construction (adding a power of two whose exponent makes the float adder round the
    /// mantissa at the half's precision), which is also ggml's fallback where F16C is absent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> SingleToHalf(Vector256<float> value)
    {
        Vector256<uint> w = value.AsUInt32();
        Vector256<uint> shl1 = w + w;
        Vector256<uint> sign = w & Vector256.Create(0x80000000u);
        Vector256<uint> bias = Vector256.Max(shl1 & Vector256.Create(0xFF000000u), Vector256.Create(0x71000000u));
        Vector256<float> magnitude = Vector256.Abs(value) * Vector256.Create(5.192296858534828e33f) * Vector256.Create(7.703719777548943e-34f); // 2^112, 2^-110
        Vector256<float> rounded = ((bias >> 1) + Vector256.Create(0x07800000u)).AsSingle() + magnitude;
        Vector256<uint> bits = rounded.AsUInt32();
        Vector256<uint> half = ((bits >> 13) & Vector256.Create(0x7C00u)) + (bits & Vector256.Create(0x0FFFu)) | (sign >> 16);
        // Narrow 8 x uint32 (each < 65536) to 8 x uint16.
        return Vector128.Narrow(half.GetLower(), half.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BF16ToSingle(ushort* src, float* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256<uint> widened = Vector256.WidenLower(Vector256.Create(Vector128.Load(src + i), Vector128<ushort>.Zero));
                Vector256.Store((widened << 16).AsSingle(), dst + i);
            }
        }
        for (; i < n; i++) dst[i] = BF16ToSingle(src[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SingleToBF16(float* src, ushort* dst, int n)
    {
        for (int i = 0; i < n; i++) dst[i] = SingleToBF16(src[i]);
    }

    /// <summary>
    /// Eight halves to eight floats, exact for every input (normals, subnormals, infinities, NaNs). The normal case
    /// shifts exponent and mantissa into place and rescales by 2^-112; subnormals are built as 0.5 + m * 2^-24 and
    /// then lose the 0.5 (the classic branch-free construction also used by ggml's scalar path).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfToSingle(Vector128<ushort> halves)
    {
        Vector256<uint> w = Vector256.WidenLower(Vector256.Create(halves, Vector128<ushort>.Zero)) << 16;
        Vector256<uint> sign = w & Vector256.Create(0x80000000u);
        Vector256<uint> twoW = w + w;
        Vector256<float> normalized = ((twoW >> 4) + Vector256.Create(0xE0u << 23)).AsSingle() * Vector256.Create(1.92592994e-34f); // 2^-112
        Vector256<float> denormalized = ((twoW >> 17) | Vector256.Create(126u << 23)).AsSingle() - Vector256.Create(0.5f);
        Vector256<uint> isDenormal = Vector256.LessThan(twoW, Vector256.Create(1u << 27));
        return (sign | Vector256.ConditionalSelect(isDenormal, denormalized.AsUInt32(), normalized.AsUInt32())).AsSingle();
    }

    /// <summary>
    /// Eight halves to eight floats in two 128-bit vectors (the ARM64/NEON path), exact for every input: the arithmetic
    /// of <see cref="HalfToSingleFast"/> with the portable API (sign-extending widen instead of vpmovsxwd).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) HalfToSingle128(Vector128<ushort> halves)
    {
        (Vector128<int> lower, Vector128<int> upper) = Vector128.Widen(halves.AsInt16());
        return (SignExtendedHalfToSingle(lower), SignExtendedHalfToSingle(upper));
    }

    /// <summary>
    /// Four sign-extended halves to floats: shift the magnitude into float position keeping the sign bit, multiply by
    /// 2^112 (rebiases normals, normalizes subnormals exactly), then give exponent-31 halves (inf, NaN) the all-ones
    /// float exponent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> SignExtendedHalfToSingle(Vector128<int> widened)
    {
        Vector128<int> bits = (widened << 13) & Vector128.Create(unchecked((int)0x8FFFE000));
        Vector128<float> value = bits.AsSingle() * Vector128.Create(5.192296858534828e33f); // 2^112
        Vector128<int> special = Vector128.Equals(bits & Vector128.Create(0x0F800000), Vector128.Create(0x0F800000));
        return value | (special & Vector128.Create(0x7F800000)).AsSingle();
    }

    /// <summary>
    /// Eight finite halves to floats times 2^-112, exactly, in three operations: sign-extend, shift the sign, exponent and
    /// mantissa into float position, and mask the sign-extension copies out; a half's exponent field becomes the float's
    /// unchanged, which scales normals by 2^-112 and turns subnormals into the float subnormals of the same scale.
    /// Infinities and NaNs come out finite (check with <see cref="HasInfinityOrNaN"/>). A product with a factor scaled by
    /// 2^112 is the product with the half's value itself, so an FMA over it rounds exactly as over the exact widening.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FiniteHalfToScaledSingle(Vector128<ushort> halves)
    {
        Vector256<int> widened = System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int32(halves.AsInt16());
        return ((widened << 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle();
    }

    /// <summary>2^-112, the factor <see cref="FiniteHalfToScaledSingle"/> applies; 2^112 undoes it on the other factor.</summary>
    public const float HalfScale = 1.92592994e-34f;
    public const float HalfScaleInverse = 5.192296858534828e33f;

    /// <summary>Whether any of <paramref name="count"/> rows of <paramref name="length"/> halves, <paramref name="stride"/> apart, is an infinity or a NaN (exponent field all ones).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool HasInfinityOrNaN(ushort* rows, long stride, int count, int length)
    {
        Vector256<ushort> magnitude = Vector256.Create((ushort)0x7FFF), largest = default;
        ushort scalarLargest = 0;
        for (int t = 0; t < count; t++)
        {
            ushort* row = rows + t * stride;
            int e = 0;
            for (; e + 16 <= length; e += 16) largest = Vector256.Max(largest, Vector256.Load(row + e) & magnitude);
            for (; e < length; e++) scalarLargest = Math.Max(scalarLargest, (ushort)(row[e] & 0x7FFF));
        }
        return Vector256.GreaterThanOrEqualAny(largest, Vector256.Create((ushort)0x7C00)) || scalarLargest >= 0x7C00;
    }

    /// <summary>
    /// Eight halves to eight floats, exact for every input, in fewer operations than <see cref="HalfToSingle(Vector128{ushort})"/>
    /// (the F16 weight dot is bound by this conversion): sign-extend, shift the magnitude into float position keeping
    /// the sign bit, and multiply by 2^112, which rebiases normals and normalizes subnormals exactly; exponent-31 halves
    /// (infinities, NaNs) then get the all-ones float exponent. Subnormal halves make the multiply see a subnormal float,
    /// which some Intel cores handle slowly; weights rarely hold them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfToSingleFast(Vector128<ushort> halves)
    {
        Vector256<int> widened = System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int32(halves.AsInt16());
        Vector256<int> bits = (widened << 13) & Vector256.Create(unchecked((int)0x8FFFE000));
        Vector256<float> value = bits.AsSingle() * Vector256.Create(5.192296858534828e33f); // 2^112
        Vector256<int> special = Vector256.Equals(bits & Vector256.Create(0x0F800000), Vector256.Create(0x0F800000));
        return value | (special & Vector256.Create(0x7F800000)).AsSingle();
    }
}
