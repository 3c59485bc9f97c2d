using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The AVX2 Q2_K dot product against Q8_K activations (the other k-quants are written once for every width in
/// <see cref="KQuantDot{TOps, TVector, TLanes}"/>, with the same lanes; its Q2K, which the 128-bit path runs, measured
/// 4-7% slower than this one on AVX2, bench/README), and the unpacking helpers the GEMM's k-quant panels share with them. Decode streams every weight byte once, so
/// each 256-element super-block must cost fewer cycles than its bytes take to arrive: all per-block work stays in vector
/// registers (scale bytes unpacked with 32-bit lane shifts, group scales broadcast by byte shuffles, min and offset terms
/// from the Q8_K group sums with one vpmaddwd), with no scalar loop and no trip through memory.
/// <para>
/// Quants are multiplied unsigned (vpmaddubsw: weight quant × activation byte, pair sums fit int16), then by their group
/// scale (vpmaddwd) into eight int32 lanes, exactly. Q3_K and Q6_K quants carry an offset (q - 4, q - 32): its share,
/// offset · Σ_g scale_g · bsum_g, comes off the integer lanes through the bsums instead of a second vpmaddubsw per run.
/// Per block, in float: acc += (d_w·d_y) · float(sumi); for Q2_K/Q4_K/Q5_K also accMin += (dmin_w·d_y) · float(minLanes),
/// minLanes = vpmaddwd(bsums, per-bsum mins). Result: Sum8(acc) − Sum8(accMin). <see cref="Gemm"/> repeats exactly these
/// lanes and float operations, so the batched path stays bit-identical to these kernels.
/// </para>
/// </summary>
// CA1857 wants literal shift counts; the helpers below take them as parameters that every caller passes as constants,
// so after inlining the JIT emits immediate shifts (checked with DOTNET_JitDisasm).
#pragma warning disable CA1857
internal static unsafe partial class Avx2Dot
{
    /// <summary>
    /// Sum of the 8 lanes in a fixed order, ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)): the order <see cref="Sum4"/> keeps for
    /// four accumulators at once, so the GEMM's results equal these kernels' bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Sum8(Vector256<float> v)
    {
        Vector256<float> pairs = Avx.HorizontalAdd(v, v);
        Vector256<float> quads = Avx.HorizontalAdd(pairs, pairs);
        return quads.ToScalar() + quads.GetUpper().ToScalar();
    }

    /// <summary>[Sum8(a), Sum8(b), Sum8(c), Sum8(d)] in three vhaddps and one add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Sum4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        // Per 128-bit lane: [a0+a1, a2+a3, b0+b1, b2+b3], then [(a0+a1)+(a2+a3), (b..), (c..), (d..)]; low lane + high lane.
        Vector256<float> quads = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
        return quads.GetLower() + quads.GetUpper();
    }

    /// <summary>
    /// vpshufb mask that fills the low 128-bit lane with int16 word <paramref name="lowWord"/> of the low lane and the
    /// high lane with word <paramref name="highWord"/> of the high lane. Callers pass constants, so this folds to a constant.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> WordBroadcast(int lowWord, int highWord)
    {
        ushort lo = (ushort)(0x0100 + 0x0202 * lowWord), hi = (ushort)(0x0100 + 0x0202 * highWord);
        return Vector256.Create(lo, lo, lo, lo, lo, lo, lo, lo, hi, hi, hi, hi, hi, hi, hi, hi).AsByte();
    }

    /// <summary>
    /// Q4_K/Q5_K: the 12 packed scale bytes as 16 int16 lanes, lanes 0..7 the group scales and 8..15 the group mins
    /// (see <see cref="KQuantLayout.ScaleMin"/>). Reads 16 bytes; the last 4 belong to the rest of the block.
    /// As 32-bit words u0, u1, u2: scales 0..3 = u0 &amp; 0x3F.., scales 4..7 = (u2 &amp; 0x0F..) | (top 2 bits of u0's bytes) &lt;&lt; 4,
    /// mins 0..3 = u1 &amp; 0x3F.., mins 4..7 = (u2 &gt;&gt; 4 &amp; 0x0F..) | (top 2 bits of u1's bytes) &lt;&lt; 4.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Q4KScalesMins(byte* packed)
    {
        Vector128<uint> words = Sse2.LoadVector128((uint*)packed);
        Vector128<uint> lowSource = Sse2.Shuffle(words, 0b10_01_10_00);  // u0, u2, u1, u2
        Vector128<uint> highSource = Sse2.Shuffle(words, 0b01_01_00_00); // u0, u0, u1, u1
        Vector128<uint> low = Avx2.ShiftRightLogicalVariable(lowSource, Vector128.Create(0u, 0, 0, 4))
                            & Vector128.Create(0x3F3F3F3Fu, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F);
        // Bits 6..7 of each byte down to bits 4..5 of the same byte; what shifts in from the next byte is masked off.
        Vector128<uint> high = Sse2.ShiftRightLogical(highSource, 2) & Vector128.Create(0u, 0x30303030, 0, 0x30303030);
        return Avx2.ConvertToVector256Int16((low | high).AsByte());
    }

    /// <summary>From <see cref="Q4KScalesMins"/>: the 8 scales in both 128-bit lanes, ready for <see cref="WordBroadcast"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Q4KScalesBothLanes(Vector256<short> scalesMins) =>
        Avx2.Permute4x64(scalesMins.AsInt64(), 0b01_00_01_00).AsInt16();

    /// <summary>From <see cref="Q4KScalesMins"/>: one min per Q8_K bsum (16 elements), m0 m0 m1 m1 .. m7 m7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Q4KMinsPerBSum(Vector256<short> scalesMins)
    {
        Vector256<long> spread = Avx2.Permute4x64(scalesMins.AsInt64(), 0b11_11_10_10); // m0..m3 m0..m3 | m4..m7 m4..m7
        return Avx2.Shuffle(spread.AsByte(), Vector256.Create(
            (byte)0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7)).AsInt16();
    }

    /// <summary>
    /// Q3_K: the 16 six-bit scales minus 32 as int16 (see <see cref="KQuantLayout.Q3Scales"/>). As 32-bit words u0, u1,
    /// u2: groups 4w..4w+3 take their low nibbles from u0/u1 (w = 0, 1: low nibbles; w = 2, 3: high nibbles) and their
    /// high two bits from u2 &gt;&gt; 2w. Reads 16 bytes; the last 4 belong to the rest of the block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Q3KScales(byte* packed)
    {
        Vector128<uint> words = Sse2.LoadVector128((uint*)packed);
        Vector128<uint> low = Avx2.ShiftRightLogicalVariable(Sse2.Shuffle(words, 0b01_00_01_00), Vector128.Create(0u, 0, 4, 4))
                            & Vector128.Create(0x0F0F0F0Fu);
        Vector128<uint> high = Avx2.ShiftRightLogicalVariable(Sse2.Shuffle(words, 0b10_10_10_10), Vector128.Create(0u, 2, 4, 6))
                             & Vector128.Create(0x03030303u);
        Vector128<byte> biased = (low | Sse2.ShiftLeftLogical(high, 4)).AsByte();
        return Avx2.ConvertToVector256Int16(Sse2.Subtract(biased, Vector128.Create((byte)32)).AsSByte());
    }

    /// <summary>16 int16 per-group scales s0..s15 → s[8h..8h+7] in both 128-bit lanes, for <see cref="WordBroadcast"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> HalfScalesBothLanes(Vector256<short> scales16, int half) =>
        Avx2.Permute4x64(scales16.AsInt64(), half == 0 ? (byte)0b01_00_01_00 : (byte)0b11_10_11_10).AsInt16();

    /// <summary>
    /// Bit <paramref name="bit"/> of every byte of <paramref name="bits"/> moved to bit <paramref name="target"/> (the
    /// rest cleared). A 16-bit shift does it for all bytes: what crosses from the neighbouring byte never lands on
    /// <paramref name="target"/> (it would have to come from bit ≥ 8). Constant arguments fold the branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> MoveBit(Vector256<byte> bits, int bit, int target)
    {
        Vector256<ushort> moved = bit < target ? Avx2.ShiftLeftLogical(bits.AsUInt16(), (byte)(target - bit))
                                : bit > target ? Avx2.ShiftRightLogical(bits.AsUInt16(), (byte)(bit - target))
                                : bits.AsUInt16();
        return moved.AsByte() & Vector256.Create((byte)(1 << target));
    }

    /// <summary>Σ over 32 elements of q·y, scaled per 16-element half by <paramref name="groupScales"/>, as 8 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledRun(Vector256<byte> q, sbyte* y, Vector256<short> groupScales) =>
        ScaledRun(q, Avx.LoadVector256(y), groupScales);

    /// <summary><see cref="ScaledRun(Vector256{byte}, sbyte*, Vector256{short})"/> with the 32 activation bytes already loaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledRun(Vector256<byte> q, Vector256<sbyte> y, Vector256<short> groupScales) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, y), groupScales);

    /// <summary>Group scale <paramref name="group"/> (0..7) of <paramref name="scalesBothLanes"/> in all 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Broadcast(Vector256<short> scalesBothLanes, int group) =>
        Avx2.Shuffle(scalesBothLanes.AsByte(), WordBroadcast(group, group)).AsInt16();

    /// <summary>Run <paramref name="run"/> (0..3) of 32 elements within a 128-element half: low 16 scaled by 2·run, high by 2·run + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> RunScales(Vector256<short> halfScalesBothLanes, int run) =>
        Avx2.Shuffle(halfScalesBothLanes.AsByte(), WordBroadcast(2 * run, 2 * run + 1)).AsInt16();

    /// <summary>Q5_K pair <paramref name="pair"/>: Q4_K's nibbles plus 16 where qh bit 2·pair (low) / 2·pair + 1 (high) is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q5KPair(byte* qs, Vector256<byte> qh, int pair, out Vector256<byte> low, out Vector256<byte> high)
    {
        Vector256<byte> nibble = Vector256.Create((byte)0x0F);
        Vector256<byte> packed = Avx.LoadVector256(qs + 32 * pair);
        low = (packed & nibble) | MoveBit(qh, 2 * pair, 4);
        high = (Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & nibble) | MoveBit(qh, 2 * pair + 1, 4);
    }

    /// <summary>
    /// Q6_K half <paramref name="half"/> (128 elements) as four runs of 32 unsigned six-bit quants: run r takes low
    /// nibbles (r = 0, 1) or high nibbles (r = 2, 3) of ql[32·(r mod 2)..] and its two high bits from qh bits 2r..2r+1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q6KHalf(BlockQ6K* block, int half,
        out Vector256<byte> r0, out Vector256<byte> r1, out Vector256<byte> r2, out Vector256<byte> r3)
    {
        Vector256<byte> l0 = Avx.LoadVector256(block->Ql + 64 * half);
        Vector256<byte> l1 = Avx.LoadVector256(block->Ql + 64 * half + 32);
        Vector256<ushort> qh = Avx.LoadVector256(block->Qh + 32 * half).AsUInt16();
        r0 = Q6KRun(l0, qh, 0);
        r1 = Q6KRun(l1, qh, 1);
        r2 = Q6KRun(l0, qh, 2);
        r3 = Q6KRun(l1, qh, 3);
    }

    /// <summary>
    /// Run <paramref name="run"/> of a Q6_K half from its ql vector (ql[0..32) for runs 0 and 2, ql[32..64) for 1 and 3):
    /// low nibbles for runs 0 and 1, high nibbles for 2 and 3, and qh bits 2·run..2·run + 1 moved to bits 4..5 (as in
    /// MoveBit, nothing from the neighbouring byte reaches bits 4..5). Callers pass constant runs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q6KRun(Vector256<byte> ql, Vector256<ushort> qh, int run)
    {
        Vector256<byte> nibble = Vector256.Create((byte)0x0F), twoBits = Vector256.Create((byte)0x30);
        Vector256<byte> low = run < 2 ? ql & nibble : Avx2.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & nibble;
        Vector256<ushort> high = run switch
        {
            0 => Avx2.ShiftLeftLogical(qh, 4),
            1 => Avx2.ShiftLeftLogical(qh, 2),
            2 => qh,
            _ => Avx2.ShiftRightLogical(qh, 2),
        };
        return low | (high.AsByte() & twoBits);
    }

    /// <summary>Four runs of a 128-element half, scaled: run r's low 16 by scale 2r, high 16 by 2r + 1 of the half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledHalf(Vector256<byte> r0, Vector256<byte> r1, Vector256<byte> r2, Vector256<byte> r3,
        sbyte* q8, Vector256<short> halfScales) =>
        ScaledRun(r0, q8, RunScales(halfScales, 0)) + ScaledRun(r1, q8 + 32, RunScales(halfScales, 1))
        + ScaledRun(r2, q8 + 64, RunScales(halfScales, 2)) + ScaledRun(r3, q8 + 96, RunScales(halfScales, 3));

    /// <summary>Q2_K half <c>half</c>: run r is bits 2r..2r+1 of each of the 32 quant bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Q2KRun(Vector256<byte> packed, int run)
    {
        Vector256<byte> bits = run == 0 ? packed : Avx2.ShiftRightLogical(packed.AsUInt16(), (byte)(2 * run)).AsByte();
        return bits & Vector256.Create((byte)3);
    }

    /// <summary>Q2_K: 16 scales (low nibbles) and 16 mins (high nibbles), one per 16 elements, as int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q2KScalesMins(byte* packed, out Vector256<short> scales, out Vector256<short> mins)
    {
        Vector128<byte> raw = Sse2.LoadVector128(packed);
        Vector128<byte> nibble = Vector128.Create((byte)0x0F);
        scales = Avx2.ConvertToVector256Int16(raw & nibble).AsInt16();
        mins = Avx2.ConvertToVector256Int16(Sse2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & nibble).AsInt16();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q2K(byte* w, byte* a, int n)
    {
        var x = (BlockQ2K*)w;
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero, accMin = acc;
        for (int b = 0; b < n / 256; b++)
        {
            Q2KScalesMins(x[b].Scales, out Vector256<short> scales, out Vector256<short> mins);
            Vector256<int> minLanes = Avx2.MultiplyAddAdjacent(Avx.LoadVector256(y[b].BSums), mins);
            sbyte* q8 = y[b].Qs;
            Vector256<byte> p0 = Avx.LoadVector256(x[b].Qs), p1 = Avx.LoadVector256(x[b].Qs + 32);
            Vector256<int> sumi0 = ScaledHalf(Q2KRun(p0, 0), Q2KRun(p0, 1), Q2KRun(p0, 2), Q2KRun(p0, 3), q8, HalfScalesBothLanes(scales, 0));
            Vector256<int> sumi1 = ScaledHalf(Q2KRun(p1, 0), Q2KRun(p1, 1), Q2KRun(p1, 2), Q2KRun(p1, 3), q8 + 128, HalfScalesBothLanes(scales, 1));
            float yd = y[b].D;
            acc = Fma.MultiplyAdd(Vector256.Create(Scale(x[b].D) * yd), Avx.ConvertToVector256Single(sumi0 + sumi1), acc);
            accMin = Fma.MultiplyAdd(Vector256.Create(Scale(x[b].DMin) * yd), Avx.ConvertToVector256Single(minLanes), accMin);
        }
        return Sum8(acc) - Sum8(accMin);
    }

    /// <summary>
    /// Q3_K run <paramref name="run"/> (0..3) of half <paramref name="half"/>: bits 2·run..2·run+1 of the 32 quant bytes,
    /// plus 4 where hmask bit 4·half + run is set: the quant unsigned, 0..7 (the stored value is this minus 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Q3KRun(Vector256<byte> packed, Vector256<byte> hmask, int half, int run) =>
        Q2KRun(packed, run) | MoveBit(hmask, 4 * half + run, 2);
}
