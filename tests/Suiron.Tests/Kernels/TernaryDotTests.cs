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
