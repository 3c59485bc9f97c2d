using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>The float decode dots of one width (<see cref="FloatDot{TOps, TFloats, THalves}"/> specialised for one op struct).</summary>
public sealed unsafe class FloatDotWidth
{
    public required string Name { get; init; }
    public required delegate*<byte*, byte*, int, float> F32 { get; init; }
    public required delegate*<byte*, byte*, int, float> F16 { get; init; }
    public required delegate*<byte*, byte*, int, float> BF16 { get; init; }
    public required delegate*<byte*, byte*, int, float> F16xF32 { get; init; }
    public required delegate*<byte*, byte*, int, float> F16xRebiasedF32 { get; init; }
    public required delegate*<byte*, long, byte*, int, float*, long, void> F16xRebiasedF32FourRows { get; init; }

    /// <summary>Whether its multiply-adds are fused (as the summation-order model computes them): everywhere but x86 without FMA.</summary>
    public required bool Fused { get; init; }

    public override string ToString() => Name;

    /// <summary>Every width this machine runs: the 128-bit ops where Vector128 is accelerated, AVX2, the 512-bit twin (on AVX2) and the AVX-512 hardware.</summary>
    public static IEnumerable<FloatDotWidth> Available()
    {
        if (Vector128FloatOps.IsSupported)
            yield return Of<Vector128FloatOps, Vector128x4, Vector128<ushort>>("128-bit", Fma.IsSupported || AdvSimd.IsSupported);
        if (Avx2FloatOps.IsSupported)
        {
            yield return Of<Avx2FloatOps, Vector256x2, Vector256<ushort>>("AVX2", true);
            yield return Of<Avx512TwinFloatOps, Vector512<float>, Vector256<ushort>>("AVX-512 twin", true);
        }
        if (Avx512FloatOps.IsSupported)
            yield return Of<Avx512FloatOps, Vector512<float>, Vector256<ushort>>("AVX-512", true);
    }

    private static FloatDotWidth Of<TOps, TFloats, THalves>(string name, bool fused)
        where TOps : struct, IFloatSimdOps<TFloats, THalves> where TFloats : struct where THalves : struct => new()
    {
        Name = name,
        Fused = fused,
        F32 = &FloatDot<TOps, TFloats, THalves>.F32,
        F16 = &FloatDot<TOps, TFloats, THalves>.F16,
        BF16 = &FloatDot<TOps, TFloats, THalves>.BF16,
        F16xF32 = &FloatDot<TOps, TFloats, THalves>.F16xF32,
        F16xRebiasedF32 = &FloatDot<TOps, TFloats, THalves>.F16xRebiasedF32,
        F16xRebiasedF32FourRows = &FloatDot<TOps, TFloats, THalves>.F16xRebiasedF32FourRows,
    };
}

/// <summary>
/// The float decode dots at every width against an independent model of their documented summation order (sixteen
/// lanes, fused multiply-adds per lane, an 8-element remainder into lanes 0..7, the two halves added, then
/// ((s0+s1)+(s2+s3)) + ((s4+s5)+(s6+s7)), then the tail in order), written here with scalar <see cref="MathF.FusedMultiplyAdd"/>:
/// each width must give its bits exactly, and the scalar reference to float rounding. The GEMM's equality with these
/// kernels is checked by the matmul tests (<see cref="WideKernelTests"/>, <see cref="MatMulTests"/>).
/// </summary>
public sealed unsafe class FloatDotTests
{
    private static readonly int[] Lengths = [0, 1, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 47, 48, 49, 63, 64, 65, 100, 257, 1003, 2048 + 8 + 3];

    private static bool SameFloat(float expected, float actual) =>
        BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual) || (float.IsNaN(expected) && float.IsNaN(actual));

    /// <summary>The documented order, lane by lane in scalar code; <paramref name="fused"/> false rounds each product first (x86 without FMA).</summary>
    internal static float ModelDot(float[] w, float[] a, bool fused = true)
    {
        int n = w.Length;
        var lanes = new float[16];
        float MultiplyAdd(float x, float y, float acc) => fused ? MathF.FusedMultiplyAdd(x, y, acc) : x * y + acc;
        int i = 0;
        for (; i + 16 <= n; i += 16)
            for (int j = 0; j < 16; j++) lanes[j] = MultiplyAdd(w[i + j], a[i + j], lanes[j]);
        if (i + 8 <= n)
        {
            for (int j = 0; j < 8; j++) lanes[j] = MultiplyAdd(w[i + j], a[i + j], lanes[j]);
            i += 8;
        }
        var s = new float[8];
        for (int j = 0; j < 8; j++) s[j] = lanes[j] + lanes[j + 8];
        float sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        for (; i < n; i++) sum += w[i] * a[i];
        return sum;
    }

    public static IEnumerable<object[]> Widths() => FloatDotWidth.Available().Select(w => new object[] { w });

    private static float Run(delegate*<byte*, byte*, int, float> kernel, byte[] weights, byte[] activations, int n)
    {
        fixed (byte* w = weights) fixed (byte* a = activations) return kernel(w, a, n);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void F32_F16_and_BF16_dots_give_the_bits_of_the_summation_order_model(FloatDotWidth width)
    {
        foreach (TensorType type in new[] { TensorType.F32, TensorType.F16, TensorType.BF16 })
        {
            foreach (int n in Lengths)
            {
                var weights = KernelTestData.Encode(type, KernelTestData.Gaussian(n, seed: 3 * n + 1, scale: 0.05f));
                var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 5 * n + 2, scale: 2f));
                var w = KernelTestData.Decode(type, weights, n);
                var a = KernelTestData.Decode(Quantization.ActivationType(type), activations, n);
                var kernel = type switch { TensorType.F32 => width.F32, TensorType.F16 => width.F16, _ => width.BF16 };
                float actual = Run(kernel, weights, activations, n);
                Assert.True(SameFloat(ModelDot(w, a, width.Fused), actual), $"{width} {type} n {n}: {actual} vs model {ModelDot(w, a, width.Fused)}");

                float scalar = Run(DotKernels.Scalar(type), weights, activations, n);
                double magnitude = 0;
                for (int i = 0; i < n; i++) magnitude += Math.Abs((double)w[i] * a[i]);
                Assert.True(Math.Abs(actual - scalar) <= 1e-5 * magnitude + 1e-30, $"{width} {type} n {n}: {actual} vs scalar {scalar}");

                if (type == TensorType.F16)
                {
                    // The F16 weights against the activations already widened to floats: the same products, the same bits.
                    var widened = new byte[4 * n];
                    Buffer.BlockCopy(a, 0, widened, 0, widened.Length);
                    Assert.True(SameFloat(actual, Run(width.F16xF32, weights, widened, n)), $"{width} F16xF32 n {n}");
                }
            }
        }
    }

    /// <summary>
    /// Infinities, NaNs, huge and subnormal values in every part of the loop (32- and 16-element steps, the 8-element
    /// remainder, the tail): each width as the model, the model's IEEE special-value propagation included.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Special_values_give_the_model_bits(FloatDotWidth width)
    {
        const int n = 32 + 16 + 8 + 5;
        var random = new Random(77);
        foreach (TensorType type in new[] { TensorType.F32, TensorType.F16, TensorType.BF16 })
        {
            foreach (int position in new[] { 0, 20, 40, 50, 58 })
            {
                foreach (float special in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, 60000f, 1e-7f, -0f })
                {
                    var wf = KernelTestData.Gaussian(n, seed: position, scale: 0.5f);
                    var af = KernelTestData.Gaussian(n, seed: position + 1, scale: 0.5f);
                    wf[position] = special;
                    if (random.Next(2) == 0) af[(position + 3) % n] = special;
                    var weights = KernelTestData.Encode(type, wf);
                    var activations = KernelTestData.EncodeActivations(type, af);
                    var w = KernelTestData.Decode(type, weights, n);
                    var a = KernelTestData.Decode(Quantization.ActivationType(type), activations, n);
                    var kernel = type switch { TensorType.F32 => width.F32, TensorType.F16 => width.F16, _ => width.BF16 };
                    float expected = ModelDot(w, a, width.Fused), actual = Run(kernel, weights, activations, n);
                    Assert.True(SameFloat(expected, actual), $"{width} {type} {special} at {position}: {actual} vs model {expected}");
                }
            }
        }
    }

    /// <summary>The per-width decode dots the dispatcher hands out are the generic ones: the AVX2 and 128-bit entries give the same bits as the model too.</summary>
    [Fact]
    public void Dispatched_float_kernels_give_the_model_bits()
    {
        foreach (DotPath path in new[] { DotPath.Vector128, DotPath.Avx2 })
        {
            if (!DotKernels.CanRun(path)) continue;
            bool fused = path == DotPath.Avx2 || Fma.IsSupported || AdvSimd.IsSupported;
            foreach (TensorType type in new[] { TensorType.F32, TensorType.F16, TensorType.BF16 })
            {
                const int n = 2048 + 16 + 8 + 3;
                var weights = KernelTestData.Encode(type, KernelTestData.Gaussian(n, seed: 8, scale: 0.05f));
                var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 9, scale: 2f));
                float expected = ModelDot(KernelTestData.Decode(type, weights, n), KernelTestData.Decode(Quantization.ActivationType(type), activations, n), fused);
                Assert.True(SameFloat(expected, Run(DotKernels.For(type, path), weights, activations, n)), $"{path} {type}");
            }
        }
    }

    /// <summary>Each AVX-512 float operation equals its twin lane for lane (the kernels only ever see lanes 0..7 of an 8-element load).</summary>
    [SkippableFact]
    public void Hardware_float_operations_equal_their_twin_lane_for_lane()
    {
        Skip.IfNot(Avx512FloatOps.IsSupported, "this CPU has no AVX-512 (F, BW): the hardware operations were not run");
        var random = new Random(11);
        var halves = new ushort[16];
        var floats = new float[16];
        for (int iteration = 0; iteration < 4000; iteration++)
        {
            for (int i = 0; i < 16; i++)
            {
                // Every half pattern (infinities, NaNs, subnormals, both zeros) and random float bits.
                halves[i] = (ushort)random.Next(65536);
                floats[i] = BitConverter.Int32BitsToSingle(random.Next(int.MinValue, int.MaxValue));
            }
            if (iteration % 4 == 0) halves[random.Next(16)] = (ushort)(0x7C00 | (random.Next(2) << 15) | random.Next(2));
            Vector512<float> left = Vector512.Create(floats), right = Vector512.Create(floats.Reverse().ToArray());
            Vector512<float> addend = Vector512.Create(floats.Select((f, i) => f * (i + 1)).ToArray());
            fixed (ushort* h = halves) fixed (float* f = floats)
            {
                Assert.Equal(Avx512TwinFloatOps.LoadSingles(f, 16), Avx512FloatOps.LoadSingles(f, 16));
                Assert.Equal(Avx512TwinFloatOps.LoadSingles(f, 8).GetLower(), Avx512FloatOps.LoadSingles(f, 8).GetLower());
                AssertSameBits(Avx512TwinFloatOps.WidenHalves(h, 16), Avx512FloatOps.WidenHalves(h, 16), 16);
                AssertSameBits(Avx512TwinFloatOps.WidenHalves(h, 8), Avx512FloatOps.WidenHalves(h, 8), 8);
                AssertSameBits(Avx512TwinFloatOps.WidenBFloat16(h, 16), Avx512FloatOps.WidenBFloat16(h, 16), 16);
                AssertSameBits(Avx512TwinFloatOps.WidenBFloat16(h, 8), Avx512FloatOps.WidenBFloat16(h, 8), 8);
                Assert.Equal(Avx512TwinFloatOps.ShiftedHalfBits.AsInt32(), Avx512FloatOps.ShiftedHalfBits.AsInt32());
                Assert.Equal(Avx512TwinFloatOps.MagnitudeBits, Avx512FloatOps.MagnitudeBits);
                Vector512<float> kept = Avx512FloatOps.ShiftedHalfBits;
                Vector256<ushort> magnitude = Avx512FloatOps.MagnitudeBits;
                AssertSameBits(Avx512TwinFloatOps.ShiftHalves(h, 16, kept), Avx512FloatOps.ShiftHalves(h, 16, kept), 16);
                AssertSameBits(Avx512TwinFloatOps.ShiftHalves(h, 8, kept), Avx512FloatOps.ShiftHalves(h, 8, kept), 8);
                Assert.Equal(Avx512TwinFloatOps.MaxMagnitude(default, h, 16, magnitude), Avx512FloatOps.MaxMagnitude(default, h, 16, magnitude));
                Assert.Equal(Avx512TwinFloatOps.MaxMagnitude(default, h, 8, magnitude), Avx512FloatOps.MaxMagnitude(default, h, 8, magnitude));
                Assert.Equal(Avx512TwinFloatOps.HasExponent31(Avx512TwinFloatOps.MaxMagnitude(default, h, 16, magnitude)),
                    Avx512FloatOps.HasExponent31(Avx512FloatOps.MaxMagnitude(default, h, 16, magnitude)));
            }
            AssertSameBits(Avx512TwinFloatOps.Multiply(left, 1.5e-20f), Avx512FloatOps.Multiply(left, 1.5e-20f), 16);
            foreach (int count in new[] { 16, 8 })
            {
                Vector512<float> twin = addend, hardware = addend;
                Avx512TwinFloatOps.MultiplyAdd(ref twin, left, right, count);
                Avx512FloatOps.MultiplyAdd(ref hardware, left, right, count);
                AssertSameBits(twin, hardware, 16);
                twin = hardware = addend;
                fixed (float* f = floats)
                {
                    Avx512TwinFloatOps.MultiplyAdd(ref twin, left, f, count);
                    Avx512FloatOps.MultiplyAdd(ref hardware, left, f, count);
                }
                AssertSameBits(twin, hardware, 16);
            }
            Assert.True(SameFloat(Avx512TwinFloatOps.Sum(left), Avx512FloatOps.Sum(left)));
        }
    }

    /// <summary>The twin's operations against their definitions, element by element, so the twin is an independent truth for the hardware.</summary>
    [Fact]
    public void Twin_float_operations_follow_their_definitions()
    {
        if (!Avx512TwinFloatOps.IsSupported) return;
        var random = new Random(12);
        var halves = new ushort[16];
        var floats = new float[16];
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            for (int i = 0; i < 16; i++)
            {
                halves[i] = (ushort)random.Next(65536);
                floats[i] = (float)(random.NextDouble() * 4 - 2) * MathF.Pow(2, random.Next(-30, 30));
            }
            fixed (ushort* h = halves) fixed (float* f = floats)
            {
                Vector512<float> widened = Avx512TwinFloatOps.WidenHalves(h, 16), bf16 = Avx512TwinFloatOps.WidenBFloat16(h, 16);
                Vector512<float> shifted = Avx512TwinFloatOps.ShiftHalves(h, 16, Avx512TwinFloatOps.ShiftedHalfBits);
                Vector256<ushort> max = Avx512TwinFloatOps.MaxMagnitude(default, h, 16, Avx512TwinFloatOps.MagnitudeBits);
                for (int i = 0; i < 16; i++) Assert.Equal(unchecked((int)0x8FFFE000), Avx512TwinFloatOps.ShiftedHalfBits.AsInt32()[i]);
                bool exponent31 = false;
                for (int i = 0; i < 16; i++)
                {
                    Half half = BitConverter.UInt16BitsToHalf(halves[i]);
                    Assert.True(SameFloat((float)half, widened[i]), $"half 0x{halves[i]:X4}: {widened[i]}");
                    Assert.Equal(BitConverter.Int32BitsToSingle(halves[i] << 16), bf16[i]);
                    if (Half.IsFinite(half)) Assert.Equal((double)half * Math.Pow(2, -112), (double)shifted[i]);
                    Assert.Equal((ushort)(halves[i] & 0x7FFF), max[i]);
                    exponent31 |= (halves[i] & 0x7C00) == 0x7C00;
                }
                Assert.Equal(exponent31, Avx512TwinFloatOps.HasExponent31(max));

                Vector512<float> left = Vector512.Load(f), right = Vector512.Create(floats.Reverse().ToArray());
                Vector512<float> fma = left, lower = right, loaded = right;
                Avx512TwinFloatOps.MultiplyAdd(ref fma, left, right, 16);
                Avx512TwinFloatOps.MultiplyAdd(ref lower, left, right, 8);
                Avx512TwinFloatOps.MultiplyAdd(ref loaded, right, f, 8);
                for (int i = 0; i < 16; i++)
                {
                    Assert.Equal(MathF.FusedMultiplyAdd(left[i], right[i], left[i]), fma[i]);
                    Assert.Equal(i < 8 ? MathF.FusedMultiplyAdd(left[i], right[i], right[i]) : right[i], lower[i]);
                    Assert.Equal(i < 8 ? MathF.FusedMultiplyAdd(right[i], floats[i], right[i]) : right[i], loaded[i]);
                }
                var s = new float[8];
                for (int j = 0; j < 8; j++) s[j] = floats[j] + floats[j + 8];
                Assert.Equal(((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])), Avx512TwinFloatOps.Sum(left));
            }
        }
    }

    private static void AssertSameBits(Vector512<float> expected, Vector512<float> actual, int lanes)
    {
        for (int i = 0; i < lanes; i++)
            Assert.True(SameFloat(expected[i], actual[i]) && (float.IsNaN(expected[i]) || BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])),
                $"lane {i}: {expected[i]} vs {actual[i]}");
    }
}
