using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Suiron.Kernels;

/// <summary>
/// Element-wise and row operations of a transformer layer, with ggml's numerics (sums of squares and softmax
/// denominators in double, as ggml accumulates them in ggml_float). Each has a scalar reference in
/// <see cref="VectorOpsReference"/>; these are the Vector256 versions (the JIT folds the IsHardwareAccelerated checks).
/// Destinations may alias sources element for element.
/// </summary>
public static unsafe class VectorOps
{
    /// <summary>dst = x / sqrt(mean(x²) + eps) * weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst)
    {
        CheckLengths(x.Length, weight.Length, dst.Length);
        float scale = RmsScale(x, eps);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ws = ref MemoryMarshal.GetReference(weight);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(scale);
            for (; i + 8 <= x.Length; i += 8)
                Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref xs, (nuint)i) * s * Vector256.LoadUnsafe(ref ws, (nuint)i), ref ds, (nuint)i);
        }
        for (; i < x.Length; i++) Unsafe.Add(ref ds, i) = Unsafe.Add(ref xs, i) * scale * Unsafe.Add(ref ws, i);
    }

    /// <summary>1 / sqrt(mean(x²) + eps), with the sum of squares accumulated in double as ggml does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float RmsScale(ReadOnlySpan<float> x, float eps)
    {
        if (x.Length == 0) return 1f / MathF.Sqrt(eps);
        ref float xs = ref MemoryMarshal.GetReference(x);
        double sum = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<double>.Zero;
            for (; i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                var squares = v * v; // float products, as in ggml, then summed in double
                var (lower, upper) = Vector256.Widen(squares);
                acc += lower + upper;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < x.Length; i++)
        {
            float v = Unsafe.Add(ref xs, i);
            sum += v * v;
        }
        float mean = (float)(sum / x.Length);
        return 1.0f / MathF.Sqrt(mean + eps);
    }

    /// <summary>In-place softmax: exp(x - max) / sum, the sum in double. Entries of -inf become 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> x)
    {
        if (!Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated)
        {
            Vector128AttentionLoops.Softmax(x); // ARM64: attention's softmax is as hot as its dot products
            return;
        }
        if (x.Length == 0) return;
        float max = Max(x);
        ref float xs = ref MemoryMarshal.GetReference(x);
        double sum = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(max);
            var acc = Vector256<double>.Zero;
            for (; i + 8 <= x.Length; i += 8)
            {
                var e = Vector256.Exp(Vector256.LoadUnsafe(ref xs, (nuint)i) - m);
                e.StoreUnsafe(ref xs, (nuint)i);
                var (lower, upper) = Vector256.Widen(e);
                acc += lower + upper;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < x.Length; i++)
        {
            float e = MathF.Exp(Unsafe.Add(ref xs, i) - max);
            Unsafe.Add(ref xs, i) = e;
            sum += e;
        }
        Scale(x, (float)(1.0 / sum));
    }

    /// <summary>The largest element (-inf for an empty span).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Max(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        ref float xs = ref MemoryMarshal.GetReference(x);
        int i = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            var m = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= x.Length; i += 8) m = Vector256.Max(m, Vector256.LoadUnsafe(ref xs, (nuint)i));
            for (int k = 0; k < 8; k++) max = MathF.Max(max, m[k]);
        }
        for (; i < x.Length; i++) max = MathF.Max(max, Unsafe.Add(ref xs, i));
        return max;
    }

    /// <summary>SwiGLU: dst = silu(gate) * up, silu(g) = g / (1 + exp(-g)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        CheckLengths(gate.Length, up.Length, dst.Length);
        ref float gs = ref MemoryMarshal.GetReference(gate);
        ref float us = ref MemoryMarshal.GetReference(up);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256.Create(1f);
            for (; i + 8 <= gate.Length; i += 8)
            {
                var g = Vector256.LoadUnsafe(ref gs, (nuint)i);
                var silu = g / (one + Vector256.Exp(-g));
                (silu * Vector256.LoadUnsafe(ref us, (nuint)i)).StoreUnsafe(ref ds, (nuint)i);
            }
        }
        for (; i < gate.Length; i++)
        {
            float g = Unsafe.Add(ref gs, i);
            Unsafe.Add(ref ds, i) = g / (1f + MathF.Exp(-g)) * Unsafe.Add(ref us, i);
        }
    }

    /// <summary>dst = σ(gate) · x, σ(g) = 1 / (1 + exp(−g)): a gated attention output (Qwen3-Next, Qwen3.5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SigmoidMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> x, Span<float> dst)
    {
        CheckLengths(gate.Length, x.Length, dst.Length);
        ref float gs = ref MemoryMarshal.GetReference(gate);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256.Create(1f);
            for (; i + 8 <= gate.Length; i += 8)
            {
                var g = Vector256.LoadUnsafe(ref gs, (nuint)i);
                (Vector256.LoadUnsafe(ref xs, (nuint)i) / (one + Vector256.Exp(-g))).StoreUnsafe(ref ds, (nuint)i);
            }
        }
        for (; i < gate.Length; i++)
            Unsafe.Add(ref ds, i) = Unsafe.Add(ref xs, i) / (1f + MathF.Exp(-Unsafe.Add(ref gs, i)));
    }

    /// <summary>dst = silu(x) in place-compatible form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Silu(ReadOnlySpan<float> x, Span<float> dst)
    {
        CheckLengths(x.Length, x.Length, dst.Length);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256.Create(1f);
            for (; i + 8 <= x.Length; i += 8)
            {
                var g = Vector256.LoadUnsafe(ref xs, (nuint)i);
                (g / (one + Vector256.Exp(-g))).StoreUnsafe(ref ds, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            float g = Unsafe.Add(ref xs, i);
            Unsafe.Add(ref ds, i) = g / (1f + MathF.Exp(-g));
        }
    }

    /// <summary>dst = a + b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        CheckLengths(a.Length, b.Length, dst.Length);
        ref float As = ref MemoryMarshal.GetReference(a);
        ref float Bs = ref MemoryMarshal.GetReference(b);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= a.Length; i += 8)
                (Vector256.LoadUnsafe(ref As, (nuint)i) + Vector256.LoadUnsafe(ref Bs, (nuint)i)).StoreUnsafe(ref ds, (nuint)i);
        for (; i < a.Length; i++) Unsafe.Add(ref ds, i) = Unsafe.Add(ref As, i) + Unsafe.Add(ref Bs, i);
    }

    /// <summary>dst = a * b, element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Mul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        CheckLengths(a.Length, b.Length, dst.Length);
        ref float As = ref MemoryMarshal.GetReference(a);
        ref float Bs = ref MemoryMarshal.GetReference(b);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= a.Length; i += 8)
                (Vector256.LoadUnsafe(ref As, (nuint)i) * Vector256.LoadUnsafe(ref Bs, (nuint)i)).StoreUnsafe(ref ds, (nuint)i);
        for (; i < a.Length; i++) Unsafe.Add(ref ds, i) = Unsafe.Add(ref As, i) * Unsafe.Add(ref Bs, i);
    }

    /// <summary>Σ a[i]·b[i] (attention's dot product, eight lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        CheckLengths(a.Length, b.Length, b.Length);
        fixed (float* x = a) fixed (float* y = b) return Attention.Dot(x, y, a.Length);
    }

    /// <summary>x *= factor, in place.</summary>
    public static void Scale(Span<float> x, float factor)
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var f = Vector256.Create(factor);
            for (; i + 8 <= x.Length; i += 8) (Vector256.LoadUnsafe(ref xs, (nuint)i) * f).StoreUnsafe(ref xs, (nuint)i);
        }
        for (; i < x.Length; i++) Unsafe.Add(ref xs, i) *= factor;
    }

    /// <summary>IEEE half to float, exact.</summary>
    public static void HalfToSingle(ReadOnlySpan<Half> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Destination too short.", nameof(dst));
        fixed (Half* s = src) fixed (float* d = dst) HalfConversion.HalfToSingle(s, d, src.Length);
    }

    /// <summary>Float to IEEE half, round to nearest even.</summary>
    public static void SingleToHalf(ReadOnlySpan<float> src, Span<Half> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Destination too short.", nameof(dst));
        fixed (float* s = src) fixed (Half* d = dst) HalfConversion.SingleToHalf(s, d, src.Length);
    }

    private static void CheckLengths(int a, int b, int dst)
    {
        if (a != b || dst < a) throw new ArgumentException($"Length mismatch: {a}, {b}, destination {dst}.");
    }
}

/// <summary>Scalar references for <see cref="VectorOps"/>: the spec its vector paths are tested against.</summary>
internal static class VectorOpsReference
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * x[i];
        float mean = (float)(sum / x.Length);
        float scale = 1.0f / MathF.Sqrt(mean + eps);
        for (int i = 0; i < x.Length; i++) dst[i] = x[i] * scale * weight[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> x)
    {
        if (!Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated)
        {
            Vector128AttentionLoops.Softmax(x); // ARM64: attention's softmax is as hot as its dot products
            return;
        }
        if (x.Length == 0) return;
        float max = float.NegativeInfinity;
        foreach (float v in x) max = MathF.Max(max, v);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) { x[i] = MathF.Exp(x[i] - max); sum += x[i]; }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        for (int i = 0; i < gate.Length; i++) dst[i] = gate[i] / (1f + MathF.Exp(-gate[i])) * up[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SigmoidMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> x, Span<float> dst)
    {
        for (int i = 0; i < gate.Length; i++) dst[i] = x[i] / (1f + MathF.Exp(-gate[i]));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        for (int i = 0; i < a.Length; i++) dst[i] = a[i] + b[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Mul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        for (int i = 0; i < a.Length; i++) dst[i] = a[i] * b[i];
    }
}
