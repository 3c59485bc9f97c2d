using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The SIMD dots of TQ1_0 and TQ2_0 against the scalar reference, bit for bit: each forms the same exact integer
/// Σ (t − 1)·y per block and the same float expression, so any difference is a wrong trit, a wrong activation pairing
/// or an integer overflow. The weights are random bytes (every TQ1_0 byte value, every two-bit trit), the block scales
/// random fp16 values including subnormal ones, and the activations both Gaussian and saturated at ±127 (the int16
/// accumulations' worst case).
/// </summary>
public unsafe class TernaryDotTests
{
    public static IEnumerable<object[]> Types() => [[TensorType.TQ1_0], [TensorType.TQ2_0]];

    [Theory]
    [MemberData(nameof(Types))]
    public void Simd_paths_equal_the_scalar_reference_bit_for_bit(TensorType type)
    {
        var paths = new[] { DotPath.Vector128, DotPath.Avx2, DotPath.Avx512 }
            .Where(p => DotKernels.CanRun(p) && DotKernels.Resolve(type, p) != DotPath.Scalar).ToList();
        foreach (int blocks in KernelTestData.BlockCounts)
            for (int seed = 0; seed < 6; seed++)
            {
                int n = blocks * 256;
                var weights = RandomBlocks(type, blocks, seed: 100 * blocks + seed);
                float[] values = seed % 2 == 0
                    ? KernelTestData.Gaussian(n, seed: 200 * blocks + seed, scale: 2f)
                    : Saturated(n, seed: 300 * blocks + seed);
                var activations = KernelTestData.EncodeActivations(type, values);
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    float scalar = DotKernels.Scalar(type)(wp, ap, n);
                    foreach (var path in paths)
                    {
                        float simd = DotKernels.For(type, path)(wp, ap, n);
                        Assert.True(BitConverter.SingleToInt32Bits(simd) == BitConverter.SingleToInt32Bits(scalar),
                            $"{type} {path} x{blocks} seed {seed}: {simd} vs scalar {scalar}");
                    }
                }
            }
    }

    public static IEnumerable<object[]> TypesAndWidths() =>
        from type in new[] { TensorType.TQ1_0, TensorType.TQ2_0 }
        from width in new[] { "128", "256", "512 twin", "512" }
        select new object[] { type, width };

    /// <summary>
    /// <see cref="TernaryDot{TOps, TVector, TLanes}"/> at each width, its instances called directly (the 512-bit ones are
    /// not <see cref="DotKernels.For(TensorType, DotPath)"/>'s), against the scalar reference bit for bit: block counts
    /// that leave every tail (one to five blocks, 8, 33); blocks from the quantizer, random bytes, and blocks of the
    /// extreme trits: TQ1_0 bytes all trits 0 (0), all 1 (128), all 2 (255) and the thresholds of trit 0 (85, 86, 170,
    /// 171), TQ2_0 bytes 0x00, 0x55, 0xAA and 0xFF (the invalid three too, which the reference reads as t = 3), with
    /// scales ±0, subnormal, normal and the largest fp16.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TypesAndWidths))]
    public void Every_width_equals_the_scalar_reference_bit_for_bit(TensorType type, string width)
    {
        Skip.IfNot(width switch
        {
            "128" => Vector128Ops.IsSupported,
            "256" => Avx2Ops.IsSupported,
            "512 twin" => Avx512TwinOps.IsSupported,
            _ => Avx512Ops.IsSupported && Avx2Ops.IsSupported,
        }, $"this CPU does not run the {width}-bit operations");
        byte[] tq1Extremes = [0, 128, 255, 85, 86, 170, 171], tq2Extremes = [0x00, 0x55, 0xAA, 0xFF];
        ushort[] scaleEdges = [0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x3C00, 0x7BFF, 0xFBFF];
        int blockBytes = TensorTypes.BlockBytes(type);
        foreach (int blocks in new[] { 1, 2, 3, 4, 5, 8, 33 })
            for (int seed = 0; seed < 8; seed++)
            {
                int n = blocks * 256;
                // seeds 1 and 5: blocks from the quantizer (valid packings only); the others random bytes
                bool quantized = seed % 4 == 1;
                var weights = quantized
                    ? KernelTestData.EncodeRows(type, KernelTestData.Gaussian(n, seed: 800 * blocks + seed, scale: 0.1f), 1, n)
                    : RandomBlocks(type, blocks, seed: 500 * blocks + seed);
                var random = new Random(seed);
                for (int b = 0; b < blocks && !quantized; b++)
                {
                    // even seeds: whole blocks of one extreme byte or a mix of them; seeds 3 and 7 keep the random bytes
                    if (seed % 2 == 0)
                    {
                        byte[] extremes = type == TensorType.TQ1_0 ? tq1Extremes : tq2Extremes;
                        byte single = extremes[random.Next(extremes.Length)];
                        for (int i = 0; i < blockBytes - 2; i++) weights[b * blockBytes + i] = seed % 4 == 0 ? single : extremes[random.Next(extremes.Length)];
                    }
                    if (random.Next(3) == 0)
                        BitConverter.TryWriteBytes(weights.AsSpan(b * blockBytes + blockBytes - 2, 2), scaleEdges[random.Next(scaleEdges.Length)]);
                }
                float[] values = seed % 3 == 0 ? Saturated(n, seed: 600 * blocks + seed) : KernelTestData.Gaussian(n, seed: 700 * blocks + seed, scale: 2f);
                var activations = KernelTestData.EncodeActivations(type, values);
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                {
                    float scalar = DotKernels.Scalar(type)(wp, ap, n);
                    float simd = Dot(type, width, wp, ap, n);
                    Assert.True(BitConverter.SingleToInt32Bits(simd) == BitConverter.SingleToInt32Bits(scalar),
                        $"{type} {width} x{blocks} seed {seed}: {simd} vs scalar {scalar}");
                }
            }
    }

    private static float Dot(TensorType type, string width, byte* w, byte* a, int n) => (type, width) switch
    {
        (TensorType.TQ1_0, "128") => TernaryDot<Vector128Ops, Vector128<byte>, Vector128Pair>.TQ1_0(w, a, n),
        (TensorType.TQ2_0, "128") => TernaryDot<Vector128Ops, Vector128<byte>, Vector128Pair>.TQ2_0(w, a, n),
        (TensorType.TQ1_0, "256") => TernaryDot<Avx2Ops, Vector256<byte>, Vector256<byte>>.TQ1_0(w, a, n),
        (TensorType.TQ2_0, "256") => TernaryDot<Avx2Ops, Vector256<byte>, Vector256<byte>>.TQ2_0(w, a, n),
        (TensorType.TQ1_0, "512 twin") => TernaryDot<Avx512TwinOps, Vector512<byte>, Vector256<byte>>.TQ1_0(w, a, n),
        (TensorType.TQ2_0, "512 twin") => TernaryDot<Avx512TwinOps, Vector512<byte>, Vector256<byte>>.TQ2_0(w, a, n),
        (TensorType.TQ1_0, _) => TernaryDot<Avx512Ops, Vector512<byte>, Vector256<byte>>.TQ1_0(w, a, n),
        _ => TernaryDot<Avx512Ops, Vector512<byte>, Vector256<byte>>.TQ2_0(w, a, n),
    };

    /// <summary>Activations of equal magnitude and random sign: every Q8_K quant is ±127.</summary>
    private static float[] Saturated(int n, int seed)
    {
        var random = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = random.Next(2) == 0 ? -3f : 3f;
        return x;
    }

    /// <summary>Random bytes with a random finite fp16 block scale: normal ±[2^-14, 2^-2] or, one block in four, subnormal.</summary>
    private static byte[] RandomBlocks(TensorType type, int blocks, int seed)
    {
        var random = new Random(seed);
        int blockBytes = TensorTypes.BlockBytes(type);
        var bytes = new byte[blocks * blockBytes];
        random.NextBytes(bytes);
        for (int b = 0; b < blocks; b++)
        {
            ushort bits = random.Next(4) == 0
                ? (ushort)random.Next(1, 0x400)                       // subnormal
                : (ushort)random.Next(0x0400, 0x3400);                // 2^-14 .. 2^-2
            if (random.Next(2) == 0) bits |= 0x8000;
            // the fp16 scale is each block's last two bytes in both types
            BitConverter.TryWriteBytes(bytes.AsSpan(b * blockBytes + blockBytes - 2, 2), bits);
        }
        return bytes;
    }
}
