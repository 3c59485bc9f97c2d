using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Picks the dot-product kernel for a weight type: the fastest the CPU supports, else the scalar reference.
/// Resolved once per matmul, so the per-row cost is one indirect call.
/// </summary>
internal static unsafe class DotKernels
{
    public static delegate*<byte*, byte*, int, float> For(TensorType weightType)
    {
        if (Avx2Dot.IsSupported)
        {
            switch (weightType)
            {
                case TensorType.F32: return &Avx2Dot.F32;
                case TensorType.F16: return &Avx2Dot.F16;
                case TensorType.BF16: return &Avx2Dot.BF16;
                case TensorType.Q4_0: return &Avx2Dot.Q4_0;
                case TensorType.Q4_1: return &Avx2Dot.Q4_1;
                case TensorType.Q5_0: return &Avx2Dot.Q5_0;
                case TensorType.Q5_1: return &Avx2Dot.Q5_1;
                case TensorType.Q8_0: return &Avx2Dot.Q8_0;
                case TensorType.Q4_K: return &Avx2Dot.Q4K;
                case TensorType.Q5_K: return &Avx2Dot.Q5K;
                case TensorType.Q6_K: return &Avx2Dot.Q6K;
                case TensorType.Q2_K: return &Avx2Dot.Q2K;
                case TensorType.Q3_K: return &Avx2Dot.Q3K;
            }
        }
        // Scalar only: the activation-only Q8_1 and Q8_K (not ggml matmul weight types).
        return Scalar(weightType);
    }

    /// <summary>The scalar reference kernel, for tests.</summary>
    public static delegate*<byte*, byte*, int, float> Scalar(TensorType weightType) => weightType switch
    {
        TensorType.F32 => &ScalarDot.F32,
        TensorType.F16 => &ScalarDot.F16,
        TensorType.BF16 => &ScalarDot.BF16,
        TensorType.Q4_0 => &ScalarDot.Q4_0,
        TensorType.Q4_1 => &ScalarDot.Q4_1,
        TensorType.Q5_0 => &ScalarDot.Q5_0,
        TensorType.Q5_1 => &ScalarDot.Q5_1,
        TensorType.Q8_0 => &ScalarDot.Q8_0,
        TensorType.Q8_1 => &ScalarDot.Q8_1,
        TensorType.Q2_K => &ScalarDot.Q2K,
        TensorType.Q3_K => &ScalarDot.Q3K,
        TensorType.Q4_K => &ScalarDot.Q4K,
        TensorType.Q5_K => &ScalarDot.Q5K,
        TensorType.Q6_K => &ScalarDot.Q6K,
        TensorType.Q8_K => &ScalarDot.Q8K,
        _ => throw Quantization.Unsupported(weightType),
    };
}
