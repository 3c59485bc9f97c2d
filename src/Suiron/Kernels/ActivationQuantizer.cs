using System.Runtime.CompilerServices;
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
        for (int i = 0; i < blocks; i++, x += 32)
        {
            float amax = MaxAbs32(x);
            float d = amax / 127f;
            y[i].D = (Half)d;
            float id = amax != 0 ? 127f / amax : 0f;
            for (int j = 0; j < 32; j++) y[i].Qs[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.ToEven);
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
