using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The portable 128-bit kernels (the ARM64 path) against the scalar reference. Vector128 is hardware-accelerated on
/// x86 too, so these run the very code ARM machines run (except the sdot instruction, which x86 lacks).
/// </summary>
public unsafe class Vector128DotTests
{
    /// <summary>Every weight type with a 128-bit kernel.</summary>
    public static readonly TensorType[] Types =
    [
        TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.Q4_0, TensorType.Q4_1, TensorType.Q5_0,
        TensorType.Q5_1, TensorType.Q8_0, TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K,
        TensorType.IQ4_NL, TensorType.IQ4_XS, TensorType.MXFP4, TensorType.TQ1_0, TensorType.TQ2_0,
    ];

    public static IEnumerable<object[]> TypesData() => Types.Select(t => new object[] { t });

    /// <summary>
    /// The kernels that form each block's exact integer sum and then the reference's own float expression: equal bit for
    /// bit. (The block-32 types run the AVX2 kernels' float steps at every width instead: see Block32DotTests.)
    /// </summary>
    private static readonly TensorType[] BitIdentical = [TensorType.IQ4_XS, TensorType.TQ1_0, TensorType.TQ2_0];

    /// <summary>Element counts: whole blocks in odd numbers, and for the float types every tail length the vector loops can leave.</summary>
    private static IEnumerable<int> Lengths(TensorType type)
    {
        int block = TensorTypes.BlockSize(type);
        if (block == 1) return [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257, 1003, 3 * 256];
        return KernelTestData.BlockCounts.Select(b => b * block).Concat(KernelTestData.BlockCounts.Select(b => b * 256)).Distinct();
    }

    private static float Run(delegate*<byte*, byte*, int, float> kernel, byte[] weights, byte[] activations, int n)
    {
        fixed (byte* w = weights) fixed (byte* a = activations) return kernel(w, a, n);
    }

    private static double Magnitude(TensorType type, byte[] weights, byte[] activations, int n)
    {
        var w = KernelTestData.Decode(type, weights, n);
        var a = KernelTestData.Decode(Quantization.ActivationType(type), activations, n);
        double magnitude = 0;
        for (int i = 0; i < n; i++) magnitude += Math.Abs((double)w[i] * a[i]);
        return magnitude;
    }

    /// <summary>Same bound as the AVX2-vs-scalar check: integer sums are exact, only float accumulation order differs.</summary>
    private static void AssertClose(float scalar, float vector, double magnitude, string what)
        => Assert.True(Math.Abs(vector - scalar) <= 1e-5 * magnitude + 1e-6, $"{what}: Vector128 {vector} vs scalar {scalar} (magnitude {magnitude})");

    [Theory]
    [MemberData(nameof(TypesData))]
    public void Each_kernel_matches_the_scalar_reference_on_random_data(TensorType type)
    {
        var vector = DotKernels.Vector128(type);
        Assert.True(vector != null, $"{type} has no Vector128 kernel");
        foreach (int n in Lengths(type))
        {
            var weights = KernelTestData.Encode(type, KernelTestData.Gaussian(n, seed: 17 * n, scale: 0.05f));
            var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 19 * n, scale: 2f));
            float scalar = Run(DotKernels.Scalar(type), weights, activations, n);
            float actual = Run(vector, weights, activations, n);
            AssertClose(scalar, actual, Magnitude(type, weights, activations, n), $"{type} n={n}");
        }
    }

    /// <summary>
    /// Every bit pattern of the quants and packed scales (random bytes, so also 6-bit scales at 63, Q6_K scales at
    /// −128, Q8_0 weights and Q8_K activations at −128), with the block scales either at the largest finite half or
    /// random finite halves (subnormals included). Q8_0/Q8_1 activations stay within ±127, as the activation
    /// quantizer guarantees (the AVX2 kernels and ggml assume the same).
    /// </summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Each_kernel_matches_the_scalar_reference_on_every_bit_pattern_and_extreme_scales(TensorType type)
    {
        if (TensorTypes.BlockSize(type) == 1) return; // the float types: see the F16/BF16 special-value tests
        var vector = DotKernels.Vector128(type);
        foreach (bool maxScales in new[] { true, false })
        {
            foreach (int blocks in new[] { 1, 3, 7 })
            {
                int n = blocks * TensorTypes.QK_K;
                var random = new Random(blocks * 31 + (maxScales ? 1 : 0) + (int)type * 1000);
                var weights = new byte[TensorTypes.RowBytes(type, n)];
                random.NextBytes(weights);
                fixed (byte* w = weights) SetWeightScales(type, w, n, random, maxScales);
                var activationType = Quantization.ActivationType(type);
                var activations = new byte[TensorTypes.RowBytes(activationType, n)];
                random.NextBytes(activations);
                fixed (byte* a = activations) SetActivationScales(activationType, a, n, random);

                float scalar = Run(DotKernels.Scalar(type), weights, activations, n);
                float actual = Run(vector, weights, activations, n);
                Assert.True(float.IsFinite(scalar), $"{type}: test data overflowed");
                AssertClose(scalar, actual, Magnitude(type, weights, activations, n), $"{type} x{blocks} maxScales={maxScales}");
                if (BitIdentical.Contains(type))
                    Assert.True(BitConverter.SingleToInt32Bits(scalar) == BitConverter.SingleToInt32Bits(actual), $"{type} x{blocks} maxScales={maxScales}: {actual} vs scalar {scalar}");
            }
        }
    }

    private static Half ScaleHalf(Random random, bool max, bool negative = false)
    {
        if (max) return negative ? Half.MinValue : Half.MaxValue;
        // Any finite half: random sign, mantissa and exponent 0..30 (0 = subnormal).
        ushort bits = (ushort)((random.Next(2) << 15) | (random.Next(31) << 10) | random.Next(1024));
        return BitConverter.UInt16BitsToHalf(bits);
    }

    private static void SetWeightScales(TensorType type, byte* row, int n, Random random, bool max)
    {
        for (int b = 0; b < n / TensorTypes.BlockSize(type); b++)
        {
            switch (type)
            {
                case TensorType.Q4_0: ((BlockQ4_0*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.Q5_0: ((BlockQ5_0*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.Q8_0: ((BlockQ8_0*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.Q4_1: ((BlockQ4_1*)row)[b].D = ScaleHalf(random, max); ((BlockQ4_1*)row)[b].M = ScaleHalf(random, max, negative: true); break;
                case TensorType.Q5_1: ((BlockQ5_1*)row)[b].D = ScaleHalf(random, max); ((BlockQ5_1*)row)[b].M = ScaleHalf(random, max, negative: true); break;
                case TensorType.Q2_K: ((BlockQ2K*)row)[b].D = ScaleHalf(random, max); ((BlockQ2K*)row)[b].DMin = ScaleHalf(random, max); break;
                case TensorType.Q3_K: ((BlockQ3K*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.Q4_K: ((BlockQ4K*)row)[b].D = ScaleHalf(random, max); ((BlockQ4K*)row)[b].DMin = ScaleHalf(random, max); break;
                case TensorType.Q5_K: ((BlockQ5K*)row)[b].D = ScaleHalf(random, max); ((BlockQ5K*)row)[b].DMin = ScaleHalf(random, max); break;
                case TensorType.Q6_K: ((BlockQ6K*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.IQ4_NL: ((BlockIQ4NL*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.TQ1_0: ((BlockTQ1_0*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.TQ2_0: ((BlockTQ2_0*)row)[b].D = ScaleHalf(random, max); break;
                case TensorType.IQ4_XS: ((BlockIQ4XS*)row)[b].D = ScaleHalf(random, max); break;
                // E8M0 scales 2^29 (max) or anywhere from 2^-29 to 2^21 (HalfScale): finite sums with the small activation scales
                case TensorType.MXFP4: ((BlockMXFP4*)row)[b].E = (byte)(max ? 157 : random.Next(99, 150)); break;
                default: throw new ArgumentException(type.ToString());
            }
        }
    }

    /// <summary>Small activation scales (so max weight scales stay finite), quants in range, Q8_1 sums and Q8_K group sums consistent.</summary>
    private static void SetActivationScales(TensorType activationType, byte* row, int n, Random random)
    {
        Half small = (Half)(1f / 1024);
        switch (activationType)
        {
            case TensorType.Q8_0:
                for (int b = 0; b < n / 32; b++)
                {
                    var block = (BlockQ8_0*)row + b;
                    block->D = small;
                    for (int j = 0; j < 32; j++) block->Qs[j] = Math.Max(block->Qs[j], (sbyte)-127);
                }
                break;
            case TensorType.Q8_1:
                for (int b = 0; b < n / 32; b++)
                {
                    var block = (BlockQ8_1*)row + b;
                    block->D = small;
                    int sum = 0;
                    for (int j = 0; j < 32; j++) sum += block->Qs[j] = Math.Max(block->Qs[j], (sbyte)-127);
                    block->S = (Half)((float)small * sum);
                }
                break;
            case TensorType.Q8_K:
                for (int b = 0; b < n / 256; b++)
                {
                    var block = (BlockQ8K*)row + b;
                    block->D = 1e-3f;
                    for (int g = 0; g < 16; g++)
                    {
                        int sum = 0;
                        for (int j = 0; j < 16; j++) sum += block->Qs[16 * g + j];
                        block->BSums[g] = (short)sum;
                    }
                }
                break;
            default: throw new ArgumentException(activationType.ToString());
        }
    }

    /// <summary>
    /// The worst case for the 16-bit pair sums of the portable path: every quant at an extreme of its range (fill
    /// bytes 0x00, 0x80, 0xFF give the most negative, Q8_0's −128, and the largest quants and packed scales), every
    /// activation at −128 (Q8_K) / −127 (Q8_0, Q8_1; their quantizer never goes below) or +127, scales at the largest
    /// finite half. An overflow would be off by a multiple of 65,536 times a block scale.
    /// </summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Each_kernel_matches_the_scalar_reference_with_every_quant_at_an_extreme(TensorType type)
    {
        if (TensorTypes.BlockSize(type) == 1) return;
        const int n = 3 * 256;
        var activationType = Quantization.ActivationType(type);
        foreach (byte weightFill in new byte[] { 0x00, 0x80, 0xFF })
        {
            foreach (sbyte activationValue in new sbyte[] { -128, 127 })
            {
                var random = new Random(weightFill + activationValue);
                var weights = new byte[TensorTypes.RowBytes(type, n)];
                weights.AsSpan().Fill(weightFill);
                fixed (byte* w = weights) SetWeightScales(type, w, n, random, max: true);
                var activations = new byte[TensorTypes.RowBytes(activationType, n)];
                activations.AsSpan().Fill(unchecked((byte)activationValue));
                fixed (byte* a = activations) SetActivationScales(activationType, a, n, random);
                float scalar = Run(DotKernels.Scalar(type), weights, activations, n);
                AssertClose(scalar, Run(DotKernels.Vector128(type), weights, activations, n), Magnitude(type, weights, activations, n),
                    $"{type} fill 0x{weightFill:X2} activations {activationValue}");
            }
        }
    }

    /// <summary>Every one of the 65,536 halves converts exactly (subnormals, infinities; NaNs stay NaN).</summary>
    [Fact]
    public void The_128_bit_half_conversion_is_exact_for_every_half()
    {
        var bits = new ushort[8];
        for (int start = 0; start < 65536; start += 8)
        {
            for (int k = 0; k < 8; k++) bits[k] = (ushort)(start + k);
            (Vector128<float> lower, Vector128<float> upper) = HalfConversion.HalfToSingle128(Vector128.Create(bits));
            for (int k = 0; k < 8; k++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf(bits[k]);
                float actual = k < 4 ? lower[k] : upper[k - 4];
                if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"half 0x{bits[k]:X4}");
                else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
                    $"half 0x{bits[k]:X4}: {actual} vs {expected}");
            }
        }
    }

    /// <summary>F16 rows of arbitrary finite halves (subnormals and ±65504 included), every tail length.</summary>
    [Fact]
    public void F16_matches_the_scalar_reference_on_arbitrary_finite_halves()
    {
        var random = new Random(41);
        foreach (int n in Lengths(TensorType.F16))
        {
            var weights = RandomHalves(random, n);
            var activations = RandomHalves(random, n);
            AssertClose(Run(DotKernels.Scalar(TensorType.F16), weights, activations, n), Run(DotKernels.Vector128(TensorType.F16), weights, activations, n),
                Magnitude(TensorType.F16, weights, activations, n), $"n={n}");
        }
    }

    private static byte[] RandomHalves(Random random, int n)
    {
        var bytes = new byte[2 * n];
        for (int i = 0; i < n; i++)
        {
            // Exponents 0..30: a quarter subnormal, the rest any finite magnitude.
            int exponent = random.Next(4) == 0 ? 0 : random.Next(31);
            ushort h = (ushort)((random.Next(2) << 15) | (exponent << 10) | random.Next(1024));
            bytes[2 * i] = (byte)h;
            bytes[2 * i + 1] = (byte)(h >> 8);
        }
        return bytes;
    }

    /// <summary>An infinity or NaN in a weight row propagates as in the scalar loop, inside the vector part and in the tail.</summary>
    [Theory]
    [InlineData(TensorType.F16, 0x7C00, 5)]   // +inf, vector part
    [InlineData(TensorType.F16, 0xFC00, 20)]  // -inf, tail of n = 21
    [InlineData(TensorType.F16, 0x7E00, 9)]   // NaN
    [InlineData(TensorType.BF16, 0x7F80, 5)]  // +inf
    [InlineData(TensorType.BF16, 0xFF80, 20)] // -inf, tail
    [InlineData(TensorType.BF16, 0x7FC0, 9)]  // NaN
    public void Infinities_and_NaNs_propagate_like_the_scalar_loop(TensorType type, int specialBits, int position)
    {
        const int n = 21;
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = 0.5f + i;
        var weights = KernelTestData.Encode(type, values);
        var activations = KernelTestData.Encode(type, values);
        weights[2 * position] = (byte)specialBits;
        weights[2 * position + 1] = (byte)(specialBits >> 8);
        float scalar = Run(DotKernels.Scalar(type), weights, activations, n);
        float actual = Run(DotKernels.Vector128(type), weights, activations, n);
        Assert.False(float.IsFinite(scalar));
        if (float.IsNaN(scalar)) Assert.True(float.IsNaN(actual), $"{actual}");
        else Assert.Equal(scalar, actual);
    }

    /// <summary>Every weight type runs the best family's kernel; a forced lower family is honoured; activation-only types run scalar.</summary>
    [Fact]
    public void Dispatch_picks_the_requested_family_and_falls_back_only_for_activation_types()
    {
        if (DotKernels.Best == DotPath.Scalar) return;
        // The AVX-512 families' one-row dots are the AVX2 ones.
        DotPath oneRow = DotKernels.Best >= DotPath.Avx2 ? DotPath.Avx2 : DotKernels.Best;
        foreach (var type in Types) Assert.Equal(oneRow, DotKernels.Resolve(type, DotKernels.Best));
        foreach (var type in Types) Assert.Equal(DotPath.Vector128, DotKernels.Resolve(type, DotPath.Vector128));
        Assert.Equal(DotPath.Scalar, DotKernels.Resolve(TensorType.Q8_K, DotPath.Vector128));
        Assert.Equal(DotPath.Scalar, DotKernels.Resolve(TensorType.Q4_K, DotPath.Scalar));
    }

    public static IEnumerable<object[]> MatMulCases()
    {
        foreach (var type in Types)
            foreach (int cols in TensorTypes.BlockSize(type) == 1 ? new[] { 3 * 256, 200, 13 } : new[] { 3 * 256 })
                foreach (int batch in new[] { 1, 5 })
                    yield return [type, cols, batch];
    }

    /// <summary>
    /// The whole matmul forced onto the 128-bit path (as on ARM: no GEMM tiles, F16 activations widened once) equals
    /// the 128-bit kernel row by row bit for bit, and the scalar path to float rounding.
    /// </summary>
    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMul_on_the_128_bit_path_matches_its_kernels_and_the_scalar_path(TensorType type, int cols, int batch)
    {
        const int rows = 19;
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 13, scale: 0.1f);
        var weightBytes = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
        var x = KernelTestData.Gaussian(batch * cols, seed: 31);
        var vector = new float[batch * rows];
        var scalar = new float[batch * rows];
        using var pool = new WorkerPool(2);
        fixed (byte* data = weightBytes)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weightBytes.Length);
            MatMul.Compute(tensor, 0, rows, x, vector, batch, pool, allowGemm: true, DotPath.Vector128);
            MatMul.Compute(tensor, 0, rows, x, scalar, batch, pool, allowGemm: true, DotPath.Scalar);
        }
        for (int b = 0; b < batch; b++)
        {
            var activation = KernelTestData.EncodeActivations(type, x.AsSpan(b * cols, cols).ToArray());
            for (int r = 0; r < rows; r++)
            {
                var row = weightBytes.AsSpan(r * rowBytes, rowBytes).ToArray();
                float kernel = Run(DotKernels.Vector128(type), row, activation, cols);
                Assert.True(BitConverter.SingleToInt32Bits(kernel) == BitConverter.SingleToInt32Bits(vector[b * rows + r]),
                    $"{type} b{b} r{r}: matmul {vector[b * rows + r]} vs kernel {kernel}");
                AssertClose(scalar[b * rows + r], vector[b * rows + r], Magnitude(type, row, activation, cols), $"{type} cols {cols} b{b} r{r}");
            }
        }
    }
}
