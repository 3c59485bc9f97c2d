using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The IQ4_XS decode dots (<see cref="IQ4XSDot{TOps, TGridOps, TVector, TLanes}"/>) at 256 and 512 bits, one and two rows
/// per call, against an independent model of their documented arithmetic written from the GGUF layout (the sub-block
/// scales' bits, the nibble order, the grid), in scalar code: exact integer lanes (lane k: elements 4k..4k+3 of every
/// sub-block, times ls − 32), one fused multiply-add per block and lane with d_x·d_y, then
/// ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)). Every width and row count must give its bits.
/// </summary>
public sealed unsafe class IQ4XSDotTests
{
    private static readonly sbyte[] Grid = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    private static float Model(byte[] weights, byte[] activations, int blocks)
    {
        var lanes = new float[8];
        fixed (byte* wp = weights) fixed (byte* ap = activations)
        {
            for (int b = 0; b < blocks; b++)
            {
                var x = (BlockIQ4XS*)wp + b;
                var y = (BlockQ8K*)ap + b;
                var sums = new long[8];
                for (int run = 0; run < 8; run++)
                {
                    int low = (x->ScalesL[run / 2] >> (4 * (run % 2))) & 0xF, high = (x->ScalesH >> (2 * run)) & 3;
                    int multiplier = (low | (high << 4)) - 32;
                    for (int j = 0; j < 32; j++)
                    {
                        byte packed = x->Qs[16 * run + j % 16];
                        int weight = Grid[j < 16 ? packed & 0xF : packed >> 4];
                        sums[j / 4] += (long)weight * y->Qs[32 * run + j] * multiplier;
                    }
                }
                float scale = (float)x->D * y->D;
                for (int k = 0; k < 8; k++) lanes[k] = MathF.FusedMultiplyAdd(scale, (float)checked((int)sums[k]), lanes[k]);
            }
        }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }

    /// <summary>Random IQ4_XS blocks: any nibbles and sub-block scales, block scales any finite half but the largest magnitudes (subnormals included).</summary>
    private static byte[] RandomWeights(int blocks, Random random)
    {
        var bytes = new byte[blocks * sizeof(BlockIQ4XS)];
        random.NextBytes(bytes);
        fixed (byte* p = bytes)
            for (int b = 0; b < blocks; b++)
                ((BlockIQ4XS*)p)[b].D = BitConverter.UInt16BitsToHalf((ushort)((random.Next(2) << 15) | (random.Next(25) << 10) | random.Next(1024)));
        return bytes;
    }

    /// <summary>Q8_K activations with quants in −127..127, the quantizer's range, and a small scale.</summary>
    private static byte[] RandomActivations(int blocks, Random random)
    {
        var bytes = new byte[blocks * sizeof(BlockQ8K)];
        fixed (byte* p = bytes)
            for (int b = 0; b < blocks; b++)
            {
                var block = (BlockQ8K*)p + b;
                block->D = (float)(random.NextDouble() * 1e-2);
                for (int j = 0; j < 256; j++) block->Qs[j] = (sbyte)random.Next(-127, 128);
                for (int g = 0; g < 16; g++)
                {
                    int sum = 0;
                    for (int j = 0; j < 16; j++) sum += block->Qs[16 * g + j];
                    block->BSums[g] = (short)sum;
                }
            }
        return bytes;
    }

    private sealed record Width(string Name, nint OneRow, nint TwoRows)
    {
        public override string ToString() => Name;
    }

    private static List<Width> Widths()
    {
        var widths = new List<Width>();
        if (!Avx2Ops.IsSupported) return widths;
        widths.Add(new("AVX2", (nint)(delegate*<byte*, byte*, int, float>)&IQ4XSDot<Avx2Ops, Avx2GridOps, Vector256<byte>, Vector256<byte>>.IQ4XS,
            (nint)(delegate*<byte*, long, byte*, int, float*, long, void>)&IQ4XSDot<Avx2Ops, Avx2GridOps, Vector256<byte>, Vector256<byte>>.IQ4XSTwoRows));
        widths.Add(new("AVX-512 twin", (nint)(delegate*<byte*, byte*, int, float>)&IQ4XSDot<Avx512TwinOps, Avx512TwinGridOps, Vector512<byte>, Vector256<byte>>.IQ4XS,
            (nint)(delegate*<byte*, long, byte*, int, float*, long, void>)&IQ4XSDot<Avx512TwinOps, Avx512TwinGridOps, Vector512<byte>, Vector256<byte>>.IQ4XSTwoRows));
        if (Avx512GridOps.IsSupported)
            widths.Add(new("AVX-512", (nint)(delegate*<byte*, byte*, int, float>)&IQ4XSDot<Avx512Ops, Avx512GridOps, Vector512<byte>, Vector256<byte>>.IQ4XS,
                (nint)(delegate*<byte*, long, byte*, int, float*, long, void>)&IQ4XSDot<Avx512Ops, Avx512GridOps, Vector512<byte>, Vector256<byte>>.IQ4XSTwoRows));
        return widths;
    }

    [Fact]
    public void One_and_two_row_dots_give_the_model_bits_at_every_width()
    {
        if (!Avx2Ops.IsSupported) return;
        var random = new Random(21);
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            for (int trial = 0; trial < 4; trial++)
            {
                int n = blocks * 256;
                var weights = RandomWeights(3 * blocks, random); // rows 0 and 2 are the two-row kernel's, row 1 lies between them
                var activations = RandomActivations(blocks, random);
                int rowBytes = blocks * sizeof(BlockIQ4XS);
                float expected0 = Model(weights, activations, blocks);
                float expected2 = Model(weights[(2 * rowBytes)..], activations, blocks);
                Assert.True(float.IsFinite(expected0) && float.IsFinite(expected2), "test data overflowed");
                foreach (Width width in Widths())
                {
                    var output = new float[5];
                    float oneRow;
                    fixed (byte* w = weights) fixed (byte* a = activations) fixed (float* y = output)
                    {
                        oneRow = ((delegate*<byte*, byte*, int, float>)width.OneRow)(w, a, n);
                        ((delegate*<byte*, long, byte*, int, float*, long, void>)width.TwoRows)(w, 2L * rowBytes, a, n, y, 4);
                    }
                    AssertSameBits(expected0, oneRow, $"{width} one row x{blocks}");
                    AssertSameBits(expected0, output[0], $"{width} two rows, row 0, x{blocks}");
                    AssertSameBits(expected2, output[4], $"{width} two rows, row 2, x{blocks}");
                    Assert.Equal(0f, output[1] + output[2] + output[3]);
                }
            }
        }
    }

    /// <summary>The dispatched AVX2 kernel is the generic one, and agrees with the scalar reference to float rounding.</summary>
    [Fact]
    public void The_dispatched_kernel_gives_the_model_bits_and_the_scalar_result_to_rounding()
    {
        if (!DotKernels.CanRun(DotPath.Avx2)) return;
        var random = new Random(22);
        const int blocks = 7;
        var weights = RandomWeights(blocks, random);
        var activations = RandomActivations(blocks, random);
        float kernel, scalar;
        fixed (byte* w = weights) fixed (byte* a = activations)
        {
            kernel = DotKernels.For(TensorType.IQ4_XS, DotPath.Avx2)(w, a, blocks * 256);
            scalar = DotKernels.Scalar(TensorType.IQ4_XS)(w, a, blocks * 256);
        }
        AssertSameBits(Model(weights, activations, blocks), kernel, "AVX2");
        Assert.True(Math.Abs(kernel - scalar) <= 1e-5 * Math.Abs(scalar) + 1e-3, $"{kernel} vs scalar {scalar}");
    }

    /// <summary>Each AVX-512 grid operation equals its twin, at the arguments the kernels pass (signs from the grid: never zero).</summary>
    [SkippableFact]
    public void Hardware_grid_operations_equal_their_twin()
    {
        Skip.IfNot(Avx512GridOps.IsSupported, "this CPU has no AVX-512 (F, BW): the hardware operations were not run");
        var random = new Random(23);
        var packed = new byte[32];
        var perRun = new int[8];
        var table = Vector128.Create(Grid);
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            random.NextBytes(packed);
            for (int i = 0; i < 8; i++) perRun[i] = random.Next();
            var valueBytes = new byte[64];
            random.NextBytes(valueBytes);
            Vector512<byte> values = Vector512.Create(valueBytes);
            Assert.Equal(Avx512TwinGridOps.Table(table), Avx512GridOps.Table(table));
            fixed (byte* p = packed) fixed (int* s = perRun)
            {
                Vector512<byte> weights = Avx512TwinGridOps.LookUp(Avx512TwinGridOps.Table(table), p);
                Assert.Equal(weights, Avx512GridOps.LookUp(Avx512GridOps.Table(table), p));
                for (int e = 0; e < 64; e++)
                {
                    byte nibbles = p[16 * (e / 32) + e % 16];
                    Assert.Equal((byte)Grid[e % 32 < 16 ? nibbles & 0xF : nibbles >> 4], weights[e]);
                }
                Assert.Equal(Avx512TwinGridOps.Abs(weights), Avx512GridOps.Abs(weights));
                Assert.Equal(Avx512TwinGridOps.NegateWhereNegative(values, weights), Avx512GridOps.NegateWhereNegative(values, weights));
                Assert.Equal(Avx512TwinGridOps.RunScales(s, 2), Avx512GridOps.RunScales(s, 2));
            }
        }
    }

    private static void AssertSameBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"{what}: {actual} vs model {expected}");
}
