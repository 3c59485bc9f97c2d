using System.Diagnostics;
using System.Runtime.InteropServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Whether the 512-bit kernels or the AVX2 ones run a weight type on this CPU, per kernel family, decided by timing both
/// once, at the family's first use. Both give the same bits, so the choice changes speed only. It is measured rather
/// than assumed because it depends on the core: where 512-bit integer multiplies issue at twice the 256-bit rate (Intel
/// server cores with two 512-bit FMA ports) the wide kernels should win, while Zen 4 splits each 512-bit operation into
/// two 256-bit halves, so there the wide kernels only save front-end work, and measured no faster (bench/README).
/// <c>SUIRON_AVX512=1</c> in the environment always takes the wide kernels, <c>0</c> never (and keeps
/// <see cref="DotKernels.Best"/> at AVX2).
/// </summary>
internal static unsafe class WideKernelChoice
{
    private enum Family { Block32Gemm, KQuantGemm, FloatGemm, F16Decode, Q4KDecode, Q6KDecode, F32Decode, BF16Decode, IQ4XSDecode, TQ1_0Decode, TQ2_0Decode,
        IQ2XXSDecode, IQ2XSDecode, IQ2SDecode, IQ3XXSDecode, IQ3SDecode, IQ1SDecode, IQ1MDecode }

    private const int Unknown = 0, Narrow = 1, Wide = 2;
    private static readonly int[] Choices = new int[Enum.GetValues<Family>().Length];

    /// <summary>The path a matmul of <paramref name="type"/> runs when the caller names none: the GEMM's
    /// (<paramref name="gemm"/>) or the per-row kernels'.</summary>
    public static DotPath PathFor(TensorType type, bool gemm)
    {
        if (DotKernels.Best != DotPath.Avx512) return DotKernels.Best;
        Family? family = FamilyOf(type, gemm && Gemm.Supports(type)); // a type without a GEMM runs its per-row kernels at any batch
        if (family is null) return DotPath.Avx512; // no wide kernel: the AVX2 one runs either way
        return IsWideFaster(family.Value) ? DotPath.Avx512 : DotPath.Avx2;
    }

    /// <summary>
    /// The CPU as the kernels see it, for benchmark reports: family and model from /proc/cpuinfo where it exists (virtual
    /// machines often hide the model name), the vector extensions .NET reports, the kernel family in use, and which wide
    /// families won their timing so far (those not yet used are not listed).
    /// </summary>
    public static string CpuDescription()
    {
        string ids = "";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var lines = File.ReadLines("/proc/cpuinfo").Take(40).ToList();
                string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l[name.Length..].TrimStart().StartsWith(':'))?.Split(':', 2)[1].Trim() ?? "?";
                ids = $"family {Field("cpu family")} model {Field("model")}; ";
            }
        }
        catch (IOException) { }
        var isa = new List<string>();
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) isa.Add("AVX2");
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported) isa.Add("FMA");
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) isa.Add("AVX-512F");
        if (System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) isa.Add("BW");
        if (System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported) isa.Add("VL");
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) isa.Add("AVX-VNNI");
        if (System.Runtime.Intrinsics.X86.Avx10v1.IsSupported) isa.Add("AVX10.1");
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) isa.Add("NEON");
        string chosen = DotKernels.Best != DotPath.Avx512 ? "" :
            "; wide kernels won: " + string.Join(", ", Enum.GetValues<Family>().Where(f => Volatile.Read(ref Choices[(int)f]) != Unknown)
                .Select(f => $"{f} {(Choices[(int)f] == Wide ? "yes" : "no")}"));
        return $"{ids}{string.Join(" ", isa)}; kernels {DotKernels.Best}{chosen}";
    }

    private static Family? FamilyOf(TensorType type, bool gemm) => (type, gemm) switch
    {
        (TensorType.Q8_0 or TensorType.Q4_0 or TensorType.Q5_0, true) => Family.Block32Gemm,
        (TensorType.Q2_K or TensorType.Q3_K or TensorType.Q4_K or TensorType.Q5_K or TensorType.Q6_K, true) => Family.KQuantGemm,
        (TensorType.F16 or TensorType.F32, true) => Family.FloatGemm,
        (TensorType.F16, false) => Family.F16Decode,
        (TensorType.F32, false) => Family.F32Decode,
        (TensorType.BF16, false) => Family.BF16Decode,
        (TensorType.IQ4_XS, false) => Family.IQ4XSDecode,
        (TensorType.TQ1_0, false) => Family.TQ1_0Decode,
        (TensorType.TQ2_0, false) => Family.TQ2_0Decode,
        (TensorType.Q4_K, false) => Family.Q4KDecode,
        (TensorType.Q6_K, false) => Family.Q6KDecode,
        (TensorType.IQ2_XXS, false) => Family.IQ2XXSDecode,
        (TensorType.IQ2_XS, false) => Family.IQ2XSDecode,
        (TensorType.IQ2_S, false) => Family.IQ2SDecode,
        (TensorType.IQ3_XXS, false) => Family.IQ3XXSDecode,
        (TensorType.IQ3_S, false) => Family.IQ3SDecode,
        (TensorType.IQ1_S, false) => Family.IQ1SDecode,
        (TensorType.IQ1_M, false) => Family.IQ1MDecode,
        _ => null,
    };

    /// <summary>
    /// Random bytes, each block's fp16 scale set to 2^-7 (IQ1_M keeps it in the top nibbles of its last four words): every
    /// index, sign and sub-block scale pattern is a valid lattice block, and the lattice quantizer's search would cost more
    /// than the timing.
    /// </summary>
    private static void RandomLatticeRow(TensorType type, Random random, Span<byte> row)
    {
        random.NextBytes(row);
        int blockBytes = TensorTypes.BlockBytes(type);
        ushort scale = BitConverter.HalfToUInt16Bits((Half)(1f / 128));
        for (int b = 0; b < row.Length / blockBytes; b++)
        {
            Span<byte> block = row.Slice(b * blockBytes, blockBytes);
            if (type != TensorType.IQ1_M)
            {
                BitConverter.TryWriteBytes(block, scale);
                continue;
            }
            for (int k = 0; k < 4; k++)
            {
                Span<byte> word = block.Slice(blockBytes - 8 + 2 * k, 2);
                BitConverter.TryWriteBytes(word, (ushort)((BitConverter.ToUInt16(word) & 0x0FFF) | ((scale >> (4 * k)) & 0xF) << 12));
            }
        }
    }

    private static bool IsWideFaster(Family family)
    {
        int choice = Volatile.Read(ref Choices[(int)family]);
        if (choice == Unknown)
        {
            choice = Environment.GetEnvironmentVariable("SUIRON_AVX512") == "1" || Measure(family) ? Wide : Narrow;
            Volatile.Write(ref Choices[(int)family], choice);
        }
        return choice == Wide;
    }

    /// <summary>
    /// Seven alternating turns of each path over a cache-resident matmul of the family on one thread (~20 ms in all); the
    /// wide kernels are taken only if their median is at least 3% faster, so noise keeps the AVX2 kernels.
    /// </summary>
    private static bool Measure(Family family)
    {
        (TensorType type, int batch) = family switch
        {
            Family.Block32Gemm => (TensorType.Q8_0, 16),
            Family.KQuantGemm => (TensorType.Q4_K, 16),
            Family.FloatGemm => (TensorType.F16, 16),
            Family.F16Decode => (TensorType.F16, 1),
            Family.Q4KDecode => (TensorType.Q4_K, 1),
            Family.F32Decode => (TensorType.F32, 1),
            Family.BF16Decode => (TensorType.BF16, 1),
            Family.IQ4XSDecode => (TensorType.IQ4_XS, 1),
            Family.TQ1_0Decode => (TensorType.TQ1_0, 1),
            Family.TQ2_0Decode => (TensorType.TQ2_0, 1),
            Family.IQ2XXSDecode => (TensorType.IQ2_XXS, 1),
            Family.IQ2XSDecode => (TensorType.IQ2_XS, 1),
            Family.IQ2SDecode => (TensorType.IQ2_S, 1),
            Family.IQ3XXSDecode => (TensorType.IQ3_XXS, 1),
            Family.IQ3SDecode => (TensorType.IQ3_S, 1),
            Family.IQ1SDecode => (TensorType.IQ1_S, 1),
            Family.IQ1MDecode => (TensorType.IQ1_M, 1),
            _ => (TensorType.Q6_K, 1),
        };
        const int rows = 64, cols = 2048;
        long rowBytes = TensorTypes.RowBytes(type, cols);
        byte* weights = (byte*)NativeMemory.AlignedAlloc((nuint)(rowBytes * rows), 64);
        try
        {
            var random = new Random(7);
            var values = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                var row = new Span<byte>(weights + r * rowBytes, checked((int)rowBytes));
                if (family >= Family.IQ2XXSDecode)
                {
                    RandomLatticeRow(type, random, row);
                    continue;
                }
                for (int i = 0; i < cols; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
                Quantization.Quantize(type, values, row);
            }
            var x = new float[batch * cols];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
            var y = new float[batch * rows];
            var tensor = new Tensor("calibration", type, [cols, rows], weights, rowBytes * rows);
            using var pool = new WorkerPool(1);
            DotPath[] paths = [DotPath.Avx2, DotPath.Avx512];
            int repeats = batch > 1 ? 4 : 40;
            var times = new[] { new double[7], new double[7] };
            foreach (DotPath path in paths) MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, path); // JIT both
            for (int turn = 0; turn < 7; turn++)
                for (int p = 0; p < 2; p++)
                {
                    long start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < repeats; i++) MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, paths[p]);
                    times[p][turn] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                }
            Array.Sort(times[0]);
            Array.Sort(times[1]);
            return times[1][3] * 1.03 < times[0][3];
        }
        finally
        {
            NativeMemory.AlignedFree(weights);
        }
    }
}
