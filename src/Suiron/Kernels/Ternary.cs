using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The ternary types TQ1_0 and TQ2_0 (ggml's encodings for BitNet b1.58 and TriLM weights, x = d · (t − 1), t ∈ {0, 1, 2}):
/// reference quantizers and dequantizers bit-exact with ggml's, and dots against Q8_K activations as ggml's CPU
/// vec_dot computes them — per block an exact integer Σ (t − 1) · y, times d_x · d_y — in a scalar reference and AVX2.
/// A TQ1_0 byte holds five trits as a fixed-point fraction of 3⁵ (see <see cref="BlockTQ1_0"/>): trit n is
/// ((byte · 3ⁿ) mod 256 · 3) >> 8.
/// </summary>
internal static unsafe class Ternary
{
    private static ReadOnlySpan<byte> Pow3 => [1, 3, 9, 27, 81, 243];

    /// <summary>Trit <paramref name="n"/> (0..2) of a TQ1_0 byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Trit(byte packed, int n) => (byte)(packed * Pow3[n]) * 3 >> 8;

    /// <summary>Packs base-3 digits (most significant first) into a byte: ⌈value · 256 / 243⌉.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte PackTrits(int value) => (byte)((value * 256 + 242) / 243);

    private static int Ternarize(float x, float inverseScale) => (int)MathF.Round(x * inverseScale, MidpointRounding.AwayFromZero) + 1;

    private static float AbsMax(float* x, int n)
    {
        float max = 0;
        for (int i = 0; i < n; i++) max = MathF.Max(max, MathF.Abs(x[i]));
        return max;
    }

    /// <summary>ggml's quantize_row_tq1_0_ref: d = max |x|, t = round(x / d) + 1, packed five (then four) trits a byte.</summary>
    public static void QuantizeTQ1_0(float* x, BlockTQ1_0* y, int blocks)
    {
        for (int b = 0; b < blocks; b++, x += 256)
        {
            float d = AbsMax(x, 256), id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            float* at = x;
            for (int m = 0; m < 32; m++)
            {
                int q = 0;
                for (int n = 0; n < 5; n++) q = q * 3 + Ternarize(at[m + 32 * n], id);
                y[b].Qs[m] = PackTrits(q);
            }
            at += 160;
            for (int m = 0; m < 16; m++)
            {
                int q = 0;
                for (int n = 0; n < 5; n++) q = q * 3 + Ternarize(at[m + 16 * n], id);
                y[b].Qs[32 + m] = PackTrits(q);
            }
            at += 80;
            for (int j = 0; j < 4; j++)
            {
                int q = 0;
                for (int n = 0; n < 4; n++) q = q * 3 + Ternarize(at[j + 4 * n], id);
                y[b].Qh[j] = PackTrits(q * 3); // four trits take the top places of five
            }
        }
    }

    /// <summary>ggml's quantize_row_tq2_0_ref: d = max |x|, t = round(x / d) + 1 in two bits.</summary>
    public static void QuantizeTQ2_0(float* x, BlockTQ2_0* y, int blocks)
    {
        for (int b = 0; b < blocks; b++, x += 256)
        {
            float d = AbsMax(x, 256), id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            for (int half = 0; half < 2; half++)
                for (int m = 0; m < 32; m++)
                {
                    int q = 0;
                    for (int l = 0; l < 4; l++) q |= (Ternarize(x[128 * half + 32 * l + m], id) & 3) << (2 * l);
                    y[b].Qs[32 * half + m] = (byte)q;
                }
        }
    }

    /// <summary>The trit of element <paramref name="i"/> (0..255) of a TQ1_0 block.</summary>
    private static int TQ1_0Trit(BlockTQ1_0* x, int i) =>
        i < 160 ? Trit(x->Qs[i % 32], i / 32)
        : i < 240 ? Trit(x->Qs[32 + (i - 160) % 16], (i - 160) / 16)
        : Trit(x->Qh[(i - 240) % 4], (i - 240) / 4);

    private static int TQ2_0Trit(BlockTQ2_0* x, int i) => x->Qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32)) & 3;

    public static void DequantizeTQ1_0(BlockTQ1_0* x, float* y, int blocks)
    {
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int i = 0; i < 256; i++) *y++ = (TQ1_0Trit(x + b, i) - 1) * d;
        }
    }

    public static void DequantizeTQ2_0(BlockTQ2_0* x, float* y, int blocks)
    {
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int i = 0; i < 256; i++) *y++ = (TQ2_0Trit(x + b, i) - 1) * d;
        }
    }

    /// <summary>TQ1_0 against Q8_K, the reference: Σ over blocks of (d_x · d_y) · Σᵢ (tᵢ − 1) · yᵢ.</summary>
    public static float DotTQ1_0(byte* w, byte* a, int n)
    {
        var x = (BlockTQ1_0*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            int sumi = 0;
            for (int i = 0; i < 256; i++) sumi += (TQ1_0Trit(x + b, i) - 1) * y[b].Qs[i];
            sum += sumi * ((float)x[b].D * y[b].D);
        }
        return sum;
    }

    /// <summary>TQ2_0 against Q8_K, the reference.</summary>
    public static float DotTQ2_0(byte* w, byte* a, int n)
    {
        var x = (BlockTQ2_0*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            int sumi = 0;
            for (int i = 0; i < 256; i++) sumi += (TQ2_0Trit(x + b, i) - 1) * y[b].Qs[i];
            sum += sumi * ((float)x[b].D * y[b].D);
        }
        return sum;
    }

    /// <summary>
    /// <see cref="DotTQ2_0"/> in AVX2: the trits of 32 bytes two bits at a time, multiplied unsigned by the activations
    /// (vpmaddubsw, pairs ≤ 2·2·127) and added up in int16 from the negated Q8_K group sums (each lane ≤ 8·508 + 2032),
    /// then one vpmaddwd and one horizontal sum: Σ (t − 1)·y, the same integer per block.
    /// </summary>
    public static float Avx2DotTQ2_0(byte* w, byte* a, int n) => Avx2DotTernary<TQ2_0Blocks>(w, a, n);

    /// <summary>A ternary type for <see cref="Avx2DotTernary{TBlocks}"/>: its block size, scale and one block's partial sums.</summary>
    private interface ITernaryBlocks
    {
        static abstract int BlockBytes { get; }

        static abstract Half Scale(byte* block);

        /// <summary>One block's Σ (t − 1)·y as 16 int16 partial sums.</summary>
        static abstract Vector256<short> Pairs(byte* block, BlockQ8K* y);
    }

    private readonly struct TQ2_0Blocks : ITernaryBlocks
    {
        public static int BlockBytes => sizeof(BlockTQ2_0);
        public static Half Scale(byte* block) => ((BlockTQ2_0*)block)->D;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Pairs(byte* block, BlockQ8K* y) => TQ2_0Pairs((BlockTQ2_0*)block, y);
    }

    private readonly struct TQ1_0Blocks : ITernaryBlocks
    {
        public static int BlockBytes => sizeof(BlockTQ1_0);
        public static Half Scale(byte* block) => ((BlockTQ1_0*)block)->D;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Pairs(byte* block, BlockQ8K* y) => TQ1_0Pairs((BlockTQ1_0*)block, y);
    }

    /// <summary>The AVX2 ternary dot: per block its exact integer, then d_x·d_y·integer added in block order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Avx2DotTernary<TBlocks>(byte* w, byte* a, int n) where TBlocks : struct, ITernaryBlocks
    {
        var y = (BlockQ8K*)a;
        int blocks = n / 256, size = TBlocks.BlockBytes;
        float sum = 0;
        int b = 0;
        // two blocks' horizontal sums share their steps; each block's float update stays in block order
        for (; b + 1 < blocks; b += 2)
        {
            byte* x0 = w + (long)b * size, x1 = x0 + size;
            (int first, int second) = SumPairOfBlocks(TBlocks.Pairs(x0, y + b), TBlocks.Pairs(x1, y + b + 1));
            sum += first * (Avx2Dot.Scale(TBlocks.Scale(x0)) * y[b].D);
            sum += second * (Avx2Dot.Scale(TBlocks.Scale(x1)) * y[b + 1].D);
        }
        if (b < blocks)
        {
            byte* x0 = w + (long)b * size;
            sum += Vector256.Sum(Avx2.MultiplyAddAdjacent(TBlocks.Pairs(x0, y + b), Vector256.Create((short)1))) * (Avx2Dot.Scale(TBlocks.Scale(x0)) * y[b].D);
        }
        return sum;
    }

    /// <summary>One TQ2_0 block's Σ (t − 1)·y as 16 int16 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> TQ2_0Pairs(BlockTQ2_0* x, BlockQ8K* y)
    {
        Vector256<byte> mask = Vector256.Create((byte)3);
        Vector256<short> pairs = Vector256<short>.Zero - Avx.LoadVector256(y->BSums);
        for (int half = 0; half < 2; half++)
        {
            Vector256<ushort> packed = Avx.LoadVector256(x->Qs + 32 * half).AsUInt16();
            sbyte* activations = y->Qs + 128 * half;
            pairs += Avx2.MultiplyAddAdjacent(packed.AsByte() & mask, Avx.LoadVector256(activations));
            pairs += Avx2.MultiplyAddAdjacent((packed >> 2).AsByte() & mask, Avx.LoadVector256(activations + 32));
            pairs += Avx2.MultiplyAddAdjacent((packed >> 4).AsByte() & mask, Avx.LoadVector256(activations + 64));
            pairs += Avx2.MultiplyAddAdjacent((packed >> 6).AsByte() & mask, Avx.LoadVector256(activations + 96));
        }
        return pairs;
    }

    /// <summary>The sums of two blocks' 16 int16 partial sums, through shared vphaddd steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int Second) SumPairOfBlocks(Vector256<short> first, Vector256<short> second)
    {
        Vector256<short> ones = Vector256.Create((short)1);
        Vector256<int> halves = Avx2.HorizontalAdd(Avx2.MultiplyAddAdjacent(first, ones), Avx2.MultiplyAddAdjacent(second, ones));
        Vector128<int> quarters = halves.GetLower() + halves.GetUpper();
        Vector128<int> sums = Ssse3.HorizontalAdd(quarters, quarters);
        return (sums.ToScalar(), sums.GetElement(1));
    }

    /// <summary>
    /// <see cref="DotTQ1_0"/> in AVX2. Trit n of a byte v is ⌊3·(v·3ⁿ mod 256) / 256⌋: 0 below 86, 1 below 171, else 2,
    /// so two signed compares of the byte xor 0x80 give it, and since 3·128 ≡ 128 (mod 256) the biased bytes are
    /// multiplied by 3 in place (two vpaddb) from one trit to the next. The 32 bytes of five trits make five runs of 32
    /// weights; the next 16 bytes two trits per run (lane 1 one power ahead of lane 0, as the activations run on), and
    /// the last run pairs their fifth trit with the four-trit bytes qh (lane 1 byte p: qh[p % 4]·3^(p / 4)). vpmaddubsw
    /// of the trits and the activations adds up in int16 from the negated Q8_K group sums (each lane ≤ 8·508 + 2032),
    /// then one vpmaddwd and one horizontal sum: Σ (t − 1)·y, the same integer per block.
    /// </summary>
    public static float Avx2DotTQ1_0(byte* w, byte* a, int n) => Avx2DotTernary<TQ1_0Blocks>(w, a, n);

    /// <summary>One TQ1_0 block's Σ (t − 1)·y as 16 int16 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> TQ1_0Pairs(BlockTQ1_0* x, BlockQ8K* y)
    {
        Vector256<byte> bias = Vector256.Create((byte)0x80);
        sbyte* q8 = y->Qs;
        Vector256<short> pairs = Vector256<short>.Zero - Avx.LoadVector256(y->BSums);
        Vector256<sbyte> packed = (Avx.LoadVector256(x->Qs) ^ bias).AsSByte();
        for (int t = 0; t < 5; t++, q8 += 32, packed = TimesThree(packed))
            pairs += Avx2.MultiplyAddAdjacent(TritsOfBiased(packed), Avx.LoadVector256(q8));
        // bytes 32..47 in lane 0, times 3 in lane 1
        Vector128<sbyte> middle = (Sse2.LoadVector128(x->Qs + 32) ^ Vector128.Create((byte)0x80)).AsSByte();
        packed = Avx2.InsertVector128(middle.ToVector256Unsafe(), TimesThree(middle), 1);
        pairs += Avx2.MultiplyAddAdjacent(TritsOfBiased(packed), Avx.LoadVector256(q8));
        packed = TimesThree(TimesThree(packed));
        pairs += Avx2.MultiplyAddAdjacent(TritsOfBiased(packed), Avx.LoadVector256(q8 + 32));
        Vector128<sbyte> high = (Vector128.Create(*(uint*)x->Qh).AsByte() ^ Vector128.Create((byte)0x80)).AsSByte();
        Vector128<sbyte> high3 = TimesThree(high), high9 = TimesThree(high3);
        Vector128<int> powers = Avx2.Blend(Avx2.Blend(high.AsInt32(), high3.AsInt32(), 0b0010), Avx2.Blend(high9.AsInt32(), TimesThree(high9).AsInt32(), 0b1000), 0b1100);
        Vector128<sbyte> fifth = TimesThree(TimesThree(packed.GetLower()));
        packed = Avx2.InsertVector128(fifth.ToVector256Unsafe(), powers.AsSByte(), 1);
        return pairs + Avx2.MultiplyAddAdjacent(TritsOfBiased(packed), Avx.LoadVector256(q8 + 64));
    }

    /// <summary>Each byte times 3 modulo 256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> TimesThree(Vector256<sbyte> v) => v + v + v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> TimesThree(Vector128<sbyte> v) => v + v + v;

    /// <summary>The trits 0..2 of bytes held xor 0x80: (v ≥ 86) + (v ≥ 171).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> TritsOfBiased(Vector256<sbyte> biased) =>
        (Vector256<sbyte>.Zero - Avx2.CompareGreaterThan(biased, Vector256.Create((sbyte)(85 - 128)))
            - Avx2.CompareGreaterThan(biased, Vector256.Create((sbyte)(170 - 128)))).AsByte();

    /// <summary>
    /// <see cref="DotTQ2_0"/> in portable 128-bit code (NEON, SSE): each two-bit trit less one as a signed byte, then
    /// <see cref="Vector128Dot.DotInt8"/> against the activations; the same exact integer per block and the reference's
    /// float expression, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotTQ2_0(byte* w, byte* a, int n)
    {
        var x = (BlockTQ2_0*)w;
        var y = (BlockQ8K*)a;
        Vector128<byte> mask = Vector128.Create((byte)3), one = Vector128.Create((byte)1);
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            Vector128<int> lanes = Vector128<int>.Zero;
            for (int half = 0; half < 2; half++)
                for (int part = 0; part < 2; part++)
                {
                    Vector128<byte> packed = Vector128.Load(x[b].Qs + 32 * half + 16 * part);
                    sbyte* activations = y[b].Qs + 128 * half + 16 * part;
                    for (int l = 0; l < 4; l++)
                    {
                        Vector128<sbyte> weights = ((Vector128.ShiftRightLogical(packed, 2 * l) & mask) - one).AsSByte();
                        lanes = Vector128Dot.DotInt8(lanes, weights, Vector128.Load(activations + 32 * l));
                    }
                }
            sum += Vector128.Sum(lanes) * ((float)x[b].D * y[b].D);
        }
        return sum;
    }

    /// <summary>
    /// <see cref="DotTQ1_0"/> in portable 128-bit code: the bytes widened to 16 bits, trit n as ((byte · 3ⁿ) mod 256 · 3) >> 8
    /// eight at a time, less one, times the widened activations; the last 16 trits (the qh bytes) one by one as in AVX2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128DotTQ1_0(byte* w, byte* a, int n)
    {
        var x = (BlockTQ1_0*)w;
        var y = (BlockQ8K*)a;
        Vector128<ushort> low = Vector128.Create((ushort)0xFF), three = Vector128.Create((ushort)3), one = Vector128.Create((ushort)1);
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            Vector128<int> lanes = Vector128<int>.Zero;
            sbyte* q8 = y[b].Qs;
            // six runs of 8 bytes: the first 32 bytes hold trit t of elements 32t + m, the next 16 of elements 160 + 16t + m
            for (int run = 0; run < 6; run++)
            {
                Vector128<ushort> bytes = Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)(x[b].Qs + 8 * run)).AsByte());
                for (int t = 0; t < 5; t++)
                {
                    Vector128<ushort> trits = Vector128.ShiftRightLogical(((bytes * (ushort)Pow3[t]) & low) * three, 8);
                    sbyte* activations = run < 4 ? q8 + 32 * t + 8 * run : q8 + 160 + 16 * t + 8 * (run - 4);
                    Vector128<short> products = (trits - one).AsInt16() * Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)activations).AsSByte());
                    (Vector128<int> first, Vector128<int> second) = Vector128.Widen(products);
                    lanes += first + second;
                }
            }
            int sumi = Vector128.Sum(lanes);
            for (int t = 0; t < 4; t++)
                for (int j = 0; j < 4; j++) sumi += (Trit(x[b].Qh[j], t) - 1) * q8[240 + 4 * t + j];
            sum += sumi * ((float)x[b].D * y[b].D);
        }
        return sum;
    }
}
