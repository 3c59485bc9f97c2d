using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

// The AVX2 dots of the lattice i-quants. A sub-block's 32 grid bytes come from four (IQ2, IQ1) or eight (IQ3) scalar
// table loads. Where the indices are plain bytes or masked words they are read in place; where their bits are spread over
// several fields (IQ2_S, IQ3_S, IQ1_S, IQ1_M) a block's indices are built in vectors and stored while the block before it
// finishes, so the loads neither wait on those stores nor go through a vpgather, which ran slower. Everything else a
// block needs — its sign bytes, its multipliers, IQ1's shift terms — is built once per block and each sub-block picks its
// share with one shuffle or a broadcast load, in place of per-group table loads and scalar bit fiddling. The signs go onto
// the activations, so vpmaddubsw can take the unsigned magnitudes (≤ 62: pair sums stay below 2^15) against the signed
// products; one vpmaddwd with the sub-block's odd multipliers 2s + 1 (one per 16 weights) brings them to int32. A
// super-block's integers add up exactly, then one FMA with d_x·d_y, so each block's contribution is the scalar
// reference's up to float rounding. The IQ1 grids hold −1, 0, 1: for IQ1_S vpsignb of the activations by the grid point
// is the product itself; IQ1_M folds each group's shift into an unsigned byte (8v ± 1 + 9).
internal static unsafe partial class Lattice
{
    /// <summary>
    /// For each 7-bit stored sign pattern, its eight ±1 bytes (the eighth sign implied, see <see cref="Signs"/>): one
    /// table load per group of 8 in place of a popcount and a bit-to-byte expansion. 1 KB, built once, never freed.
    /// </summary>
    private static readonly ulong* ImpliedSignTable = BuildImpliedSignTable();

    private static ulong* BuildImpliedSignTable()
    {
        var table = (ulong*)NativeMemory.AlignedAlloc(128 * sizeof(ulong), 64);
        for (uint i = 0; i < 128; i++)
        {
            int signs = Signs(i);
            ulong bytes = 0;
            for (int j = 0; j < 8; j++) bytes |= (ulong)((signs >> j & 1) != 0 ? 0xFF : 0x01) << (8 * j);
            table[i] = bytes;
        }
        return table;
    }

    /// <summary>±1 bytes of four groups whose seven-bit sign patterns are <paramref name="s0"/>..<paramref name="s3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> ImpliedSignVector(uint s0, uint s1, uint s2, uint s3) =>
        Vector256.Create(ImpliedSignTable[s0], ImpliedSignTable[s1], ImpliedSignTable[s2], ImpliedSignTable[s3]).AsSByte();

    /// <summary>±1 bytes of a sub-block whose four seven-bit sign patterns are packed at bits 0, 7, 14, 21.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> ImpliedSignVector(uint packed) =>
        ImpliedSignVector(packed & 127, packed >> 7 & 127, packed >> 14 & 127, packed >> 21 & 127);

    /// <summary>±1 bytes, −1 where bit j of byte l of <paramref name="signBytes"/> is set (element 8l + j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> SignVector(uint signBytes) => (Avx2Dot.BitsToBytes(signBytes) | Vector256.Create((byte)1)).AsSByte();

    /// <summary>
    /// Sub-block <paramref name="which"/>'s multipliers for vpmaddwd: lane ib of <paramref name="first"/> for its first 16
    /// weights (lanes 0..3), of <paramref name="second"/> for the rest (lanes 4..7).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> HalfMultipliers(Vector256<int> first, Vector256<int> second, Vector256<int> which) =>
        Avx2.Blend(Avx2.PermuteVar8x32(first, which), Avx2.PermuteVar8x32(second, which), 0b1111_0000).AsInt16();

    /// <summary>Four eight-byte grid points (IQ2, IQ1 codebooks) side by side: 32 weights in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Points(ulong* grid, int i0, int i1, int i2, int i3) =>
        Vector256.Create(grid[i0], grid[i1], grid[i2], grid[i3]).AsByte();

    /// <summary>Eight four-byte grid points (IQ3 codebooks) whose indices are the bytes at <paramref name="indices"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Points(uint* grid, byte* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]],
            grid[indices[4]], grid[indices[5]], grid[indices[6]], grid[indices[7]]).AsByte();

    /// <summary>
    /// IQ1_M: the shift signs of sub-block <paramref name="ib"/>'s four groups as sign bytes (0xFF where the shift is
    /// −1/8): bits 3 and 7 of each qh byte belong to its two groups.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint IQ1MShiftSigns(BlockIQ1M* block, int ib)
    {
        uint qh = *(ushort*)(block->Qh + 2 * ib);
        return (qh >> 3 & 1) * 0xFFu | (qh >> 7 & 1) * 0xFF00u | (qh >> 11 & 1) * 0xFF0000u | (qh >> 15 & 1) * 0xFF000000u;
    }

    /// <summary>Eight four-byte grid points (IQ3 codebooks) whose indices are the ints at <paramref name="indices"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Points(uint* grid, int* indices) =>
        Vector256.Create(grid[indices[0]], grid[indices[1]], grid[indices[2]], grid[indices[3]],
            grid[indices[4]], grid[indices[5]], grid[indices[6]], grid[indices[7]]).AsByte();

    /// <summary>
    /// One IQ2/IQ3 type's block for the shared AVX2 dot (<see cref="Avx2OneRow{T}"/>):
    /// eight int32 lanes, lane k holding Σ over the sub-blocks of multiplier · Σ grid·sign·q over weights 4k..4k+3 of the
    /// sub-block — the lanes the GEMM panel (Gemm.Lattice.cs) reproduces, so decode and prefill stay bit-identical.
    /// </summary>
    internal interface ILatticeBlocks
    {
        /// <summary>The codebook, as bytes.</summary>
        static abstract ReadOnlySpan<byte> Grid { get; }

        static abstract int BlockBytes { get; }

        /// <summary>The power of two the dot ends with (the format's multipliers are (2s + 1) times it).</summary>
        static abstract float Factor { get; }

        /// <summary>
        /// Stores what <see cref="Lanes"/> of the block will load from <c>scratch</c> (128 ints: its grid indices…); called
        /// while the block before it finishes, so those loads need not wait on the stores.
        /// </summary>
        static virtual void Prepare(byte* block, int* scratch) { }

        /// <summary>The block's lanes; <c>scratch</c> holds what <see cref="Prepare"/> stored for it.</summary>
        static abstract Vector256<int> Lanes(byte* block, byte* grid, sbyte* q8, int* scratch);
    }

    /// <summary>
    /// The 32 sign bytes of a block whose sub-block <c>ib</c> keeps its four seven-bit patterns at bits 0, 7, 14, 21 of
    /// lane ib of <paramref name="packed"/>: each pattern moved to a byte and completed by its parity bit (bit 7), as
    /// <see cref="Signs"/> — the whole block's signs in a dozen vector operations in place of 32 table loads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> ImpliedSignBytes(Vector256<uint> packed)
    {
        Vector256<uint> seven = (packed & Vector256.Create(0x7Fu)) | ((packed << 1) & Vector256.Create(0x7F00u))
            | ((packed << 2) & Vector256.Create(0x7F0000u)) | ((packed << 3) & Vector256.Create(0x7F000000u));
        return ParityToBit7(seven.AsByte());
    }

    /// <summary>Each byte's bits 0..6 with their parity in bit 7 (bit 0 of each byte of the folded xors sees only its own byte).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ParityToBit7(Vector256<byte> seven)
    {
        Vector256<uint> t = seven.AsUInt32(), parity = t ^ (t >> 4);
        parity ^= parity >> 2;
        parity ^= parity >> 1;
        return (t | ((parity & Vector256.Create(0x01010101u)) << 7)).AsByte();
    }

    /// <summary>
    /// 0xFF for each of sub-block <paramref name="which"/>'s 32 weights whose sign bit is set, from the block's 32 sign
    /// bytes (dword ib = sub-block ib's, bit j of byte l = weight 8l + j); <paramref name="which"/> holds ib in every lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> NegativeMask(Vector256<byte> blockSigns, Vector256<int> which)
    {
        Vector256<byte> mine = Avx2.PermuteVar8x32(blockSigns.AsInt32(), which).AsByte();
        Vector256<byte> spread = Avx2.Shuffle(mine, Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Avx2.CompareEqual(spread & bit, bit).AsSByte();
    }

    /// <summary>Σ magnitude·(±q) as 8 int32 lanes times the multipliers; <paramref name="negative"/> is 0 or −1 per byte ((q ^ m) − m negates where m = −1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MaskedSubBlock(Vector256<byte> magnitudes, Vector256<sbyte> negative, sbyte* q8, Vector256<short> multipliers)
    {
        Vector256<sbyte> signed = (Avx.LoadVector256(q8) ^ negative) - negative;
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitudes, signed), multipliers);
    }

    /// <summary>Odd multipliers 2s + 1 from the top nibbles of <paramref name="packed"/>'s lanes, each in both int16 halves of its lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> TopNibbleMultipliers(Vector256<uint> packed)
    {
        Vector256<uint> odd = ((packed >> 28) << 1) | Vector256<uint>.One;
        return (odd | (odd << 16)).AsInt32();
    }

    /// <summary>
    /// IQ2_XS/IQ2_S: the odd multipliers 2s + 1 of the eight scale bytes' low nibbles (the first 16 weights of each
    /// sub-block) and high nibbles (the last 16), lane ib for sub-block ib, each in both int16 halves of its lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<int> First, Vector256<int> Second) NibbleMultipliers(byte* scales)
    {
        Vector256<int> bytes = Avx2.ConvertToVector256Int32(scales);
        Vector256<int> first = ((bytes & Vector256.Create(0xF)) << 1) | Vector256<int>.One;
        Vector256<int> second = ((bytes >> 4) << 1) | Vector256<int>.One;
        return (first | (first << 16), second | (second << 16));
    }

    internal readonly struct IQ2XXSBlocks : ILatticeBlocks
    {
        public static ReadOnlySpan<byte> Grid => MemoryMarshal.AsBytes(LatticeGrids.IQ2XXS);
        public static int BlockBytes => sizeof(BlockIQ2XXS);
        public static float Factor => 0.125f;

        /// <summary>Each sub-block is two words: four grid indices, then four sign patterns and the scale nibble.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, byte* grid, sbyte* q8, int* scratch)
        {
            var words = (uint*)((BlockIQ2XXS*)block)->Qs;
            Vector256<int> odd = Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7);
            Vector256<uint> packed = Avx2.Permute2x128(Avx2.PermuteVar8x32(Avx.LoadVector256(words).AsInt32(), odd),
                Avx2.PermuteVar8x32(Avx.LoadVector256(words + 8).AsInt32(), odd), 0x20).AsUInt32();
            Vector256<byte> signs = ImpliedSignBytes(packed);
            Vector256<int> multipliers = TopNibbleMultipliers(packed);
            Vector256<int> which = Vector256<int>.Zero, sumi = which;
            for (int ib = 0; ib < 8; ib++, q8 += 32, which += Vector256<int>.One)
            {
                uint indices = words[2 * ib];
                var magnitudes = Points((ulong*)grid, (int)(indices & 0xFF), (int)(indices >> 8 & 0xFF), (int)(indices >> 16 & 0xFF), (int)(indices >> 24));
                sumi += MaskedSubBlock(magnitudes, NegativeMask(signs, which), q8, Avx2.PermuteVar8x32(multipliers, which).AsInt16());
            }
            return sumi;
        }
    }

    internal readonly struct IQ2XSBlocks : ILatticeBlocks
    {
        public static ReadOnlySpan<byte> Grid => MemoryMarshal.AsBytes(LatticeGrids.IQ2XS);
        public static int BlockBytes => sizeof(BlockIQ2XS);
        public static float Factor => 0.125f;

        /// <summary>Each group is one 16-bit word: a 9-bit grid index under a 7-bit sign pattern.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, byte* grid, sbyte* q8, int* scratch)
        {
            var x = (BlockIQ2XS*)block;
            ushort* qs = x->Qs;
            // vpackuswb interleaves the 128-bit lanes: vpermq puts the 32 patterns back in group order
            Vector256<byte> patterns = Avx2.PackUnsignedSaturate(Avx2.ShiftRightLogical(Avx.LoadVector256(qs).AsInt16(), 9),
                Avx2.ShiftRightLogical(Avx.LoadVector256(qs + 16).AsInt16(), 9));
            Vector256<byte> signs = ParityToBit7(Avx2.Permute4x64(patterns.AsUInt64(), 0b11_01_10_00).AsByte());
            (Vector256<int> first, Vector256<int> second) = NibbleMultipliers(x->Scales);
            Vector256<int> which = Vector256<int>.Zero, sumi = which;
            for (int ib = 0; ib < 8; ib++, q8 += 32, qs += 4, which += Vector256<int>.One)
            {
                var magnitudes = Points((ulong*)grid, qs[0] & 511, qs[1] & 511, qs[2] & 511, qs[3] & 511);
                sumi += MaskedSubBlock(magnitudes, NegativeMask(signs, which), q8, HalfMultipliers(first, second, which));
            }
            return sumi;
        }
    }

    /// <summary>
    /// The int16 pick vpshufb takes to broadcast int16 0 of each 128-bit lane; adding 2 per step moves it on by one.
    /// </summary>
    private static Vector256<byte> FirstWordPick => Vector256.Create((ushort)0x0100).AsByte();

    /// <summary>
    /// IQ2_XS/IQ2_S: the odd multipliers 2s + 1 of the eight scale bytes as int16, lane 0 the low nibbles' (the first 16
    /// weights of each sub-block) in sub-block order, lane 1 the high nibbles' (the last 16): one vpshufb of
    /// <see cref="FirstWordPick"/> + 2ib gives sub-block ib's vpmaddwd operand.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> NibbleMultiplierWords(byte* scales)
    {
        Vector128<byte> bytes = Vector128.CreateScalarUnsafe(*(ulong*)scales).AsByte(), low = Vector128.Create((byte)0xF);
        Vector128<byte> nibbles = Sse2.UnpackLow((bytes & low).AsUInt64(), ((bytes.AsUInt16() >> 4).AsByte() & low).AsUInt64()).AsByte();
        Vector256<short> words = Avx2.ConvertToVector256Int16(nibbles);
        return ((words << 1) | Vector256<short>.One).AsByte();
    }

    /// <summary>
    /// 0xFF for each of a sub-block's 32 weights whose sign bit is set, from its four sign bytes broadcast to every dword
    /// (bit j of byte l = weight 8l + j).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> NegativeMask(Vector256<byte> signBytes)
    {
        Vector256<byte> spread = Avx2.Shuffle(signBytes, Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Avx2.CompareEqual(spread & bit, bit).AsSByte();
    }

    internal readonly struct IQ2SBlocks : ILatticeBlocks
    {
        public static ReadOnlySpan<byte> Grid => MemoryMarshal.AsBytes(LatticeGrids.IQ2S);
        public static int BlockBytes => sizeof(BlockIQ2S);
        public static float Factor => 0.125f;

        /// <summary>
        /// The 32 indices, built in vectors (lane k of vector v: group k % 4 of sub-block 2v + k / 4) for <see cref="Lanes"/>
        /// to load back one per point, which beats a vpgatherqq per sub-block. The index's bits 8..9 of group l sit at bits
        /// 2l..2l+1 of qh: shifted left by 8 − 2l.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ2S*)block;
            Vector256<uint> qh = Avx2.ConvertToVector256Int32(x->Qh).AsUInt32();
            Vector256<uint> topShift = Vector256.Create(8u, 6, 4, 2, 8, 6, 4, 2), topMask = Vector256.Create(0x300u);
            for (int v = 0; v < 4; v++)
            {
                Vector256<uint> pair = Avx2.PermuteVar8x32(qh, Vector256.Create(2 * v, 2 * v, 2 * v, 2 * v, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1).AsUInt32());
                Vector256<uint> low = Avx2.ConvertToVector256Int32(x->Qs + 8 * v).AsUInt32();
                (low | (Avx2.ShiftLeftLogicalVariable(pair, topShift) & topMask)).AsInt32().Store(scratch + 8 * v);
            }
        }

        /// <summary>Each sub-block's four sign bytes (after the indices) broadcast by one load, its multipliers by one vpshufb.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, byte* grid, sbyte* q8, int* scratch)
        {
            var x = (BlockIQ2S*)block;
            int* indices = scratch;
            Vector256<byte> multipliers = NibbleMultiplierWords(x->Scales), pick = FirstWordPick;
            uint* signs = (uint*)(x->Qs + 32);
            Vector256<int> sumi = Vector256<int>.Zero;
            for (int ib = 0; ib < 8; ib++, q8 += 32, indices += 4, pick += Vector256.Create((byte)2))
            {
                var magnitudes = Points((ulong*)grid, indices[0], indices[1], indices[2], indices[3]);
                Vector256<sbyte> negative = NegativeMask(Vector256.Create(signs[ib]).AsByte());
                sumi += MaskedSubBlock(magnitudes, negative, q8, Avx2.Shuffle(multipliers, pick).AsInt16());
            }
            return sumi;
        }
    }

    internal readonly struct IQ3XXSBlocks : ILatticeBlocks
    {
        public static ReadOnlySpan<byte> Grid => MemoryMarshal.AsBytes(LatticeGrids.IQ3XXS);
        public static int BlockBytes => sizeof(BlockIQ3XXS);
        public static float Factor => 0.25f;

        /// <summary>64 index bytes (two per group of 8), then one word per sub-block: four sign patterns and the scale nibble.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, byte* grid, sbyte* q8, int* scratch)
        {
            byte* qs = ((BlockIQ3XXS*)block)->Qs;
            Vector256<uint> packed = Avx.LoadVector256((uint*)(qs + 64));
            Vector256<byte> signs = ImpliedSignBytes(packed);
            Vector256<int> multipliers = TopNibbleMultipliers(packed);
            Vector256<int> which = Vector256<int>.Zero, sumi = which;
            for (int ib = 0; ib < 8; ib++, q8 += 32, which += Vector256<int>.One)
                sumi += MaskedSubBlock(Points((uint*)grid, qs + 8 * ib), NegativeMask(signs, which), q8, Avx2.PermuteVar8x32(multipliers, which).AsInt16());
            return sumi;
        }
    }

    internal readonly struct IQ3SBlocks : ILatticeBlocks
    {
        public static ReadOnlySpan<byte> Grid => MemoryMarshal.AsBytes(LatticeGrids.IQ3S);
        public static int BlockBytes => sizeof(BlockIQ3S);
        public static float Factor => 1f;

        /// <summary>
        /// The 64 indices (eight per sub-block; the index's bit 8 of point k sits at bit k of qh: shifted left by 8 − k),
        /// then the eight multipliers 2s + 1 in both int16 halves of a dword (nibble ib of the four scale bytes is
        /// sub-block ib's scale), each for <see cref="Lanes"/> to load.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Prepare(byte* block, int* scratch)
        {
            var x = (BlockIQ3S*)block;
            Vector256<uint> topShift = Vector256.Create(8u, 7, 6, 5, 4, 3, 2, 1), topMask = Vector256.Create(0x100u);
            for (int ib = 0; ib < 8; ib++)
            {
                Vector256<uint> high = Avx2.ShiftLeftLogicalVariable(Vector256.Create((uint)x->Qh[ib]), topShift) & topMask;
                (Avx2.ConvertToVector256Int32(x->Qs + 8 * ib) | high.AsInt32()).Store(scratch + 8 * ib);
            }
            Vector256<uint> nibbles = Avx2.ShiftRightLogicalVariable(Vector256.Create(*(uint*)x->Scales), Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28)) & Vector256.Create(0xFu);
            Vector256<uint> odd = (nibbles << 1) | Vector256<uint>.One;
            (odd | (odd << 16)).AsInt32().Store(scratch + 64);
        }

        /// <summary>Each sub-block's eight points by scalar loads (faster here than a vpgatherdd), its sign bytes and multiplier by broadcast loads.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Lanes(byte* block, byte* grid, sbyte* q8, int* scratch)
        {
            var x = (BlockIQ3S*)block;
            uint* signs = (uint*)x->Signs;
            int* multipliers = scratch + 64;
            Vector256<int> sumi = Vector256<int>.Zero;
            for (int ib = 0; ib < 8; ib++, q8 += 32)
            {
                var magnitudes = Points((uint*)grid, scratch + 8 * ib);
                Vector256<sbyte> negative = NegativeMask(Vector256.Create(signs[ib]).AsByte());
                sumi += MaskedSubBlock(magnitudes, negative, q8, Vector256.Create(multipliers[ib]).AsInt16());
            }
            return sumi;
        }
    }

    /// <summary>
    /// One row's dot: per block the sub-blocks' exact integer lanes, converted once and added with one FMA by d_x·d_y,
    /// the type's factor at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Avx2OneRow<T>(byte* w, byte* a, int n) where T : struct, ILatticeBlocks
    {
        var y = (BlockQ8K*)a;
        Vector256<float> acc = Vector256<float>.Zero;
        int* scratch = stackalloc int[128];
        int blocks = n / 256;
        if (blocks > 0) T.Prepare(w, scratch);
        fixed (byte* grid = T.Grid)
            for (int b = 0; b < blocks; b++, w += T.BlockBytes)
            {
                Vector256<int> sumi = T.Lanes(w, grid, y[b].Qs, scratch);
                if (b + 1 < blocks) T.Prepare(w + T.BlockBytes, scratch);
                acc = Fma.MultiplyAdd(Vector256.Create(Avx2Dot.Scale(*(Half*)w) * y[b].D), Avx.ConvertToVector256Single(sumi), acc);
            }
        return T.Factor * Avx2Dot.Sum8(acc);
    }

    public static float Avx2DotIQ2XXS(byte* w, byte* a, int n) => Avx2OneRow<IQ2XXSBlocks>(w, a, n);
    public static float Avx2DotIQ2XS(byte* w, byte* a, int n) => Avx2OneRow<IQ2XSBlocks>(w, a, n);
    public static float Avx2DotIQ2S(byte* w, byte* a, int n) => Avx2OneRow<IQ2SBlocks>(w, a, n);
    public static float Avx2DotIQ3XXS(byte* w, byte* a, int n) => Avx2OneRow<IQ3XXSBlocks>(w, a, n);
    public static float Avx2DotIQ3S(byte* w, byte* a, int n) => Avx2OneRow<IQ3SBlocks>(w, a, n);

    /// <summary>
    /// IQ1_S: what the sub-block loop of a block reads from memory, stored ahead of it — its 32 grid indices (lane k of
    /// vector v: group k % 4 of sub-block 2v + k / 4, whose top bits 3l..3l+2 of the sub-block's qh word go to 8..10),
    /// and each sub-block's multiplier 8·(2s + 1) in both int16 halves of a dword, for a broadcast load.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void IQ1SStore(BlockIQ1S* block, int* indices, int* multipliers)
    {
        Vector256<uint> qh = Avx2.ConvertToVector256Int32(block->Qh).AsUInt32();
        Vector256<uint> eightOdd = ((((qh >> 12) & Vector256.Create(7u)) << 1) | Vector256<uint>.One) << 3;
        (eightOdd | (eightOdd << 16)).AsInt32().Store(multipliers);
        Vector256<uint> qhShifted = qh << 8, topShift = Vector256.Create(0u, 3, 6, 9, 0, 3, 6, 9), topMask = Vector256.Create(0x700u);
        for (int v = 0; v < 4; v++)
        {
            Vector256<uint> pair = Avx2.PermuteVar8x32(qhShifted, Vector256.Create(2 * v, 2 * v, 2 * v, 2 * v, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1).AsUInt32());
            Vector256<uint> low = Avx2.ConvertToVector256Int32(block->Qs + 8 * v).AsUInt32();
            (low | (Avx2.ShiftRightLogicalVariable(pair, topShift) & topMask)).AsInt32().Store(indices + 8 * v);
        }
    }

    /// <summary>
    /// IQ1_S: per sub-block 8·ls·(grid·q) in the vector lanes, plus ls·(±bsums) for the ±1/8 shifts, so one integer
    /// X = 8·sumi + shifts per block (|X| &lt; 2^23) and d_x·d_y·(X/8): the reference's d_x·d_y·(sumi + shifts/8)
    /// exactly, as both sums are exact in float. Each block's indices and multipliers are stored while the block before
    /// it finishes, so its loads do not wait on those stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ1S(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1S*)w;
        var y = (BlockQ8K*)a;
        Vector256<byte> ones = Vector256.Create((byte)1);
        float sum = 0;
        int* multipliers = stackalloc int[8];
        int* indices = stackalloc int[32];
        int blocks = n / 256;
        if (blocks > 0) IQ1SStore(x, indices, multipliers);
        fixed (ulong* grid = LatticeGrids.IQ1S)
            for (int b = 0; b < blocks; b++)
            {
                sbyte* q8 = y[b].Qs;
                // lane ib: sub-block ib's multiplier 2s + 1 times the sum of its 32 activations, negated for a −1/8 shift
                Vector256<int> qh = Avx2.ConvertToVector256Int32(x[b].Qh);
                Vector256<int> odd = (((qh >> 12) & Vector256.Create(7)) << 1) | Vector256<int>.One;
                Vector256<int> activationSums = Avx2.MultiplyAddAdjacent(Avx.LoadVector256(y[b].BSums), Vector256.Create((short)1));
                Vector256<int> negative = Avx2.CompareEqual(qh & Vector256.Create(0x8000), Vector256.Create(0x8000));
                Vector256<int> sumi = Avx2.MultiplyLow(odd, (activationSums ^ negative) - negative);
                int* k = indices;
                for (int ib = 0; ib < 8; ib += 2, q8 += 64, k += 8)
                {
                    Vector256<sbyte> first = Avx2.Sign(Avx.LoadVector256(q8), Points(grid, k[0], k[1], k[2], k[3]).AsSByte());
                    Vector256<sbyte> second = Avx2.Sign(Avx.LoadVector256(q8 + 32), Points(grid, k[4], k[5], k[6], k[7]).AsSByte());
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, first), Vector256.Create(multipliers[ib]).AsInt16())
                        + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, second), Vector256.Create(multipliers[ib + 1]).AsInt16());
                }
                if (b + 1 < blocks) IQ1SStore(x + b + 1, indices, multipliers);
                sum += Avx2Dot.Scale(x[b].D) * y[b].D * (Vector256.Sum(sumi) * IQ1Delta);
            }
        return sum;
    }

    /// <summary>
    /// The IQ1 grid points as 8v + 9 per coordinate (1, 9, 17), for IQ1_M, which adds each group's ±1 shift to them in a
    /// byte: 8v + s + 9, never negative, so vpmaddubsw takes it as is. 16 KB, built once, never freed.
    /// </summary>
    private static readonly ulong* IQ1OffsetEightfoldGrid = BuildIQ1OffsetEightfoldGrid();

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

    /// <summary>
    /// IQ1_M: the block's 32 grid indices, stored for the sub-block loop to load (lane k of vector v: group 8v + k, whose
    /// top bits sit in the low nibble of qh byte g/2 for even g, the high one for odd g).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void IQ1MStoreIndices(BlockIQ1M* block, int* indices)
    {
        Vector256<int> pairs = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
        Vector256<uint> topShift = Vector256.Create(8u, 4, 8, 4, 8, 4, 8, 4), topMask = Vector256.Create(0x700u);
        for (int v = 0; v < 4; v++)
        {
            // eight qh bytes from 4v: the last vector's reach into the scales is masked off
            Vector256<uint> qh = Avx2.PermuteVar8x32(Avx2.ConvertToVector256Int32(block->Qh + 4 * v), pairs).AsUInt32();
            Vector256<uint> low = Avx2.ConvertToVector256Int32(block->Qs + 8 * v).AsUInt32();
            (low | (Avx2.ShiftLeftLogicalVariable(qh, topShift) & topMask)).AsInt32().Store(indices + 8 * v);
        }
    }

    /// <summary>
    /// IQ1_M: per group of 8 the weights 8·v + s (v the grid coordinate, s the group's ±1 shift sign) against the
    /// activations, times the per-16 multipliers, add up to X = 8·sumi + shifts, exact (|X| ≤ 15·9·127·256 &lt; 2^23);
    /// d_x·d_y·(X/8) is the reference's d_x·d_y·(sumi + shifts/8) bit for bit, both sums being exact in float.
    /// A block's multipliers sit in one vector, lane 0 holding the first halves' (h = 2ib) as int16 ib, lane 1 the
    /// second halves' (2ib + 1), so one vpshufb broadcasts a sub-block's pair; its shift signs come the same way from
    /// the 32 group bytes, lane 0 picking groups 4ib, 4ib + 1 and lane 1 groups 4ib + 2, 4ib + 3.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2DotIQ1M(byte* w, byte* a, int n)
    {
        var x = (BlockIQ1M*)w;
        var y = (BlockQ8K*)a;
        ulong* grid = IQ1OffsetEightfoldGrid;
        Vector256<byte> ones = Vector256.Create((byte)1);
        // bit 3 of each qh byte is its even group's shift sign, bit 7 its odd group's
        Vector256<byte> shiftBits = Vector256.Create((ushort)0x8008).AsByte();
        // the srlv below leaves h = 0, 4, 8, 12, 2, 6, 10, 14 in lane 0 (1, 5, 9, 13, 3, 7, 11, 15 in lane 1): put h in order
        Vector256<byte> multiplierOrder = Vector256.Create((byte)0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
            0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
        Vector256<byte> firstSpread = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        Vector256<byte> firstPick = Vector256.Create((ushort)0x0100).AsByte();
        Vector256<byte> sumsOrder = Vector256.Create((byte)0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
            0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
        float sum = 0;
        int* indices = stackalloc int[32];
        int blocks = n / 256;
        if (blocks > 0) IQ1MStoreIndices(x, indices);
        for (int b = 0; b < blocks; b++)
        {
            BlockIQ1M* block = x + b;
            sbyte* q8 = y[b].Qs;
            Vector256<ushort> scaleFields = Avx2.ShiftRightLogicalVariable(Vector256.Create(*(ulong*)block->Scales), Vector256.Create(0UL, 6, 3, 9)).AsUInt16();
            Vector256<byte> multipliers = Avx2.Shuffle(((((scaleFields & Vector256.Create((ushort)7)) << 1) | Vector256<ushort>.One)).AsByte(), multiplierOrder);
            Vector256<ushort> qh = Avx2.ConvertToVector256Int16(block->Qh).AsUInt16();
            Vector256<byte> groupSigns = Avx2.CompareEqual((qh | (qh << 8)).AsByte() & shiftBits, shiftBits) | ones;
            // the weights go in as 8v + s + 9: less 9·Σ_h ls_h·bsums_h, with the group sums in the multipliers' order
            // (first halves in lane 0, second halves in lane 1)
            Vector256<byte> evenThenOdd = Avx2.Shuffle(Avx.LoadVector256(y[b].BSums).AsByte(), sumsOrder); // h = 0, 2, 4, 6, 1, 3, 5, 7 | 8, 10, 12, 14, 9, 11, 13, 15
            Vector256<short> groupSums = Avx2.Permute4x64(evenThenOdd.AsUInt64(), 0b11_01_10_00).AsInt16();
            Vector256<int> offsetTerms = Avx2.MultiplyAddAdjacent(groupSums, multipliers.AsInt16());
            Vector256<int> sumi = Vector256<int>.Zero - offsetTerms - (offsetTerms << 3);
            int* k = indices;
            Vector256<byte> pick = firstPick;
            // groups 0..15, then 16..31, in both lanes
            Vector256<byte> signs = Avx2.Permute4x64(groupSigns.AsUInt64(), 0x44).AsByte();
            Vector256<byte> secondSigns = Avx2.Permute4x64(groupSigns.AsUInt64(), 0xEE).AsByte();
            for (int half = 0; half < 2; half++, signs = secondSigns)
            {
                Vector256<byte> spread = firstSpread;
                for (int j = 0; j < 4; j++, q8 += 32, k += 4)
                {
                    Vector256<byte> weights = Points(grid, k[0], k[1], k[2], k[3]) + Avx2.Shuffle(signs, spread);
                    Vector256<short> products = Avx2.MultiplyAddAdjacent(weights, Avx.LoadVector256(q8));
                    sumi += Avx2.MultiplyAddAdjacent(products, Avx2.Shuffle(multipliers, pick).AsInt16());
                    spread += Vector256.Create((byte)4);
                    pick += Vector256.Create((byte)2);
                }
            }
            if (b + 1 < blocks) IQ1MStoreIndices(block + 1, indices);
            sum += Avx2Dot.Scale(IQ1MScaleHalf(block)) * y[b].D * (Vector256.Sum(sumi) * IQ1Delta);
        }
        return sum;
    }
}
