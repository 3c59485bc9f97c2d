using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Encodes activations the way ggml's CPU backend does before a matmul (its type traits' <c>from_float</c>),
/// which is not always the reference quantizer: on x86 with AVX, Q8_0 and Q8_1 multiply by 127/amax and
/// round half to even (vroundps), where quantize_row_q8_0_ref multiplies by 1/d and rounds half away from zero.
/// The results differ in the last quant of rare elements; matching ggml's choice keeps our logits on llama.cpp's.
/// Q8_K, F16, BF16 and F32 use the same encoding as <see cref="Quantization.Quantize"/>.
/// </summary>
internal static unsafe class ActivationQuantizer
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8_0(float* x, BlockQ8_0* y, int blocks)
    {
        if (Avx2.IsSupported) Q8_0Avx2(x, y, blocks);
        else Q8_0Reference(x, y, blocks);
    }

    /// <summary>The scalar spec of <see cref="Q8_0"/>.</summary>
    internal static void Q8_0Reference(float* x, BlockQ8_0* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = MaxAbs32(x);
            float d = amax / 127f;
            y[i].D = (Half)d;
            float id = amax != 0 ? 127f / amax : 0f;
            for (int j = 0; j < 32; j++) y[i].Qs[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.ToEven);
        }
    }

    /// <summary>
    /// The same arithmetic eight lanes wide: max |x| (exact in any order), one multiply by 127/amax, vroundps to
    /// nearest even, then int32 → int8 packing (values are within ±127, so the saturating packs never saturate).
    /// </summary>
    private static void Q8_0Avx2(float* x, BlockQ8_0* y, int blocks)
    {
        Vector256<float> signMask = Vector256.Create(-0f);
        Vector256<int> order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        for (int i = 0; i < blocks; i++, x += 32)
        {
            Vector256<float> v0 = Avx.LoadVector256(x), v1 = Avx.LoadVector256(x + 8), v2 = Avx.LoadVector256(x + 16), v3 = Avx.LoadVector256(x + 24);
            Vector256<float> m = Avx.Max(Avx.Max(Avx.AndNot(signMask, v0), Avx.AndNot(signMask, v1)), Avx.Max(Avx.AndNot(signMask, v2), Avx.AndNot(signMask, v3)));
            Vector128<float> m4 = Sse.Max(m.GetLower(), m.GetUpper());
            m4 = Sse.Max(m4, Sse.MoveHighToLow(m4, m4));
            m4 = Sse.MaxScalar(m4, Sse.Shuffle(m4, m4, 0x55));
            float amax = m4.ToScalar();
            y[i].D = (Half)(amax / 127f);
            Vector256<float> id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
            Vector256<int> i0 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v0 * id));
            Vector256<int> i1 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v1 * id));
            Vector256<int> i2 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v2 * id));
            Vector256<int> i3 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v3 * id));
            Vector256<sbyte> packed = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
            Avx.Store(y[i].Qs, Avx2.PermuteVar8x32(packed.AsInt32(), order).AsSByte());
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8_1(float* x, BlockQ8_1* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = MaxAbs32(x);
            float d = amax / 127f;
            y[i].D = (Half)d;
            float id = amax != 0 ? 127f / amax : 0f;
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                sbyte q = (sbyte)MathF.Round(x[j] * id, MidpointRounding.ToEven);
                y[i].Qs[j] = q;
                sum += q;
            }
            y[i].S = (Half)(d * sum);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAbs32(float* x)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        return amax;
    }
}
