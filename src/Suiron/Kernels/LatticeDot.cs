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
/// Each block is unpacked into one of two scratch areas while the block before it is summed from the other, so that the
/// loads of its parts find their stores long retired (a wide load over narrower recent stores would wait for them): its
/// grid indices, one ushort per point (IQ3_XXS's plain index bytes are read in place instead); its sign bits, one dword
/// per 32-element sub-block (bit j of byte l for element 8l + j); its odd multipliers 2s + 1, an int16 pair per
/// sub-block or an int16 per 16 elements, which each vector takes by broadcast loads; and for IQ1 the 16 multipliers as int16 too.
/// The unpacking is 128-bit vector work per block. Per vector: the grid points by scalar-indexed loads, the signs put onto the activations (the magnitudes stay
/// unsigned, ≤ 62, so no vpmaddubsw pair saturates), and <see cref="ISimdOps{TVector, TLanes}.ScaledDot"/> with the
/// multipliers: lane k of a block sums Σ mult·w·q over elements 4k..4k+3 of each sub-block, exactly (16-byte vectors give
/// lanes 0..3 and 4..7 from a sub-block's two halves, 64-byte ones add their two sub-blocks' lanes).
/// </para>
/// <para>
/// IQ2 and IQ3, per block, in float: acc += (d_x·d_y)·float(lanes), the type's power of two times the eight-lane sum at
/// the end (<see cref="ISimdOps{TVector, TLanes}.Sum"/>). Every width thus gives the same bits (the 128-bit one where its
/// multiply-add is fused: everywhere with FMA), and so does the GEMM (Gemm.Lattice.cs), which repeats these lanes and
/// float steps. The scalar reference adds one float product per block instead, so these dots agree with it to float
/// rounding; that holds for the 128-bit path too, which gave the reference's bits when it had kernels of its own and
/// now gives the AVX2 bits, so that the family has one arithmetic (LatticeQuantTests bounds both by 1e-5 of Σ|w·a|).
/// </para>
/// <para>
/// IQ1 grid points hold −1, 0, 1 and each group of eight a shift s/8, s = ±1: the group's index gains s's sign as bit 11,
/// into a grid of 8v + s + 9 per coordinate, never negative, so vpmaddubsw takes the weights as its unsigned side, and
/// 9·Σ_h mult_h·bsum_h comes off afterwards; per block one exact integer X = 8·Σ(v·q·mult) + Σ(s·q·mult) (|X| &lt; 2^23),
/// and d_x·d_y·(X/8) is the reference's d_x·d_y·(sumi + shifts/8) bit for bit: both are exact in float.
/// </para>
/// </summary>
internal static unsafe class LatticeDot<TOps, TVector, TLanes>
    where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
{
    public static float IQ2XXS(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ2XXS>(w, a, n, LatticeBlocks.IQ2XXS.Grid);
    public static float IQ2XS(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ2XS>(w, a, n, LatticeBlocks.IQ2XS.Grid);
    public static float IQ2S(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ2S>(w, a, n, LatticeBlocks.IQ2S.Grid);
    public static float IQ3XXS(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ3XXS>(w, a, n, LatticeBlocks.IQ3XXS.Grid);
    public static float IQ3S(byte* w, byte* a, int n) => Dot<LatticeBlocks.IQ3S>(w, a, n, LatticeBlocks.IQ3S.Grid);
    public static float IQ1S(byte* w, byte* a, int n) => ShiftedDot<LatticeBlocks.IQ1S>(w, a, n, (ulong*)LatticeBlocks.IQ1S.Grid);
    public static float IQ1M(byte* w, byte* a, int n) => ShiftedDot<LatticeBlocks.IQ1M>(w, a, n, (ulong*)LatticeBlocks.IQ1M.Grid);

    /// <summary>The type's dot, or null where <paramref name="type"/> is no lattice type.</summary>
    public static delegate*<byte*, byte*, int, float> For(TensorType type) => type switch
    {
        TensorType.IQ2_XXS => &IQ2XXS,
        TensorType.IQ2_XS => &IQ2XS,
        TensorType.IQ2_S => &IQ2S,
        TensorType.IQ3_XXS => &IQ3XXS,
        TensorType.IQ3_S => &IQ3S,
        TensorType.IQ1_S => &IQ1S,
        TensorType.IQ1_M => &IQ1M,
        _ => null,
    };

    /// <summary>The dot; <paramref name="grid"/> is <c>TBlock.Grid</c>, passed in so the loop keeps it in a register (read
    /// there, the JIT treats it as a constant and materialises it at every use).</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TBlock>(byte* w, byte* a, int n, byte* grid) where TBlock : struct, ILatticeBlock
    {
        var y = (BlockQ8K*)a;
        TLanes acc = default;
        int* scratch = stackalloc int[2 * LatticeScratch.Ints];
        int blocks = n / 256;
        if (blocks > 0) TBlock.Prepare(w, scratch);
        int pointsPerRun = 32 / TBlock.PointBytes;
        for (int b = 0; b < blocks; b++, w += TBlock.BlockBytes)
        {
            int* current = scratch + (b & 1) * LatticeScratch.Ints;
            if (b + 1 < blocks) TBlock.Prepare(w + TBlock.BlockBytes, scratch + ((b + 1) & 1) * LatticeScratch.Ints);
            sbyte* q8 = y[b].Qs;
            int* scales = current + LatticeScratch.Scales;
            // byte indices in the block itself (IQ3_XXS), or ushort ones in the scratch area: the points' loads read either
            var indices = TBlock.ByteIndicesAt >= 0 ? (ushort*)(w + TBlock.ByteIndicesAt) : (ushort*)(current + LatticeScratch.Indices);
            int indexBytes = TBlock.ByteIndicesAt >= 0 ? 1 : 2;
            var signs = (uint*)(current + LatticeScratch.Signs);
            TVector sum = default, secondHalfSum = default;
            int indexStride = indexBytes * pointsPerRun;
            // two sub-blocks per turn: one 64-byte vector, or each on its own
            for (int run = 0; run < 8; run += 2)
            {
                sum = TOps.AddInt32(sum, SignedPart<TBlock>(grid, q8, indices, signs, scales, 0));
                if (TOps.VectorBytes == 16) secondHalfSum = TOps.AddInt32(secondHalfSum, SignedPart<TBlock>(grid, q8, indices, signs, scales, 1));
                if (TOps.VectorBytes < 64)
                {
                    var nextIndices = (ushort*)((byte*)indices + indexStride);
                    sum = TOps.AddInt32(sum, SignedPart<TBlock>(grid, q8 + 32, nextIndices, signs + 1, scales + 1, 0));
                    if (TOps.VectorBytes == 16)
                        secondHalfSum = TOps.AddInt32(secondHalfSum, SignedPart<TBlock>(grid, q8 + 32, nextIndices, signs + 1, scales + 1, 1));
                }
                q8 += 64;
                indices = (ushort*)((byte*)indices + 2 * indexStride);
                signs += 2;
                scales += 2;
            }
            acc = TOps.MultiplyAdd(TBlock.Scale(w) * y[b].D, TOps.RunLanes(sum, secondHalfSum), acc);
        }
        return TBlock.Factor * TOps.Sum(acc);
    }

    /// <summary>
    /// The vector of the sub-block(s) at <paramref name="q8"/>, <paramref name="indices"/>, <paramref name="signs"/> and
    /// <paramref name="scales"/>, from element 16·<paramref name="half"/> (half 1 only for 16-byte vectors): Σ |w|·(±q)
    /// per four elements times their multiplier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector SignedPart<TBlock>(byte* grid, sbyte* q8, ushort* indices, uint* signs, int* scales, int half) where TBlock : struct, ILatticeBlock
    {
        TVector magnitudes = TBlock.PointBytes == 8 ? TOps.GridPoints((ulong*)grid, indices + 2 * half)
            : TBlock.ByteIndicesAt >= 0 ? TOps.GridPoints((uint*)grid, (byte*)indices + 4 * half)
            : TOps.GridPoints((uint*)grid, indices + 4 * half);
        TVector negative = TOps.NegativeMask(signs, half);
        TVector signedActivations = TOps.NegateWhere(TOps.Load(q8 + 16 * half), negative);
        return TOps.ScaledDot(magnitudes, signedActivations, Scales<TBlock>(scales, half));
    }

    /// <summary>The IQ1 dot; <paramref name="grid"/> is <c>TBlock.Grid</c>, passed in as for <see cref="Dot{TBlock}"/>.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float ShiftedDot<TBlock>(byte* w, byte* a, int n, ulong* grid) where TBlock : struct, ILatticeBlock
    {
        var y = (BlockQ8K*)a;
        float result = 0;
        int* scratch = stackalloc int[2 * LatticeScratch.Ints];
        int blocks = n / 256;
        if (blocks > 0) TBlock.Prepare(w, scratch);
        for (int b = 0; b < blocks; b++, w += TBlock.BlockBytes)
        {
            int* current = scratch + (b & 1) * LatticeScratch.Ints;
            if (b + 1 < blocks) TBlock.Prepare(w + TBlock.BlockBytes, scratch + ((b + 1) & 1) * LatticeScratch.Ints);
            sbyte* q8 = y[b].Qs;
            int* scales = current + LatticeScratch.Scales;
            var indices = (ushort*)(current + LatticeScratch.Indices);
            TVector sum = default, secondHalfSum = default;
            for (int run = 0; run < 8; run += 2)
            {
                sum = TOps.AddInt32(sum, ShiftedPart<TBlock>(grid, q8, indices, scales, 0));
                if (TOps.VectorBytes == 16) secondHalfSum = TOps.AddInt32(secondHalfSum, ShiftedPart<TBlock>(grid, q8, indices, scales, 1));
                if (TOps.VectorBytes < 64)
                {
                    sum = TOps.AddInt32(sum, ShiftedPart<TBlock>(grid, q8 + 32, indices + 4, scales + 1, 0));
                    if (TOps.VectorBytes == 16)
                        secondHalfSum = TOps.AddInt32(secondHalfSum, ShiftedPart<TBlock>(grid, q8 + 32, indices + 4, scales + 1, 1));
                }
                q8 += 64;
                indices += 8;
                scales += 2;
            }
            int x = TOps.IntegerSum(TOps.RunLanes(sum, secondHalfSum)) - 9 * OffsetSum((short*)(current + LatticeScratch.Multipliers), y[b].BSums);
            result += TBlock.Scale(w) * y[b].D * (x * Lattice.IQ1Delta);
        }
        return result;
    }

    /// <summary>The IQ1 vector of the sub-block(s) at the pointers, from element 16·<paramref name="half"/>: Σ (8v + s + 9)·q per four elements times their multiplier.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector ShiftedPart<TBlock>(ulong* grid, sbyte* q8, ushort* indices, int* scales, int half) where TBlock : struct, ILatticeBlock
    {
        TVector weights = TOps.GridPoints(grid, indices + 2 * half);
        return TOps.ScaledDot(weights, TOps.Load(q8 + 16 * half), Scales<TBlock>(scales, half));
    }

    /// <summary>
    /// The multipliers' words for the vector from element 16·<paramref name="half"/> of the sub-block(s) at
    /// <paramref name="scales"/> (one int per sub-block, or one int16 per 16 elements: either way one int per sub-block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Scales<TBlock>(int* scales, int half) where TBlock : struct, ILatticeBlock =>
        TBlock.ScalesPerSubBlock ? TOps.SubBlockScales(scales) : TOps.SixteenScales((short*)scales + half);

    /// <summary>Σ_h multiplier_h · bsum_h over the 16 groups of 16 (multipliers ≤ 15, |bsum| ≤ 16·127: every pair sum within int32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OffsetSum(short* multipliers, short* bsums) =>
        Vector128.Sum(Vector128Ops.MultiplyAddAdjacent(Vector128.Load(multipliers), Vector128.Load(bsums))
            + Vector128Ops.MultiplyAddAdjacent(Vector128.Load(multipliers + 8), Vector128.Load(bsums + 8)));
}

/// <summary>Where <see cref="ILatticeBlock.Prepare"/> puts a block's parts, in ints from the scratch area's start.</summary>
internal static class LatticeScratch
{
    /// <summary>
    /// The multiplier 2s + 1: of each sub-block as two equal int16 (8 ints, <see cref="ILatticeBlock.ScalesPerSubBlock"/>),
    /// or of each 16 elements as one int16 (16 of them).
    /// </summary>
    public const int Scales = 0;

    /// <summary>The grid index of each point as a ushort: 32 (eight-byte points) or 64 (four-byte points; IQ3_XXS keeps its bytes in place).</summary>
    public const int Indices = 64;

    /// <summary>The sign bits of each sub-block (bit j of byte l: element 8l + j negative): 8 dwords.</summary>
    public const int Signs = 96;

    /// <summary>IQ1: the 16 multipliers as int16.</summary>
    public const int Multipliers = 120;

    public const int Ints = 128;
}

/// <summary>One lattice type's block, as <see cref="LatticeDot{TOps, TVector, TLanes}"/> reads it.</summary>
internal unsafe interface ILatticeBlock
{
    static abstract int BlockBytes { get; }

    /// <summary>The codebook's address: eight-byte points (IQ2; IQ1 as 8v + s + 9) or four-byte ones (IQ3).</summary>
    static abstract byte* Grid { get; }

    /// <summary>8 or 4.</summary>
    static abstract int PointBytes { get; }

    /// <summary>
    /// Where the block keeps its (four-byte) points' indices as contiguous bytes, which the dot then reads in place; −1
    /// where <see cref="Prepare"/> stores them.
    /// </summary>
    static abstract int ByteIndicesAt { get; }

    /// <summary>Whether each 32-element sub-block has one multiplier (else one per 16 elements).</summary>
    static abstract bool ScalesPerSubBlock { get; }

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
    /// The IQ1 grid points as 8v + s + 9 per coordinate, index i + 2048 for the shift s = −1 and i for s = +1 (0..18, never
    /// negative: vpmaddubsw's unsigned side). 32 KB, built once, never freed.
    /// </summary>
    private static readonly ulong* IQ1ShiftedGrid = BuildIQ1ShiftedGrid();

    private static T* Pinned<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var table = (T*)NativeMemory.AlignedAlloc((nuint)(values.Length * sizeof(T)), 64);
        values.CopyTo(new Span<T>(table, values.Length));
        return table;
    }

    private static ulong* BuildIQ1ShiftedGrid()
    {
        ReadOnlySpan<ulong> grid = LatticeGrids.IQ1S;
        var table = (ulong*)NativeMemory.AlignedAlloc((nuint)(2 * grid.Length * sizeof(ulong)), 64);
        for (int i = 0; i < 2 * grid.Length; i++)
        {
            int shift = i >= grid.Length ? -1 : 1;
            ulong point = 0;
            for (int j = 0; j < 8; j++) point |= (ulong)(byte)(8 * (sbyte)(grid[i % grid.Length] >> (8 * j)) + 9 + shift) << (8 * j);
            table[i] = point;
        }
        return table;
    }

    /// <summary>Eight sub-blocks' multipliers as int16 pairs, one int each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMultiplierPairs(Vector128<ushort> multipliers, int* scales)
    {
        Vector128<uint> lower = Vector128.WidenLower(multipliers), upper = Vector128.WidenUpper(multipliers);
        (lower | (lower << 16)).Store((uint*)scales);
        (upper | (upper << 16)).Store((uint*)scales + 4);
    }

    /// <summary>The odd multipliers 2s + 1 of eight sub-blocks whose scale nibbles sit at bits 28..31 of their dwords.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTopNibbleMultipliers(Vector128<uint> first, Vector128<uint> second, int* scales) =>
        StoreMultiplierPairs((Vector128.Narrow(first >>> 28, second >>> 28) << 1) | Vector128<ushort>.One, scales);

    /// <summary>IQ2_XS/IQ2_S: each sub-block's scale byte, its low nibble for the first 16 elements, its high one for the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreNibbleMultipliers(byte* scales, int* scratch)
    {
        Vector128<byte> bytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(scales)).AsByte();
        // low nibbles in bytes 0..7, high ones in 8..15 (joined as two 64-bit scalars: a Create of the two Vector64 halves
        // compiles to a much slower sequence here), then interleaved into element order (sixteen h = 2ib + high)
        Vector128<byte> nibbles = Vector128.Create((bytes & Vector128.Create((byte)0xF)).AsUInt64().ToScalar(), (bytes.AsUInt16() >>> 4).AsByte().AsUInt64().ToScalar() & 0x0F0F0F0F0F0F0F0FUL).AsByte();
        Vector128<byte> ordered = Vector128.Shuffle(nibbles, Vector128.Create((byte)0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        Vector128<ushort> lower = Vector128.WidenLower(ordered), upper = Vector128.WidenUpper(ordered);
        var multipliers = (ushort*)(scratch + LatticeScratch.Scales);
        ((lower << 1) | Vector128<ushort>.One).Store(multipliers);
        ((upper << 1) | Vector128<ushort>.One).Store(multipliers + 8);
    }

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

    /// <summary>Each sub-block's two dwords: four grid index bytes, then four sign patterns and the scale nibble.</summary>
    internal readonly struct IQ2XXS : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ2XXS);
        public static byte* Grid => (byte*)IQ2XXSGrid;
        public static int PointBytes => 8;
        public static bool ScalesPerSubBlock => true;
        public static int ByteIndicesAt => -1;
        public static float Factor => 0.125f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ2XXS*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var words = (uint*)((BlockIQ2XXS*)block)->Qs;
            var indices = (ushort*)(scratch + LatticeScratch.Indices);
            // dwords 4k..4k+3 are sub-blocks 2k and 2k + 1: their index bytes are bytes 0..3 and 8..11
            Vector128<byte> pickIndices = Vector128.Create((byte)0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0);
            for (int k = 0; k < 4; k++)
                Vector128.WidenLower(Vector128.Shuffle(Vector128.Load((byte*)(words + 4 * k)), pickIndices)).Store(indices + 8 * k);
            Vector128<uint> first = Vector128.Create(words[1], words[3], words[5], words[7]);
            Vector128<uint> second = Vector128.Create(words[9], words[11], words[13], words[15]);
            ImpliedSigns(first).Store((uint*)(scratch + LatticeScratch.Signs));
            ImpliedSigns(second).Store((uint*)(scratch + LatticeScratch.Signs + 4));
            StoreTopNibbleMultipliers(first, second, scratch + LatticeScratch.Scales);
        }
    }

    /// <summary>Each group of eight is one 16-bit word: a 9-bit grid index under a 7-bit sign pattern; a scale byte per sub-block.</summary>
    internal readonly struct IQ2XS : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ2XS);
        public static byte* Grid => (byte*)IQ2XSGrid;
        public static int PointBytes => 8;
        public static bool ScalesPerSubBlock => false;
        public static int ByteIndicesAt => -1;
        public static float Factor => 0.125f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ2XS*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ2XS*)block;
            var indices = (ushort*)(scratch + LatticeScratch.Indices);
            for (int v = 0; v < 4; v += 2)
            {
                Vector128<ushort> first = Vector128.Load(x->Qs + 8 * v), second = Vector128.Load(x->Qs + 8 * v + 8);
                (first & Vector128.Create((ushort)511)).Store(indices + 8 * v);
                (second & Vector128.Create((ushort)511)).Store(indices + 8 * v + 8);
                // the sixteen patterns of sub-blocks v, v + 1, v + 2, v + 3 as bytes, in group order: their sign dwords
                ParityToBit7(Vector128.Narrow(first >>> 9, second >>> 9).AsUInt32()).Store((uint*)(scratch + LatticeScratch.Signs + 2 * v));
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
        public static bool ScalesPerSubBlock => false;
        public static int ByteIndicesAt => -1;
        public static float Factor => 0.125f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ2S*)block)->D);

        /// <summary>Group l's bits 8..9 sit at bits 2l..2l+1 of its sub-block's qh byte: moved to 8..9 by a multiplication by 2^(8 − 2l).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ2S*)block;
            var indices = (ushort*)(scratch + LatticeScratch.Indices);
            Vector128<ushort> qh = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(x->Qh)).AsByte());
            Vector128<ushort> topShift = Vector128.Create((ushort)256, 64, 16, 4, 256, 64, 16, 4), topMask = Vector128.Create((ushort)0x300);
            Vector128<ushort> low = Vector128.WidenLower(Vector128.Load(x->Qs)), high = Vector128.WidenUpper(Vector128.Load(x->Qs));
            (low | ((Vector128.Shuffle(qh, Vector128.Create((ushort)0, 0, 0, 0, 1, 1, 1, 1)) * topShift) & topMask)).Store(indices);
            (high | ((Vector128.Shuffle(qh, Vector128.Create((ushort)2, 2, 2, 2, 3, 3, 3, 3)) * topShift) & topMask)).Store(indices + 8);
            low = Vector128.WidenLower(Vector128.Load(x->Qs + 16));
            high = Vector128.WidenUpper(Vector128.Load(x->Qs + 16));
            (low | ((Vector128.Shuffle(qh, Vector128.Create((ushort)4, 4, 4, 4, 5, 5, 5, 5)) * topShift) & topMask)).Store(indices + 16);
            (high | ((Vector128.Shuffle(qh, Vector128.Create((ushort)6, 6, 6, 6, 7, 7, 7, 7)) * topShift) & topMask)).Store(indices + 24);
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
        public static bool ScalesPerSubBlock => true;
        public static int ByteIndicesAt => 2;
        public static float Factor => 0.25f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ3XXS*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            byte* qs = ((BlockIQ3XXS*)block)->Qs;
            Vector128<uint> first = Vector128.Load((uint*)(qs + 64)), second = Vector128.Load((uint*)(qs + 80));
            ImpliedSigns(first).Store((uint*)(scratch + LatticeScratch.Signs));
            ImpliedSigns(second).Store((uint*)(scratch + LatticeScratch.Signs + 4));
            StoreTopNibbleMultipliers(first, second, scratch + LatticeScratch.Scales);
        }
    }

    /// <summary>Each point's 9-bit grid index: a byte, its bit 8 from qh; explicit sign bytes; a scale nibble per sub-block.</summary>
    internal readonly struct IQ3S : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ3S);
        public static byte* Grid => (byte*)IQ3SGrid;
        public static int PointBytes => 4;
        public static bool ScalesPerSubBlock => true;
        public static int ByteIndicesAt => -1;
        public static float Factor => 1f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ3S*)block)->D);

        /// <summary>Point k's bit 8 sits at bit k of its sub-block's qh byte: moved to 8 by a multiplication by 2^(8 − k).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ3S*)block;
            var indices = (ushort*)(scratch + LatticeScratch.Indices);
            Vector128<ushort> topShift = Vector128.Create((ushort)256, 128, 64, 32, 16, 8, 4, 2), topMask = Vector128.Create((ushort)0x100);
            for (int ib = 0; ib < 8; ib++)
            {
                Vector128<ushort> low = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(x->Qs + 8 * ib)).AsByte());
                (low | ((Vector128.Create((ushort)x->Qh[ib]) * topShift) & topMask)).Store(indices + 8 * ib);
            }
            Vector128.Load(x->Signs).Store((byte*)(scratch + LatticeScratch.Signs));
            Vector128.Load(x->Signs + 16).Store((byte*)(scratch + LatticeScratch.Signs + 4));
            // sub-block ib's scale is nibble ib of the four scale bytes
            Vector128<uint> nibbles = Vector128.Create((uint)Unsafe.ReadUnaligned<uint>(x->Scales));
            Vector128<int> first = ((nibbles * Vector128.Create(1u << 28, 1u << 24, 1u << 20, 1u << 16)) >>> 28).AsInt32();
            Vector128<int> second = ((nibbles * Vector128.Create(1u << 12, 1u << 8, 1u << 4, 1u)) >>> 28).AsInt32();
            StoreMultiplierPairs((Vector128.Narrow(first, second).AsUInt16() << 1) | Vector128<ushort>.One, scratch + LatticeScratch.Scales);
        }
    }

    /// <summary>
    /// Each group's 11-bit grid index: a byte, its bits 8..10 from bits 3l..3l+2 of the sub-block's qh word; the word's
    /// bits 12..14 the scale, bit 15 the sub-block's shift sign (bit 11 of each of its groups' indices).
    /// </summary>
    internal readonly struct IQ1S : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ1S);
        public static byte* Grid => (byte*)IQ1ShiftedGrid;
        public static int PointBytes => 8;
        public static bool ScalesPerSubBlock => true;
        public static int ByteIndicesAt => -1;
        public static float Factor => 1f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(((BlockIQ1S*)block)->D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ1S*)block;
            var indices = (ushort*)(scratch + LatticeScratch.Indices);
            Vector128<ushort> qh = Vector128.Load(x->Qh);
            // groups 0..2 of a sub-block move their qh bits 3l..3l+2 up to 8..10 by 2^(8 − 3l), group 3 its bits 9..11 down by one
            Vector128<ushort> topShift = Vector128.Create((ushort)256, 32, 4, 0, 256, 32, 4, 0), lastGroup = Vector128.Create(0, 0, 0, 0xFFFF, 0, 0, 0, 0xFFFF).AsUInt16();
            Vector128<ushort> topMask = Vector128.Create((ushort)0x700);
            Vector128<byte> low = Vector128.Load(x->Qs), later = Vector128.Load(x->Qs + 16);
            (Vector128.WidenLower(low) | TopBits(Vector128.Shuffle(qh, Vector128.Create((ushort)0, 0, 0, 0, 1, 1, 1, 1)), topShift, lastGroup, topMask)).Store(indices);
            (Vector128.WidenUpper(low) | TopBits(Vector128.Shuffle(qh, Vector128.Create((ushort)2, 2, 2, 2, 3, 3, 3, 3)), topShift, lastGroup, topMask)).Store(indices + 8);
            (Vector128.WidenLower(later) | TopBits(Vector128.Shuffle(qh, Vector128.Create((ushort)4, 4, 4, 4, 5, 5, 5, 5)), topShift, lastGroup, topMask)).Store(indices + 16);
            (Vector128.WidenUpper(later) | TopBits(Vector128.Shuffle(qh, Vector128.Create((ushort)6, 6, 6, 6, 7, 7, 7, 7)), topShift, lastGroup, topMask)).Store(indices + 24);
            Vector128<ushort> odd = (((qh >>> 12) & Vector128.Create((ushort)7)) << 1) | Vector128<ushort>.One;
            // each sub-block's multiplier for both its groups of 16
            var multipliers = (short*)(scratch + LatticeScratch.Multipliers);
            Vector128.Shuffle(odd, Vector128.Create((ushort)0, 0, 1, 1, 2, 2, 3, 3)).AsInt16().Store(multipliers);
            Vector128.Shuffle(odd, Vector128.Create((ushort)4, 4, 5, 5, 6, 6, 7, 7)).AsInt16().Store(multipliers + 8);
            StoreMultiplierPairs(odd, scratch + LatticeScratch.Scales);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> TopBits(Vector128<ushort> qh, Vector128<ushort> topShift, Vector128<ushort> lastGroup, Vector128<ushort> topMask) =>
        (((qh * topShift) | ((qh >>> 1) & lastGroup)) & topMask) | ((qh >>> 4) & Vector128.Create((ushort)0x800));

    /// <summary>
    /// Group g's 11-bit grid index: a byte, its bits 8..10 from the low (even g) or high (odd g) nibble of qh byte g/2,
    /// whose bit 3 (7) is the group's shift sign (bit 11 of the index); a 3-bit scale per 16 elements and the fp16 block
    /// scale in the scale words.
    /// </summary>
    internal readonly struct IQ1M : ILatticeBlock
    {
        public static int BlockBytes => sizeof(BlockIQ1M);
        public static byte* Grid => (byte*)IQ1ShiftedGrid;
        public static int PointBytes => 8;
        public static bool ScalesPerSubBlock => false;
        public static int ByteIndicesAt => -1;
        public static float Factor => 1f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block) => Avx2Dot.Scale(Lattice.IQ1MScaleHalf((BlockIQ1M*)block));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ1M*)block;
            var indices = (ushort*)(scratch + LatticeScratch.Indices);
            Vector128<byte> qh = Vector128.Load(x->Qh);
            // group g's qh byte g/2, moved up by 8 (even g: its low nibble) or 4 (odd g: its high one): bits 8..10 and the sign at 11
            Vector128<ushort> topShift = Vector128.Create((ushort)256, 16, 256, 16, 256, 16, 256, 16), topMask = Vector128.Create((ushort)0xF00);
            Vector128<byte> pairs = Vector128.Shuffle(qh, Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
            Vector128<byte> laterPairs = Vector128.Shuffle(qh, Vector128.Create((byte)8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
            Vector128<byte> low = Vector128.Load(x->Qs), later = Vector128.Load(x->Qs + 16);
            (Vector128.WidenLower(low) | ((Vector128.WidenLower(pairs) * topShift) & topMask)).Store(indices);
            (Vector128.WidenUpper(low) | ((Vector128.WidenUpper(pairs) * topShift) & topMask)).Store(indices + 8);
            (Vector128.WidenLower(later) | ((Vector128.WidenLower(laterPairs) * topShift) & topMask)).Store(indices + 16);
            (Vector128.WidenUpper(later) | ((Vector128.WidenUpper(laterPairs) * topShift) & topMask)).Store(indices + 24);
            // scale word k holds the 3-bit fields of sixteens 4k..4k+3 at bits 0, 3, 6, 9: moved to 9..11 by 2^(9 − 3j), then down
            Vector128<ushort> words = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(x->Scales)).AsUInt16();
            Vector128<ushort> fieldShift = Vector128.Create((ushort)512, 64, 8, 1, 512, 64, 8, 1);
            Vector128<ushort> first = OddFields(Vector128.Shuffle(words, Vector128.Create((ushort)0, 0, 0, 0, 1, 1, 1, 1)), fieldShift);
            Vector128<ushort> second = OddFields(Vector128.Shuffle(words, Vector128.Create((ushort)2, 2, 2, 2, 3, 3, 3, 3)), fieldShift);
            var multipliers = (short*)(scratch + LatticeScratch.Multipliers);
            first.AsInt16().Store(multipliers);
            second.AsInt16().Store(multipliers + 8);
            first.Store((ushort*)(scratch + LatticeScratch.Scales));
            second.Store((ushort*)(scratch + LatticeScratch.Scales) + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<ushort> OddFields(Vector128<ushort> words, Vector128<ushort> fieldShift) =>
            ((((words * fieldShift) >>> 9) & Vector128.Create((ushort)7)) << 1) | Vector128<ushort>.One;
    }
}
