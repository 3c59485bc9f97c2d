using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Dot products written with the cross-platform 128-bit API (<see cref="Vector128{T}"/>): NEON on ARM64 (Apple
/// Silicon, Graviton, Ampere), SSE on x86 without AVX2 (x86 with AVX2 runs Avx2Dot); there they are the decode
/// hot path. Same numerics as <see cref="ScalarDot"/>: each block's
/// integer sum is exact, only the order of the float accumulation differs.
/// <para>
/// Every kernel here runs on x86 too (Vector128 is accelerated there), so the tests exercise this exact code against
/// the scalar reference. One ARM-only instruction is used where present: sdot (<see cref="Dp"/>, ARMv8.4 dot
/// product: Apple M1+, Graviton 2+, Ampere Altra), in <see cref="DotInt8"/> only; it computes the same exact integer
/// sums grouped into different lanes.
/// </para>
/// </summary>
internal static unsafe class Vector128Dot
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    /// <summary>
    /// <paramref name="acc"/> + x·y over 16 signed bytes, as 4 int32 partial sums. Exact unless some lane has
    /// x = y = −128, which no caller produces: one side is always within ±127 (Q8_0/Q8_1 activations by
    /// construction, every other weight type has at most 6 bits). Then each int16 product is at most 128·127
    /// and a sum of two still fits int16, so the portable path widens to int32 only once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> DotInt8(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> y)
    {
        if (Dp.IsSupported) return Dp.DotProduct(acc, x, y);
        (Vector128<short> xLow, Vector128<short> xHigh) = Vector128.Widen(x);
        (Vector128<short> yLow, Vector128<short> yHigh) = Vector128.Widen(y);
        (Vector128<int> lower, Vector128<int> upper) = Vector128.Widen(xLow * yLow + xHigh * yHigh);
        return acc + lower + upper;
    }

    /// <summary>16 bits to 16 bytes: byte j is 0xFF where bit j of <paramref name="bits"/> is set, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> BitsToBytes(ushort bits)
    {
        // Bytes 0..7 look at the low byte of bits, bytes 8..15 at the high one; each then tests its own bit.
        Vector128<byte> spread = Vector128.Shuffle(Vector128.Create(bits).AsByte(),
            Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        Vector128<byte> bit = Vector128.Create(0x8040201008040201UL).AsByte();
        return Vector128.Equals(spread & bit, bit);
    }

    /// <summary>
    /// Σ grid[q_j]·y_j over one 32-weight run of 4-bit grid indices (element j low nibble, j + 16 high) as 4 int32 partial
    /// sums: the 16-entry grid is one register, each nibble picks its value by a byte shuffle (tbl on ARM64, pshufb on x86).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> GridBlockLanes(byte* qs, sbyte* y, Vector128<sbyte> grid)
    {
        Vector128<byte> packed = Vector128.Load(qs);
        Vector128<sbyte> low = Vector128.Shuffle(grid, (packed & Vector128.Create((byte)0xF)).AsSByte());
        Vector128<sbyte> high = Vector128.Shuffle(grid, Vector128.ShiftRightLogical(packed, 4).AsSByte());
        return DotInt8(DotInt8(Vector128<int>.Zero, low, Vector128.Load(y)), high, Vector128.Load(y + 16));
    }

    /// <summary>IQ4_XS against Q8_K: per sub-block (ls − 32) times its integer sum, per block d_x·d_y; bit for bit <see cref="ScalarDot.IQ4XS"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ4XS*)w;
        var y = (BlockQ8K*)a;
        Vector128<sbyte> grid = Vector128.Create(IQ4Values.Table);
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            Vector128<int> sumi = Vector128<int>.Zero;
            for (int i = 0; i < 8; i++)
                sumi += GridBlockLanes(x[b].Qs + 16 * i, y[b].Qs + 32 * i, grid) * (Dequantizer.IQ4XSScale(&x[b], i) - 32);
            sum += (float)x[b].D * y[b].D * Vector128.Sum(sumi);
        }
        return sum;
    }
}
