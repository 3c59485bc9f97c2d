using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The k-quant SIMD kernels on arbitrary block bytes: every scale, min and quant bit pattern (quantizing real values
/// only ever produces some of them, e.g. never a Q6_K scale of −128 or a Q4_K 6-bit scale of 63 next to a min of 63),
/// against activations at the ends of the Q8_K range, where an int16 intermediate would saturate if it could.
/// </summary>
public sealed unsafe class KQuantDotTests
{
    public static TheoryData<TensorType> KQuantTypes() =>
        new(TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K);

    /// <summary>Random bytes for every field; the half block scales are then set to finite values in ±[2^-10, 2).</summary>
    internal static byte[] RandomBlocks(TensorType type, int blocks, int seed)
    {
        var random = new Random(seed);
        int blockBytes = TensorTypes.BlockBytes(type);
        var bytes = new byte[blocks * blockBytes];
        random.NextBytes(bytes);
        Half RandomScale() => (Half)((random.Next(2) == 0 ? 1 : -1) * Math.Pow(2, random.NextDouble() * 11 - 10));
        fixed (byte* p = bytes)
        {
            for (int b = 0; b < blocks; b++)
            {
                byte* block = p + b * blockBytes;
                switch (type)
                {
                    case TensorType.Q2_K: ((BlockQ2K*)block)->D = RandomScale(); ((BlockQ2K*)block)->DMin = RandomScale(); break;
                    case TensorType.Q3_K: ((BlockQ3K*)block)->D = RandomScale(); break;
                    case TensorType.Q4_K: ((BlockQ4K*)block)->D = RandomScale(); ((BlockQ4K*)block)->DMin = RandomScale(); break;
                    case TensorType.Q5_K: ((BlockQ5K*)block)->D = RandomScale(); ((BlockQ5K*)block)->DMin = RandomScale(); break;
                    case TensorType.Q6_K: ((BlockQ6K*)block)->D = RandomScale(); break;
                }
            }
        }
        return bytes;
    }

    /// <summary>Q8_K activations: even blocks all ±127 (random signs), odd blocks uniform in [−127, 127]; bsums exact.</summary>
    internal static byte[] ExtremeActivations(int blocks, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[blocks * TensorTypes.BlockBytes(TensorType.Q8_K)];
        fixed (byte* p = bytes)
        {
            var y = (BlockQ8K*)p;
            for (int b = 0; b < blocks; b++)
            {
                y[b].D = (float)(random.NextDouble() + 0.01);
                for (int g = 0; g < 16; g++)
                {
                    int sum = 0;
                    for (int i = 16 * g; i < 16 * g + 16; i++)
                    {
                        int q = b % 2 == 0 ? (random.Next(2) == 0 ? 127 : -127) : random.Next(-127, 128);
                        y[b].Qs[i] = (sbyte)q;
                        sum += q;
                    }
                    y[b].BSums[g] = (short)sum;
                }
            }
        }
        return bytes;
    }

    [Theory]
    [MemberData(nameof(KQuantTypes))]
    public void Simd_equals_scalar_on_arbitrary_block_bytes(TensorType type)
    {
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            for (int seed = 0; seed < 8; seed++)
            {
                int n = blocks * TensorTypes.QK_K;
                var weights = RandomBlocks(type, blocks, seed: 1000 * blocks + seed);
                var activations = ExtremeActivations(blocks, seed: 2000 * blocks + seed);
                var w = KernelTestData.Decode(type, weights, n);
                var a = KernelTestData.Decode(TensorType.Q8_K, activations, n);
                double expected = 0, magnitude = 0;
                for (int i = 0; i < n; i++)
                {
                    expected += (double)w[i] * a[i];
                    magnitude += Math.Abs((double)w[i] * a[i]);
                }
                float simd, scalar;
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    simd = DotKernels.For(type)(wp, ap, n);
                    scalar = DotKernels.Scalar(type)(wp, ap, n);
                }
                Assert.True(Math.Abs(scalar - expected) <= 1e-5 * magnitude, $"{type} x{blocks} seed {seed}: scalar {scalar} vs {expected} (magnitude {magnitude})");
                Assert.True(Math.Abs(simd - scalar) <= 1e-5 * magnitude, $"{type} x{blocks} seed {seed}: SIMD {simd} vs scalar {scalar} (magnitude {magnitude})");
            }
        }
    }

    /// <summary>
    /// The k-quant decode kernels, written once over <see cref="ISimdOps{TVector, TLanes}"/>, on every width
    /// this machine runs (128-bit; AVX2 and the 512-bit twin where it has AVX2; AVX-512 where it has that), one-row and
    /// two-row, on arbitrary block bytes: every result bit-identical to the 128-bit one-row kernel's, which
    /// <see cref="Simd_equals_scalar_on_arbitrary_block_bytes"/> (under <c>DOTNET_EnableAVX2=0</c>) and the Vector128
    /// tests tie to the scalar reference and the exact product, and the GEMM tests to the batched path. Two-row calls get
    /// rows that are not adjacent in memory and write outputs at a stride.
    /// </summary>
    [Theory]
    [MemberData(nameof(KQuantTypes))]
    public void Every_width_and_row_count_gives_the_same_bits(TensorType type)
    {
        if (!Vector128Ops.IsSupported) return;
        var oneRow = new List<(string Name, nint Kernel)>();
        var twoRows = new List<(string Name, nint Kernel)>();
        void Add<TOps, TVector, TLanes>(string name) where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
        {
            oneRow.Add((name, type switch
            {
                TensorType.Q4_K => (nint)(delegate*<byte*, byte*, int, float>)&KQuantDot<TOps, TVector, TLanes>.Q4K,
                TensorType.Q2_K => (nint)(delegate*<byte*, byte*, int, float>)&KQuantDot<TOps, TVector, TLanes>.Q2K,
                TensorType.Q3_K => (nint)(delegate*<byte*, byte*, int, float>)&KQuantDot<TOps, TVector, TLanes>.Q3K,
                TensorType.Q5_K => (nint)(delegate*<byte*, byte*, int, float>)&KQuantDot<TOps, TVector, TLanes>.Q5K,
                _ => (nint)(delegate*<byte*, byte*, int, float>)&KQuantDot<TOps, TVector, TLanes>.Q6K,
            }));
            if (type == TensorType.Q4_K) twoRows.Add((name, (nint)(delegate*<byte*, long, byte*, int, float*, long, void>)&KQuantDot<TOps, TVector, TLanes>.Q4KTwoRows));
            if (type == TensorType.Q6_K) twoRows.Add((name, (nint)(delegate*<byte*, long, byte*, int, float*, long, void>)&KQuantDot<TOps, TVector, TLanes>.Q6KTwoRows));
        }
        Add<Vector128Ops, Vector128<byte>, Vector128Pair>("128-bit");
        if (Avx2Ops.IsSupported)
        {
            Add<Avx2Ops, Vector256<byte>, Vector256<byte>>("AVX2");
            Add<Avx512TwinOps, Vector512<byte>, Vector256<byte>>("512-bit twin");
        }
        if (Avx2Ops.IsSupported && Avx512Ops.IsSupported) Add<Avx512Ops, Vector512<byte>, Vector256<byte>>("AVX-512");
        // Q2_K's AVX2 decode stays hand-written (faster there): it must give the generic kernels' bits too.
        if (type == TensorType.Q2_K && Avx2Ops.IsSupported) oneRow.Add(("hand-written AVX2", (nint)(delegate*<byte*, byte*, int, float>)&Avx2Dot.Q2K));
        var reference = (delegate*<byte*, byte*, int, float>)oneRow[0].Kernel;
        int blockBytes = TensorTypes.BlockBytes(type);
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            for (int seed = 0; seed < 8; seed++)
            {
                int n = blocks * TensorTypes.QK_K;
                // Three rows' worth of blocks: the two-row kernels get rows 0 and 2, so the bytes between them are another row.
                var weights = RandomBlocks(type, 3 * blocks, seed: 3000 * blocks + seed);
                var activations = ExtremeActivations(blocks, seed: 4000 * blocks + seed);
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    long rowBytes = (long)blocks * blockBytes;
                    float row0 = reference(wp, ap, n), row2 = reference(wp + 2 * rowBytes, ap, n);
                    foreach (var (name, kernel) in oneRow)
                    {
                        AssertSameBits(row0, ((delegate*<byte*, byte*, int, float>)kernel)(wp, ap, n), $"{type} {name} one row x{blocks} seed {seed}");
                        AssertSameBits(row2, ((delegate*<byte*, byte*, int, float>)kernel)(wp + 2 * rowBytes, ap, n), $"{type} {name} one row x{blocks} seed {seed}");
                    }
                    foreach (var (name, kernel) in twoRows)
                    {
                        var output = new float[5];
                        fixed (float* y = output) ((delegate*<byte*, long, byte*, int, float*, long, void>)kernel)(wp, 2 * rowBytes, ap, n, y, 4);
                        AssertSameBits(row0, output[0], $"{type} {name} two rows x{blocks} seed {seed} row 0");
                        AssertSameBits(row2, output[4], $"{type} {name} two rows x{blocks} seed {seed} row 2");
                        Assert.Equal(0f, output[1] + output[2] + output[3]);
                    }
                }
            }
        }
    }

    private static void AssertSameBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"{what}: {actual} vs {expected}");

    /// <summary>
    /// Single-token matmuls (decode: Q4_K and Q6_K through the two-row kernels on rows far apart, the rest one row per call) on one and
    /// two threads, with row counts that leave remainders: every output bit-identical to its row's dot.
    /// </summary>
    [Theory]
    [InlineData(TensorType.Q4_K, 1)]
    [InlineData(TensorType.Q4_K, 2)]
    [InlineData(TensorType.Q6_K, 1)]
    [InlineData(TensorType.Q6_K, 2)]
    public void Decode_matmul_equals_the_per_row_dot_bit_for_bit(TensorType type, int threads)
    {
        const int cols = 3 * TensorTypes.QK_K;
        using var pool = new WorkerPool(threads);
        foreach (int rows in new[] { 1, 2, 3, 13, 67 })
        {
            var weights = RandomBlocks(type, rows * cols / TensorTypes.QK_K, seed: 50 + rows);
            var x = KernelTestData.Gaussian(cols, seed: 51 + rows, scale: 3f);
            KernelTestData.AssertSingleTokenRowsEqualTheirDot(type, weights, rows, cols, x, pool);
        }
    }

    /// <summary>The GEMM's panel unpacking on the same arbitrary bytes: bit-identical to the per-row kernels.</summary>
    [Theory]
    [MemberData(nameof(KQuantTypes))]
    public void Batched_path_equals_row_kernels_on_arbitrary_block_bytes(TensorType type)
    {
        const int rows = 11, batch = 6, cols = 3 * TensorTypes.QK_K;
        var weights = RandomBlocks(type, rows * cols / TensorTypes.QK_K, seed: 42);
        // Activations with outliers, so some Q8_K blocks hold ±127 runs.
        var x = KernelTestData.Gaussian(batch * cols, seed: 43, scale: 3f);
        for (int i = 0; i < x.Length; i += 97) x[i] *= 40;
        var tiled = new float[batch * rows];
        var perRow = new float[batch * rows];
        using var pool = new WorkerPool(2);
        fixed (byte* data = weights)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weights.Length);
            MatMul.Compute(tensor, 0, rows, x, tiled, batch, pool, allowGemm: true);
            MatMul.Compute(tensor, 0, rows, x, perRow, batch, pool, allowGemm: false);
        }
        for (int i = 0; i < tiled.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(perRow[i]) == BitConverter.SingleToInt32Bits(tiled[i]),
                $"{type} index {i}: row kernel {perRow[i]} vs GEMM {tiled[i]}");
    }

    /// <summary>
    /// The AVX2 Q8_K activation encoder against the scalar spec (itself bit-exact with ggml's quantize_row_q8_K_ref in
    /// GgmlOracleTests), byte for byte: Gaussian blocks, blocks whose max |x| occurs with both signs (the first wins),
    /// all-zero blocks, a NaN and an infinity, at several block counts.
    /// </summary>
    [Fact]
    public void Q8K_activation_encoder_equals_the_scalar_spec_byte_for_byte()
    {
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            int n = blocks * TensorTypes.QK_K;
            var x = KernelTestData.Gaussian(n, seed: 500 + blocks, scale: 2f);
            var random = new Random(blocks);
            for (int b = 0; b < blocks; b++)
            {
                Span<float> block = x.AsSpan(b * 256, 256);
                switch (b % 6)
                {
                    case 1: // the largest magnitude twice, negative first
                        block[random.Next(0, 128)] = -9.5f;
                        block[random.Next(128, 256)] = 9.5f;
                        break;
                    case 2: // ... positive first
                        block[random.Next(0, 128)] = 9.5f;
                        block[random.Next(128, 256)] = -9.5f;
                        break;
                    case 3: block.Clear(); break;
                    case 4: block[random.Next(256)] = float.NaN; break;
                    case 5: block[random.Next(256)] = float.NegativeInfinity; break;
                }
            }
            var simd = new byte[TensorTypes.RowBytes(TensorType.Q8_K, n)];
            var scalar = new byte[simd.Length];
            fixed (float* xp = x) fixed (byte* sp = simd) fixed (byte* rp = scalar)
            {
                Q8KActivationQuantizer.Quantize(xp, (BlockQ8K*)sp, blocks);
                ReferenceQuantizer.Q8K(xp, (BlockQ8K*)rp, blocks);
            }
            int same = simd.AsSpan().CommonPrefixLength(scalar);
            Assert.True(same == simd.Length, $"x{blocks}: first difference at byte {same} (block {same / TensorTypes.BlockBytes(TensorType.Q8_K)})");
        }
    }
}
