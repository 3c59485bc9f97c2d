using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The decode dots of the lattice i-quants against Q8_K (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M), written
/// once over <see cref="ISimdOps{TVector, TLanes}"/> and specialised per width: <see cref="Vector128Ops"/> (the 128-bit
/// path, ARM64), <see cref="Avx2Ops"/>, <see cref="Avx512Ops"/> and <see cref="Avx512TwinOps"/>. A type says how one of its
/// blocks unpacks (<see cref="ILatticeBlock"/>); the block walk, the vector steps and the float steps are here.
/// <para>
/// Each block is unpacked into a scratch area while the block before it finishes (so the loads of its grid points wait on
/// no recent store): its grid indices, one per point; its sign bits, one dword per 32-element sub-block (bit j of byte l
/// for element 8l + j); each 16 elements' odd multiplier 2s + 1 as an int16 pair per 4 elements, so that every width loads
/// its vector's scales in place; and for IQ1 each group of eight's shift. Per vector: the grid points by scalar-indexed
/// loads, the signs put onto the activations (the magnitudes stay unsigned, ≤ 62, so no vpmaddubsw pair saturates), and
/// <see cref="ISimdOps{TVector, TLanes}.ScaledDot"/> with the multipliers: lane k of a block sums Σ mult·w·q over elements
/// 4k..4k+3 of each sub-block, exactly (16-byte vectors give lanes 0..3 and 4..7 from a sub-block's two halves, 64-byte
/// ones add their two sub-blocks' lanes).
/// </para>
/// <para>
/// IQ2 and IQ3, per block, in float: acc += (d_x·d_y)·float(lanes), the type's power of two times the eight-lane sum at
/// the end (<see cref="ISimdOps{TVector, TLanes}.Sum"/>). Every width thus gives the same bits, and so does the GEMM
/// (Gemm.Lattice.cs), which repeats these lanes and float steps; the scalar reference adds one float product per block
/// instead, so they agree with it to float rounding (the 128-bit path included: it runs these steps too).
/// </para>
/// <para>
/// IQ1 grid points hold −1, 0, 1 and each group of eight a shift of ±1/8: the weights enter as unsigned bytes 8v + s + 9
/// (s = ±1), and 9·Σ_h mult_h·bsum_h comes off afterwards, so per block one exact integer X = 8·Σ(v·q·mult) + Σ(s·q·mult)
/// (|X| &lt; 2^23) and d_x·d_y·(X/8) is the reference's d_x·d_y·(sumi + shifts/8) bit for bit: both are exact in float.
/// </para>
/// </summary>
internal static unsafe class LatticeDot<TOps, TVector, TLanes>
    where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
{
    public static float IQ2XXS(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ2XXS>(w, a, n);
    public static float IQ2XS(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ2XS>(w, a, n);
    public static float IQ2S(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ2S>(w, a, n);
    public static float IQ3XXS(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ3XXS>(w, a, n);
    public static float IQ3S(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ3S>(w, a, n);
    public static float IQ1S(byte* w, byte* a, int n) => ShiftedDot<LatticeBlocks.IQ1S>(w, a, n);
    public static float IQ1M(byte* w, byte* a, int n) => ShiftedDot<LatticeBlocks.IQ1M>(w, a, n);

    /// <summary>
    /// Sub-blocks per vector step: a 64-byte vector takes two, the others one (16-byte vectors in two halves).
    /// (Not inlined without the attribute: a call in every loop.)
    /// </summary>
    private static int RunsPerStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TOps.VectorBytes == 64 ? 2 : 1;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TBlock>(byte* w, byte* a, int n) where TBlock : struct, ILatticeBlock
    {
        var y = (BlockQ8K*)a;
        TLanes acc = default;
        int* scratch = stackalloc int[LatticeScratch.Ints];
        int blocks = n / 256;
        if (blocks > 0) TBlock.Prepare(w, scratch);
        byte* grid = TBlock.Grid;
        for (int b = 0; b < blocks; b++, w += TBlock.BlockBytes)
        {
            sbyte* q8 = y[b].Qs;
            TVector sum = default, secondHalfSum = default;
            for (int run = 0; run < 8; run += RunsPerStep)
            {
                sum = TOps.AddInt32(sum, SignedPart<TBlock>(grid, q8, scratch, run, 0));
                if (TOps.VectorBytes == 16) secondHalfSum = TOps.AddInt32(secondHalfSum, SignedPart<TBlock>(grid, q8, scratch, run, 1));
            }
            if (b + 1 < blocks) TBlock.Prepare(w + TBlock.BlockBytes, scratch);
            acc = TOps.MultiplyAdd(TBlock.Scale(w) * y[b].D, TOps.RunLanes(sum, secondHalfSum), acc);
        }
        return TBlock.Factor * TOps.Sum(acc);
    }

    /// <summary>
    /// The vector of elements 32·<paramref name="run"/> + 16·<paramref name="half"/>.. (half 1 only for 16-byte vectors):
    /// Σ |w|·(±q) per four elements times their multiplier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector SignedPart<TBlock>(byte* grid, sbyte* q8, int* scratch, int run, int half) where TBlock : struct, ILatticeBlock
    {
        int element = 32 * run + 16 * half;
        TVector magnitudes = TBlock.PointBytes == 8
            ? TOps.GridPoints((ulong*)grid, scratch + LatticeScratch.Indices + element / 8)
            : TOps.GridPoints((uint*)grid, scratch + LatticeScratch.Indices + element / 4);
        var signs = (uint*)(scratch + LatticeScratch.Signs);
        TVector negative = TOps.BitsToBytes(signs[run], signs[run + 1], half);
        TVector signedActivations = TOps.NegateWhere(TOps.Load(q8 + element), negative);
        return TOps.ScaledDot(magnitudes, signedActivations, TOps.Load(scratch + LatticeScratch.Scales + element / 4));
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float ShiftedDot<TBlock>(byte* w, byte* a, int n) where TBlock : struct, ILatticeBlock
    {
        var y = (BlockQ8K*)a;
        float result = 0;
        int* scratch = stackalloc int[LatticeScratch.Ints];
        int blocks = n / 256;
        if (blocks > 0) TBlock.Prepare(w, scratch);
        var grid = (ulong*)TBlock.Grid;
        var shifts = (byte*)(scratch + LatticeScratch.Shifts);
        for (int b = 0; b < blocks; b++, w += TBlock.BlockBytes)
        {
            sbyte* q8 = y[b].Qs;
            TVector sum = default, secondHalfSum = default;
            for (int run = 0; run < 8; run += RunsPerStep)
            {
                sum = TOps.AddInt32(sum, ShiftedPart(grid, shifts, q8, scratch, run, 0));
                if (TOps.VectorBytes == 16) secondHalfSum = TOps.AddInt32(secondHalfSum, ShiftedPart(grid, shifts, q8, scratch, run, 1));
            }
            int offsets = 0;
            short* bsums = y[b].BSums;
            int* scales = scratch + LatticeScratch.Scales;
            for (int h = 0; h < 16; h++) offsets += (short)scales[4 * h] * bsums[h];
            int x = TOps.IntegerSum(TOps.RunLanes(sum, secondHalfSum)) - 9 * offsets;
            float scale = TBlock.Scale(w);
            if (b + 1 < blocks) TBlock.Prepare(w + TBlock.BlockBytes, scratch);
            result += scale * y[b].D * (x * Lattice.IQ1Delta);
        }
        return result;
    }

    /// <summary>The IQ1 vector of elements 32·<paramref name="run"/> + 16·<paramref name="half"/>..: Σ (8v + s + 9)·q per four elements times their multiplier.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector ShiftedPart(ulong* grid, byte* negatedShifts, sbyte* q8, int* scratch, int run, int half)
    {
        int element = 32 * run + 16 * half;
        TVector weights = TOps.SubtractBytes(TOps.GridPoints(grid, scratch + LatticeScratch.Indices + element / 8), TOps.SpreadGroupBytes(negatedShifts + element / 8));
        return TOps.ScaledDot(weights, TOps.Load(q8 + element), TOps.Load(scratch + LatticeScratch.Scales + element / 4));
    }
}

/// <summary>Where <see cref="ILatticeBlock.Prepare"/> puts a block's parts, in ints from the scratch area's start.</summary>
internal static class LatticeScratch
{
    /// <summary>The grid index of each point: 32 (eight-byte points) or 64 (four-byte points).</summary>
    public const int Indices = 0;

    /// <summary>The multiplier of each 4 elements as two equal int16 (the 16 elements' 2s + 1): 64 ints.</summary>
    public const int Scales = 64;

    /// <summary>The sign bits of each sub-block (bit j of byte l: element 8l + j negative): 8 dwords, then one the 512-bit step may read and ignores.</summary>
    public const int Signs = 128;

    /// <summary>IQ1: each group of eight's shift, negated, as a byte (−1 for +1/8, 1 for −1/8): 32 bytes.</summary>
    public const int Shifts = 144;

    public const int Ints = 160;
}

/// <summary>One lattice type's block, as <see cref="LatticeDot{TOps, TVector, TLanes}"/> reads it.</summary>
internal unsafe interface ILatticeBlock
{
    static abstract int BlockBytes { get; }

    /// <summary>The codebook's address: eight-byte points (IQ2; IQ1 as 8v + 9) or four-byte ones (IQ3).</summary>
    static abstract byte* Grid { get; }

    /// <summary>8 or 4.</summary>
    static abstract int PointBytes { get; }

    /// <summary>The power of two the dot ends with (the format's multipliers are (2s + 1) times it).</summary>
    static abstract float Factor { get; }

    /// <summary>The block's scale d as a float.</summary>
    static abstract float Scale(byte* block);

    /// <summary>Unpacks the block into <paramref name="scratch"/> at <see cref="LatticeScratch"/>'s places.</summary>
    static abstract void Prepare(byte* block, int* scratch);
}

/// <summary>
/// The lattice types' <see cref="ILatticeBlock"/>s, and the constants they share. Their unpacking runs on portable 128-bit
/// vectors, the same at every width.
/// </summary>
internal static unsafe class LatticeBlocks
{
    private static readonly ulong* IQ2XXSGrid = Pinned(LatticeGrids.IQ2XXS);
    private static readonly ulong* IQ2XSGrid = Pinned(LatticeGrids.IQ2XS);
    private static readonly ulong* IQ2SGrid = Pinned(LatticeGrids.IQ2S);
    private static readonly uint* IQ3XXSGrid = Pinned(LatticeGrids.IQ3XXS);
    private static readonly uint* IQ3SGrid = Pinned(LatticeGrids.IQ3S);

    /// <summary>
    /// The IQ1 grid points as 8v + 9 per coordinate (1, 9, 17), to which a group's shift s = ±1 is added in a byte:
    /// 8v + s + 9 is never negative, so vpmaddubsw takes it as the unsigned side. 16 KB, built once, never freed.
    /// </summary>
    private static readonly ulong* IQ1OffsetEightfoldGrid = BuildIQ1OffsetEightfoldGrid();

    private static T* Pinned<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var table = (T*)NativeMemory.AlignedAlloc((nuint)(values.Length * sizeof(T)), 64);
        values.CopyTo(new Span<T>(table, values.Length));
        return table;
    }

    private static ulong* BuildIQ1OffsetEightfoldGrid()
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ1S;
        var table = (ulong*)NativeMemory.AlignedAlloc((nuint)grid.Length * sizeof(ulong), 64);
        for (int i = 0; i < grid.Length; i++)
        {
            ulong point = 0;
            for (int j = 0; j < 8; j++) point |= (ulong)(byte)(8 * (sbyte)(grid[i] >> (8 * j)) + 9) << (8 * j);
            table[i] = point;
        }
        return table;
    }

    /// <summary>The multiplier of the 16 elements <paramref name="sixteen"/> (0..15) as an int16 pair, over its four dwords.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMultiplier(int* scratch, int sixteen, int multiplier) =>
        Vector128.Create(multiplier | multiplier << 16).Store(scratch + LatticeScratch.Scales + 4 * sixteen);

    /// <summary>IQ2_XS/IQ2_S: each sub-block's scale byte, its low nibble for the first 16 elements, its high one for the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreNibbleMultipliers(byte* scales, int* scratch)
    {
        for (int ib = 0; ib < 8; ib++)
        {
            StoreMultiplier(scratch, 2 * ib, 2 * (scales[ib] & 0xF) + 1);
            StoreMultiplier(scratch, 2 * ib + 1, 2 * (scales[ib] >> 4) + 1);
        }
    }

    /// <summary>The four bytes at <paramref name="bytes"/> as four ints.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> WidenFour(byte* bytes) =>
        Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(bytes)).AsByte()));

    /// <summary>
    /// The sign dwords of four sub-blocks whose four seven-bit patterns sit at bits 0, 7, 14, 21 of their dword of
    /// <paramref name="packed"/>: each pattern moved to a byte and completed by its parity (<see cref="Lattice.Signs"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> ImpliedSigns(Vector128<uint> packed) =>
        ParityToBit7((packed & Vector128.Create(0x7Fu)) | ((packed << 1) & Vector128.Create(0x7F00u))
            | ((packed << 2) & Vector128.Create(0x7F0000u)) | ((packed << 3) & Vector128.Create(0x7F000000u)));

    /// <summary>Each byte's bits 0..6 with their parity in bit 7 (bit 0 of each byte of the folded xors sees only its own byte).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> ParityToBit7(Vector128<uint> seven)
    {
        Vector128<uint> parity = seven ^ (seven >> 4);
        parity ^= parity >> 2;
        parity ^= parity >> 1;
        return seven | ((parity & Vector128.Create(0x01010101u)) << 7);
    }

    /// <summary>Each sub-block's two words: four grid index bytes, then four sign patterns and the scale nibble.</summary>
    internal readonly struct IQ2XXS : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ2XXS);
        public static byte* Grid => (byte*)IQ2XXSGrid;
        public static int PointBytes => 8;
        public static float Factor => 0.125f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ2XXS*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var words = (uint*)((BlockIQ2XXS*)block)->Qs;
            ImpliedSigns(Vector128.Create(words[1], words[3], words[5], words[7])).Store((uint*)(scratch + LatticeScratch.Signs));
            ImpliedSigns(Vector128.Create(words[9], words[11], words[13], words[15])).Store((uint*)(scratch + LatticeScratch.Signs + 4));
            for (int ib = 0; ib < 8; ib++)
            {
                WidenFour((byte*)(words + 2 * ib)).Store((uint*)(scratch + LatticeScratch.Indices + 4 * ib));
                int multiplier = (int)(2 * (words[2 * ib + 1] >> 28) + 1);
                StoreMultiplier(scratch, 2 * ib, multiplier);
                StoreMultiplier(scratch, 2 * ib + 1, multiplier);
            }
        }
    }

    /// <summary>Each group of eight is one 16-bit word: a 9-bit grid index under a 7-bit sign pattern; a scale byte per sub-block.</summary>
    internal readonly struct IQ2XS : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ2XS);
        public static byte* Grid => (byte*)IQ2XSGrid;
        public static int PointBytes => 8;
        public static float Factor => 0.125f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ2XS*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ2XS*)block;
            var indices = (uint*)(scratch + LatticeScratch.Indices);
            for (int v = 0; v < 4; v += 2)
            {
                Vector128<ushort> first = Vector128.Load(x->Qs + 8 * v), second = Vector128.Load(x->Qs + 8 * v + 8);
                Vector128<ushort> firstIndices = first & Vector128.Create((ushort)511), secondIndices = second & Vector128.Create((ushort)511);
                Vector128.WidenLower(firstIndices).Store(indices + 8 * v);
                Vector128.WidenUpper(firstIndices).Store(indices + 8 * v + 4);
                Vector128.WidenLower(secondIndices).Store(indices + 8 * v + 8);
                Vector128.WidenUpper(secondIndices).Store(indices + 8 * v + 12);
                // the sixteen patterns of sub-blocks 2v, 2v + 1 as bytes, in group order: their sign dwords
                Vector128<byte> patterns = Vector128.Narrow(first >>> 9, second >>> 9);
                ParityToBit7(patterns.AsUInt32()).Store((uint*)(scratch + LatticeScratch.Signs + 2 * v));
            }
            StoreNibbleMultipliers(x->Scales, scratch);
        }
    }

    /// <summary>Each group's 10-bit grid index: a byte, its bits 8..9 from qh; explicit sign bytes after the indices; a scale byte per sub-block.</summary>
    internal readonly struct IQ2S : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ2S);
        public static byte* Grid => (byte*)IQ2SGrid;
        public static int PointBytes => 8;
        public static float Factor => 0.125f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ2S*)block)->D);

        /// <summary>Group l's bits 8..9 sit at bits 2l..2l+1 of qh: moved to 8..9 by a multiplication by 2^(8 − 2l).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ2S*)block;
            Vector128<uint> topShift = Vector128.Create(256u, 64, 16, 4), topMask = Vector128.Create(0x300u);
            for (int ib = 0; ib < 8; ib++)
            {
                Vector128<uint> high = (Vector128.Create((uint)x->Qh[ib]) * topShift) & topMask;
                (WidenFour(x->Qs + 4 * ib) | high).Store((uint*)(scratch + LatticeScratch.Indices + 4 * ib));
            }
            Vector128.Load(x->Qs + 32).Store((byte*)(scratch + LatticeScratch.Signs));
            Vector128.Load(x->Qs + 48).Store((byte*)(scratch + LatticeScratch.Signs + 4));
            StoreNibbleMultipliers(x->Scales, scratch);
        }
    }

    /// <summary>64 grid index bytes (two per group of eight), then one dword per sub-block: four sign patterns and the scale nibble.</summary>
    internal readonly struct IQ3XXS : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ3XXS);
        public static byte* Grid => (byte*)IQ3XXSGrid;
        public static int PointBytes => 4;
        public static float Factor => 0.25f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ3XXS*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            byte* qs = ((BlockIQ3XXS*)block)->Qs;
            var indices = (uint*)(scratch + LatticeScratch.Indices);
            for (int v = 0; v < 4; v++)
            {
                Vector128<byte> bytes = Vector128.Load(qs + 16 * v);
                Vector128<ushort> lower = Vector128.WidenLower(bytes), upper = Vector128.WidenUpper(bytes);
                Vector128.WidenLower(lower).Store(indices + 16 * v);
                Vector128.WidenUpper(lower).Store(indices + 16 * v + 4);
                Vector128.WidenLower(upper).Store(indices + 16 * v + 8);
                Vector128.WidenUpper(upper).Store(indices + 16 * v + 12);
            }
            var packed = (uint*)(qs + 64);
            ImpliedSigns(Vector128.Load(packed)).Store((uint*)(scratch + LatticeScratch.Signs));
            ImpliedSigns(Vector128.Load(packed + 4)).Store((uint*)(scratch + LatticeScratch.Signs + 4));
            for (int ib = 0; ib < 8; ib++)
            {
                int multiplier = (int)(2 * (packed[ib] >> 28) + 1);
                StoreMultiplier(scratch, 2 * ib, multiplier);
                StoreMultiplier(scratch, 2 * ib + 1, multiplier);
            }
        }
    }

    /// <summary>Each point's 9-bit grid index: a byte, its bit 8 from qh; explicit sign bytes; a scale nibble per sub-block.</summary>
    internal readonly struct IQ3S : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ3S);
        public static byte* Grid => (byte*)IQ3SGrid;
        public static int PointBytes => 4;
        public static float Factor => 1f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ3S*)block)->D);

        /// <summary>Point k's bit 8 sits at bit k of qh: moved to 8 by a multiplication by 2^(8 − k).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ3S*)block;
            Vector128<uint> firstShift = Vector128.Create(256u, 128, 64, 32), secondShift = Vector128.Create(16u, 8, 4, 2), topMask = Vector128.Create(0x100u);
            var indices = (uint*)(scratch + LatticeScratch.Indices);
            for (int ib = 0; ib < 8; ib++)
            {
                Vector128<uint> qh = Vector128.Create((uint)x->Qh[ib]);
                Vector128<ushort> words = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(x->Qs + 8 * ib)).AsByte());
                (Vector128.WidenLower(words) | ((qh * firstShift) & topMask)).Store(indices + 8 * ib);
                (Vector128.WidenUpper(words) | ((qh * secondShift) & topMask)).Store(indices + 8 * ib + 4);
            }
            Vector128.Load(x->Signs).Store((byte*)(scratch + LatticeScratch.Signs));
            Vector128.Load(x->Signs + 16).Store((byte*)(scratch + LatticeScratch.Signs + 4));
            for (int ib = 0; ib < 8; ib++)
            {
                int multiplier = 2 * ((x->Scales[ib / 2] >> (4 * (ib % 2))) & 0xF) + 1;
                StoreMultiplier(scratch, 2 * ib, multiplier);
                StoreMultiplier(scratch, 2 * ib + 1, multiplier);
            }
        }
    }

    /// <summary>
    /// Each group's 11-bit grid index: a byte, its bits 8..10 from bits 3l..3l+2 of the sub-block's qh word; the word's
    /// bits 12..14 the scale, bit 15 the sub-block's shift sign.
    /// </summary>
    internal readonly struct IQ1S : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ1S);
        public static byte* Grid => (byte*)IQ1OffsetEightfoldGrid;
        public static int PointBytes => 8;
        public static float Factor => 1f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ1S*)block)->D);

        /// <summary>Bits 3l..3l+2 go to 11..13 by a multiplication by 2^(11 − 3l), then to 8..10.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ1S*)block;
            Vector128<uint> topShift = Vector128.Create(2048u, 256, 32, 4), topMask = Vector128.Create(0x700u);
            var shifts = (uint*)(scratch + LatticeScratch.Shifts);
            for (int ib = 0; ib < 8; ib++)
            {
                uint qh = x->Qh[ib];
                Vector128<uint> high = ((Vector128.Create(qh) * topShift) >>> 3) & topMask;
                (WidenFour(x->Qs + 4 * ib) | high).Store((uint*)(scratch + LatticeScratch.Indices + 4 * ib));
                shifts[ib] = (qh & 0x8000) != 0 ? 0x01010101u : 0xFFFFFFFFu;
                int multiplier = (int)(2 * ((qh >> 12) & 7) + 1);
                StoreMultiplier(scratch, 2 * ib, multiplier);
                StoreMultiplier(scratch, 2 * ib + 1, multiplier);
            }
        }
    }

    /// <summary>
    /// Group g's 11-bit grid index: a byte, its bits 8..10 from the low (even g) or high (odd g) nibble of qh byte g/2,
    /// whose bit 3 (7) is the group's shift sign; a 3-bit scale per 16 elements and the fp16 block scale in the scale words.
    /// </summary>
    internal readonly struct IQ1M : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ1M);
        public static byte* Grid => (byte*)IQ1OffsetEightfoldGrid;
        public static int PointBytes => 8;
        public static float Factor => 1f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(Lattice.IQ1MScaleHalf((BlockIQ1M*)block));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ1M*)block;
            Vector128<uint> topShift = Vector128.Create(256u, 16, 256, 16), topMask = Vector128.Create(0x700u);
            for (int ib = 0; ib < 8; ib++)
            {
                uint first = x->Qh[2 * ib], second = x->Qh[2 * ib + 1];
                Vector128<uint> high = (Vector128.Create(first, first, second, second) * topShift) & topMask;
                (WidenFour(x->Qs + 4 * ib) | high).Store((uint*)(scratch + LatticeScratch.Indices + 4 * ib));
            }
            // qh byte i and itself shifted up one byte: bit 3 of the low byte and bit 7 of the high one are groups 2i, 2i + 1's signs
            Vector128<byte> qh = Vector128.Load(x->Qh), signBits = Vector128.Create((ushort)0x8008).AsByte();
            Vector128<ushort> lower = Vector128.WidenLower(qh), upper = Vector128.WidenUpper(qh);
            Vector128<byte> lowerSigns = (lower | (lower << 8)).AsByte() & signBits, upperSigns = (upper | (upper << 8)).AsByte() & signBits;
            var shifts = (byte*)(scratch + LatticeScratch.Shifts);
            (Vector128.Equals(lowerSigns, Vector128<byte>.Zero) | Vector128<byte>.One).Store(shifts);
            (Vector128.Equals(upperSigns, Vector128<byte>.Zero) | Vector128<byte>.One).Store(shifts + 16);
            for (int h = 0; h < 16; h++) StoreMultiplier(scratch, h, Lattice.IQ1MMultiplier(x, h));
        }
    }
}
