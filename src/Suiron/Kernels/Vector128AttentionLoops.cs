using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Suiron.Kernels;

/// <summary>
/// The inner loops of <see cref="Attention"/> four lanes wide, for CPUs where Vector256 is not accelerated
/// (ARM64/NEON): q·k over every cached key and o += w·v over every cached value, with the cache in F16 or F32, and
/// the softmax between them (<see cref="VectorOps.Softmax"/> dispatches here). At long contexts these loops cost as
/// much as a layer's matmuls, so falling to scalar there would undo the 128-bit dot kernels. Products are fused as in the 256-bit loops; only the dot products' summation order differs.
/// </summary>
internal static unsafe class Vector128AttentionLoops
{
    /// <summary>Σ q[i]·k[i] with k in F16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float DotHalf(float* q, ushort* k, int n)
    {
        Vector128<float> acc0 = Vector128<float>.Zero, acc1 = acc0;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            (Vector128<float> lower, Vector128<float> upper) = HalfConversion.HalfToSingle128(Vector128.Load(k + i));
            acc0 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i), lower, acc0);
            acc1 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i + 4), upper, acc1);
        }
        float sum = Vector128.Sum(acc0 + acc1);
        for (; i < n; i++) sum += q[i] * (float)BitConverter.UInt16BitsToHalf(k[i]);
        return sum;
    }

    /// <summary>Σ q[i]·k[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* q, float* k, int n)
    {
        Vector128<float> acc0 = Vector128<float>.Zero, acc1 = acc0;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            acc0 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i), Vector128.Load(k + i), acc0);
            acc1 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i + 4), Vector128.Load(k + i + 4), acc1);
        }
        float sum = Vector128.Sum(acc0 + acc1);
        for (; i < n; i++) sum += q[i] * k[i];
        return sum;
    }

    /// <summary>o += weight · v, with v in F16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateHalf(float weight, ushort* v, float* o, int n)
    {
        Vector128<float> w = Vector128.Create(weight);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            (Vector128<float> lower, Vector128<float> upper) = HalfConversion.HalfToSingle128(Vector128.Load(v + i));
            Vector128.FusedMultiplyAdd(w, lower, Vector128.Load(o + i)).Store(o + i);
            Vector128.FusedMultiplyAdd(w, upper, Vector128.Load(o + i + 4)).Store(o + i + 4);
        }
        for (; i < n; i++) o[i] += weight * (float)BitConverter.UInt16BitsToHalf(v[i]);
    }

    /// <summary>o += weight · v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(float weight, float* v, float* o, int n)
    {
        Vector128<float> w = Vector128.Create(weight);
        int i = 0;
        for (; i + 4 <= n; i += 4) Vector128.FusedMultiplyAdd(w, Vector128.Load(v + i), Vector128.Load(o + i)).Store(o + i);
        for (; i < n; i++) o[i] += weight * v[i];
    }

    /// <summary>
    /// In-place softmax, four lanes wide: exp(x − max) / Σ with the sum in double, as <see cref="VectorOps.Softmax"/>
    /// (entries of −inf become 0). Scalar, one exp costs as much as a few hundred of the surrounding multiply-adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> x)
    {
        if (x.Length == 0) return;
        ref float xs = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float max = float.NegativeInfinity;
        if (n >= 4)
        {
            Vector128<float> m = Vector128.Create(float.NegativeInfinity);
            for (; i + 4 <= n; i += 4) m = Vector128.Max(m, Vector128.LoadUnsafe(ref xs, (nuint)i));
            for (int k = 0; k < 4; k++) max = MathF.Max(max, m[k]);
        }
        for (; i < n; i++) max = MathF.Max(max, Unsafe.Add(ref xs, i));

        Vector128<float> maxVector = Vector128.Create(max);
        Vector128<double> acc = Vector128<double>.Zero;
        for (i = 0; i + 4 <= n; i += 4)
        {
            Vector128<float> e = Vector128.Exp(Vector128.LoadUnsafe(ref xs, (nuint)i) - maxVector);
            e.StoreUnsafe(ref xs, (nuint)i);
            (Vector128<double> lower, Vector128<double> upper) = Vector128.Widen(e);
            acc += lower + upper;
        }
        double sum = Vector128.Sum(acc);
        for (; i < n; i++)
        {
            float e = MathF.Exp(Unsafe.Add(ref xs, i) - max);
            Unsafe.Add(ref xs, i) = e;
            sum += e;
        }

        float inverse = (float)(1.0 / sum);
        Vector128<float> inverseVector = Vector128.Create(inverse);
        for (i = 0; i + 4 <= n; i += 4) (Vector128.LoadUnsafe(ref xs, (nuint)i) * inverseVector).StoreUnsafe(ref xs, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref xs, i) *= inverse;
    }
}
