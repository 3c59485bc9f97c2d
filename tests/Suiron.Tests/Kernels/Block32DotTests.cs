using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The block-32 decode dots (Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4, Q4_1, Q5_1), written once over
/// <see cref="ISimdOps{TVector, TLanes}"/>: on every width this machine runs (128-bit; AVX2 and the 512-bit twin where it
/// has AVX2; AVX-512 where it has that), one row, one row with converted scales and four rows, on arbitrary block bytes
/// with odd and even block counts (the 512-bit kernels pair blocks): every result bit-identical to the 128-bit one-row
/// kernel's, which the Vector128 and Dot tests tie to the scalar reference and the exact product, and the Block32 GEMM
/// tests to the batched path.
/// </summary>
public sealed unsafe class Block32DotTests
{
    public static TheoryData<TensorType> Types() =>
        new(TensorType.Q8_0, TensorType.Q4_0, TensorType.Q5_0, TensorType.IQ4_NL, TensorType.MXFP4, TensorType.Q4_1, TensorType.Q5_1);

    /// <summary>A width's kernels for one type: FourRows takes converted scales, FourRowsFromBlocks (Q4_1, Q5_1) converts them itself.</summary>
    private sealed record Kernels(string Name, nint OneRow, nint Scaled, nint FourRows, nint FourRowsFromBlocks, nint Unpack);

    private static Kernels For<TOps, TVector, TLanes>(string name, TensorType type)
        where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
    {
        delegate*<byte*, byte*, int, float> oneRow = type switch
        {
            TensorType.Q8_0 => &Block32Dot<TOps, TVector, TLanes>.Q8_0,
            TensorType.Q4_0 => &Block32Dot<TOps, TVector, TLanes>.Q4_0,
            TensorType.Q5_0 => &Block32Dot<TOps, TVector, TLanes>.Q5_0,
            TensorType.IQ4_NL => &Block32Dot<TOps, TVector, TLanes>.IQ4NL,
            TensorType.MXFP4 => &Block32Dot<TOps, TVector, TLanes>.MXFP4,
            TensorType.Q4_1 => &Block32Dot<TOps, TVector, TLanes>.Q4_1,
            _ => &Block32Dot<TOps, TVector, TLanes>.Q5_1,
        };
        delegate*<byte*, byte*, float*, int, float> scaled = type switch
        {
            TensorType.Q8_0 => &Block32Dot<TOps, TVector, TLanes>.Q8_0Scaled,
            TensorType.Q4_0 => &Block32Dot<TOps, TVector, TLanes>.Q4_0Scaled,
            TensorType.Q5_0 => &Block32Dot<TOps, TVector, TLanes>.Q5_0Scaled,
            TensorType.IQ4_NL => &Block32Dot<TOps, TVector, TLanes>.IQ4NLScaled,
            TensorType.MXFP4 => &Block32Dot<TOps, TVector, TLanes>.MXFP4Scaled,
            _ => null,
        };
        delegate*<byte*, long, byte*, float*, int, float*, long, void> fourRows = type switch
        {
            TensorType.Q8_0 => &Block32Dot<TOps, TVector, TLanes>.Q8_0ScaledFourRows,
            TensorType.Q4_0 => &Block32Dot<TOps, TVector, TLanes>.Q4_0ScaledFourRows,
            TensorType.Q5_0 => &Block32Dot<TOps, TVector, TLanes>.Q5_0ScaledFourRows,
            TensorType.IQ4_NL => &Block32Dot<TOps, TVector, TLanes>.IQ4NLScaledFourRows,
            TensorType.MXFP4 => &Block32Dot<TOps, TVector, TLanes>.MXFP4ScaledFourRows,
            _ => null,
        };
        delegate*<byte*, long, byte*, int, float*, long, void> fourRowsFromBlocks = type switch
        {
            TensorType.Q4_1 => &Block32Dot<TOps, TVector, TLanes>.Q4_1FourRows,
            TensorType.Q5_1 => &Block32Dot<TOps, TVector, TLanes>.Q5_1FourRows,
            _ => null,
        };
        delegate*<TensorType, byte*, byte*, int, void> unpack = &Block32Dot<TOps, TVector, TLanes>.UnpackBlock32;
        return new(name, (nint)oneRow, (nint)scaled, (nint)fourRows, (nint)fourRowsFromBlocks, (nint)unpack);
    }

    /// <summary>The widths this machine runs, the 128-bit one first.</summary>
    private static List<Kernels> Widths(TensorType type)
    {
        var widths = new List<Kernels> { For<Vector128Ops, Vector128<byte>, Vector128Pair>("128-bit", type) };
        if (Avx2Ops.IsSupported)
        {
            widths.Add(For<Avx2Ops, Vector256<byte>, Vector256<byte>>("AVX2", type));
            widths.Add(For<Avx512TwinOps, Vector512<byte>, Vector256<byte>>("512-bit twin", type));
        }
        if (Avx2Ops.IsSupported && Avx512Ops.IsSupported) widths.Add(For<Avx512Ops, Vector512<byte>, Vector256<byte>>("AVX-512", type));
        return widths;
    }

    /// <summary>
    /// Random bytes for every field, block scales finite (half ±[2^-10, 2), MXFP4 exponents 2^-12..2^1); Q8_0 weight rows
    /// hold −128 and 127 quants (a file may; the quantizer never writes −128).
    /// </summary>
    private static byte[] RandomWeights(TensorType type, int blocks, int seed)
    {
        var random = new Random(seed);
        int blockBytes = TensorTypes.BlockBytes(type);
        var bytes = new byte[blocks * blockBytes];
        random.NextBytes(bytes);
        for (int b = 0; b < blocks; b++)
        {
            var block = bytes.AsSpan(b * blockBytes, blockBytes);
            if (type == TensorType.MXFP4) block[0] = (byte)random.Next(115, 129);
            else BitConverter.TryWriteBytes(block, (Half)((random.Next(2) == 0 ? 1 : -1) * Math.Pow(2, random.NextDouble() * 11 - 10)));
            if (type == TensorType.Q4_1 || type == TensorType.Q5_1)
                BitConverter.TryWriteBytes(block[2..], (Half)((random.Next(2) == 0 ? 1 : -1) * Math.Pow(2, random.NextDouble() * 11 - 10)));
            if (type == TensorType.Q8_0 && b % 2 == 0) { block[2 + b % 32] = 0x80; block[2 + (b + 7) % 32] = 0x7F; }
        }
        return bytes;
    }

    /// <summary>Q8_0 or Q8_1 activations: even blocks all ±127, odd blocks uniform in [−127, 127]; Q8_1's s = d·Σq.</summary>
    private static byte[] Activations(TensorType weightType, int blocks, int seed)
    {
        var random = new Random(seed);
        bool q8_1 = Quantization.ActivationType(weightType) == TensorType.Q8_1;
        int blockBytes = q8_1 ? 36 : 34, quants = q8_1 ? 4 : 2;
        var bytes = new byte[blocks * blockBytes];
        for (int b = 0; b < blocks; b++)
        {
            var block = bytes.AsSpan(b * blockBytes, blockBytes);
            var d = (Half)(random.NextDouble() * 0.1 + 0.001);
            BitConverter.TryWriteBytes(block, d);
            int sum = 0;
            for (int i = 0; i < 32; i++)
            {
                int q = b % 2 == 0 ? (random.Next(2) == 0 ? 127 : -127) : random.Next(-127, 128);
                block[quants + i] = unchecked((byte)(sbyte)q);
                sum += q;
            }
            if (q8_1) BitConverter.TryWriteBytes(block[2..], (Half)((float)d * sum));
        }
        return bytes;
    }

    private static void AssertSameBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"{what}: {actual} vs {expected}");

    [Theory]
    [MemberData(nameof(Types))]
    public void Every_width_and_row_count_gives_the_same_bits(TensorType type)
    {
        if (!Vector128Ops.IsSupported) return;
        var widths = Widths(type);
        var reference = (delegate*<byte*, byte*, int, float>)widths[0].OneRow;
        int blockBytes = TensorTypes.BlockBytes(type);
        foreach (int blocks in new[] { 1, 2, 3, 8, 33 })
        {
            for (int seed = 0; seed < 6; seed++)
            {
                int n = 32 * blocks;
                long rowBytes = (long)blocks * blockBytes;
                // Seven rows' worth of blocks: the four-row kernels get rows 0, 2, 4 and 6.
                var weights = RandomWeights(type, 7 * blocks, seed: 100 * blocks + seed);
                var activations = Activations(type, blocks, seed: 200 * blocks + seed);
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    var expected = new float[4];
                    for (int k = 0; k < 4; k++) expected[k] = reference(wp + 2 * k * rowBytes, ap, n);
                    float* yScales = stackalloc float[blocks];
                    for (int b = 0; b < blocks; b++) yScales[b] = Avx2Dot.Block32Scale(*(Half*)(ap + (long)b * activations.Length / blocks));
                    foreach (var width in widths)
                    {
                        string what = $"{type} {width.Name} x{blocks} seed {seed}";
                        for (int k = 0; k < 4; k++)
                        {
                            AssertSameBits(expected[k], ((delegate*<byte*, byte*, int, float>)width.OneRow)(wp + 2 * k * rowBytes, ap, n), $"{what} one row {2 * k}");
                            if (width.Scaled != 0)
                                AssertSameBits(expected[k], ((delegate*<byte*, byte*, float*, int, float>)width.Scaled)(wp + 2 * k * rowBytes, ap, yScales, n), $"{what} scaled row {2 * k}");
                        }
                        var output = new float[13];
                        fixed (float* y = output)
                        {
                            if (width.FourRows != 0)
                                ((delegate*<byte*, long, byte*, float*, int, float*, long, void>)width.FourRows)(wp, 2 * rowBytes, ap, yScales, n, y, 4);
                            else
                                ((delegate*<byte*, long, byte*, int, float*, long, void>)width.FourRowsFromBlocks)(wp, 2 * rowBytes, ap, n, y, 4);
                        }
                        for (int k = 0; k < 4; k++) AssertSameBits(expected[k], output[4 * k], $"{what} four rows, row {2 * k}");
                        for (int i = 0; i < 13; i++) if (i % 4 != 0) Assert.Equal(0f, output[i]);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The GEMM panel rows every width unpacks: the signed quants the dequantizer gives (its values over the block scale,
    /// which are the quants exactly), then the float scales; the same bytes at every width.
    /// </summary>
    [Theory]
    [InlineData(TensorType.Q8_0)]
    [InlineData(TensorType.Q4_0)]
    [InlineData(TensorType.Q5_0)]
    [InlineData(TensorType.IQ4_NL)]
    [InlineData(TensorType.MXFP4)]
    public void Every_width_unpacks_the_panel_row_the_dequantizer_implies(TensorType type)
    {
        if (!Vector128Ops.IsSupported) return;
        foreach (int blocks in new[] { 1, 2, 3, 8 })
        {
            int cols = 32 * blocks;
            var weights = RandomWeights(type, blocks, seed: 300 + blocks);
            var values = KernelTestData.Decode(type, weights, cols);
            foreach (var width in Widths(type))
            {
                // Room past the row, to catch a store that runs over.
                var panel = new byte[cols + 4 * blocks + 64];
                fixed (byte* w = weights) fixed (byte* p = panel)
                {
                    ((delegate*<TensorType, byte*, byte*, int, void>)width.Unpack)(type, w, p, cols);
                    float* scales = (float*)(p + cols);
                    for (int b = 0; b < blocks; b++)
                    {
                        for (int i = 0; i < 32; i++)
                        {
                            float value = (sbyte)p[32 * b + i] * scales[b];
                            Assert.True(value == values[32 * b + i], $"{type} {width.Name} x{blocks} block {b} element {i}: {(sbyte)p[32 * b + i]} x {scales[b]} vs {values[32 * b + i]}");
                        }
                    }
                    for (int i = cols + 4 * blocks; i < panel.Length; i++) Assert.Equal(0, panel[i]);
                }
            }
        }
    }

    /// <summary>
    /// Single-token matmuls on the 128-bit path, which now runs the four-row kernels as AVX2 does (rows a part apart, the
    /// leftovers one per call), on one and two threads: every output bit-identical to its row's dot.
    /// </summary>
    [Theory]
    [InlineData(TensorType.Q8_0)]
    [InlineData(TensorType.Q4_0)]
    [InlineData(TensorType.Q5_0)]
    [InlineData(TensorType.IQ4_NL)]
    [InlineData(TensorType.MXFP4)]
    [InlineData(TensorType.Q4_1)]
    [InlineData(TensorType.Q5_1)]
    public void The_128_bit_decode_matmul_equals_the_one_row_dot(TensorType type)
    {
        if (!Vector128Ops.IsSupported) return;
        const int cols = 5 * 32;
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        var oneRow = (delegate*<byte*, byte*, int, float>)For<Vector128Ops, Vector128<byte>, Vector128Pair>("128-bit", type).OneRow;
        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = new WorkerPool(threads);
            foreach (int rows in new[] { 1, 4, 7, 13, 67 })
            {
                var weights = RandomWeights(type, rows * cols / 32, seed: 400 + rows);
                var x = KernelTestData.Gaussian(cols, seed: 401 + rows, scale: 3f);
                var y = new float[rows];
                var activation = KernelTestData.EncodeActivations(type, x);
                fixed (byte* data = weights) fixed (byte* a = activation)
                {
                    var tensor = new Tensor("w", type, [cols, rows], data, weights.Length);
                    MatMul.Compute(tensor, 0, rows, x, y, 1, pool, allowGemm: false, DotPath.Vector128);
                    for (int r = 0; r < rows; r++)
                        AssertSameBits(oneRow(data + r * rowBytes, a, cols), y[r], $"{type} {threads} threads, {rows} rows, row {r}");
                }
            }
        }
    }
}
