using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The k-quant decode dots (Q2_K..Q6_K against Q8_K activations), written once over <see cref="ISimdOps{TVector, TLanes}"/>
/// and specialised per width: <see cref="Vector128Ops"/> (the 128-bit path, ARM64), <see cref="Avx2Ops"/>,
/// <see cref="Avx512Ops"/> and <see cref="Avx512TwinOps"/>. Decode streams every weight byte once, so each 256-element
/// super-block must cost fewer cycles than its bytes take to arrive: all per-block work stays in vector registers.
/// <para>
/// A kernel walks each 64- or 128-element stretch of a block one vector at a time (elements e.. of a Q4_K pair or a
/// Q6_K half); a vector's quants, unsigned, meet its activation bytes and its group scales in one
/// <see cref="ISimdOps{TVector, TLanes}.ScaledDot"/>, and the int32 lanes add up exactly. A block's lanes become the
/// eight lanes of <see cref="ISimdOps{TVector, TLanes}.RunLanes"/>: Σ over runs of elements 4k..4k+3, the lanes
/// <see cref="Gemm"/> forms too. Per block, in float: acc += (d_w·d_y)·float(lanes); Q2_K, Q4_K and Q5_K also accMin +=
/// (dmin_w·d_y)·float(minLanes), minLanes = vpmaddwd(bsums, per-bsum mins); Q3_K's −4 and Q6_K's −32 come off the lanes
/// as offset·vpmaddwd(scales, bsums). Result: Sum(acc) [− Sum(accMin)]. So every width, the GEMM and both row counts give the same bits.
/// </para>
/// <para>
/// The two-row kernels take two weight rows far apart (MatMul's decode hands them a part apart: two weight streams in
/// flight on the core, ~10-15% more bytes per second than one row at a time) and load each activation vector once for
/// both rows (loads are the scarce port); each row's integers and float steps are the one-row kernel's.
/// </para>
/// </summary>
internal static unsafe class KQuantDot<TOps, TVector, TLanes>
    where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4K(byte* w, byte* a, int n)
    {
        var x = (BlockQ4K*)w;
        var y = (BlockQ8K*)a;
        TLanes acc = default, accMin = default;
        for (int b = 0; b < n / 256; b++)
        {
            TVector scales = Q4KScales(x[b].Scales, y[b].BSums, out TLanes minLanes);
            TVector sum = default, secondHalfSum = default;
            byte* qs = x[b].Qs;
            sbyte* q8 = y[b].Qs;
            Q4KPair(qs, q8, scales, 0, ref sum, ref secondHalfSum);
            Q4KPair(qs, q8, scales, 1, ref sum, ref secondHalfSum);
            Q4KPair(qs, q8, scales, 2, ref sum, ref secondHalfSum);
            Q4KPair(qs, q8, scales, 3, ref sum, ref secondHalfSum);
            float yd = y[b].D;
            acc = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].D) * yd, TOps.RunLanes(sum, secondHalfSum), acc);
            accMin = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].DMin) * yd, minLanes, accMin);
        }
        return TOps.Sum(acc) - TOps.Sum(accMin);
    }

    /// <summary><see cref="Q4K"/> of rows <paramref name="w"/> and <paramref name="w"/> + <paramref name="rowDistance"/> into <paramref name="y"/>[0] and [<paramref name="outputDistance"/>].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4KTwoRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
    {
        var x0 = (BlockQ4K*)w;
        var x1 = (BlockQ4K*)(w + rowDistance);
        var q8 = (BlockQ8K*)a;
        TLanes acc0 = default, accMin0 = default, acc1 = default, accMin1 = default;
        for (int b = 0; b < n / 256; b++)
        {
            TVector scales0 = Q4KScales(x0[b].Scales, q8[b].BSums, out TLanes minLanes0);
            TVector scales1 = Q4KScales(x1[b].Scales, q8[b].BSums, out TLanes minLanes1);
            var sums = new TwoRowSums();
            byte* qs0 = x0[b].Qs, qs1 = x1[b].Qs;
            sbyte* activations = q8[b].Qs;
            Q4KPairTwoRows(qs0, qs1, activations, scales0, scales1, 0, ref sums);
            Q4KPairTwoRows(qs0, qs1, activations, scales0, scales1, 1, ref sums);
            Q4KPairTwoRows(qs0, qs1, activations, scales0, scales1, 2, ref sums);
            Q4KPairTwoRows(qs0, qs1, activations, scales0, scales1, 3, ref sums);
            float yd = q8[b].D;
            acc0 = TOps.MultiplyAdd(Avx2Dot.Scale(x0[b].D) * yd, TOps.RunLanes(sums.Row0, sums.Row0SecondHalf), acc0);
            accMin0 = TOps.MultiplyAdd(Avx2Dot.Scale(x0[b].DMin) * yd, minLanes0, accMin0);
            acc1 = TOps.MultiplyAdd(Avx2Dot.Scale(x1[b].D) * yd, TOps.RunLanes(sums.Row1, sums.Row1SecondHalf), acc1);
            accMin1 = TOps.MultiplyAdd(Avx2Dot.Scale(x1[b].DMin) * yd, minLanes1, accMin1);
        }
        y[0] = TOps.Sum(acc0) - TOps.Sum(accMin0);
        y[outputDistance] = TOps.Sum(acc1) - TOps.Sum(accMin1);
    }

    /// <summary>Two rows' integer sums; the second-half ones are used by 128-bit vectors only (see <see cref="ISimdOps{TVector, TLanes}.RunLanes"/>).</summary>
    private struct TwoRowSums
    {
        public TVector Row0, Row0SecondHalf, Row1, Row1SecondHalf;
    }

    /// <summary>
    /// The block's eight scales in every 128-bit lane, and its min lanes (<see cref="Avx2Dot.Q4KScalesMins"/>'s unpacking
    /// in 128 bits: bytes 0..7 the scales, 8..15 the mins, each min twice for the two bsums of its 32 elements).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q4KScales(byte* packed, short* bsums, out TLanes minLanes)
    {
        // Six-bit values: sign extension is zero extension here.
        Vector128<sbyte> scalesMins = Q4KScalesMins(packed).AsSByte();
        Vector128<sbyte> minPerBSum = Vector128.Shuffle(scalesMins, Vector128.Create((sbyte)8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
        minLanes = TOps.MultiplyAddBytes(bsums, minPerBSum);
        return TOps.RepeatHalf(scalesMins, 0);
    }

    /// <summary>
    /// The 12 packed scale bytes as 16: scales 0..7, then mins 0..7 (see <see cref="KQuantLayout.ScaleMin"/>). As 32-bit
    /// words u0, u1, u2: scales 0..3 = u0 &amp; 0x3F.., scales 4..7 = (u2 &amp; 0x0F..) | (top 2 bits of u0's bytes) &lt;&lt; 4,
    /// mins 0..3 = u1 &amp; 0x3F.., mins 4..7 = (u2 &gt;&gt; 4 &amp; 0x0F..) | (top 2 bits of u1's bytes) &lt;&lt; 4.
    /// Reads 16 bytes; the last 4 belong to the rest of the block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Q4KScalesMins(byte* packed)
    {
        Vector128<uint> words = Vector128.Load((uint*)packed);
        Vector128<uint> lowSource = Vector128.Shuffle(words, Vector128.Create(0u, 2, 1, 2));
        Vector128<uint> highSource = Vector128.Shuffle(words, Vector128.Create(0u, 0, 1, 1));
        Vector128<uint> low = Avx2.IsSupported
            ? Avx2.ShiftRightLogicalVariable(lowSource, Vector128.Create(0u, 0, 0, 4)) & Vector128.Create(0x3F3F3F3Fu, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F)
            : (lowSource & Vector128.Create(0x3F3F3F3Fu, 0x0F0F0F0F, 0x3F3F3F3F, 0)) | ((lowSource >>> 4) & Vector128.Create(0u, 0, 0, 0x0F0F0F0F));
        // Bits 6..7 of each byte down to bits 4..5 of the same byte; what shifts in from the next byte is masked off.
        Vector128<uint> high = (highSource >>> 2) & Vector128.Create(0u, 0x30303030, 0, 0x30303030);
        return (low | high).AsByte();
    }

    /// <summary>
    /// Pair <paramref name="pair"/> (64 elements from 32 packed bytes: the low nibbles are group 2·pair, the high ones
    /// 2·pair + 1). A vector of up to 32 bytes serves both nibbles; a 64-byte one holds the bytes twice and takes both at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPair(byte* qs, sbyte* q8, TVector scales, int pair, ref TVector sum, ref TVector secondHalfSum)
    {
        Q4KPacked(qs, q8, scales, pair, 0, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes == 16) Q4KPacked(qs, q8, scales, pair, 16, ref sum, ref secondHalfSum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPacked(byte* qs, sbyte* q8, TVector scales, int pair, int offset, ref TVector sum, ref TVector secondHalfSum)
    {
        TVector packed = TOps.LoadFromRun(qs + 32 * pair, offset);
        Accumulate(Q4KLanes(packed, q8, scales, pair, offset), offset, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes < 64) Accumulate(Q4KLanes(packed, q8, scales, pair, 32 + offset), offset, ref sum, ref secondHalfSum);
    }

    /// <summary>Elements <paramref name="element"/>.. of pair <paramref name="pair"/> (nibble element / 32 of the packed bytes), scaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q4KLanes(TVector packed, sbyte* q8, TVector scales, int pair, int element)
    {
        TVector quants = TOps.And(TOps.ShiftPerRun(packed, 4 * (element / 32), 4), TOps.Create(0x0F));
        TVector groupScales = TOps.GroupScales(scales, 64 * pair + element, 32);
        // The load last among the arguments, so that it becomes the multiply's memory operand.
        return TOps.ScaledDot(quants, TOps.Load(q8 + 64 * pair + element), groupScales);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPairTwoRows(byte* qs0, byte* qs1, sbyte* q8, TVector scales0, TVector scales1, int pair, ref TwoRowSums sums)
    {
        Q4KPackedTwoRows(qs0, qs1, q8, scales0, scales1, pair, 0, ref sums);
        if (TOps.VectorBytes == 16) Q4KPackedTwoRows(qs0, qs1, q8, scales0, scales1, pair, 16, ref sums);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPackedTwoRows(byte* qs0, byte* qs1, sbyte* q8, TVector scales0, TVector scales1, int pair, int offset, ref TwoRowSums sums)
    {
        TVector packed0 = TOps.LoadFromRun(qs0 + 32 * pair, offset), packed1 = TOps.LoadFromRun(qs1 + 32 * pair, offset);
        Q4KTwoRowLanes(packed0, packed1, q8, scales0, scales1, pair, offset, ref sums);
        if (TOps.VectorBytes < 64) Q4KTwoRowLanes(packed0, packed1, q8, scales0, scales1, pair, 32 + offset, ref sums);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KTwoRowLanes(TVector packed0, TVector packed1, sbyte* q8, TVector scales0, TVector scales1, int pair, int element,
        ref TwoRowSums sums)
    {
        TVector nibble = TOps.Create(0x0F);
        TVector activations = TOps.Load(q8 + 64 * pair + element);
        TVector quants0 = TOps.And(TOps.ShiftPerRun(packed0, 4 * (element / 32), 4), nibble);
        TVector quants1 = TOps.And(TOps.ShiftPerRun(packed1, 4 * (element / 32), 4), nibble);
        Accumulate(TOps.ScaledDot(quants0, activations, TOps.GroupScales(scales0, 64 * pair + element, 32)), element, ref sums.Row0, ref sums.Row0SecondHalf);
        Accumulate(TOps.ScaledDot(quants1, activations, TOps.GroupScales(scales1, 64 * pair + element, 32)), element, ref sums.Row1, ref sums.Row1SecondHalf);
    }

    /// <summary>
    /// Lanes of elements <paramref name="element"/>.. into the run sums: a 128-bit vector holds half a run, and the
    /// second half (elements 16..31 of a run) goes to its own sum, so that it becomes lanes 4..7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(TVector lanes, int element, ref TVector sum, ref TVector secondHalfSum)
    {
        if (TOps.VectorBytes == 16 && (element & 16) != 0) secondHalfSum = TOps.AddInt32(secondHalfSum, lanes);
        else sum = TOps.AddInt32(sum, lanes);
    }

    /// <summary>Q5_K: Q4_K's nibbles, scales and mins, plus a fifth bit per element from qh (<see cref="Q5KLanes"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5K(byte* w, byte* a, int n)
    {
        var x = (BlockQ5K*)w;
        var y = (BlockQ8K*)a;
        TLanes acc = default, accMin = default;
        for (int b = 0; b < n / 256; b++)
        {
            TVector scales = Q4KScales(x[b].Scales, y[b].BSums, out TLanes minLanes);
            TVector sum = default, secondHalfSum = default;
            byte* qs = x[b].Qs;
            sbyte* q8 = y[b].Qs;
            TVector qhFirst = TOps.LoadFromRun(x[b].Qh, 0);
            TVector qhSecond = TOps.VectorBytes == 16 ? TOps.LoadFromRun(x[b].Qh, 16) : qhFirst;
            Q5KPair(qs, qhFirst, qhSecond, q8, scales, 0, ref sum, ref secondHalfSum);
            Q5KPair(qs, qhFirst, qhSecond, q8, scales, 1, ref sum, ref secondHalfSum);
            Q5KPair(qs, qhFirst, qhSecond, q8, scales, 2, ref sum, ref secondHalfSum);
            Q5KPair(qs, qhFirst, qhSecond, q8, scales, 3, ref sum, ref secondHalfSum);
            float yd = y[b].D;
            acc = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].D) * yd, TOps.RunLanes(sum, secondHalfSum), acc);
            accMin = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].DMin) * yd, minLanes, accMin);
        }
        return TOps.Sum(acc) - TOps.Sum(accMin);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q5KPair(byte* qs, TVector qhFirst, TVector qhSecond, sbyte* q8, TVector scales, int pair, ref TVector sum, ref TVector secondHalfSum)
    {
        Q5KPacked(qs, qhFirst, q8, scales, pair, 0, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes == 16) Q5KPacked(qs, qhSecond, q8, scales, pair, 16, ref sum, ref secondHalfSum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q5KPacked(byte* qs, TVector qh, sbyte* q8, TVector scales, int pair, int offset, ref TVector sum, ref TVector secondHalfSum)
    {
        TVector packed = TOps.LoadFromRun(qs + 32 * pair, offset);
        Accumulate(Q5KLanes(packed, qh, q8, scales, pair, offset), offset, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes < 64) Accumulate(Q5KLanes(packed, qh, q8, scales, pair, 32 + offset), offset, ref sum, ref secondHalfSum);
    }

    /// <summary>
    /// Elements <paramref name="element"/>.. of pair <paramref name="pair"/>: Q4_K's nibble, and 16 where qh[e mod 32] has
    /// bit 2·pair + e / 32 (that bit shifted to bit 4; what crosses from the neighbouring bytes never lands there).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q5KLanes(TVector packed, TVector qh, sbyte* q8, TVector scales, int pair, int element)
    {
        TVector high = TOps.And(TOps.ShiftPerRun(qh, 2 * pair + element / 32 - 4, 1), TOps.Create(0x10));
        TVector quants = TOps.Or(TOps.And(TOps.ShiftPerRun(packed, 4 * (element / 32), 4), TOps.Create(0x0F)), high);
        TVector groupScales = TOps.GroupScales(scales, 64 * pair + element, 32);
        return TOps.ScaledDot(quants, TOps.Load(q8 + 64 * pair + element), groupScales);
    }

    /// <summary>
    /// Q2_K: per 128-element half, 32 bytes hold four 2-bit runs (run r: bits 2r..2r+1, elements 32r..); 16-element
    /// groups with 4-bit scales (low nibble) and mins (high nibble); mins through the bsums as Q4_K's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q2K(byte* w, byte* a, int n)
    {
        var x = (BlockQ2K*)w;
        var y = (BlockQ8K*)a;
        TLanes acc = default, accMin = default;
        for (int b = 0; b < n / 256; b++)
        {
            Vector128<byte> packedScales = Vector128.Load(x[b].Scales), nibble = Vector128.Create((byte)0x0F);
            Vector128<sbyte> scales = (packedScales & nibble).AsSByte(), mins = ((packedScales.AsUInt16() >>> 4).AsByte() & nibble).AsSByte();
            TLanes minLanes = TOps.MultiplyAddBytes(y[b].BSums, mins);
            TVector sum = default, secondHalfSum = default;
            Q2KHalf(x[b].Qs, y[b].Qs, TOps.RepeatHalf(scales, 0), 0, ref sum, ref secondHalfSum);
            Q2KHalf(x[b].Qs, y[b].Qs, TOps.RepeatHalf(scales, 1), 1, ref sum, ref secondHalfSum);
            float yd = y[b].D;
            acc = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].D) * yd, TOps.RunLanes(sum, secondHalfSum), acc);
            accMin = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].DMin) * yd, minLanes, accMin);
        }
        return TOps.Sum(acc) - TOps.Sum(accMin);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q2KHalf(byte* qs, sbyte* q8, TVector scales, int half, ref TVector sum, ref TVector secondHalfSum)
    {
        Q2KPacked(qs + 32 * half, q8 + 128 * half, scales, 0, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes == 16) Q2KPacked(qs + 32 * half, q8 + 128 * half, scales, 16, ref sum, ref secondHalfSum);
    }

    /// <summary>Bytes <paramref name="offset"/>.. of a half's 32 quant bytes (a 64-byte vector: all 32, twice): its four runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q2KPacked(byte* qs, sbyte* y, TVector scales, int offset, ref TVector sum, ref TVector secondHalfSum)
    {
        TVector packed = TOps.LoadFromRun(qs, offset);
        Accumulate(Q2KLanes(packed, y, scales, 0, offset), offset, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes < 64) Accumulate(Q2KLanes(packed, y, scales, 1, offset), offset, ref sum, ref secondHalfSum);
        Accumulate(Q2KLanes(packed, y, scales, 2, offset), offset, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes < 64) Accumulate(Q2KLanes(packed, y, scales, 3, offset), offset, ref sum, ref secondHalfSum);
    }

    /// <summary>Run <paramref name="run"/> (and run + 1 in a 64-byte vector) from bytes <paramref name="offset"/>.., scaled (16-element groups).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q2KLanes(TVector packed, sbyte* y, TVector scales, int run, int offset)
    {
        TVector quants = TOps.And(TOps.ShiftPerRun(packed, 2 * run, 2), TOps.Create(3));
        TVector groupScales = TOps.GroupScales(scales, 32 * run + offset, 16);
        return TOps.ScaledDot(quants, TOps.Load(y + 32 * run + offset), groupScales);
    }

    /// <summary>
    /// Q3_K: Q2_K's 2-bit runs plus a third bit from hmask (element e of half h: bit 4h + e / 32 of hmask[e mod 32]), so
    /// quants are 0..7 unsigned; 16 signed 6-bit scales; the −4 of every quant comes off the lanes as 4·vpmaddwd(scales, bsums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q3K(byte* w, byte* a, int n)
    {
        var x = (BlockQ3K*)w;
        var y = (BlockQ8K*)a;
        TLanes acc = default;
        for (int b = 0; b < n / 256; b++)
        {
            Vector128<sbyte> scales = Q3KScales(x[b].Scales);
            TVector hmaskFirst = TOps.LoadFromRun(x[b].HMask, 0);
            TVector hmaskSecond = TOps.VectorBytes == 16 ? TOps.LoadFromRun(x[b].HMask, 16) : hmaskFirst;
            TVector sum = default, secondHalfSum = default;
            Q3KHalf(x[b].Qs, hmaskFirst, hmaskSecond, y[b].Qs, TOps.RepeatHalf(scales, 0), 0, ref sum, ref secondHalfSum);
            Q3KHalf(x[b].Qs, hmaskFirst, hmaskSecond, y[b].Qs, TOps.RepeatHalf(scales, 1), 1, ref sum, ref secondHalfSum);
            TLanes offset = TOps.ShiftLeftInt32(TOps.MultiplyAddBytes(y[b].BSums, scales), 2);
            acc = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].D) * y[b].D, TOps.SubtractInt32(TOps.RunLanes(sum, secondHalfSum), offset), acc);
        }
        return TOps.Sum(acc);
    }

    /// <summary>
    /// The 16 six-bit scales minus 32 (see <see cref="KQuantLayout.Q3Scales"/>). As 32-bit words u0, u1, u2: groups
    /// 4w..4w+3 take their low nibbles from u0/u1 (w = 0, 1: low nibbles; w = 2, 3: high nibbles) and their high two bits
    /// from u2 &gt;&gt; 2w. Reads 16 bytes; the last 4 belong to the rest of the block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Q3KScales(byte* packed)
    {
        Vector128<uint> words = Vector128.Load((uint*)packed);
        Vector128<uint> lowSource = Vector128.Shuffle(words, Vector128.Create(0u, 1, 0, 1));
        Vector128<uint> highSource = Vector128.Shuffle(words, Vector128.Create(2u, 2, 2, 2));
        Vector128<uint> low, high;
        if (Avx2.IsSupported)
        {
            low = Avx2.ShiftRightLogicalVariable(lowSource, Vector128.Create(0u, 0, 4, 4)) & Vector128.Create(0x0F0F0F0Fu);
            high = Avx2.ShiftRightLogicalVariable(highSource, Vector128.Create(0u, 2, 4, 6)) & Vector128.Create(0x03030303u);
        }
        else
        {
            low = (lowSource & Vector128.Create(0x0F0F0F0Fu, 0x0F0F0F0F, 0, 0)) | ((lowSource >>> 4) & Vector128.Create(0u, 0, 0x0F0F0F0F, 0x0F0F0F0F));
            uint u2 = *(uint*)(packed + 8);
            high = Vector128.Create(u2, u2 >> 2, u2 >> 4, u2 >> 6) & Vector128.Create(0x03030303u);
        }
        return ((low | (high << 4)).AsByte() - Vector128.Create((byte)32)).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q3KHalf(byte* qs, TVector hmaskFirst, TVector hmaskSecond, sbyte* q8, TVector scales, int half,
        ref TVector sum, ref TVector secondHalfSum)
    {
        Q3KPacked(qs + 32 * half, hmaskFirst, q8 + 128 * half, scales, half, 0, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes == 16) Q3KPacked(qs + 32 * half, hmaskSecond, q8 + 128 * half, scales, half, 16, ref sum, ref secondHalfSum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q3KPacked(byte* qs, TVector hmask, sbyte* y, TVector scales, int half, int offset, ref TVector sum, ref TVector secondHalfSum)
    {
        TVector packed = TOps.LoadFromRun(qs, offset);
        Accumulate(Q3KLanes(packed, hmask, y, scales, half, 0, offset), offset, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes < 64) Accumulate(Q3KLanes(packed, hmask, y, scales, half, 1, offset), offset, ref sum, ref secondHalfSum);
        Accumulate(Q3KLanes(packed, hmask, y, scales, half, 2, offset), offset, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes < 64) Accumulate(Q3KLanes(packed, hmask, y, scales, half, 3, offset), offset, ref sum, ref secondHalfSum);
    }

    /// <summary>Run <paramref name="run"/> (and run + 1 in a 64-byte vector): two bits from the quant bytes, the third (4) from hmask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q3KLanes(TVector packed, TVector hmask, sbyte* y, TVector scales, int half, int run, int offset)
    {
        TVector high = TOps.And(TOps.ShiftPerRun(hmask, 4 * half + run - 2, 1), TOps.Create(4));
        TVector quants = TOps.Or(TOps.And(TOps.ShiftPerRun(packed, 2 * run, 2), TOps.Create(3)), high);
        TVector groupScales = TOps.GroupScales(scales, 32 * run + offset, 16);
        return TOps.ScaledDot(quants, TOps.Load(y + 32 * run + offset), groupScales);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6K(byte* w, byte* a, int n)
    {
        var x = (BlockQ6K*)w;
        var y = (BlockQ8K*)a;
        TLanes acc = default;
        for (int b = 0; b < n / 256; b++)
        {
            TVector sum = default, secondHalfSum = default;
            Vector128<sbyte> scales = Vector128.Load(x[b].Scales);
            Q6KHalf(x + b, y[b].Qs, TOps.RepeatHalf(scales, 0), 0, ref sum, ref secondHalfSum);
            Q6KHalf(x + b, y[b].Qs, TOps.RepeatHalf(scales, 1), 1, ref sum, ref secondHalfSum);
            TLanes sumi = TOps.SubtractInt32(TOps.RunLanes(sum, secondHalfSum), Q6KOffset(scales, y[b].BSums));
            acc = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].D) * y[b].D, sumi, acc);
        }
        return TOps.Sum(acc);
    }

    /// <summary><see cref="Q6K"/> of rows <paramref name="w"/> and <paramref name="w"/> + <paramref name="rowDistance"/> into <paramref name="y"/>[0] and [<paramref name="outputDistance"/>].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6KTwoRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
    {
        var x0 = (BlockQ6K*)w;
        var x1 = (BlockQ6K*)(w + rowDistance);
        var q8 = (BlockQ8K*)a;
        TLanes acc0 = default, acc1 = default;
        for (int b = 0; b < n / 256; b++)
        {
            var sums = new TwoRowSums();
            Vector128<sbyte> scales0 = Vector128.Load(x0[b].Scales), scales1 = Vector128.Load(x1[b].Scales);
            Q6KHalfTwoRows(x0 + b, x1 + b, q8[b].Qs, TOps.RepeatHalf(scales0, 0), TOps.RepeatHalf(scales1, 0), 0, ref sums);
            Q6KHalfTwoRows(x0 + b, x1 + b, q8[b].Qs, TOps.RepeatHalf(scales0, 1), TOps.RepeatHalf(scales1, 1), 1, ref sums);
            TLanes sumi0 = TOps.SubtractInt32(TOps.RunLanes(sums.Row0, sums.Row0SecondHalf), Q6KOffset(scales0, q8[b].BSums));
            TLanes sumi1 = TOps.SubtractInt32(TOps.RunLanes(sums.Row1, sums.Row1SecondHalf), Q6KOffset(scales1, q8[b].BSums));
            float yd = q8[b].D;
            acc0 = TOps.MultiplyAdd(Avx2Dot.Scale(x0[b].D) * yd, sumi0, acc0);
            acc1 = TOps.MultiplyAdd(Avx2Dot.Scale(x1[b].D) * yd, sumi1, acc1);
        }
        y[0] = TOps.Sum(acc0);
        y[outputDistance] = TOps.Sum(acc1);
    }

    /// <summary>The −32 of every quant, per lane: 32 · Σ scale_g · bsum_g over the lane's two 16-element groups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TLanes Q6KOffset(Vector128<sbyte> scales, short* bsums) => TOps.ShiftLeftInt32(TOps.MultiplyAddBytes(bsums, scales), 5);

    /// <summary>
    /// Half <paramref name="half"/> (128 elements) of a Q6_K block: element e takes its low four bits from ql[e mod 64]
    /// (low nibble for e &lt; 64, high nibble above) and its top two from qh[e mod 32] bits 2·(e / 32). Each vector of ql
    /// bytes serves elements o.. and 64 + o..; qh serves every run at its own shift.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KHalf(BlockQ6K* x, sbyte* q8, TVector scales, int half, ref TVector sum, ref TVector secondHalfSum)
    {
        byte* ql = x->Ql + 64 * half;
        sbyte* y = q8 + 128 * half;
        TVector qhFirst = TOps.LoadFromRun(x->Qh + 32 * half, 0);
        TVector qhSecond = TOps.VectorBytes == 16 ? TOps.LoadFromRun(x->Qh + 32 * half, 16) : qhFirst;
        Q6KQl(ql, qhFirst, y, scales, 0, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes == 32) Q6KQl(ql, qhFirst, y, scales, 32, ref sum, ref secondHalfSum);
        if (TOps.VectorBytes == 16)
        {
            Q6KQl(ql, qhSecond, y, scales, 16, ref sum, ref secondHalfSum);
            Q6KQl(ql, qhFirst, y, scales, 32, ref sum, ref secondHalfSum);
            Q6KQl(ql, qhSecond, y, scales, 48, ref sum, ref secondHalfSum);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KQl(byte* ql, TVector qh, sbyte* y, TVector scales, int offset, ref TVector sum, ref TVector secondHalfSum)
    {
        TVector packed = TOps.Load(ql + offset);
        Accumulate(Q6KLanes(TOps.And(packed, TOps.Create(0x0F)), qh, y, scales, offset), offset, ref sum, ref secondHalfSum);
        Accumulate(Q6KLanes(TOps.And(TOps.ShiftPerRun(packed, 4, 0), TOps.Create(0x0F)), qh, y, scales, 64 + offset), offset, ref sum, ref secondHalfSum);
    }

    /// <summary>Elements <paramref name="element"/>.. of a half from their low four bits and qh, scaled (16-element groups).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q6KLanes(TVector lowBits, TVector qh, sbyte* y, TVector scales, int element)
    {
        TVector quants = Q6KQuants(lowBits, qh, TOps.Create(0x30), element);
        TVector groupScales = TOps.GroupScales(scales, element, 16);
        return TOps.ScaledDot(quants, TOps.Load(y + element), groupScales);
    }

    /// <summary>qh bits 2r..2r+1 of run r = element / 32 (and r + 1 in a vector's second run) moved to bits 4..5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Q6KQuants(TVector lowBits, TVector qh, TVector twoBits, int element) =>
        TOps.Or(lowBits, TOps.And(TOps.ShiftPerRun(qh, 2 * (element / 32) - 4, 2), twoBits));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KHalfTwoRows(BlockQ6K* x0, BlockQ6K* x1, sbyte* q8, TVector scales0, TVector scales1, int half, ref TwoRowSums sums)
    {
        byte* ql0 = x0->Ql + 64 * half, ql1 = x1->Ql + 64 * half;
        sbyte* y = q8 + 128 * half;
        TVector qh0 = TOps.LoadFromRun(x0->Qh + 32 * half, 0), qh1 = TOps.LoadFromRun(x1->Qh + 32 * half, 0);
        Q6KQlTwoRows(ql0, ql1, qh0, qh1, y, scales0, scales1, 0, ref sums);
        if (TOps.VectorBytes == 32) Q6KQlTwoRows(ql0, ql1, qh0, qh1, y, scales0, scales1, 32, ref sums);
        if (TOps.VectorBytes == 16)
        {
            TVector qh0Second = TOps.LoadFromRun(x0->Qh + 32 * half, 16), qh1Second = TOps.LoadFromRun(x1->Qh + 32 * half, 16);
            Q6KQlTwoRows(ql0, ql1, qh0Second, qh1Second, y, scales0, scales1, 16, ref sums);
            Q6KQlTwoRows(ql0, ql1, qh0, qh1, y, scales0, scales1, 32, ref sums);
            Q6KQlTwoRows(ql0, ql1, qh0Second, qh1Second, y, scales0, scales1, 48, ref sums);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KQlTwoRows(byte* ql0, byte* ql1, TVector qh0, TVector qh1, sbyte* y, TVector scales0, TVector scales1, int offset,
        ref TwoRowSums sums)
    {
        TVector nibble = TOps.Create(0x0F), twoBits = TOps.Create(0x30);
        TVector packed0 = TOps.Load(ql0 + offset), packed1 = TOps.Load(ql1 + offset);
        TVector activations = TOps.Load(y + offset);
        Accumulate(TOps.ScaledDot(Q6KQuants(TOps.And(packed0, nibble), qh0, twoBits, offset), activations, TOps.GroupScales(scales0, offset, 16)),
            offset, ref sums.Row0, ref sums.Row0SecondHalf);
        Accumulate(TOps.ScaledDot(Q6KQuants(TOps.And(packed1, nibble), qh1, twoBits, offset), activations, TOps.GroupScales(scales1, offset, 16)),
            offset, ref sums.Row1, ref sums.Row1SecondHalf);
        activations = TOps.Load(y + 64 + offset);
        Accumulate(TOps.ScaledDot(Q6KQuants(TOps.And(TOps.ShiftPerRun(packed0, 4, 0), nibble), qh0, twoBits, 64 + offset), activations,
            TOps.GroupScales(scales0, 64 + offset, 16)), offset, ref sums.Row0, ref sums.Row0SecondHalf);
        Accumulate(TOps.ScaledDot(Q6KQuants(TOps.And(TOps.ShiftPerRun(packed1, 4, 0), nibble), qh1, twoBits, 64 + offset), activations,
            TOps.GroupScales(scales1, 64 + offset, 16)), offset, ref sums.Row1, ref sums.Row1SecondHalf);
    }
}
