using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Suiron.Kernels;

/// <summary>
/// The softmax of one query vector's attention scores, in place, as the tiled attention kernels need it: exp(x − max)
/// with the sum in double (as ggml's soft_max), each weight then optionally rounded to F16 (the weights that multiply an
/// F16 value cache), in three passes over the scores — the maximum, the exponentials with their sum, the normalisation
/// with the rounding. The exponential is a polynomial one (<see cref="Exp(Vector256{float})"/>, within 2 ulp, as ggml's vector expf is an
/// approximation too) because the runtime's vector exp cost more than the score and value products of a decode step
/// together. <see cref="Reference"/> is the scalar form, bit for bit the vector one.
/// </summary>
internal static class AttentionWeights
{
    // exp(x) = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (ln 2 in two parts, Cody–Waite), e^r ≈ 1 + r + r²·P(r)
    // with Cephes' expf minimax coefficients for |r| ≤ ln 2 / 2.
    private const float Log2E = 1.44269504088896341f, Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>Below this exp(x) &lt; 2^-126 (the smallest normal float) is returned as 0: such a weight is below any
    /// F16 weight and below the rounding of any sum it enters.</summary>
    private const float Underflow = -87.3f;

    /// <summary>exp(x) for x ≤ 0 (the shifted scores; −∞ gives 0, NaN stays NaN), eight lanes, within 2 ulp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        Vector256<float> zero = Vector256.LessThan(x, Vector256.Create(Underflow));
        x = Vector256.Max(x, Vector256.Create(Underflow));
        Vector256<float> n = Vector256.Round(x * Vector256.Create(Log2E));
        Vector256<float> r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), r);
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        Vector256<float> y = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        Vector256<float> twoToN = ((Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23).AsSingle();
        return Vector256.AndNot(y * twoToN, zero);
    }

    /// <summary>The scalar form of <see cref="Exp(Vector256{float})"/>, bit for bit.</summary>
    internal static float Exp(float x)
    {
        if (x < Underflow) return 0f;
        float n = MathF.Round(x * Log2E);
        float r = MathF.FusedMultiplyAdd(n, -Ln2High, x);
        r = MathF.FusedMultiplyAdd(n, -Ln2Low, r);
        float p = MathF.FusedMultiplyAdd(P0, r, P1);
        p = MathF.FusedMultiplyAdd(p, r, P2);
        p = MathF.FusedMultiplyAdd(p, r, P3);
        p = MathF.FusedMultiplyAdd(p, r, P4);
        p = MathF.FusedMultiplyAdd(p, r, P5);
        float y = MathF.FusedMultiplyAdd(p, r * r, r) + 1f;
        return y * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary>
    /// x rounded to the nearest F16 value (ties to even) and back, for 0 ≤ x ≤ 1 (attention weights): adding and
    /// subtracting 2^(e+13), e the exponent of x, leaves 11 significant bits, as an F16 normal holds; 0.5 in its place
    /// for x below 2^-14 leaves multiples of 2^-24, as the F16 subnormals are. Both are single correctly rounded adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> RoundToHalf(Vector256<float> x)
    {
        Vector256<float> magic = Vector256.Max(
            ((x.AsInt32() & Vector256.Create(0x7F800000)) + Vector256.Create(13 << 23)).AsSingle(), Vector256.Create(0.5f));
        return x + magic - magic;
    }

    /// <summary>The scalar form of <see cref="RoundToHalf(Vector256{float})"/>, bit for bit.</summary>
    internal static float RoundToHalf(float x)
    {
        float magic = MathF.Max(BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(x) & 0x7F800000) + (13 << 23)), 0.5f);
        return x + magic - magic;
    }

    /// <summary>The softmax of <paramref name="length"/> scores in place, rounded to F16 values if <paramref name="roundToHalf"/>,
    /// then times <paramref name="factor"/> (a power of two, for values widened to a power-of-two multiple).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Softmax(float* x, int length, bool roundToHalf, float factor = 1f)
    {
        if (!Vector256.IsHardwareAccelerated || !System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            Reference(x, length, roundToHalf, factor);
            return;
        }
        if (length == 0) return;
        int i = 0;
        // Four running maxima: the NaN- and sign-aware vector max is a three-instruction chain, latency-bound on one.
        // The maximum is the same in any order.
        Vector256<float> maxima = Vector256.Create(float.NegativeInfinity), maxima1 = maxima, maxima2 = maxima, maxima3 = maxima;
        for (; i + 32 <= length; i += 32)
        {
            maxima = Vector256.Max(maxima, Vector256.Load(x + i));
            maxima1 = Vector256.Max(maxima1, Vector256.Load(x + i + 8));
            maxima2 = Vector256.Max(maxima2, Vector256.Load(x + i + 16));
            maxima3 = Vector256.Max(maxima3, Vector256.Load(x + i + 24));
        }
        for (; i + 8 <= length; i += 8) maxima = Vector256.Max(maxima, Vector256.Load(x + i));
        float max = MaxOfLanes(Vector256.Max(Vector256.Max(maxima, maxima1), Vector256.Max(maxima2, maxima3)));
        for (; i < length; i++) max = MathF.Max(max, x[i]);

        Vector256<float> m = Vector256.Create(max);
        Vector256<double> sums = Vector256<double>.Zero;
        for (i = 0; i + 8 <= length; i += 8)
        {
            Vector256<float> e = Exp(Vector256.Load(x + i) - m);
            e.Store(x + i);
            (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(e);
            sums += lower + upper;
        }
        double sum = sums.GetElement(0) + sums.GetElement(1) + (sums.GetElement(2) + sums.GetElement(3));
        for (; i < length; i++)
        {
            float e = Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }

        float inverse = (float)(1.0 / sum);
        Vector256<float> f = Vector256.Create(inverse), g = Vector256.Create(factor);
        for (i = 0; i + 8 <= length; i += 8)
        {
            Vector256<float> w = Vector256.Load(x + i) * f;
            ((roundToHalf ? RoundToHalf(w) : w) * g).Store(x + i);
        }
        for (; i < length; i++) x[i] = (roundToHalf ? RoundToHalf(x[i] * inverse) : x[i] * inverse) * factor;
    }

    /// <summary>The scalar form of <see cref="Softmax"/>: the same lane order in the maximum and the double sum.</summary>
    internal static unsafe void Reference(float* x, int length, bool roundToHalf, float factor = 1f)
    {
        if (length == 0) return;
        int body = length / 8 * 8;
        float max = float.NegativeInfinity;
        for (int i = 0; i < length; i++) max = MathF.Max(max, x[i]);
        // Lane k of the vector sum gathers elements 8j+k and 8j+k+4 (k < 4): (double)e + (double)e', then the running sum.
        Span<double> lanes = stackalloc double[4];
        for (int i = 0; i < body; i += 8)
            for (int k = 0; k < 4; k++)
            {
                float e0 = Exp(x[i + k] - max), e1 = Exp(x[i + k + 4] - max);
                x[i + k] = e0;
                x[i + k + 4] = e1;
                lanes[k] += (double)e0 + e1;
            }
        double sum = lanes[0] + lanes[1] + (lanes[2] + lanes[3]);
        for (int i = body; i < length; i++)
        {
            float e = Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inverse = (float)(1.0 / sum);
        for (int i = 0; i < length; i++) x[i] = (roundToHalf ? RoundToHalf(x[i] * inverse) : x[i] * inverse) * factor;
    }

    private static float MaxOfLanes(Vector256<float> v)
    {
        Vector128<float> m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }
}
