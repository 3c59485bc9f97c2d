using Suiron.Tensors;
using Avx2Block32Dot = Suiron.Kernels.Block32Dot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx2KQuantDot = Suiron.Kernels.KQuantDot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Vector128Block32Dot = Suiron.Kernels.Block32Dot<Suiron.Kernels.Vector128Ops, System.Runtime.Intrinsics.Vector128<byte>, Suiron.Kernels.Vector128Pair>;
using Vector128KQuantDot = Suiron.Kernels.KQuantDot<Suiron.Kernels.Vector128Ops, System.Runtime.Intrinsics.Vector128<byte>, Suiron.Kernels.Vector128Pair>;
using Avx2TernaryDot = Suiron.Kernels.TernaryDot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Vector128TernaryDot = Suiron.Kernels.TernaryDot<Suiron.Kernels.Vector128Ops, System.Runtime.Intrinsics.Vector128<byte>, Suiron.Kernels.Vector128Pair>;
using Avx2IQ4XSDot = Suiron.Kernels.IQ4XSDot<Suiron.Kernels.Avx2Ops, Suiron.Kernels.Avx2GridOps, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx2FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Avx2FloatOps, Suiron.Kernels.Vector256x2, System.Runtime.Intrinsics.Vector256<ushort>>;
using Vector128FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Vector128FloatOps, Suiron.Kernels.Vector128x4, System.Runtime.Intrinsics.Vector128<ushort>>;
using Avx2LatticeDot = Suiron.Kernels.LatticeDot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Vector128LatticeDot = Suiron.Kernels.LatticeDot<Suiron.Kernels.Vector128Ops, System.Runtime.Intrinsics.Vector128<byte>, Suiron.Kernels.Vector128Pair>;

namespace Suiron.Kernels;

/// <summary>The families of dot kernels, slowest first; a machine can run its <see cref="DotKernels.Best"/> and every one below it.</summary>
internal enum DotPath
{
    /// <summary><see cref="ScalarDot"/>: the reference, any CPU.</summary>
    Scalar,

    /// <summary><see cref="Vector128Dot"/>: the portable 128-bit kernels (NEON on ARM64, SSE on x86).</summary>
    Vector128,

    /// <summary><see cref="Avx2Dot"/>: x86 with AVX2 and FMA.</summary>
    Avx2,

    /// <summary>
    /// The 512-bit kernels (the 512-bit decode dots, the wide GEMM) on <see cref="Avx512TwinOps"/>: their logic on AVX2
    /// halves, for the tests of an AVX2 machine (never picked as <see cref="DotKernels.Best"/>: it is slow).
    /// </summary>
    Avx512Twin,

    /// <summary>The 512-bit kernels on the AVX-512 (F, BW) instructions, with <see cref="Avx2"/> for what has no wide kernel.</summary>
    Avx512,
}

/// <summary>
/// Picks the dot-product kernel for a weight type: the fastest the CPU supports, else the scalar reference.
/// Resolved once per matmul, so the per-row cost is one indirect call.
/// </summary>
internal static unsafe class DotKernels
{
    /// <summary>
    /// The fastest family this CPU runs: AVX-512 (F, BW), else AVX2, else the 128-bit kernels where Vector128 is accelerated
    /// (ARM64 included), else scalar. <c>SUIRON_AVX512=0</c> in the environment keeps an AVX-512 CPU on the AVX2 kernels
    /// (the same bits; for comparing the two).
    /// </summary>
    public static DotPath Best { get; } =
        Avx2Dot.IsSupported && Avx512Ops.IsSupported && Environment.GetEnvironmentVariable("SUIRON_AVX512") != "0" ? DotPath.Avx512
        : Avx2Dot.IsSupported ? DotPath.Avx2 : Vector128Dot.IsSupported ? DotPath.Vector128 : DotPath.Scalar;

    /// <summary>Initialises <see cref="WideOpsConstants"/> before any kernel that reads it is compiled (see there).</summary>
    private static readonly bool WideTablesInitialized = WideOpsConstants.Initialized;

    /// <summary>Whether this CPU runs <paramref name="path"/>: <see cref="Best"/> and every family below it, and the AVX-512 twin wherever AVX2 runs.</summary>
    public static bool CanRun(DotPath path) => path == DotPath.Avx512Twin ? Avx2Dot.IsSupported : path <= Best;

    /// <summary>Whether <paramref name="path"/> is one of the x86 families whose GEMM and multi-row kernels are AVX2 or wider.</summary>
    public static bool IsAvx2OrWider(DotPath path) => path >= DotPath.Avx2;

    public static delegate*<byte*, byte*, int, float> For(TensorType weightType) => For(weightType, Best);

    /// <summary>
    /// The kernel of <paramref name="path"/> for the type, falling back to the next family down where that one has
    /// none (Q8_1 and Q8_K, activation-only encodings, have scalar kernels only).
    /// Tests pass a lower path to force it. The one-row dots of the AVX-512 families are the AVX2 ones; a matmul picks its
    /// 512-bit decode kernels (F32, F16, BF16, IQ4_XS, Q4_K, Q6_K, TQ1_0, TQ2_0, the lattice types) and GEMM tiles itself, where they win their timing
    /// (<see cref="WideKernelChoice"/>).
    /// </summary>
    public static delegate*<byte*, byte*, int, float> For(TensorType weightType, DotPath path) => Resolve(weightType, path) switch
    {
        DotPath.Avx2 => Avx2(weightType),
        DotPath.Vector128 => Vector128(weightType),
        _ => Scalar(weightType),
    };

    /// <summary>The family whose kernel <see cref="For(TensorType, DotPath)"/> returns for the type.</summary>
    public static DotPath Resolve(TensorType weightType, DotPath path)
    {
        if (!CanRun(path)) throw new ArgumentException($"This CPU cannot run the {path} kernels (best: {Best}).", nameof(path));
        if (path >= DotPath.Avx2 && Avx2(weightType) != null) return DotPath.Avx2;
        if (path >= DotPath.Vector128 && Vector128(weightType) != null) return DotPath.Vector128;
        return DotPath.Scalar;
    }

    private static delegate*<byte*, byte*, int, float> Avx2(TensorType weightType) => weightType switch
    {
        TensorType.F32 => &Avx2FloatDot.F32,
        TensorType.F16 => &Avx2FloatDot.F16,
        TensorType.BF16 => &Avx2FloatDot.BF16,
        TensorType.Q4_0 => &Avx2Block32Dot.Q4_0,
        TensorType.Q4_1 => &Avx2Block32Dot.Q4_1,
        TensorType.Q5_0 => &Avx2Block32Dot.Q5_0,
        TensorType.Q5_1 => &Avx2Block32Dot.Q5_1,
        TensorType.Q8_0 => &Avx2Block32Dot.Q8_0,
        TensorType.Q4_K => &Avx2KQuantDot.Q4K,
        TensorType.Q5_K => &Avx2KQuantDot.Q5K,
        TensorType.Q6_K => &Avx2KQuantDot.Q6K,
        TensorType.Q2_K => &Avx2Dot.Q2K, // hand-written: the generic Q2K ran 4-7% slower on AVX2 (bench/README)
        TensorType.Q3_K => &Avx2KQuantDot.Q3K,
        TensorType.IQ4_NL => &Avx2Block32Dot.IQ4NL,
        TensorType.MXFP4 => &Avx2Block32Dot.MXFP4,
        TensorType.IQ4_XS => &Avx2IQ4XSDot.IQ4XS,
        TensorType.TQ1_0 => &Avx2TernaryDot.TQ1_0,
        TensorType.TQ2_0 => &Avx2TernaryDot.TQ2_0,
        TensorType.IQ2_XXS => &Avx2LatticeDot.IQ2XXS,
        TensorType.IQ2_XS => &Avx2LatticeDot.IQ2XS,
        TensorType.IQ2_S => &Avx2LatticeDot.IQ2S,
        TensorType.IQ3_XXS => &Avx2LatticeDot.IQ3XXS,
        TensorType.IQ3_S => &Avx2LatticeDot.IQ3S,
        TensorType.IQ1_S => &Avx2LatticeDot.IQ1S,
        TensorType.IQ1_M => &Avx2LatticeDot.IQ1M,
        _ => null,
    };

    /// <summary>The portable 128-bit kernel, or null where the type has none (the activation-only Q8_1 and Q8_K).</summary>
    public static delegate*<byte*, byte*, int, float> Vector128(TensorType weightType) => weightType switch
    {
        TensorType.F32 => &Vector128FloatDot.F32,
        TensorType.F16 => &Vector128FloatDot.F16,
        TensorType.BF16 => &Vector128FloatDot.BF16,
        TensorType.Q4_0 => &Vector128Block32Dot.Q4_0,
        TensorType.Q4_1 => &Vector128Block32Dot.Q4_1,
        TensorType.Q5_0 => &Vector128Block32Dot.Q5_0,
        TensorType.Q5_1 => &Vector128Block32Dot.Q5_1,
        TensorType.Q8_0 => &Vector128Block32Dot.Q8_0,
        TensorType.Q2_K => &Vector128KQuantDot.Q2K,
        TensorType.Q3_K => &Vector128KQuantDot.Q3K,
        TensorType.Q4_K => &Vector128KQuantDot.Q4K,
        TensorType.Q5_K => &Vector128KQuantDot.Q5K,
        TensorType.Q6_K => &Vector128KQuantDot.Q6K,
        TensorType.IQ4_NL => &Vector128Block32Dot.IQ4NL,
        TensorType.IQ4_XS => &Vector128Dot.IQ4XS,
        TensorType.MXFP4 => &Vector128Block32Dot.MXFP4,
        TensorType.TQ1_0 => &Vector128TernaryDot.TQ1_0,
        TensorType.TQ2_0 => &Vector128TernaryDot.TQ2_0,
        TensorType.IQ2_XXS => &Vector128LatticeDot.IQ2XXS,
        TensorType.IQ2_XS => &Vector128LatticeDot.IQ2XS,
        TensorType.IQ2_S => &Vector128LatticeDot.IQ2S,
        TensorType.IQ3_XXS => &Vector128LatticeDot.IQ3XXS,
        TensorType.IQ3_S => &Vector128LatticeDot.IQ3S,
        TensorType.IQ1_S => &Vector128LatticeDot.IQ1S,
        TensorType.IQ1_M => &Vector128LatticeDot.IQ1M,
        _ => null,
    };

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
        TensorType.IQ4_NL => &ScalarDot.IQ4NL,
        TensorType.MXFP4 => &ScalarDot.MXFP4,
        TensorType.IQ4_XS => &ScalarDot.IQ4XS,
        TensorType.TQ1_0 => &Ternary.DotTQ1_0,
        TensorType.TQ2_0 => &Ternary.DotTQ2_0,
        TensorType.IQ2_XXS => &Lattice.DotIQ2XXS,
        TensorType.IQ2_XS => &Lattice.DotIQ2XS,
        TensorType.IQ2_S => &Lattice.DotIQ2S,
        TensorType.IQ3_XXS => &Lattice.DotIQ3XXS,
        TensorType.IQ3_S => &Lattice.DotIQ3S,
        TensorType.IQ1_S => &Lattice.DotIQ1S,
        TensorType.IQ1_M => &Lattice.DotIQ1M,
        _ => throw Quantization.Unsupported(weightType),
    };
}
