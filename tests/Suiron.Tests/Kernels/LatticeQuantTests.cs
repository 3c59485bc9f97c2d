using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The lattice i-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) against ggml itself: block sizes as its
/// static_asserts, our dequantizer bit-identical to its dequantize_row_*, our dots within 1e-5 (relative to Σ|w·a|) of
/// its CPU vec_dot against Q8_K, on random blocks (every bit pattern of a lattice block is valid once its fp16 scale is
/// finite) at odd block counts, and every SIMD path this machine runs against the scalar reference.
/// </summary>
public sealed unsafe class LatticeQuantTests
{
    public static readonly TensorType[] Types =
        [TensorType.IQ2_XXS, TensorType.IQ2_XS, TensorType.IQ2_S, TensorType.IQ3_XXS, TensorType.IQ3_S, TensorType.IQ1_S, TensorType.IQ1_M];

    public static IEnumerable<object[]> TypesData() => Types.Select(t => new object[] { t });

    [Fact]
    public void Block_structs_have_ggml_sizes()
    {
        // ggml-common.h's static_asserts: bytes per 256 weights.
        Assert.Equal(66, sizeof(BlockIQ2XXS));
        Assert.Equal(74, sizeof(BlockIQ2XS));
        Assert.Equal(82, sizeof(BlockIQ2S));
        Assert.Equal(98, sizeof(BlockIQ3XXS));
        Assert.Equal(110, sizeof(BlockIQ3S));
        Assert.Equal(50, sizeof(BlockIQ1S));
        Assert.Equal(56, sizeof(BlockIQ1M));
        int[] sizes = [66, 74, 82, 98, 110, 50, 56];
        for (int i = 0; i < Types.Length; i++)
        {
            Assert.Equal(sizes[i], TensorTypes.BlockBytes(Types[i]));
            Assert.Equal(256, TensorTypes.BlockSize(Types[i]));
            Assert.True(TensorTypes.IsSupported(Types[i]));
            Assert.Equal(TensorType.Q8_K, Quantization.ActivationType(Types[i]));
        }
    }

    /// <summary>The implied eighth sign bit: ggml's ksigns_iq2xs table, whose first rows are written out here.</summary>
    [Fact]
    public void Implied_sign_bit_makes_the_count_of_negatives_even()
    {
        int[] ksigns = [0, 129, 130, 3, 132, 5, 6, 135, 136, 9, 10, 139, 12, 141, 142, 15, 144, 17, 18, 147, 20, 149, 150, 23];
        for (int i = 0; i < ksigns.Length; i++) Assert.Equal(ksigns[i], Lattice.Signs((uint)i));
        Assert.Equal(255, Lattice.Signs(127));
    }

    /// <summary>A hand-decoded IQ2_XXS group: grid point 1 of iq2xxs_grid is (43, 8, 8, 8, 8, 8, 8, 8) from byte 0 up.</summary>
    [Fact]
    public void Dequantizes_a_hand_built_IQ2_XXS_group()
    {
        var block = new BlockIQ2XXS { D = (Half)2f };
        var words = (uint*)block.Qs;
        words[0] = 1;                        // group 0 → grid point 1, groups 1..3 → point 0 (all 8s)
        words[1] = 0b101u | (3u << 28);      // group 0's signs: elements 0 and 2 negative (even count, 8th bit clear); scale 3
        var y = new float[256];
        fixed (float* p = y) Lattice.DequantizeIQ2XXS(&block, p, 1);
        float db = 2f * 3.5f / 4;            // d · (0.5 + s) / 4
        Assert.Equal(new[] { -43 * db, 8 * db, -8 * db, 8 * db, 8 * db, 8 * db, 8 * db, 8 * db }, y[..8]);
        Assert.All(y[8..32], v => Assert.Equal(8 * db, v));
    }

    [Theory]
    [MemberData(nameof(TypesData))]
    public void Dequantize_is_bit_exact_with_ggml(TensorType type)
    {
        nint f = GgmlOracleTests.Export($"dequantize_row_{type.ToString().ToLowerInvariant()}");
        Assert.True(f != 0, $"dequantize_row for {type} not exported");
        var dequantize = (delegate* unmanaged<byte*, float*, long, void>)f;
        foreach (int blocks in KernelTestData.BlockCounts)
            for (int seed = 0; seed < 4; seed++)
            {
                int n = blocks * 256;
                var bytes = RandomBlocks(type, blocks, seed: 1000 * blocks + seed);
                var ours = KernelTestData.Decode(type, bytes, n);
                var theirs = new float[n];
                fixed (byte* bp = bytes) fixed (float* tp = theirs) dequantize(bp, tp, n);
                for (int i = 0; i < n; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(ours[i]) == BitConverter.SingleToInt32Bits(theirs[i]),
                        $"{type} x{blocks} seed {seed} element {i}: ours {ours[i]} ggml {theirs[i]}");
            }
    }

    /// <summary>Every dot kernel this machine runs (scalar, SIMD) against ggml's CPU vec_dot (its AVX2 build).</summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Dot_matches_ggml_cpu_vec_dot(TensorType type)
    {
        nint f = GgmlOracleTests.CpuExport($"ggml_vec_dot_{type.ToString().ToLowerInvariant()}_q8_K");
        if (f == 0 && !System.Runtime.Intrinsics.X86.Avx2.IsSupported) return; // ggml's CPU library needs AVX2 here
        Assert.True(f != 0, $"vec_dot for {type} not exported");
        var vecDot = (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)f;
        foreach (int blocks in KernelTestData.BlockCounts)
            for (int seed = 0; seed < 4; seed++)
            {
                int n = blocks * 256;
                var weights = RandomBlocks(type, blocks, seed: 7 * blocks + seed);
                var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 11 * blocks + seed, scale: 3f));
                double magnitude = Magnitude(type, weights, activations, n);
                float theirs;
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    vecDot(n, &theirs, 0, wp, 0, ap, 0, 1);
                    foreach (var path in Paths())
                    {
                        float ours = DotKernels.For(type, path)(wp, ap, n);
                        Assert.True(Math.Abs(ours - theirs) <= 1e-5 * magnitude,
                            $"{type} {path} x{blocks} seed {seed}: ours {ours} ggml {theirs} (magnitude {magnitude})");
                    }
                }
            }
    }

    /// <summary>The scalar dot against the exact (double) product of the dequantized weights and activations.</summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Scalar_dot_equals_the_exact_product_of_the_decoded_operands(TensorType type)
    {
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            int n = blocks * 256;
            var weights = RandomBlocks(type, blocks, seed: 13 * blocks);
            var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 17 * blocks, scale: 2f));
            var w = KernelTestData.Decode(type, weights, n);
            var a = KernelTestData.Decode(TensorType.Q8_K, activations, n);
            double expected = 0, magnitude = 0;
            for (int i = 0; i < n; i++)
            {
                expected += (double)w[i] * a[i];
                magnitude += Math.Abs((double)w[i] * a[i]);
            }
            float scalar;
            fixed (byte* wp = weights) fixed (byte* ap = activations) scalar = DotKernels.Scalar(type)(wp, ap, n);
            Assert.True(Math.Abs(scalar - expected) <= 1e-5 * magnitude, $"{type} x{blocks}: scalar {scalar} vs {expected}");
        }
    }

    /// <summary>
    /// Every SIMD path this machine runs against the scalar reference on random blocks: within 1e-5 of Σ|w·a| for IQ2 and
    /// IQ3 (every width adds each block's integers in eight lanes and converts them to float before one FMA, so float
    /// rounding differs from the reference's one product per block), and bit for bit for IQ1_S / IQ1_M, whose kernels form
    /// the reference's exact integer and float expression. The 128-bit kernels are the ones an ARM64 or SSE-only machine
    /// picks (no scalar fallback).
    /// </summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Simd_paths_equal_the_scalar_reference(TensorType type)
    {
        foreach (int blocks in KernelTestData.BlockCounts)
            for (int seed = 0; seed < 8; seed++)
            {
                int n = blocks * 256;
                var weights = RandomBlocks(type, blocks, seed: 31 * blocks + seed);
                var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 37 * blocks + seed, scale: 2f));
                double magnitude = Magnitude(type, weights, activations, n);
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    float scalar = DotKernels.Scalar(type)(wp, ap, n);
                    foreach (var path in Paths().Where(p => DotKernels.Resolve(type, p) != DotPath.Scalar))
                    {
                        float simd = DotKernels.For(type, path)(wp, ap, n);
                        if (type is TensorType.IQ1_S or TensorType.IQ1_M)
                            Assert.True(BitConverter.SingleToInt32Bits(simd) == BitConverter.SingleToInt32Bits(scalar), $"{type} {path} x{blocks} seed {seed}: {simd} vs scalar {scalar}");
                        else
                            Assert.True(Math.Abs(simd - scalar) <= 1e-5 * magnitude, $"{type} {path} x{blocks} seed {seed}: {simd} vs scalar {scalar}");
                    }
                }
            }
        if (Avx2Dot.IsSupported) Assert.Equal(DotPath.Avx2, DotKernels.Resolve(type, DotPath.Avx2));
        if (Vector128Dot.IsSupported) Assert.Equal(DotPath.Vector128, DotKernels.Resolve(type, DotPath.Vector128));
    }

    /// <summary>
    /// Matmuls over these weights on every kernel path this machine runs (decode and batched prefill, 21 rows, batches 1..5,
    /// two threads): each output bit-identical to its row's one-row dot.
    /// </summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Matmul_paths_equal_the_one_row_dot_bit_for_bit(TensorType type)
    {
        const int rows = 21, cols = 3 * 256;
        var weights = RandomBlocks(type, rows * 3, seed: 9);
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        using var pool = new WorkerPool(2);
        fixed (byte* data = weights)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weights.Length);
            foreach (var path in new[] { DotPath.Scalar, DotPath.Avx2, DotPath.Avx512Twin, DotPath.Avx512 }.Where(DotKernels.CanRun))
                for (int batch = 1; batch <= 5; batch++)
                {
                    var x = KernelTestData.Gaussian(batch * cols, seed: 500 + batch, scale: 2f);
                    var y = new float[batch * rows];
                    MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, path);
                    for (int b = 0; b < batch; b++)
                    {
                        var activation = KernelTestData.EncodeActivations(type, x.AsSpan(b * cols, cols).ToArray());
                        for (int r = 0; r < rows; r++)
                        {
                            float expected;
                            fixed (byte* ap = activation) expected = DotKernels.For(type, path)(data + r * rowBytes, ap, cols);
                            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[b * rows + r]),
                                $"{type} {path} batch {batch} token {b} row {r}: {expected} vs {y[b * rows + r]}");
                        }
                    }
                }
        }
    }

    internal static IEnumerable<DotPath> Paths() =>
        new[] { DotPath.Scalar, DotPath.Vector128, DotPath.Avx2, DotPath.Avx512 }.Where(DotKernels.CanRun);

    private static double Magnitude(TensorType type, byte[] weights, byte[] activations, int n)
    {
        var w = KernelTestData.Decode(type, weights, n);
        var a = KernelTestData.Decode(TensorType.Q8_K, activations, n);
        double magnitude = 0;
        for (int i = 0; i < n; i++) magnitude += Math.Abs((double)w[i] * a[i]);
        return magnitude;
    }

    /// <summary>
    /// Random blocks: random bytes everywhere (every index, sign and sub-block scale pattern is valid) and a finite fp16
    /// block scale of ±[2^-10, 2^-2]; IQ1_M keeps that scale in the top nibbles of its four scale words.
    /// </summary>
    internal static byte[] RandomBlocks(TensorType type, int blocks, int seed)
    {
        var random = new Random(seed);
        int blockBytes = TensorTypes.BlockBytes(type);
        var bytes = new byte[blocks * blockBytes];
        random.NextBytes(bytes);
        for (int b = 0; b < blocks; b++)
        {
            var block = bytes.AsSpan(b * blockBytes, blockBytes);
            var scale = (Half)((random.Next(2) == 0 ? 1 : -1) * Math.Pow(2, random.NextDouble() * 8 - 10));
            if (type != TensorType.IQ1_M)
            {
                BitConverter.TryWriteBytes(block[..2], scale);
                continue;
            }
            ushort bits = BitConverter.HalfToUInt16Bits(scale);
            var words = block.Slice(48, 8);
            for (int k = 0; k < 4; k++)
            {
                ushort word = BitConverter.ToUInt16(words.Slice(2 * k, 2));
                word = (ushort)((word & 0x0FFF) | ((bits >> (4 * k)) & 0xF) << 12);
                BitConverter.TryWriteBytes(words.Slice(2 * k, 2), word);
            }
        }
        return bytes;
    }
}
