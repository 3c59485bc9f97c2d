using System.Runtime.Intrinsics;
using Xunit;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The 512-bit kernels. Their logic runs everywhere through <see cref="Avx512TwinOps"/> (AVX2 halves) and must give the
/// AVX2 kernels' bits; where the CPU has AVX-512, the same kernels on the hardware instructions must too, and each
/// hardware operation must equal its twin lane for lane. On a CPU without AVX-512 the hardware checks report skipped.
/// </summary>
public sealed unsafe class WideKernelTests
{
    /// <summary>The wide paths this machine runs: the twin always (on AVX2), the hardware where it has AVX-512.</summary>
    private static IEnumerable<DotPath> WidePaths()
    {
        if (!Avx2Dot.IsSupported) yield break;
        yield return DotPath.Avx512Twin;
        if (DotKernels.CanRun(DotPath.Avx512)) yield return DotPath.Avx512;
    }

    private static void AssertSameBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"{what}: {expected} vs {actual}");

    private const int LatticeGridSize = 512;
    private static readonly ulong[] LatticeWideGrid = Enumerable.Range(0, LatticeGridSize).Select(i => (ulong)new Random(i).NextInt64() * 3).ToArray();
    private static readonly uint[] LatticeNarrowGrid = Enumerable.Range(0, LatticeGridSize).Select(i => (uint)new Random(i + 1000).Next() * 3).ToArray();

    [SkippableFact]
    public void Hardware_operations_equal_their_twin_lane_for_lane()
    {
        Skip.IfNot(Avx512Ops.IsSupported, "this CPU has no AVX-512 (F, BW): the hardware operations were not run");
        var random = new Random(5);
        byte[] edges = [0, 1, 2, 15, 16, 63, 64, 126, 127, 128, 129, 200, 254, 255];
        Vector512<byte> Bytes(bool withEdges)
        {
            var b = new byte[64];
            random.NextBytes(b);
            if (withEdges) for (int i = 0; i < 64; i += 3) b[i] = edges[random.Next(edges.Length)];
            return Vector512.Create(b);
        }
        var memory = new byte[64];
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            Vector512<byte> u = Bytes(true), s = Bytes(true), idx = Bytes(false);
            Assert.Equal(Avx512TwinOps.MultiplyAddAdjacent(u, s.AsSByte()), Avx512Ops.MultiplyAddAdjacent(u, s.AsSByte()));
            Assert.Equal(Avx512TwinOps.MultiplyAddAdjacent(u.AsInt16(), s.AsInt16()), Avx512Ops.MultiplyAddAdjacent(u.AsInt16(), s.AsInt16()));
            Assert.Equal(Avx512TwinOps.Abs(s.AsSByte()), Avx512Ops.Abs(s.AsSByte()));
            Assert.Equal(Avx512TwinOps.NegateWhereNegative(u.AsSByte(), s.AsSByte()), Avx512Ops.NegateWhereNegative(u.AsSByte(), s.AsSByte()));
            Assert.Equal(Avx512TwinOps.ShuffleWithinLanes(u, idx), Avx512Ops.ShuffleWithinLanes(u, idx));
            Vector512<uint> counts = Vector512.Min(idx.AsUInt32() & Vector512.Create(63u), Vector512.Create(33u));
            Assert.Equal(Avx512TwinOps.ShiftRightLogicalVariable(u.AsUInt32(), counts), Avx512Ops.ShiftRightLogicalVariable(u.AsUInt32(), counts));
            Assert.Equal(Avx512TwinOps.ShiftLeftLogicalVariable(u.AsUInt32(), counts), Avx512Ops.ShiftLeftLogicalVariable(u.AsUInt32(), counts));
            Assert.Equal(Avx512TwinOps.Combine(u.GetLower(), s.GetUpper()), Avx512Ops.Combine(u.GetLower(), s.GetUpper()));
            Vector512<float> floats = Vector512.ConvertToSingle(u.AsInt32());
            Vector512<int> lanes = idx.AsInt32() & Vector512.Create(15);
            Assert.Equal(Avx512TwinOps.PermuteFloats(floats, lanes), Avx512Ops.PermuteFloats(floats, lanes));
            u.CopyTo(memory);
            fixed (byte* p = memory)
            {
                Assert.Equal(Avx512TwinOps.BroadcastVector256(p), Avx512Ops.BroadcastVector256(p));
                Assert.Equal(Avx512TwinOps.WidenInt16((short*)p), Avx512Ops.WidenInt16((short*)p));
                Assert.Equal(Avx512TwinOps.LoadFromRun(p, 0), Avx512Ops.LoadFromRun(p, 0));
                Assert.Equal(Avx512TwinOps.LoadRuns(p, p + 32, 0), Avx512Ops.LoadRuns(p, p + 32, 0));
                Assert.Equal(Avx512TwinOps.Nibbles(p, p + 16, 0), Avx512Ops.Nibbles(p, p + 16, 0));
                Assert.Equal(Avx512TwinOps.MultiplyAddBytes((short*)p, s.AsSByte().GetLower().GetLower()), Avx512Ops.MultiplyAddBytes((short*)p, s.AsSByte().GetLower().GetLower()));
            }
            // The k-quant operations at the arguments the kernels pass (ScaledDot's unsigned side below 64, as a Q6_K quant).
            Vector512<byte> quants = u & Vector512.Create((byte)63);
            Assert.Equal(Avx512TwinOps.ScaledDot(quants, s, idx), Avx512Ops.ScaledDot(quants, s, idx));
            Assert.Equal(Avx512TwinOps.RepeatHalf(s.AsSByte().GetLower().GetLower(), 0), Avx512Ops.RepeatHalf(s.AsSByte().GetLower().GetLower(), 0));
            Assert.Equal(Avx512TwinOps.RepeatHalf(s.AsSByte().GetLower().GetLower(), 1), Avx512Ops.RepeatHalf(s.AsSByte().GetLower().GetLower(), 1));
            Assert.Equal(Avx512TwinOps.RunLanes(u, s), Avx512Ops.RunLanes(u, s));
            foreach ((int first, int step) in new[] { (0, 4), (-4, 2), (0, 2), (4, 0), (-2, 0), (0, 0), (-4, 1), (-2, 1), (0, 1), (2, 1), (4, 2), (-1, 0) })
                Assert.Equal(Avx512TwinOps.ShiftPerRun(u, first, step), Avx512Ops.ShiftPerRun(u, first, step));
            foreach ((int element, int group) in new[] { (0, 32), (64, 32), (128, 32), (192, 32), (0, 16), (64, 16) })
                Assert.Equal(Avx512TwinOps.GroupScales(s, element, group), Avx512Ops.GroupScales(s, element, group));
            Assert.Equal(Avx512TwinOps.MultiplyAdd(0.75f, u.GetLower(), s.GetUpper()), Avx512Ops.MultiplyAdd(0.75f, u.GetLower(), s.GetUpper()));
            // The block-32 family's operations (SignedDot's y within ±127, as the activations; MultiplyAddPairs' unsigned side five bits).
            Vector512<byte> activations = Vector512.Max(s.AsSByte(), Vector512.Create((sbyte)-127)).AsByte();
            Assert.Equal(Avx512TwinOps.SignedDot(u, activations), Avx512Ops.SignedDot(u, activations));
            Assert.Equal(Avx512TwinOps.MultiplyAddPairs(u & Vector512.Create((byte)31), s), Avx512Ops.MultiplyAddPairs(u & Vector512.Create((byte)31), s));
            Assert.Equal(Avx512TwinOps.SumPairs(u), Avx512Ops.SumPairs(u));
            // The lattice family's operations (indices within the grids, as the kernels pass).
            Vector512<byte> mask = Vector512.GreaterThan(idx.AsSByte(), Vector512<sbyte>.Zero).AsByte();
            Assert.Equal(Avx512TwinOps.NegateWhere(u, mask), Avx512Ops.NegateWhere(u, mask));
            Assert.Equal(Avx512TwinOps.IntegerSum(u.GetLower()), Avx512Ops.IntegerSum(u.GetLower()));
            var indices = new ushort[16];
            for (int i = 0; i < 16; i++) indices[i] = (ushort)random.Next(LatticeGridSize);
            fixed (ushort* ip = indices) fixed (ulong* g8 = LatticeWideGrid) fixed (uint* g4 = LatticeNarrowGrid) fixed (byte* p = memory)
            {
                Assert.Equal(Avx512TwinOps.GridPoints(g8, ip), Avx512Ops.GridPoints(g8, ip));
                Assert.Equal(Avx512TwinOps.GridPoints(g4, ip), Avx512Ops.GridPoints(g4, ip));
                Assert.Equal(Avx512TwinOps.GridPoints(g4, p), Avx512Ops.GridPoints(g4, p));
                Assert.Equal(Avx512TwinOps.SubBlockScales((int*)p), Avx512Ops.SubBlockScales((int*)p));
                Assert.Equal(Avx512TwinOps.NegativeMask((uint*)p, 0), Avx512Ops.NegativeMask((uint*)p, 0));
                Assert.Equal(Avx512TwinOps.SixteenScales((short*)p), Avx512Ops.SixteenScales((short*)p));
            }
            Assert.Equal(Avx512TwinOps.SubtractInt16(u, s), Avx512Ops.SubtractInt16(u, s));
            Assert.Equal(Avx512TwinOps.SubtractBytes(u, s), Avx512Ops.SubtractBytes(u, s));
            Vector512<byte> nibbleIndices = idx & Vector512.Create((byte)15);
            Assert.Equal(Avx512TwinOps.LookUp(Avx512TwinOps.RepeatLanes(s.GetLower().GetLower()), nibbleIndices),
                Avx512Ops.LookUp(Avx512Ops.RepeatLanes(s.GetLower().GetLower()), nibbleIndices));
            Assert.Equal(Avx512TwinOps.BlockLanes(u, s, 0), Avx512Ops.BlockLanes(u, s, 0));
            Assert.Equal(Avx512TwinOps.BlockLanes(u, s, 1), Avx512Ops.BlockLanes(u, s, 1));
            Assert.Equal(Avx512TwinOps.BitsToBytes(u.AsUInt32()[0], u.AsUInt32()[1], 0), Avx512Ops.BitsToBytes(u.AsUInt32()[0], u.AsUInt32()[1], 0));
            // The ternary family's operations.
            Assert.Equal(Avx512TwinOps.AddBytes(u, s), Avx512Ops.AddBytes(u, s));
            Assert.Equal(Avx512TwinOps.AddInt16(u, s), Avx512Ops.AddInt16(u, s));
            Assert.Equal(Avx512TwinOps.IncrementWhereGreater(idx, u, s), Avx512Ops.IncrementWhereGreater(idx, u, s));
            Assert.Equal(Avx512TwinOps.FromLanes(u.GetLower().GetLower(), u.GetUpper().GetLower(), s.GetLower().GetUpper(), s.GetUpper().GetUpper(), 0),
                Avx512Ops.FromLanes(u.GetLower().GetLower(), u.GetUpper().GetLower(), s.GetLower().GetUpper(), s.GetUpper().GetUpper(), 0));
            Assert.Equal(Avx512TwinOps.BlockSums(u, s), Avx512Ops.BlockSums(u, s));
        }
    }

    /// <summary>The twin's operations against their definitions, element by element (so the twin is an independent truth).</summary>
    [Fact]
    public void Twin_operations_follow_their_definitions()
    {
        if (!Avx2Dot.IsSupported) return;
        var random = new Random(6);
        for (int iteration = 0; iteration < 200; iteration++)
        {
            var ub = new byte[64];
            var sb = new byte[64];
            random.NextBytes(ub);
            random.NextBytes(sb);
            Vector512<byte> u = Vector512.Create(ub), s = Vector512.Create(sb);
            Vector512<short> pairs = Avx512TwinOps.MultiplyAddAdjacent(u, s.AsSByte());
            Vector512<sbyte> negated = Avx512TwinOps.NegateWhereNegative(u.AsSByte(), s.AsSByte());
            Vector512<byte> shuffled = Avx512TwinOps.ShuffleWithinLanes(u, s);
            for (int i = 0; i < 32; i++)
            {
                int sum = ub[2 * i] * (sbyte)sb[2 * i] + ub[2 * i + 1] * (sbyte)sb[2 * i + 1];
                Assert.Equal((short)Math.Clamp(sum, short.MinValue, short.MaxValue), pairs[i]);
            }
            for (int i = 0; i < 64; i++)
            {
                Assert.Equal((sbyte)((sbyte)sb[i] < 0 ? -(sbyte)ub[i] : (sbyte)ub[i]), negated[i]);
                Assert.Equal((sb[i] & 0x80) != 0 ? 0 : ub[i / 16 * 16 + (sb[i] & 15)], shuffled[i]);
            }
            Vector512<float> floats = Vector512.ConvertToSingle(u.AsInt32());
            Vector512<int> lanes = s.AsInt32() & Vector512.Create(15);
            Vector512<float> permuted = Avx512TwinOps.PermuteFloats(floats, lanes);
            for (int i = 0; i < 16; i++) Assert.Equal(floats[lanes[i]], permuted[i]);
        }
    }

    /// <summary>
    /// The wide two-row decode kernels on arbitrary Q4_K / Q6_K block bytes and extreme activations (rows not adjacent,
    /// outputs at a stride): both rows bit-identical to the AVX2 one-row kernel.
    /// </summary>
    [Theory]
    [InlineData(TensorType.Q4_K)]
    [InlineData(TensorType.Q6_K)]
    public void Wide_two_row_decode_equals_the_AVX2_kernel_bit_for_bit(TensorType type)
    {
        if (!Avx2Dot.IsSupported) return;
        delegate*<byte*, byte*, int, float> oneRow = DotKernels.For(type, DotPath.Avx2);
        int blockBytes = TensorTypes.BlockBytes(type);
        foreach (DotPath path in WidePaths())
        {
            delegate*<byte*, long, byte*, int, float*, long, void> twoRows = (type, path) switch
            {
                (TensorType.Q4_K, DotPath.Avx512) => &KQuantDot<Avx512Ops, Vector512<byte>, Vector256<byte>>.Q4KTwoRows,
                (TensorType.Q4_K, _) => &KQuantDot<Avx512TwinOps, Vector512<byte>, Vector256<byte>>.Q4KTwoRows,
                (_, DotPath.Avx512) => &KQuantDot<Avx512Ops, Vector512<byte>, Vector256<byte>>.Q6KTwoRows,
                _ => &KQuantDot<Avx512TwinOps, Vector512<byte>, Vector256<byte>>.Q6KTwoRows,
            };
            foreach (int blocks in KernelTestData.BlockCounts)
                for (int seed = 0; seed < 6; seed++)
                {
                    int n = blocks * TensorTypes.QK_K;
                    var weights = KQuantDotTests.RandomBlocks(type, 3 * blocks, seed: 5000 * blocks + seed);
                    var activations = KQuantDotTests.ExtremeActivations(blocks, seed: 6000 * blocks + seed);
                    var output = new float[5];
                    float row0, row2;
                    fixed (byte* wp = weights) fixed (byte* ap = activations) fixed (float* y = output)
                    {
                        long rowBytes = (long)blocks * blockBytes;
                        twoRows(wp, 2 * rowBytes, ap, n, y, 4);
                        row0 = oneRow(wp, ap, n);
                        row2 = oneRow(wp + 2 * rowBytes, ap, n);
                    }
                    AssertSameBits(row0, output[0], $"{type} {path} x{blocks} seed {seed} row 0");
                    AssertSameBits(row2, output[4], $"{type} {path} x{blocks} seed {seed} row 2");
                    Assert.Equal(0f, output[1] + output[2] + output[3]);
                }
        }
    }

    public static IEnumerable<object[]> GemmTypes() => KernelTestData.AllTypes.Select(t => new object[] { t });

    /// <summary>
    /// Whole matmuls on the wide paths against the AVX2 path: every batch 1..9 (decode's multi-row kernels at 1, the
    /// GEMM's four-row tiles and token steps with their remainders above), 21 rows (row groups of 8, 8 and 5), a row
    /// range starting mid-group, on two threads: bit for bit, for every weight type (those without a wide kernel take
    /// the AVX2 ones, and must too).
    /// </summary>
    [Theory]
    [MemberData(nameof(GemmTypes))]
    public void Wide_matmul_equals_the_AVX2_matmul_bit_for_bit(TensorType type)
    {
        if (!Avx2Dot.IsSupported) return;
        int cols = TensorTypes.BlockSize(type) == 1 ? 200 : 3 * TensorTypes.QK_K;
        const int rows = 21;
        var weightFloats = KernelTestData.Gaussian(rows * cols, seed: 41, scale: 0.1f);
        for (int i = 0; i < weightFloats.Length; i += 89) weightFloats[i] *= i % 2 == 0 ? 3e3f : 1e-4f;
        var weightBytes = KernelTestData.EncodeRows(type, weightFloats, rows, cols);
        using var pool = new WorkerPool(2);
        fixed (byte* data = weightBytes)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weightBytes.Length);
            foreach (DotPath path in WidePaths())
                for (int batch = 1; batch <= 9; batch++)
                {
                    var x = KernelTestData.Gaussian(batch * cols, seed: 400 + batch, scale: 2f);
                    var expected = new float[batch * rows];
                    var actual = new float[batch * rows];
                    MatMul.Compute(tensor, 0, rows, x, expected, batch, pool, allowGemm: true, DotPath.Avx2);
                    MatMul.Compute(tensor, 0, rows, x, actual, batch, pool, allowGemm: true, path);
                    for (int i = 0; i < actual.Length; i++) AssertSameBits(expected[i], actual[i], $"{type} {path} batch {batch} index {i}");
                    var part = new float[batch * 13];
                    MatMul.Compute(tensor, 5, 13, x, part, batch, pool, allowGemm: true, path);
                    for (int b = 0; b < batch; b++)
                        for (int r = 0; r < 13; r++) AssertSameBits(expected[b * rows + 5 + r], part[b * 13 + r], $"{type} {path} rows 5.. batch {batch} token {b} row {r}");
                }
        }
    }
}
