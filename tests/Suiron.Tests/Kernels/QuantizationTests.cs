using System.Runtime.InteropServices;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

public class QuantizationTests
{
    [Fact]
    public void Q8_0_of_a_known_vector_is_max_over_127_and_rounded_quants()
    {
        var x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = (i - 10) * 0.25f; // max |x| = 5.25 at i = 31
        var bytes = KernelTestData.Encode(TensorType.Q8_0, x);
        float d = 5.25f / 127;
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)d), BitConverter.ToUInt16(bytes, 0));
        for (int i = 0; i < 32; i++)
            Assert.Equal((sbyte)MathF.Round(x[i] * (1f / d), MidpointRounding.AwayFromZero), (sbyte)bytes[2 + i]);
        Assert.Equal(127, (sbyte)bytes[2 + 31]);
    }

    [Fact]
    public void Q4_0_of_a_known_vector()
    {
        // The largest magnitude is -4 (negative): d = max / -8 = 0.5, q = trunc(x / d + 8.5) clamped to 15.
        var x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = (i % 9 - 4) * 1f;
        x[5] = -4f;
        var bytes = KernelTestData.Encode(TensorType.Q4_0, x);
        Assert.Equal((Half)0.5f, BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(bytes, 0)));
        for (int j = 0; j < 16; j++)
        {
            int lo = Math.Min(15, (int)(x[j] / 0.5f + 8.5f)), hi = Math.Min(15, (int)(x[j + 16] / 0.5f + 8.5f));
            Assert.Equal((byte)(lo | (hi << 4)), bytes[2 + j]);
        }
    }

    [Fact]
    public void Q8_K_of_a_known_vector_has_scale_max_over_minus127_and_group_sums()
    {
        var x = new float[256];
        for (int i = 0; i < 256; i++) x[i] = MathF.Sin(i) * 3;
        x[100] = -7f;
        var bytes = KernelTestData.Encode(TensorType.Q8_K, x);
        float iscale = -127f / -7f;
        Assert.Equal(1 / iscale, BitConverter.ToSingle(bytes, 0));
        var qs = MemoryMarshal.Cast<byte, sbyte>(bytes.AsSpan(4, 256));
        var bsums = MemoryMarshal.Cast<byte, short>(bytes.AsSpan(260, 32));
        Assert.Equal(-127, qs[100]);
        for (int g = 0; g < 16; g++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += qs[16 * g + i];
            Assert.Equal(sum, bsums[g]);
        }
    }

    [Fact]
    public void BF16_rounds_to_nearest_even()
    {
        float[] x =
        [
            BitConverter.UInt32BitsToSingle(0x3F808000), // tie, even below: stays 0x3F80
            BitConverter.UInt32BitsToSingle(0x3F818000), // tie, odd below: rounds up to 0x3F82
            BitConverter.UInt32BitsToSingle(0x3F808001), // above the tie: up
            float.NaN,
        ];
        var bytes = KernelTestData.Encode(TensorType.BF16, x);
        var bf = MemoryMarshal.Cast<byte, ushort>(bytes);
        Assert.Equal(0x3F80, bf[0]);
        Assert.Equal(0x3F82, bf[1]);
        Assert.Equal(0x3F81, bf[2]);
        Assert.True(float.IsNaN(BitConverter.Int32BitsToSingle(bf[3] << 16)));
    }

    [Fact]
    public void F16_round_trips_every_half_exactly()
    {
        var halves = new ushort[65536];
        for (int i = 0; i < halves.Length; i++) halves[i] = (ushort)i;
        var floats = new float[65536];
        Quantization.Dequantize(TensorType.F16, MemoryMarshal.AsBytes(halves.AsSpan()), floats);
        for (int i = 0; i < halves.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(floats[i]));
            else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(floats[i]));
        }
    }

    public static IEnumerable<object[]> RoundTripBounds() =>
    [
        [TensorType.F32, 0.0], [TensorType.F16, 0.001], [TensorType.BF16, 0.006],
        [TensorType.Q4_0, 0.2], [TensorType.Q4_1, 0.12], [TensorType.Q5_0, 0.1], [TensorType.Q5_1, 0.06],
        [TensorType.Q8_0, 0.015], [TensorType.Q8_1, 0.015],
        [TensorType.Q2_K, 0.45], [TensorType.Q3_K, 0.25], [TensorType.Q4_K, 0.1], [TensorType.Q5_K, 0.05],
        [TensorType.Q6_K, 0.03], [TensorType.Q8_K, 0.03],
    ];

    [Theory]
    [MemberData(nameof(RoundTripBounds))]
    public void Round_trip_error_is_bounded(TensorType type, double maxRelativeRmse)
    {
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            int n = blocks * TensorTypes.QK_K;
            var x = KernelTestData.Gaussian(n, seed: 1000 + blocks);
            var decoded = KernelTestData.Decode(type, KernelTestData.Encode(type, x), n);
            double err = 0, norm = 0;
            for (int i = 0; i < n; i++)
            {
                err += (x[i] - decoded[i]) * (double)(x[i] - decoded[i]);
                norm += x[i] * (double)x[i];
            }
            double relativeRmse = Math.Sqrt(err / norm);
            Assert.True(relativeRmse <= maxRelativeRmse, $"{type} with {blocks} blocks: relative rmse {relativeRmse:G4} > {maxRelativeRmse}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.AllTypesData), MemberType = typeof(KernelTestData))]
    public void All_zero_input_decodes_to_zero(TensorType type)
    {
        int n = 2 * TensorTypes.QK_K;
        var decoded = KernelTestData.Decode(type, KernelTestData.Encode(type, new float[n]), n);
        Assert.All(decoded, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Activation_types_follow_ggml_vec_dot_type()
    {
        Assert.Equal(TensorType.F32, Quantization.ActivationType(TensorType.F32));
        Assert.Equal(TensorType.F16, Quantization.ActivationType(TensorType.F16));
        Assert.Equal(TensorType.BF16, Quantization.ActivationType(TensorType.BF16));
        foreach (var t in new[] { TensorType.Q4_0, TensorType.Q5_0, TensorType.Q8_0 }) Assert.Equal(TensorType.Q8_0, Quantization.ActivationType(t));
        foreach (var t in new[] { TensorType.Q4_1, TensorType.Q5_1 }) Assert.Equal(TensorType.Q8_1, Quantization.ActivationType(t));
        foreach (var t in new[] { TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K })
            Assert.Equal(TensorType.Q8_K, Quantization.ActivationType(t));
    }

    [Fact]
    public void Activation_Q8_0_rounds_half_to_even_like_ggml_cpu()
    {
        // 127/amax = 1 here, so x * id is exactly 2.5 and the CPU path rounds to 2 where the reference gives 3.
        var x = new float[32];
        x[0] = 127f; x[1] = 2.5f; x[2] = -3.5f;
        var bytes = new byte[34];
        Quantization.QuantizeActivations(TensorType.Q8_0, x, bytes);
        Assert.Equal(2, (sbyte)bytes[3]);
        Assert.Equal(-4, (sbyte)bytes[4]);
        Quantization.Quantize(TensorType.Q8_0, x, bytes);
        Assert.Equal(3, (sbyte)bytes[3]);
    }

    /// <summary>The vector Q8_0 activation encoder against its scalar spec, byte for byte (ties at .5 included).</summary>
    [Fact]
    public unsafe void Q8_0_activation_encoding_vector_path_equals_the_scalar_one()
    {
        foreach (int blocks in new[] { 1, 3, 7, 33, 257 })
        {
            var x = KernelTestData.Gaussian(blocks * 32, seed: blocks);
            for (int i = 0; i < x.Length; i += 5) x[i] = MathF.Round(x[i] * 4) / 4; // quarter steps: exact ties once scaled
            if (blocks == 3) Array.Clear(x, 32, 32); // an all-zero block
            var vector = new byte[blocks * 34];
            var scalar = new byte[blocks * 34];
            fixed (float* xp = x)
            fixed (byte* v = vector)
            fixed (byte* s = scalar)
            {
                ActivationQuantizer.Q8_0(xp, (BlockQ8_0*)v, blocks);
                ActivationQuantizer.Q8_0Reference(xp, (BlockQ8_0*)s, blocks);
            }
            Assert.Equal(scalar, vector);
        }
    }
}
