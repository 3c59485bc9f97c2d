using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Q8_K activation encoding (every k-quant matmul's input) eight lanes wide, bit-identical to
/// <see cref="ReferenceQuantizer.Q8K"/> (ggml's quantize_row_q8_K): the same max-|x| element (the first one, with its
/// sign), the same float multiply by −127/max, the same 1.5·2^23 rounding trick, the same clamp at 127. A prompt's
/// activations are encoded once per matmul, a few percent of prefill when done one element at a time.
/// </summary>
internal static unsafe class Q8KActivationQuantizer
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quantize(float* x, BlockQ8K* y, int blocks)
    {
        if (!Avx2.IsSupported)
        {
            ReferenceQuantizer.Q8K(x, y, blocks);
            return;
        }
        Vector256<float> signMask = Vector256.Create(-0f);
        for (int i = 0; i < blocks; i++, x += 256)
        {
            Vector256<float> m = Vector256<float>.Zero, nan = m;
            for (int j = 0; j < 256; j += 8)
            {
                Vector256<float> v = Avx.LoadVector256(x + j);
                m = Avx.Max(m, Avx.AndNot(signMask, v));
                nan = Avx.Or(nan, Avx.CompareUnordered(v, v));
            }
            Vector128<float> m4 = Sse.Max(m.GetLower(), m.GetUpper());
            m4 = Sse.Max(m4, Sse.MoveHighToLow(m4, m4));
            m4 = Sse.MaxScalar(m4, Sse.Shuffle(m4, m4, 0x55));
            float amax = m4.ToScalar();
            if (!(amax > 0) || Avx.MoveMask(nan) != 0)
            {
                // All zeros, or NaNs (vmaxps drops or keeps them by operand order, the scalar spec's '>' skips them):
                // the reference path, so the bytes are the spec's in every case.
                ReferenceQuantizer.Q8K(x, y + i, 1);
                continue;
            }
            // The first element whose |x| is amax gives the signed max, as the scalar loop's strict '>' does.
            Vector256<float> target = Vector256.Create(amax);
            float max = 0;
            for (int j = 0; j < 256; j += 8)
            {
                Vector256<float> v = Avx.LoadVector256(x + j);
                int hits = Avx.MoveMask(Avx.CompareEqual(Avx.AndNot(signMask, v), target));
                if (hits != 0)
                {
                    max = x[j + System.Numerics.BitOperations.TrailingZeroCount(hits)];
                    break;
                }
            }
            float iscale = -127f / max;
            Vector256<float> scale = Vector256.Create(iscale);
            Vector256<float> magic = Vector256.Create(12582912f);
            Vector256<int> mantissa = Vector256.Create(0x007FFFFF), bias = Vector256.Create(0x00400000), limit = Vector256.Create(127);
            Vector256<int> order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
            Vector256<byte> ones = Vector256.Create((byte)1);
            sbyte* qs = y[i].Qs;
            for (int j = 0; j < 256; j += 32)
            {
                Vector256<int> q0 = NearestInt(x + j, scale, magic, mantissa, bias, limit);
                Vector256<int> q1 = NearestInt(x + j + 8, scale, magic, mantissa, bias, limit);
                Vector256<int> q2 = NearestInt(x + j + 16, scale, magic, mantissa, bias, limit);
                Vector256<int> q3 = NearestInt(x + j + 24, scale, magic, mantissa, bias, limit);
                // Values are within ±127: the saturating packs never saturate; the permute undoes their lane interleave.
                Vector256<sbyte> packed = Avx2.PermuteVar8x32(
                    Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(q0, q1), Avx2.PackSignedSaturate(q2, q3)).AsInt32(), order).AsSByte();
                Avx.Store(qs + j, packed);
                // bsums of elements j..j+15 and j+16..j+31: byte pairs, then quads, then the two 16-element sums.
                Vector256<int> quads = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, packed), Vector256.Create((short)1));
                Vector256<int> sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(quads, quads), quads);
                y[i].BSums[j / 16] = (short)sums.ToScalar();
                y[i].BSums[j / 16 + 1] = (short)sums.GetUpper().ToScalar();
            }
            y[i].D = 1 / iscale;
        }
    }

    /// <summary>min(127, nearest_int(iscale · x)) for 8 elements, with ggml's add-1.5·2^23-and-take-the-mantissa rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> NearestInt(float* x, Vector256<float> scale, Vector256<float> magic,
        Vector256<int> mantissa, Vector256<int> bias, Vector256<int> limit)
    {
        Vector256<int> bits = Avx.Add(Avx.Multiply(scale, Avx.LoadVector256(x)), magic).AsInt32();
        return Avx2.Min(Avx2.Subtract(bits & mantissa, bias), limit);
    }
}
