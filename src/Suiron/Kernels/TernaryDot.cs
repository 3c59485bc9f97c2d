using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The ternary dots (TQ1_0, TQ2_0 against Q8_K), written once over <see cref="ISimdOps{TVector, TLanes}"/> and
/// specialised per width: <see cref="Vector128Ops"/>, <see cref="Avx2Ops"/>, <see cref="Avx512Ops"/> and
/// <see cref="Avx512TwinOps"/>.
/// <para>
/// Per block the trits t ∈ {0, 1, 2} are multiplied unsigned by the activations (vpmaddubsw; each pair at most 2·2·128)
/// and added up in int16 from the negated Q8_K group sums, which takes the −1 of t − 1 off: Σ (t − 1)·y, exactly (a lane
/// takes at most 16 pairs and two group sums, 16·512 + 2·2048 &lt; 2¹⁵; 16·768 + 2·2048 for the two-bit t = 3 that no
/// quantizer writes but a file may hold, which the reference reads as 3). Then, as <see cref="Ternary.DotTQ1_0"/>:
/// sum += integer · (d_x · d_y), in block order, so every width gives the scalar reference's bits.
/// </para>
/// <para>
/// A 32-byte vector holds a 32-element run of one block, a 16-byte vector half of one, a 64-byte vector the same run of
/// two blocks (an odd last block fills both halves and keeps one), as in <see cref="Block32Dot{TOps, TVector, TLanes}"/>.
/// Two vectors' block sums share their horizontal steps (<see cref="ISimdOps{TVector, TLanes}.BlockSums"/>).
/// </para>
/// </summary>
internal static unsafe class TernaryDot<TOps, TVector, TLanes>
    where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
{
    /// <summary>
    /// TQ2_0: byte m of the 32 at 32·h holds elements 128·h + 32·l + m in its bits 2l, 2l + 1; each shift by 2l, masked,
    /// gives the trits of a 32-element run.
    /// </summary>
    public static float TQ2_0(byte* w, byte* a, int n) => Dot<TQ2_0Blocks>(w, a, n);

    /// <summary>
    /// TQ1_0. Trit n of a byte v is ⌊3·(v·3ⁿ mod 256) / 256⌋: 0 below 86, 1 below 171, else 2, so two signed compares of the
    /// byte xor 0x80 give it, and since 3·128 ≡ 128 (mod 256) the biased bytes are multiplied by 3 in place (two byte adds)
    /// from one trit to the next. The first 32 bytes make five runs of 32 weights; the next 16 bytes two trits per run
    /// (the upper 16 bytes one power ahead of the lower, as the activations run on), and the last run pairs their fifth
    /// trit with the four-trit bytes qh (upper byte p: qh[p % 4]·3^(p / 4)).
    /// </summary>
    public static float TQ1_0(byte* w, byte* a, int n) => Dot<TQ1_0Blocks>(w, a, n);

    /// <summary>Blocks per vector: two for 64-byte vectors, else one. (Inlined: a call in every loop otherwise.)</summary>
    private static int BlocksPerVector
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TOps.VectorBytes == 64 ? 2 : 1;
    }

    /// <summary>16-byte vectors take a run in two halves.</summary>
    private static int HalvesPerRun
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TOps.VectorBytes == 16 ? 2 : 1;
    }

    /// <summary>A ternary type: its block size, its scale and the int16 words of a block's Σ (t − 1)·y (of two blocks, paired).</summary>
    private interface ITernaryBlocks
    {
        static abstract int BlockBytes { get; }

        static abstract Half Scale(byte* block);

        /// <summary>Words whose sum over a block's part of the vector is its Σ (t − 1)·y.</summary>
        static abstract TVector Words(byte* first, byte* second, BlockQ8K* firstY, BlockQ8K* secondY);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TBlocks>(byte* w, byte* a, int n) where TBlocks : struct, ITernaryBlocks
    {
        var y = (BlockQ8K*)a;
        int blocks = n / 256, size = TBlocks.BlockBytes, step = BlocksPerVector;
        float sum = 0;
        int b = 0;
        for (; b + 2 * step <= blocks; b += 2 * step)
        {
            byte* x = w + (long)b * size;
            TVector first = TBlocks.Words(x, x + (step - 1) * size, y + b, y + b + step - 1);
            TVector second = TBlocks.Words(x + step * size, x + (2 * step - 1) * size, y + b + step, y + b + 2 * step - 1);
            Vector128<int> sums = TOps.BlockSums(first, second);
            sum += sums.GetElement(0) * (Avx2Dot.Scale(TBlocks.Scale(x)) * y[b].D);
            sum += sums.GetElement(1) * (Avx2Dot.Scale(TBlocks.Scale(x + size)) * y[b + 1].D);
            if (step == 2)
            {
                sum += sums.GetElement(2) * (Avx2Dot.Scale(TBlocks.Scale(x + 2 * size)) * y[b + 2].D);
                sum += sums.GetElement(3) * (Avx2Dot.Scale(TBlocks.Scale(x + 3 * size)) * y[b + 3].D);
            }
        }
        for (; b < blocks; b += step)
        {
            // one or two blocks; a lone block fills both halves of a 64-byte vector and keeps the first sum
            byte* x = w + (long)b * size;
            int last = Math.Min(b + step, blocks) - 1;
            TVector words = TBlocks.Words(x, w + (long)last * size, y + b, y + last);
            Vector128<int> sums = TOps.BlockSums(words, words);
            sum += sums.GetElement(0) * (Avx2Dot.Scale(TBlocks.Scale(x)) * y[b].D);
            if (last > b) sum += sums.GetElement(1) * (Avx2Dot.Scale(TBlocks.Scale(x + size)) * y[b + 1].D);
        }
        return sum;
    }

    /// <summary>The words less the Q8_K group sums: Σ y taken off once turns Σ t·y into Σ (t − 1)·y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector LessGroupSums(TVector words, BlockQ8K* firstY, BlockQ8K* secondY, int half) =>
        TOps.SubtractInt16(words, TOps.LoadRuns((byte*)firstY->BSums, (byte*)secondY->BSums, half));

    /// <summary>The words plus the trits of the biased bytes times the activations of the run at <paramref name="element"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector AddRun(TVector words, TVector biased, BlockQ8K* firstY, BlockQ8K* secondY, int element, int half) =>
        TOps.AddInt16(words, TOps.MultiplyAddPairs(TritsOfBiased(biased), TOps.LoadRuns((byte*)firstY->Qs + element, (byte*)secondY->Qs + element, half)));

    private readonly struct TQ2_0Blocks : ITernaryBlocks
    {
        public static int BlockBytes => sizeof(BlockTQ2_0);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Half Scale(byte* block) => ((BlockTQ2_0*)block)->D;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Words(byte* first, byte* second, BlockQ8K* firstY, BlockQ8K* secondY)
        {
            TVector words = default;
            for (int half = 0; half < HalvesPerRun; half++)
            {
                words = LessGroupSums(words, firstY, secondY, half);
                for (int part = 0; part < 2; part++)
                {
                    TVector packed = TOps.LoadRuns(first + 32 * part, second + 32 * part, half);
                    // one pointer per 128 activations, so that each load's offset is a constant of its address
                    byte* firstQ = (byte*)firstY->Qs + 128 * part, secondQ = (byte*)secondY->Qs + 128 * part;
                    words = TOps.AddInt16(words, Run(packed, 0, firstQ, secondQ, half));
                    words = TOps.AddInt16(words, Run(packed, 2, firstQ + 32, secondQ + 32, half));
                    words = TOps.AddInt16(words, Run(packed, 4, firstQ + 64, secondQ + 64, half));
                    words = TOps.AddInt16(words, Run(packed, 6, firstQ + 96, secondQ + 96, half));
                }
            }
            return words;
        }

        /// <summary>The trits in bits <paramref name="shift"/>, shift + 1 of the packed bytes times their activations, as int16 pair sums.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TVector Run(TVector packed, int shift, byte* firstQ, byte* secondQ, int half) =>
            TOps.MultiplyAddPairs(TOps.And(TOps.ShiftPerRun(packed, shift, 0), TOps.Create(3)), TOps.LoadRuns(firstQ, secondQ, half));
    }

    private readonly struct TQ1_0Blocks : ITernaryBlocks
    {
        public static int BlockBytes => sizeof(BlockTQ1_0);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Half Scale(byte* block) => ((BlockTQ1_0*)block)->D;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVector Words(byte* first, byte* second, BlockQ8K* firstY, BlockQ8K* secondY)
        {
            var x0 = (BlockTQ1_0*)first;
            var x1 = (BlockTQ1_0*)second;
            // the 16 middle bytes times 3ⁿ and the qh run, biased, per block (the second block's on 64-byte vectors)
            Vector128<byte> middle = TernaryLanes.Biased(x0->Qs + 32), middleSecond = default;
            Vector128<byte> middle3 = TernaryLanes.TimesThree(middle), middle3Second = default;
            Vector128<byte> middle9 = TernaryLanes.TimesThree(middle3), middle9Second = default;
            Vector128<byte> middle27 = TernaryLanes.TimesThree(middle9), middle27Second = default;
            Vector128<byte> middle81 = TernaryLanes.TimesThree(middle27), middle81Second = default;
            Vector128<byte> high = TernaryLanes.HighRun(x0->Qh), highSecond = default;
            if (TOps.VectorBytes == 64)
            {
                middleSecond = TernaryLanes.Biased(x1->Qs + 32);
                middle3Second = TernaryLanes.TimesThree(middleSecond);
                middle9Second = TernaryLanes.TimesThree(middle3Second);
                middle27Second = TernaryLanes.TimesThree(middle9Second);
                middle81Second = TernaryLanes.TimesThree(middle27Second);
                highSecond = TernaryLanes.HighRun(x1->Qh);
            }
            TVector bias = TOps.Create(0x80);
            TVector words = default;
            for (int half = 0; half < HalvesPerRun; half++)
            {
                words = LessGroupSums(words, firstY, secondY, half);
                TVector packed = TOps.AddBytes(TOps.LoadRuns(x0->Qs, x1->Qs, half), bias);
                for (int t = 0; t < 5; t++, packed = TimesThree(packed))
                    words = AddRun(words, packed, firstY, secondY, 32 * t, half);
                // elements 160.. : the middle bytes' trits 0 and 1, then 2 and 3, then trit 4 beside the qh run
                words = AddRun(words, TOps.FromLanes(middle, middle3, middleSecond, middle3Second, half), firstY, secondY, 160, half);
                words = AddRun(words, TOps.FromLanes(middle9, middle27, middle9Second, middle27Second, half), firstY, secondY, 192, half);
                words = AddRun(words, TOps.FromLanes(middle81, high, middle81Second, highSecond, half), firstY, secondY, 224, half);
            }
            return words;
        }
    }

    /// <summary>Each byte times 3 modulo 256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector TimesThree(TVector v) => TOps.AddBytes(TOps.AddBytes(v, v), v);

    /// <summary>The trits 0..2 of bytes held xor 0x80: (v ≥ 86) + (v ≥ 171).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector TritsOfBiased(TVector biased) =>
        TOps.IncrementWhereGreater(TOps.IncrementWhereGreater(default, biased, TOps.Create(85 - 128 + 256)), biased, TOps.Create(170 - 128));
}

/// <summary>The 16-byte pieces of a TQ1_0 block that every width builds its upper runs from (the same at every width).</summary>
internal static unsafe class TernaryLanes
{
    /// <summary>The 16 bytes at <paramref name="bytes"/> xor 0x80.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Biased(byte* bytes) => Vector128.Load(bytes) + Vector128.Create((byte)0x80);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> TimesThree(Vector128<byte> v) => v + v + v;

    /// <summary>The qh run, biased: byte p is qh[p % 4]·3^(p / 4) xor 0x80, so its trit 0 is element 240 + p's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> HighRun(byte* qh)
    {
        Vector128<byte> once = (Vector128.Create(*(uint*)qh).AsByte() + Vector128.Create((byte)0x80));
        Vector128<byte> thrice = TimesThree(once), nine = TimesThree(thrice), twentySeven = TimesThree(nine);
        if (Avx2.IsSupported)
            return Avx2.Blend(Avx2.Blend(once.AsInt32(), thrice.AsInt32(), 0b0010), Avx2.Blend(nine.AsInt32(), twentySeven.AsInt32(), 0b1000), 0b1100).AsByte();
        Vector128<byte> low = Vector128.ConditionalSelect(Vector128.Create(0, -1, 0, 0).AsByte(), thrice, once);
        Vector128<byte> high = Vector128.ConditionalSelect(Vector128.Create(0, 0, 0, -1).AsByte(), twentySeven, nine);
        return Vector128.ConditionalSelect(Vector128.Create(0, 0, -1, -1).AsByte(), high, low);
    }
}
