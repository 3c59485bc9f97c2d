using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The F16 decode kernel (<see cref="FloatDot{TOps, TFloats, THalves}.F16xRebiasedF32"/>: weights' bits shifted into float
/// position, activations pre-scaled by 2^112) against the plain F16 dot of the same width, which converts both sides
/// exactly: the two must agree bit for bit for every input, special halves included, at every width
/// (<see cref="FloatDotWidth.Available"/>).
/// </summary>
public unsafe class F16DecodeTests
{
    private static bool SameFloat(float expected, float actual) =>
        BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual) || (float.IsNaN(expected) && float.IsNaN(actual));

    [Fact]
    public void Rebiased_activations_are_the_halves_times_two_to_the_112_for_all_65536_halves()
    {
        var halves = new Half[65536];
        for (int h = 0; h < 65536; h++) halves[h] = BitConverter.UInt16BitsToHalf((ushort)h);
        var rebiased = new float[65536];
        fixed (Half* src = halves) fixed (float* dst = rebiased) HalfConversion.HalfToRebiasedSingle(src, dst, halves.Length);
        for (int h = 0; h < 65536; h++)
        {
            // Computed in double: exact for every half, and 65504 * 2^112 still fits a float.
            double expected = (double)halves[h] * Math.Pow(2, 112);
            Assert.True(SameFloat((float)expected, rebiased[h]), $"half 0x{h:X4}: {rebiased[h]} vs {expected}");
            if (Half.IsFinite(halves[h])) Assert.True(float.IsFinite(rebiased[h]));
        }
    }

    /// <summary>Weights and activations with the awkward halves mixed in: zeros of both signs, subnormals, the largest finite.</summary>
    private static ushort[] Halves(int n, int seed, float scale, bool withExtremes)
    {
        var values = KernelTestData.Gaussian(n, seed, scale);
        var random = new Random(seed + 1);
        var bits = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            bits[i] = BitConverter.HalfToUInt16Bits((Half)values[i]);
            if (!withExtremes) continue;
            switch (random.Next(16))
            {
                case 0: bits[i] = (ushort)random.Next(1, 0x400); break;          // positive subnormal
                case 1: bits[i] = (ushort)(0x8000 | random.Next(1, 0x400)); break; // negative subnormal
                case 2: bits[i] = 0x8000; break;                                  // -0
                case 3: bits[i] = 0; break;
                case 4: bits[i] = random.Next(2) == 0 ? (ushort)0x7BFF : (ushort)0xFBFF; break; // ±65504
                case 5: bits[i] = (ushort)(random.Next(0x400, 0x7C00) | (random.Next(2) << 15)); break; // any normal
            }
        }
        return bits;
    }

    private static float Reference(FloatDotWidth width, ushort[] w, ushort[] a, int n)
    {
        fixed (ushort* wp = w) fixed (ushort* ap = a) return width.F16((byte*)wp, (byte*)ap, n);
    }

    private static float Rebiased(FloatDotWidth width, ushort[] w, ushort[] a, int n)
    {
        var rebiased = new float[Math.Max(n, 1)];
        fixed (ushort* ap = a) fixed (float* r = rebiased) HalfConversion.HalfToRebiasedSingle((Half*)ap, r, n);
        fixed (ushort* wp = w) fixed (float* r = rebiased) return width.F16xRebiasedF32((byte*)wp, (byte*)r, n);
    }

    public static IEnumerable<object[]> Widths() => FloatDotTests.Widths();

    [Theory]
    [MemberData(nameof(Widths))]
    public void Equals_the_F16_dot_bit_for_bit_at_every_length_up_to_300(FloatDotWidth width)
    {
        for (int n = 0; n <= 300; n++)
        {
            foreach (bool extremes in new[] { false, true })
            {
                var w = Halves(n, seed: 1000 + n, scale: 0.05f, withExtremes: extremes);
                var a = Halves(n, seed: 2000 + n, scale: 2f, withExtremes: extremes);
                float expected = Reference(width, w, a, n), actual = Rebiased(width, w, a, n);
                Assert.True(SameFloat(expected, actual), $"{width} n {n} extremes {extremes}: {expected} vs {actual}");
                if (!extremes && n > 0)
                {
                    // And the plain dot is itself right: against the scalar reference, up to float rounding.
                    float scalar;
                    fixed (ushort* wp = w) fixed (ushort* ap = a) scalar = ScalarDot.F16((byte*)wp, (byte*)ap, n);
                    double magnitude = 0;
                    for (int i = 0; i < n; i++) magnitude += Math.Abs((double)(float)BitConverter.UInt16BitsToHalf(w[i]) * (float)BitConverter.UInt16BitsToHalf(a[i]));
                    Assert.True(Math.Abs(actual - scalar) <= 1e-5 * magnitude + 1e-30, $"n {n}: {actual} vs scalar {scalar}");
                }
            }
        }
    }

    /// <summary>
    /// The four-row kernel (four weight rows at a distance, one activation load for all): each row bit-identical to the F16
    /// dot, at every length (16- and 8-element steps, scalar tails), with rows that are not adjacent in memory and outputs
    /// at a stride, and with an infinity in one row sending all four through the exact path.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Four_row_kernel_equals_the_F16_dot_bit_for_bit_at_every_length_up_to_300(FloatDotWidth width)
    {
        const int outputStride = 3;
        for (int n = 0; n <= 300; n++)
        {
            foreach (bool extremes in new[] { false, true })
            {
                var rows = new ushort[4][];
                for (int k = 0; k < 4; k++) rows[k] = Halves(n, seed: 3000 + 1000 * k + n, scale: 0.05f, withExtremes: extremes);
                var a = Halves(n, seed: 9000 + n, scale: 2f, withExtremes: extremes);
                if (n > 3 && n % 7 == 0) rows[(n / 7) % 4][n / 2] = 0x7C00; // an infinity: every row goes through the exact path
                int distance = n + 5; // rows 2n + 10 bytes apart, with unrelated halves between them
                var memory = Halves(4 * distance, seed: 8000 + n, scale: 1f, withExtremes: false);
                for (int k = 0; k < 4; k++) rows[k].CopyTo(memory, k * distance);
                var rebiased = new float[Math.Max(n, 1)];
                var output = new float[4 * outputStride];
                fixed (ushort* ap = a) fixed (float* r = rebiased) HalfConversion.HalfToRebiasedSingle((Half*)ap, r, n);
                fixed (ushort* wp = memory) fixed (float* r = rebiased) fixed (float* y = output)
                    width.F16xRebiasedF32FourRows((byte*)wp, 2L * distance, (byte*)r, n, y, outputStride);
                for (int k = 0; k < 4; k++)
                {
                    float expected = Reference(width, rows[k], a, n);
                    Assert.True(SameFloat(expected, output[k * outputStride]), $"{width} n {n} extremes {extremes} row {k}: {expected} vs {output[k * outputStride]}");
                }
            }
        }
    }

    /// <summary>
    /// Decode matmuls through the four-row kernel, split over the pool (and on one thread) into parts whose row counts
    /// leave remainders for the one-row kernel, with an infinite and a NaN weight: every row equals the one-row F16 dot
    /// bit for bit, at Llama-3.2-1B's widths plus an 8-element step and a scalar tail.
    /// </summary>
    [Theory]
    [InlineData(13, 2048 + 8 + 3, 2)]
    [InlineData(13, 2048 + 8 + 3, 1)]
    [InlineData(71, 2048 + 3, 2)]
    [InlineData(3, 2048, 2)]
    [InlineData(13, 8192 + 8 + 3, 2)]
    public void An_F16_decode_matmul_equals_the_per_row_dot(int rows, int cols, int threads)
    {
        var weights = new ushort[rows * cols];
        for (int r = 0; r < rows; r++) Halves(cols, seed: 60 + r, scale: 0.05f, withExtremes: r % 2 == 0).CopyTo(weights, r * cols);
        weights[1 * cols + 2000] = 0xFC00; // -inf
        if (rows > 8) weights[8 * cols + cols - 1] = 0x7E00; // NaN in the scalar tail
        var x = KernelTestData.Gaussian(cols, seed: 61, scale: 2f);
        var y = new float[rows];
        var activation = KernelTestData.EncodeActivations(TensorType.F16, x);
        using var pool = new WorkerPool(threads);
        fixed (ushort* data = weights)
        {
            var tensor = new Tensor("w", TensorType.F16, [cols, rows], (byte*)data, weights.Length * 2);
            MatMul.Compute(tensor, x, y, 1, pool);
            for (int r = 0; r < rows; r++)
            {
                float expected = Quantization.Dot(TensorType.F16, new ReadOnlySpan<byte>((byte*)data + (long)r * cols * 2, cols * 2), activation, cols);
                Assert.True(SameFloat(expected, y[r]), $"row {r}: {expected} vs {y[r]}");
            }
        }
        Assert.False(float.IsFinite(y[1]));
        if (rows > 8) Assert.True(float.IsNaN(y[8]));
    }

    /// <summary>Exponent-31 weights (infinities, NaNs) would be misread by the shift; the kernel must notice and recompute exactly.</summary>
    public static IEnumerable<object[]> SpecialWeights()
    {
        (ushort Special, int Position)[] cases =
        [
            (0x7C00, 0),   // +inf, first element
            (0xFC00, 37),  // -inf, in the 32-element loop
            (0x7E00, 100), // quiet NaN
            (0xFD01, 262), // negative signalling-pattern NaN, in the 16-element step
            (0x7C01, 275), // in the 8-element step
            (0x7C00, 284), // in the scalar tail
        ];
        foreach (FloatDotWidth width in FloatDotWidth.Available())
            foreach ((ushort special, int position) in cases)
                yield return [width, special, position];
    }

    [Theory]
    [MemberData(nameof(SpecialWeights))]
    public void Infinite_or_NaN_weights_give_the_exact_result(FloatDotWidth width, ushort special, int position)
    {
        const int n = 285; // 8 x 32 + 16 + 8 + 5
        var w = Halves(n, seed: 5, scale: 0.05f, withExtremes: false);
        var a = Halves(n, seed: 6, scale: 2f, withExtremes: false);
        w[position] = special;
        float expected = Reference(width, w, a, n), actual = Rebiased(width, w, a, n);
        Assert.True(float.IsInfinity(expected) || float.IsNaN(expected), $"setup: {expected}");
        Assert.True(SameFloat(expected, actual), $"{expected} vs {actual}");
        // An infinite weight times a zero activation is NaN, as in ggml.
        a[position] = 0;
        Assert.True(float.IsNaN(Rebiased(width, w, a, n)));
    }

    [Fact]
    public void An_F16_matmul_with_special_weights_and_huge_activations_equals_the_per_row_dot()
    {
        const int rows = 9, cols = 200;
        var weights = new ushort[rows * cols];
        for (int r = 0; r < rows; r++) Halves(cols, seed: 40 + r, scale: 0.05f, withExtremes: true).CopyTo(weights, r * cols);
        weights[2 * cols + 17] = 0x7C00; // +inf
        weights[5 * cols + 150] = 0x7E00; // NaN
        using var pool = new WorkerPool(2);
        foreach (bool overflow in new[] { false, true })
        {
            var x = KernelTestData.Gaussian(cols, seed: 41);
            x[3] = 65504f; x[5] = 1e-7f; // the largest finite half, a subnormal one
            if (overflow) x[4] = -70000f; // rounds to -inf
            var y = new float[rows];
            var activation = KernelTestData.EncodeActivations(TensorType.F16, x);
            int finite = 0;
            fixed (ushort* data = weights)
            {
                var tensor = new Tensor("w", TensorType.F16, [cols, rows], (byte*)data, weights.Length * 2);
                MatMul.Compute(tensor, x, y, 1, pool);
                for (int r = 0; r < rows; r++)
                {
                    float expected = Quantization.Dot(TensorType.F16, new ReadOnlySpan<byte>((byte*)data + r * cols * 2, cols * 2), activation, cols);
                    Assert.True(SameFloat(expected, y[r]), $"overflow {overflow} row {r}: {expected} vs {y[r]}");
                    if (float.IsFinite(y[r])) finite++;
                }
            }
            Assert.Equal(overflow ? 0 : rows - 2, finite); // the inf and NaN rows are not finite; with a -inf activation none are
        }
    }
}
