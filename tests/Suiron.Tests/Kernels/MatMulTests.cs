using System.Runtime.InteropServices;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

public unsafe class MatMulTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var type in KernelTestData.AllTypes)
            foreach (int batch in new[] { 1, 5 })
                foreach (int threads in new[] { 1, 2 })
                    yield return [type, batch, threads];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_float_matmul_of_the_decoded_operands(TensorType type, int batch, int threads)
    {
        const int rows = 37, cols = 3 * TensorTypes.QK_K;
        var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 5, scale: 0.1f);
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        var weightBytes = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
        var x = KernelTestData.Gaussian(batch * cols, seed: 9);
        var y = new float[batch * rows];

        using var pool = new WorkerPool(threads);
        fixed (byte* data = weightBytes)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weightBytes.Length);
            MatMul.Compute(tensor, x, y, batch, pool);
        }

        var activationType = Quantization.ActivationType(type);
        for (int b = 0; b < batch; b++)
        {
            var activation = KernelTestData.EncodeActivations(type, x.AsSpan(b * cols, cols).ToArray());
            var a = KernelTestData.Decode(activationType, activation, cols);
            for (int r = 0; r < rows; r++)
            {
                var wRow = weightBytes.AsSpan(r * rowBytes, rowBytes);
                // Bit-identical with a single Dot: the matmul is exactly a loop of them.
                Assert.Equal(Quantization.Dot(type, wRow, activation, cols), y[b * rows + r]);
                var w = KernelTestData.Decode(type, wRow.ToArray(), cols);
                double expected = 0, magnitude = 0;
                for (int i = 0; i < cols; i++) { expected += (double)w[i] * a[i]; magnitude += Math.Abs((double)w[i] * a[i]); }
                Assert.True(Math.Abs(y[b * rows + r] - expected) <= 3e-3 * magnitude, $"{type} b{b} r{r}");
            }
        }
    }

    [Fact]
    public void A_row_range_computes_only_those_rows()
    {
        const int rows = 10, cols = 64;
        var wf = KernelTestData.Gaussian(rows * cols, seed: 3);
        var wb = KernelTestData.Encode(TensorType.Q8_0, wf);
        var x = KernelTestData.Gaussian(2 * cols, seed: 4);
        var all = new float[2 * rows];
        var part = new float[2 * 4];
        using var pool = new WorkerPool(2);
        fixed (byte* data = wb)
        {
            var tensor = new Tensor("w", TensorType.Q8_0, [cols, rows], data, wb.Length);
            MatMul.Compute(tensor, x, all, 2, pool);
            MatMul.Compute(tensor, 3, 4, x, part, 2, pool);
        }
        for (int b = 0; b < 2; b++)
            for (int r = 0; r < 4; r++) Assert.Equal(all[b * rows + 3 + r], part[b * 4 + r]);
    }

    [Fact]
    public void Compute_allocates_nothing_once_warm()
    {
        const int rows = 64, cols = 256;
        var wb = KernelTestData.Encode(TensorType.Q4_K, KernelTestData.Gaussian(rows * cols, seed: 1));
        var x = KernelTestData.Gaussian(cols, seed: 2);
        var y = new float[rows];
        using var pool = new WorkerPool(2);
        fixed (byte* data = wb)
        {
            var tensor = new Tensor("w", TensorType.Q4_K, [cols, rows], data, wb.Length);
            for (int i = 0; i < 20; i++) MatMul.Compute(tensor, x, y, 1, pool);
            Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() => { for (int i = 0; i < 200; i++) MatMul.Compute(tensor, x, y, 1, pool); }));
        }
    }

    public static IEnumerable<object[]> GemmCases()
    {
        foreach (var type in KernelTestData.AllTypes)
            foreach (int cols in TensorTypes.BlockSize(type) == 1 ? new[] { 3 * TensorTypes.QK_K, 200, 13 } : new[] { 3 * TensorTypes.QK_K })
                yield return [type, cols];
    }

    /// <summary>The tiled GEMM (batch &gt; 1) against the per-row dot kernels: every batch size 1..17, odd row counts, bit for bit.</summary>
    [Theory]
    [MemberData(nameof(GemmCases))]
    public void The_batched_path_equals_the_per_row_kernels_bit_for_bit(TensorType type, int cols)
    {
        const int rows = 21;
        var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 11, scale: 0.1f);
        var weightBytes = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
        using var pool = new WorkerPool(2);
        fixed (byte* data = weightBytes)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weightBytes.Length);
            for (int batch = 1; batch <= 17; batch++)
            {
                var x = KernelTestData.Gaussian(batch * cols, seed: 100 + batch);
                var tiled = new float[batch * rows];
                var perRow = new float[batch * rows];
                MatMul.Compute(tensor, 0, rows, x, tiled, batch, pool, allowGemm: true);
                MatMul.Compute(tensor, 0, rows, x, perRow, batch, pool, allowGemm: false);
                for (int i = 0; i < tiled.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(perRow[i]) == BitConverter.SingleToInt32Bits(tiled[i]),
                        $"{type} cols {cols} batch {batch} index {i}: {perRow[i]} vs {tiled[i]}");
            }
            // A row range that starts mid-group and is not a multiple of the group.
            var x5 = KernelTestData.Gaussian(5 * cols, seed: 7);
            var part = new float[5 * 11];
            var whole = new float[5 * rows];
            MatMul.Compute(tensor, 0, rows, x5, whole, 5, pool, allowGemm: false);
            MatMul.Compute(tensor, 3, 11, x5, part, 5, pool, allowGemm: true);
            for (int b = 0; b < 5; b++)
                for (int r = 0; r < 11; r++) Assert.Equal(whole[b * rows + 3 + r], part[b * 11 + r]);
        }
    }

    public static IEnumerable<object[]> SegmentCases()
    {
        foreach (var type in KernelTestData.AllTypes)
            foreach (bool shared in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                    yield return [type, shared, threads];
    }

    /// <summary>
    /// Row slices against their own inputs (the experts of one token, the heads of MLA) in one call: each slice equals
    /// the single-token <see cref="MatMul.Compute(Tensor, long, int, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/>
    /// of that slice bit for bit — which <see cref="Matches_the_float_matmul_of_the_decoded_operands"/> ties to the
    /// float product — with slices out of order, repeated, and of an odd row count.
    /// </summary>
    [Theory]
    [MemberData(nameof(SegmentCases))]
    public void Segments_equal_one_matmul_per_slice_bit_for_bit(TensorType type, bool sharedInput, int threads)
    {
        const int rows = 8 * 23, rowsPerSegment = 23, cols = 2 * TensorTypes.QK_K;
        long[] firstRows = [5 * 23, 0, 6 * 23 + 1, 2 * 23, 5 * 23, 3 * 23 + 11];
        var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 21, scale: 0.1f);
        var weightBytes = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
        var x = KernelTestData.Gaussian((sharedInput ? 1 : firstRows.Length) * cols, seed: 22);
        var y = new float[firstRows.Length * rowsPerSegment];
        var expected = new float[rowsPerSegment];
        using var pool = new WorkerPool(threads);
        fixed (byte* data = weightBytes)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weightBytes.Length);
            MatMul.ComputeSegments(tensor, firstRows, rowsPerSegment, x, sharedInput, y, pool);
            for (int s = 0; s < firstRows.Length; s++)
            {
                MatMul.Compute(tensor, firstRows[s], rowsPerSegment, x.AsSpan(sharedInput ? 0 : s * cols, cols), expected, 1, pool);
                for (int r = 0; r < rowsPerSegment; r++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[r]) == BitConverter.SingleToInt32Bits(y[s * rowsPerSegment + r]),
                        $"{type} segment {s} row {r}: {expected[r]} vs {y[s * rowsPerSegment + r]}");
            }

            Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.ComputeSegments(tensor, [rows - 22], rowsPerSegment, x, true, y, pool));
            Assert.Throws<ArgumentException>(() => MatMul.ComputeSegments(tensor, firstRows, rowsPerSegment, x, true, new float[10], pool));
            for (int i = 0; i < 5; i++) MatMul.ComputeSegments(tensor, firstRows, rowsPerSegment, x, sharedInput, y, pool);
            Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() =>
            {
                for (int i = 0; i < 50; i++) MatMul.ComputeSegments(tensor, firstRows, rowsPerSegment, x, sharedInput, y, pool);
            }));
        }
    }

    /// <summary>
    /// Single-token matmuls, where F16, Q4_K, Q6_K, Q8_0, Q5_0, Q4_0, Q4_1 and Q5_1 rows go through the multi-row decode kernels (several rows a part of
    /// the pool's range apart per call, leftovers one row per call), with row counts that leave every remainder, on one
    /// and two threads: every output bit-identical to its row's own dot (<see cref="Quantization.Dot"/>, which the tests
    /// above tie to the scalar reference). Weights hold ±127 quants and extreme block scales, as well as ordinary ones.
    /// </summary>
    [Theory]
    [InlineData(TensorType.Q8_0, 1)]
    [InlineData(TensorType.Q8_0, 2)]
    [InlineData(TensorType.F16, 2)]
    [InlineData(TensorType.Q4_K, 2)]
    [InlineData(TensorType.Q4_0, 1)]
    [InlineData(TensorType.Q4_0, 2)]
    [InlineData(TensorType.Q5_0, 1)]
    [InlineData(TensorType.Q5_0, 2)]
    [InlineData(TensorType.Q4_1, 1)]
    [InlineData(TensorType.Q4_1, 2)]
    [InlineData(TensorType.Q5_1, 2)]
    [InlineData(TensorType.Q6_K, 1)]
    [InlineData(TensorType.Q6_K, 2)]
    public void Single_token_rows_equal_their_own_dot_bit_for_bit(TensorType type, int threads)
    {
        const int cols = 3 * TensorTypes.QK_K;
        using var pool = new WorkerPool(threads);
        foreach (int rows in new[] { 1, 3, 4, 5, 7, 13, 67, 1000 })
        {
            var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 70 + rows, scale: 0.1f);
            for (int i = 0; i < weightFloats.Length; i += 97) weightFloats[i] *= i % 2 == 0 ? 3e3f : 1e-4f;
            var weights = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
            var x = KernelTestData.Gaussian(cols, seed: 71 + rows, scale: 3f);
            KernelTestData.AssertSingleTokenRowsEqualTheirDot(type, weights, rows, cols, x, pool);
        }
    }

    public static IEnumerable<object[]> GroupCases()
    {
        foreach (var type in KernelTestData.AllTypes)
            foreach (int threads in new[] { 1, 2 })
                yield return [type, threads];
    }

    /// <summary>
    /// Row slices each against its own block of activation rows (the routed experts of a prompt) in one call: every
    /// group equals <see cref="MatMul.Compute(Tensor, long, int, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/>
    /// of that slice over that block, bit for bit — which the tests above tie to the scalar Dot and the float product.
    /// Group sizes 0..13 cover every GEMM / per-row split the cost model picks for each type; slices out of order,
    /// repeated, an odd row count; then the same with the 128-bit and scalar kernels forced (the per-row fallback);
    /// and the activation rows gathered by index from a shorter input equal the groups over the gathered floats.
    /// </summary>
    [Theory]
    [MemberData(nameof(GroupCases))]
    public void Groups_equal_one_matmul_per_group_bit_for_bit(TensorType type, int threads)
    {
        const int rows = 8 * 23, rowsPerGroup = 23, cols = 2 * TensorTypes.QK_K;
        long[] firstRows = [5 * 23, 0, 6 * 23 + 1, 2 * 23, 5 * 23, 3 * 23 + 11, 7 * 23, 1 * 23, 4 * 23, 0, 6 * 23, 2 * 23 + 5, 3 * 23, 7 * 23, 23];
        int[] tokens = [1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 10, 11, 12, 13, 1];
        int[] starts = new int[tokens.Length + 1];
        for (int g = 0; g < tokens.Length; g++) starts[g + 1] = starts[g] + tokens[g];
        int inputRows = starts[^1];
        var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 31, scale: 0.1f);
        var weightBytes = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
        var x = KernelTestData.Gaussian(inputRows * cols, seed: 32);
        var y = new float[inputRows * rowsPerGroup];
        var expected = new float[13 * rowsPerGroup];
        using var pool = new WorkerPool(threads);
        fixed (byte* data = weightBytes)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weightBytes.Length);
            foreach (var path in new[] { DotKernels.Best, DotPath.Avx512Twin, DotPath.Vector128, DotPath.Scalar }.Where(DotKernels.CanRun).Distinct())
            {
                Array.Fill(y, float.NaN);
                MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, default, x, y, pool, path);
                for (int g = 0; g < tokens.Length; g++)
                {
                    int m = tokens[g];
                    if (m == 0) continue;
                    MatMul.Compute(tensor, firstRows[g], rowsPerGroup, x.AsSpan(starts[g] * cols, m * cols), expected, m, pool, allowGemm: true, path);
                    for (int i = 0; i < m * rowsPerGroup; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(y[starts[g] * rowsPerGroup + i]),
                            $"{type} {path} group {g} ({m} tokens) token {i / rowsPerGroup} row {i % rowsPerGroup}: {expected[i]} vs {y[starts[g] * rowsPerGroup + i]}");
                }
            }

            // Activation rows taken from a shorter x, each row used several times (the routed experts of a prompt):
            // the same bits as the groups over the gathered floats.
            const int sourceCount = 7;
            var sources = KernelTestData.Gaussian(sourceCount * cols, seed: 33);
            int[] sourceRows = Enumerable.Range(0, inputRows).Select(j => (j * 5 + 3) % sourceCount).ToArray();
            var gatheredX = new float[inputRows * cols];
            for (int j = 0; j < inputRows; j++) sources.AsSpan(sourceRows[j] * cols, cols).CopyTo(gatheredX.AsSpan(j * cols, cols));
            foreach (var path in new[] { DotKernels.Best, DotPath.Avx512Twin, DotPath.Vector128, DotPath.Scalar }.Where(DotKernels.CanRun).Distinct())
            {
                var direct = new float[y.Length];
                MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, default, gatheredX, direct, pool, path);
                Array.Fill(y, float.NaN);
                MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, sourceRows, sources, y, pool, path);
                for (int i = 0; i < y.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(direct[i]) == BitConverter.SingleToInt32Bits(y[i]), $"{type} {path} gathered index {i}: {direct[i]} vs {y[i]}");
            }
            Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.ComputeGroups(tensor, [0], rowsPerGroup, [0, 2], [0, sourceCount], sources, y, pool));
            Assert.Throws<ArgumentException>(() => MatMul.ComputeGroups(tensor, [0], rowsPerGroup, [0, 2], [0], sources, y, pool));

            Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.ComputeGroups(tensor, [rows - 22], rowsPerGroup, [0, 1], x, y, pool));
            Assert.Throws<ArgumentException>(() => MatMul.ComputeGroups(tensor, [0, 23], rowsPerGroup, [0, 1], x, y, pool));
            Assert.Throws<ArgumentException>(() => MatMul.ComputeGroups(tensor, [0, 23], rowsPerGroup, [0, 2, 1], x, y, pool));
            Assert.Throws<ArgumentException>(() => MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, x, new float[10], pool));
            Assert.Throws<ArgumentException>(() => MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, x.AsSpan(0, cols), y, pool));
            for (int i = 0; i < 3; i++) MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, x, y, pool);
            for (int i = 0; i < 3; i++) MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, sourceRows, sources, y, pool);
            Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() =>
            {
                for (int i = 0; i < 20; i++) MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, x, y, pool);
                for (int i = 0; i < 20; i++) MatMul.ComputeGroups(tensor, firstRows, rowsPerGroup, starts, sourceRows, sources, y, pool);
            }));
        }
    }
}
