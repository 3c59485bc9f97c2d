using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The pooled row- and element-wise operations against one <see cref="VectorOps"/> call over the whole span on one
/// thread: the same bits whatever the split (lengths that are not whole ranges or whole vectors, rows that are not whole
/// vectors, outputs aliasing inputs, and a pass too small to split).
/// </summary>
public sealed class ParallelVectorOpsTests
{
    private static float[] Random(int n, int seed, float scale = 4f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
    }

    [Theory]
    [InlineData(2, 3, 7)]
    [InlineData(2, 512, 896)]
    [InlineData(3, 77, 4864)]
    [InlineData(4, 1000, 131)]
    public void Pooled_operations_equal_one_call_bit_for_bit(int threads, int rows, int width)
    {
        using var pool = new WorkerPool(threads);
        int n = rows * width;
        float[] a = Random(n, 1), b = Random(n, 2), weight = Random(width, 3, 1f), bias = Random(width, 4, 1f);

        var expected = new float[n];
        for (int r = 0; r < rows; r++) VectorOps.RmsNorm(a.AsSpan(r * width, width), weight, 1e-6f, expected.AsSpan(r * width, width));
        var actual = (float[])a.Clone();
        ParallelVectorOps.RmsNormRows(pool, actual, weight, 1e-6f, actual); // in place
        Assert.Equal(expected, actual);

        VectorOps.Add(a, b, expected);
        actual = new float[n];
        ParallelVectorOps.Add(pool, a, b, actual);
        Assert.Equal(expected, actual);

        VectorOps.SiluMul(a, b, expected);
        actual = (float[])a.Clone();
        ParallelVectorOps.SiluMul(pool, actual, b, actual); // in place, as SwiGLU runs it
        Assert.Equal(expected, actual);

        for (int r = 0; r < rows; r++) VectorOps.Add(a.AsSpan(r * width, width), bias, expected.AsSpan(r * width, width));
        actual = (float[])a.Clone();
        ParallelVectorOps.AddToRows(pool, actual, bias);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Mismatched_spans_are_refused()
    {
        using var pool = new WorkerPool(2);
        Assert.Throws<ArgumentException>(() => ParallelVectorOps.Add(pool, new float[8], new float[9], new float[8]));
        Assert.Throws<ArgumentException>(() => ParallelVectorOps.RmsNormRows(pool, new float[10], new float[4], 1e-6f, new float[10]));
        Assert.Throws<ArgumentException>(() => ParallelVectorOps.AddToRows(pool, new float[10], new float[4]));
    }
}
