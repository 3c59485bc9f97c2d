using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// The lattice decode dots (<see cref="LatticeDot{TOps, TVector, TLanes}"/>) at every width — 128-bit, AVX2, the AVX-512
/// twin and, where the CPU has it, AVX-512 — against a model of their documented arithmetic built on the dequantizer
/// (bit-exact with ggml's dequantize_row_*, see <see cref="LatticeQuantTests"/>): a copy of each block with its scale set
/// to 1 dequantizes to the integer weights times the multipliers, over the type's power of two, exactly in float. From
/// those, in scalar code: IQ2/IQ3 lane k sums weight·q over elements 4k..4k+3 of every sub-block, one fused multiply-add
/// per block and lane with d_x·d_y (unfused at 128 bits on a CPU without FMA, as <see cref="Vector128Ops"/> does), the
/// factor times ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)); IQ1 one integer per block, d_x·d_y·(X/8) added in block order. Every width must give the model's bits, on random valid blocks at several counts.
/// </summary>
public sealed unsafe class LatticeDotTests
{
    private static readonly TensorType[] Types = LatticeQuantTests.Types;

    /// <summary>The power of two the type's dot ends with (its integer weights are the unit-scale dequantized ones over it).</summary>
    private static float Factor(TensorType type) => type switch
    {
        TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S => 0.125f,
        TensorType.IQ3_XXS => 0.25f,
        TensorType.IQ1_S or TensorType.IQ1_M => 0.125f,
        _ => 1f,
    };

    /// <summary>The block's scale as a float, and the block with that scale replaced by 1.</summary>
    private static float TakeScale(TensorType type, Span<byte> block)
    {
        const ushort one = 0x3C00;
        if (type != TensorType.IQ1_M)
        {
            float scale = (float)BitConverter.ToHalf(block[..2]);
            BitConverter.TryWriteBytes(block[..2], BitConverter.UInt16BitsToHalf(one));
            return scale;
        }
        // IQ1_M: the fp16 scale's four nibbles are the top nibbles of the four scale words at bytes 48..55
        ushort bits = 0;
        for (int k = 0; k < 4; k++)
        {
            ushort word = BitConverter.ToUInt16(block.Slice(48 + 2 * k, 2));
            bits |= (ushort)((word >> 12) << (4 * k));
            BitConverter.TryWriteBytes(block.Slice(48 + 2 * k, 2), (ushort)((word & 0x0FFF) | ((one >> (4 * k)) & 0xF) << 12));
        }
        return (float)BitConverter.UInt16BitsToHalf(bits);
    }

    private static float Model(TensorType type, byte[] weights, byte[] activations, int blocks, bool fused)
    {
        int blockBytes = TensorTypes.BlockBytes(type);
        var unitBlocks = (byte[])weights.Clone();
        var scales = new float[blocks];
        for (int b = 0; b < blocks; b++) scales[b] = TakeScale(type, unitBlocks.AsSpan(b * blockBytes, blockBytes));
        float[] unitWeights = KernelTestData.Decode(type, unitBlocks, blocks * 256);
        float factor = Factor(type);
        bool iq1 = type is TensorType.IQ1_S or TensorType.IQ1_M;
        var lanes = new float[8];
        float sum = 0;
        fixed (byte* ap = activations)
            for (int b = 0; b < blocks; b++)
            {
                var y = (BlockQ8K*)ap + b;
                var integers = new long[8];
                for (int e = 0; e < 256; e++)
                {
                    float scaled = unitWeights[256 * b + e] / factor;
                    Assert.True(scaled == MathF.Round(scaled), $"{type}: unit weight {unitWeights[256 * b + e]} is no integer over {factor}");
                    integers[e % 32 / 4] += (long)scaled * y->Qs[e];
                }
                if (iq1)
                {
                    long x = integers.Sum();
                    sum += scales[b] * y->D * (checked((int)x) * 0.125f);
                }
                else
                    for (int k = 0; k < 8; k++)
                        lanes[k] = fused ? MathF.FusedMultiplyAdd(scales[b] * y->D, checked((int)integers[k]), lanes[k])
                            : scales[b] * y->D * checked((int)integers[k]) + lanes[k];
            }
        return iq1 ? sum : factor * (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
    }

    /// <summary>A width's kernels; <paramref name="Fused"/>: whether its multiply-add is fused (the 128-bit one only where the CPU has FMA).</summary>
    private sealed record Width(string Name, Func<TensorType, nint> Kernel, bool Fused = true)
    {
        public override string ToString() => Name;
    }

    private static nint Kernel<TOps, TVector, TLanes>(TensorType type) where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
        => type switch
        {
            TensorType.IQ2_XXS => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ2XXS,
            TensorType.IQ2_XS => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ2XS,
            TensorType.IQ2_S => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ2S,
            TensorType.IQ3_XXS => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ3XXS,
            TensorType.IQ3_S => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ3S,
            TensorType.IQ1_S => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ1S,
            TensorType.IQ1_M => (nint)(delegate*<byte*, byte*, int, float>)&LatticeDot<TOps, TVector, TLanes>.IQ1M,
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };

    private static List<Width> Widths()
    {
        var widths = new List<Width>();
        if (Vector128Ops.IsSupported)
            widths.Add(new("128-bit", Kernel<Vector128Ops, Vector128<byte>, Vector128Pair>,
                System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported));
        if (Avx2Ops.IsSupported)
        {
            widths.Add(new("AVX2", Kernel<Avx2Ops, Vector256<byte>, Vector256<byte>>));
            widths.Add(new("AVX-512 twin", Kernel<Avx512TwinOps, Vector512<byte>, Vector256<byte>>));
        }
        if (Avx512Ops.IsSupported && Avx2Ops.IsSupported) widths.Add(new("AVX-512", Kernel<Avx512Ops, Vector512<byte>, Vector256<byte>>));
        return widths;
    }

    public static IEnumerable<object[]> TypesData() => Types.Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(TypesData))]
    public void Every_width_gives_the_model_bits(TensorType type)
    {
        var widths = Widths();
        Assert.NotEmpty(widths);
        foreach (int blocks in KernelTestData.BlockCounts.Append(0))
            for (int seed = 0; seed < 4; seed++)
            {
                int n = blocks * 256;
                var weights = LatticeQuantTests.RandomBlocks(type, blocks, seed: 41 * blocks + seed);
                var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 43 * blocks + seed, scale: 2f));
                fixed (byte* wp = weights) fixed (byte* ap = activations)
                    foreach (Width width in widths)
                    {
                        float expected = Model(type, weights, activations, blocks, width.Fused);
                        Assert.True(float.IsFinite(expected), "test data overflowed");
                        float actual = ((delegate*<byte*, byte*, int, float>)width.Kernel(type))(wp, ap, n);
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
                            $"{type} {width} x{blocks} seed {seed}: {actual} vs model {expected}");
                    }
            }
    }

    /// <summary>The dispatch tables hand out the generic kernels.</summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void The_dispatched_kernels_are_the_generic_ones(TensorType type)
    {
        if (Avx2Ops.IsSupported) Assert.Equal(Kernel<Avx2Ops, Vector256<byte>, Vector256<byte>>(type), (nint)DotKernels.For(type, DotPath.Avx2));
        if (Vector128Ops.IsSupported) Assert.Equal(Kernel<Vector128Ops, Vector128<byte>, Vector128Pair>(type), (nint)DotKernels.For(type, DotPath.Vector128));
    }
}
