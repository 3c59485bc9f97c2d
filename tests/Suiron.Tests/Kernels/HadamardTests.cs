using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

public sealed class HadamardTests
{
    /// <summary>
    /// H_4/2 by hand: rows (1 1 1 1), (1 −1 1 −1), (1 1 −1 −1), (1 −1 −1 1) halved, so (1, 2, 3, 4) goes to
    /// (10, −2, −4, 0)/2 = (5, −1, −2, 0); every intermediate is a small integer, so the result is exact.
    /// </summary>
    [Fact]
    public void H4_on_a_known_vector()
    {
        float[] x = [1, 2, 3, 4];
        Hadamard.Rotate(x, 4);
        Assert.Equal([5f, -1f, -2f, 0f], x);

        float[] twoBlocks = [1, 2, 3, 4, 1, 0, 0, 0];
        Hadamard.RotateScalar(twoBlocks, 4);
        Assert.Equal([5f, -1f, -2f, 0f, 0.5f, 0.5f, 0.5f, 0.5f], twoBlocks); // e₀ goes to the all-(1/2) column
    }

    /// <summary>
    /// H_8/√8 on e₃ is column 3 of Sylvester's matrix: (−1)^popcount(i &amp; 3) / √8 = + − − + + − − + over i = 0..7.
    /// </summary>
    [Fact]
    public void H8_on_a_unit_vector_is_the_sylvester_column()
    {
        var x = new float[8];
        x[3] = 1;
        Hadamard.Rotate(x, 8);
        double c = 1 / Math.Sqrt(8);
        double[] expected = [c, -c, -c, c, c, -c, -c, c];
        for (int i = 0; i < 8; i++) Assert.True(Math.Abs(x[i] - expected[i]) <= 1e-7, $"[{i}]: {x[i]} vs {expected[i]}");
    }

    /// <summary>
    /// The product with the matrix llama.cpp builds (ggml_gen_hadamard's recursion, rewritten here: a top-left 1/√n, then
    /// each s×s block copied right and down and negated on the diagonal) in double, for the block sizes llama.cpp uses.
    /// </summary>
    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(256)]
    public void Matches_the_matrix_llama_cpp_builds(int n)
    {
        var matrix = new double[n * n];
        matrix[0] = 1.0 / Math.Sqrt(n);
        for (int s = 1; s < n; s *= 2)
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++)
                {
                    double value = matrix[i * n + j];
                    matrix[(i + s) * n + j] = value;
                    matrix[i * n + j + s] = value;
                    matrix[(i + s) * n + j + s] = -value;
                }
        float[] x = KernelTestData.Gaussian(3 * n, seed: n);
        float[] rotated = (float[])x.Clone();
        Hadamard.Rotate(rotated, n);
        for (int block = 0; block < 3; block++)
            for (int i = 0; i < n; i++)
            {
                double expected = 0;
                for (int j = 0; j < n; j++) expected += matrix[i * n + j] * x[block * n + j];
                Assert.True(Math.Abs(rotated[block * n + i] - expected) <= 1e-5 * (1 + Math.Abs(expected)),
                    $"n {n} block {block} row {i}: {rotated[block * n + i]} vs {expected}");
            }
    }

    /// <summary>The SIMD path does the reference's additions in the same order, so it agrees bit for bit.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void Simd_matches_the_scalar_reference_on_random_data(int blockLength)
    {
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            float[] expected = KernelTestData.Gaussian(blocks * blockLength, seed: blockLength * 31 + blocks);
            float[] actual = (float[])expected.Clone();
            Hadamard.RotateScalar(expected, blockLength);
            Hadamard.Rotate(actual, blockLength);
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>Orthonormal and its own inverse: twice is the identity, and the length is kept (float rounding only).</summary>
    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void Is_its_own_inverse_and_keeps_the_norm(int n)
    {
        float[] x = KernelTestData.Gaussian(5 * n, seed: 7 + n);
        float[] y = (float[])x.Clone();
        Hadamard.Rotate(y, n);
        for (int b = 0; b < 5; b++)
        {
            double before = 0, after = 0;
            for (int i = b * n; i < (b + 1) * n; i++) { before += (double)x[i] * x[i]; after += (double)y[i] * y[i]; }
            Assert.True(Math.Abs(after - before) <= 1e-5 * before, $"block {b}: |Hx|² {after} vs |x|² {before}");
        }
        Hadamard.Rotate(y, n);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(y[i] - x[i]) <= 1e-5f * (1 + Math.Abs(x[i])), $"[{i}]: {y[i]} vs {x[i]}");
    }

    [Fact]
    public void Bad_block_lengths_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Hadamard.Rotate(new float[48], 48));
        Assert.Throws<ArgumentOutOfRangeException>(() => Hadamard.Rotate(new float[8], 0));
        Assert.Throws<ArgumentException>(() => Hadamard.Rotate(new float[100], 64));
    }
}
