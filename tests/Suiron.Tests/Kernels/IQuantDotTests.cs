using Xunit;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Tests.Kernels;

/// <summary>
/// IQ4_NL, IQ4_XS and MXFP4: block sizes as ggml's, the dequantizer against the grid by hand, and the dot kernels (scalar and
/// SIMD) on arbitrary block bytes against the exact product of the decoded operands.
/// </summary>
public sealed unsafe class IQuantDotTests
{
    [Fact]
    public void Block_structs_have_ggml_sizes()
    {
        Assert.Equal(18, sizeof(BlockIQ4NL));
        Assert.Equal(136, sizeof(BlockIQ4XS));
        Assert.Equal(18, TensorTypes.BlockBytes(TensorType.IQ4_NL));
        Assert.Equal(136, TensorTypes.BlockBytes(TensorType.IQ4_XS));
        Assert.Equal(32, TensorTypes.BlockSize(TensorType.IQ4_NL));
        Assert.Equal(256, TensorTypes.BlockSize(TensorType.IQ4_XS));
        Assert.Equal(TensorType.Q8_0, Quantization.ActivationType(TensorType.IQ4_NL));
        Assert.Equal(TensorType.Q8_K, Quantization.ActivationType(TensorType.IQ4_XS));
    }

    /// <summary>
    /// Hand-built MXFP4 blocks against the OCP spec: E2M1 codes 0..7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6 and codes 8..15 their
    /// negatives; the E8M0 byte e scales by 2^(e − 127), subnormal floats included (e = 0, 1).
    /// </summary>
    [Theory]
    [InlineData(127)]
    [InlineData(120)]
    [InlineData(140)]
    [InlineData(1)]
    [InlineData(0)]
    public void Dequantizes_hand_built_MXFP4_blocks(int e)
    {
        Assert.Equal(17, sizeof(BlockMXFP4));
        Assert.Equal(17, TensorTypes.BlockBytes(TensorType.MXFP4));
        Assert.Equal(TensorType.Q8_0, Quantization.ActivationType(TensorType.MXFP4));
        double[] e2m1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6];
        var block = new BlockMXFP4 { E = (byte)e };
        for (int j = 0; j < 16; j++) block.Qs[j] = (byte)(j | ((15 - j) << 4));
        var y = new float[32];
        fixed (float* p = y) Suiron.Kernels.Dequantizer.MXFP4(&block, p, 1);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((float)(e2m1[j] * Math.Pow(2, e - 127)), y[j]);
            Assert.Equal((float)(e2m1[15 - j] * Math.Pow(2, e - 127)), y[j + 16]);
        }
    }

    /// <summary>A hand-built IQ4_XS super-block: scale bits split over scales_l/scales_h, grid values, nibble order.</summary>
    [Fact]
    public void Dequantizes_a_hand_built_IQ4_XS_block()
    {
        var block = new BlockIQ4XS { D = (Half)0.5f, ScalesH = 0b_11_10_01_00_11_10_01_00 };
        for (int i = 0; i < 4; i++) block.ScalesL[i] = (byte)(0x21 + 0x11 * i); // low nibbles 1, 2, 3, 4 …; high 2, 3, 4, 5 …
        for (int j = 0; j < 128; j++) block.Qs[j] = (byte)((j % 16) | ((15 - j % 16) << 4));
        var y = new float[256];
        fixed (float* p = y) Suiron.Kernels.Dequantizer.IQ4XS(&block, p, 1);
        sbyte[] grid = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
        for (int i = 0; i < 8; i++)
        {
            int low = i % 2 == 0 ? (0x21 + 0x11 * (i / 2)) & 0xF : (0x21 + 0x11 * (i / 2)) >> 4;
            int ls = low | (((block.ScalesH >> (2 * i)) & 3) << 4);
            for (int j = 0; j < 16; j++)
            {
                Assert.Equal(0.5f * (ls - 32) * grid[j], y[32 * i + j]);
                Assert.Equal(0.5f * (ls - 32) * grid[15 - j], y[32 * i + 16 + j]);
            }
        }
    }

    [Theory]
    [InlineData(TensorType.IQ4_NL)]
    [InlineData(TensorType.IQ4_XS)]
    [InlineData(TensorType.MXFP4)]
    public void Simd_equals_scalar_and_the_exact_product(TensorType type)
    {
        var activationType = Quantization.ActivationType(type);
        foreach (int blocks in KernelTestData.BlockCounts)
            for (int seed = 0; seed < 8; seed++)
            {
                int n = blocks * TensorTypes.QK_K;
                var random = new Random(100 * blocks + seed);
                var weights = new byte[TensorTypes.RowBytes(type, n)];
                random.NextBytes(weights);
                int blockBytes = TensorTypes.BlockBytes(type);
                for (int b = 0; b < weights.Length / blockBytes; b++)
                    WriteScale(type, weights.AsSpan(b * blockBytes), random);
                var x = KernelTestData.Gaussian(n, seed: 300 + seed, scale: 2f);
                var activations = KernelTestData.Encode(activationType, x);
                var w = KernelTestData.Decode(type, weights, n);
                var a = KernelTestData.Decode(activationType, activations, n);
                double expected = 0, magnitude = 0;
                for (int i = 0; i < n; i++)
                {
                    expected += (double)w[i] * a[i];
                    magnitude += Math.Abs((double)w[i] * a[i]);
                }
                float scalar, best;
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    scalar = DotKernels.Scalar(type)(wp, ap, n);
                    best = DotKernels.For(type)(wp, ap, n);
                }
                Assert.True(Math.Abs(scalar - expected) <= 1e-5 * magnitude, $"{type} x{blocks} seed {seed}: scalar {scalar} vs {expected}");
                Assert.True(Math.Abs(best - scalar) <= 1e-5 * magnitude, $"{type} x{blocks} seed {seed}: {DotKernels.Best} {best} vs scalar {scalar}");
            }
    }

    /// <summary>Arbitrary blocks with finite scales in ±[2^-10, 2^-2].</summary>
    private static byte[] RandomRows(TensorType type, int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[TensorTypes.RowBytes(type, cols) * rows];
        random.NextBytes(bytes);
        int blockBytes = TensorTypes.BlockBytes(type);
        for (int b = 0; b < bytes.Length / blockBytes; b++)
            WriteScale(type, bytes.AsSpan(b * blockBytes), random);
        return bytes;
    }

    /// <summary>A finite block scale: fp16 ±[2^-10, 2^-2], or for MXFP4 an E8M0 exponent of 2^-12 .. 2^1 (subnormal edge cases are the dequantizer test's).</summary>
    private static void WriteScale(TensorType type, Span<byte> block, Random random)
    {
        if (type == TensorType.MXFP4) block[0] = (byte)random.Next(115, 129);
        else BitConverter.TryWriteBytes(block[..2], (Half)((random.Next(2) == 0 ? 1 : -1) * Math.Pow(2, random.NextDouble() * 8 - 10)));
    }

    /// <summary>
    /// IQ4 and MXFP4 matmuls: the GEMM (batch &gt; 1; IQ4_NL and MXFP4 in the Block32 panels, IQ4_XS in its own) and the four-row decode
    /// kernels equal the one-row dot bit for bit, on every kernel path this machine runs (AVX2, the AVX-512 twin, AVX-512
    /// where present), batches 1..9, 21 rows (groups of 8, 8 and 5), two threads.
    /// </summary>
    [Theory]
    [InlineData(TensorType.IQ4_NL)]
    [InlineData(TensorType.IQ4_XS)]
    [InlineData(TensorType.MXFP4)]
    public void IQ4_matmul_paths_equal_the_one_row_dot_bit_for_bit(TensorType type)
    {
        if (!Avx2Dot.IsSupported) return;
        const int rows = 21, cols = 3 * 256;
        var weights = RandomRows(type, rows, cols, seed: 9);
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        using var pool = new WorkerPool(2);
        fixed (byte* data = weights)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weights.Length);
            foreach (var path in new[] { DotPath.Avx2, DotPath.Avx512Twin, DotPath.Avx512 }.Where(DotKernels.CanRun))
                for (int batch = 1; batch <= 9; batch++)
                {
                    var x = KernelTestData.Gaussian(batch * cols, seed: 500 + batch, scale: 2f);
                    var y = new float[batch * rows];
                    MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, path);
                    for (int b = 0; b < batch; b++)
                    {
                        var activation = KernelTestData.EncodeActivations(type, x.AsSpan(b * cols, cols).ToArray());
                        for (int r = 0; r < rows; r++)
                        {
                            float expected = Quantization.Dot(type, weights.AsSpan(r * rowBytes, rowBytes), activation, cols);
                            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[b * rows + r]),
                                $"{type} {path} batch {batch} token {b} row {r}: {expected} vs {y[b * rows + r]}");
                        }
                    }
                }
        }
    }
}
