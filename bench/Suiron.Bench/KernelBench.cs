using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>
/// Single-thread throughput of each dot-kernel family per weight type, A/B in one process: the families take turns
/// (scalar, 128-bit, AVX2, scalar, …) over the same cache-resident rows, and each reports the median of its turns, or
/// with <c>best</c> its fastest turn: on a shared machine, many short turns and the fastest of each are the kernels'
/// uninterrupted rates, where medians move with the other processes' load.
/// The rows fit in L2, so this measures the kernels' compute, not memory bandwidth (decode on a big model is
/// bound by the latter once a kernel is fast enough). On x86 the 128-bit family runs as SSE/AVX-128, standing in
/// for NEON on ARM64, which this measures only by proxy.
/// </summary>
internal static unsafe class KernelBench
{
    private static readonly TensorType[] Types =
    [
        TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.Q4_0, TensorType.Q4_1, TensorType.Q5_0,
        TensorType.Q5_1, TensorType.Q8_0, TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K,
        TensorType.IQ4_NL, TensorType.MXFP4, TensorType.IQ4_XS, TensorType.IQ2_XXS, TensorType.IQ2_XS, TensorType.IQ2_S,
        TensorType.IQ3_XXS, TensorType.IQ3_S, TensorType.IQ1_S, TensorType.IQ1_M, TensorType.TQ1_0, TensorType.TQ2_0,
    ];

    /// <summary>The lattice i-quants, which Suiron reads but does not encode: their rows are random blocks.</summary>
    internal static bool IsLattice(TensorType type) => type is TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S
        or TensorType.IQ3_XXS or TensorType.IQ3_S or TensorType.IQ1_S or TensorType.IQ1_M;

    /// <summary>
    /// Random bytes (every index, sign and sub-block scale pattern is a valid block) with a fixed fp16 block scale of
    /// 2^-7, which IQ1_M keeps in the top nibbles of its last four 16-bit words.
    /// </summary>
    internal static void RandomLatticeRow(TensorType type, Random random, Span<byte> row)
    {
        random.NextBytes(row);
        int blockBytes = TensorTypes.BlockBytes(type);
        ushort scale = BitConverter.HalfToUInt16Bits((Half)(1f / 128));
        for (int b = 0; b < row.Length / blockBytes; b++)
        {
            var block = row.Slice(b * blockBytes, blockBytes);
            if (type != TensorType.IQ1_M)
            {
                BitConverter.TryWriteBytes(block, scale);
                continue;
            }
            for (int k = 0; k < 4; k++)
            {
                var word = block.Slice(blockBytes - 8 + 2 * k, 2);
                BitConverter.TryWriteBytes(word, (ushort)((BitConverter.ToUInt16(word) & 0x0FFF) | ((scale >> (4 * k)) & 0xF) << 12));
            }
        }
    }

    public static string Run(int columns, int rows, int rounds, TimeSpan turn, IReadOnlyCollection<TensorType>? only, bool best, bool ggml,
        TextWriter progress)
    {
        var text = new StringBuilder();
        text.AppendLine($"dot kernels, 1 thread, {rows} rows x {columns} columns (cache-resident), {(best ? "fastest" : "median")} of {rounds} alternating turns of ~{turn.TotalMilliseconds:F0} ms");
        if (ggml) text.AppendLine($"ggml: {GgmlCpuDots.Describe()}");
        string ggmlHeader = ggml ? $" {"ggml",12} {"avx2/ggml",10}" : "";
        text.AppendLine($"{"type",-7} {"scalar",12} {"vector128",12} {"avx2",12} {"v128/scalar",12} {"avx2/v128",10}{ggmlHeader}   (G elements/s)");
        foreach (var type in Types.Where(t => only == null || only.Contains(t)))
        {
            var kernels = new Dictionary<string, nint> { ["scalar"] = (nint)DotKernels.For(type, DotPath.Scalar) };
            if (DotKernels.Best >= DotPath.Vector128) kernels["vector128"] = (nint)DotKernels.For(type, DotPath.Vector128);
            if (DotKernels.Best >= DotPath.Avx2 && DotKernels.Resolve(type, DotPath.Avx2) == DotPath.Avx2) kernels["avx2"] = (nint)DotKernels.For(type, DotPath.Avx2);
            if (ggml && GgmlCpuDots.Select(type)) kernels["ggml"] = (nint)(delegate*<byte*, byte*, int, float>)&GgmlCpuDots.Dot;
            var rates = Measure(type, columns, rows, rounds, turn, kernels, best);
            string Rate(string p) => rates.TryGetValue(p, out double r) ? $"{r / 1e9,12:F2}" : $"{"-",12}";
            string Ratio(string a, string b) => rates.TryGetValue(a, out double x) && rates.TryGetValue(b, out double y) ? $"{x / y:F2}x" : "-";
            string ggmlColumns = ggml ? $" {Rate("ggml")} {Ratio("avx2", "ggml"),10}" : "";
            string line = $"{type,-7} {Rate("scalar")} {Rate("vector128")} {Rate("avx2")} {Ratio("vector128", "scalar"),12} {Ratio("avx2", "vector128"),10}{ggmlColumns}";
            progress.WriteLine(line);
            text.AppendLine(line);
        }
        return text.ToString();
    }

    /// <summary>Elements per second of each path (median over rounds, or the fastest round).</summary>
    private static Dictionary<string, double> Measure(TensorType type, int columns, int rows, int rounds, TimeSpan turn, Dictionary<string, nint> kernels, bool best)
    {
        int rowBytes = checked((int)TensorTypes.RowBytes(type, columns));
        var activationType = Quantization.ActivationType(type);
        int activationBytes = checked((int)TensorTypes.RowBytes(activationType, columns));
        byte* weights = (byte*)NativeMemory.AlignedAlloc((nuint)(rowBytes * rows), 64);
        byte* activations = (byte*)NativeMemory.AlignedAlloc((nuint)activationBytes, 64);
        try
        {
            var random = new Random(1);
            var values = new float[columns];
            for (int r = 0; r < rows; r++)
            {
                var row = new Span<byte>(weights + (long)r * rowBytes, rowBytes);
                if (IsLattice(type))
                {
                    RandomLatticeRow(type, random, row);
                    continue;
                }
                for (int i = 0; i < columns; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * 0.1f;
                Quantization.Quantize(type, values, row);
            }
            for (int i = 0; i < columns; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            Quantization.QuantizeActivations(activationType, values, new Span<byte>(activations, activationBytes));

            var paths = kernels.Keys.ToList();
            var samples = paths.ToDictionary(p => p, _ => new List<double>());
            // Warm every path's JIT tiers, then size each path's turn to about `turn` from a short timed run.
            var passes = new Dictionary<string, int>();
            foreach (var p in paths)
            {
                var kernel = (delegate*<byte*, byte*, int, float>)kernels[p];
                Pass(kernel, weights, rowBytes, rows, activations, columns, 200);
                long start = Stopwatch.GetTimestamp();
                int count = 0;
                while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromMilliseconds(20)) { Pass(kernel, weights, rowBytes, rows, activations, columns, 1); count++; }
                passes[p] = Math.Max(1, (int)(count * turn.TotalMilliseconds / 20));
            }
            for (int round = 0; round < rounds; round++)
            {
                foreach (var p in paths)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    Pass((delegate*<byte*, byte*, int, float>)kernels[p], weights, rowBytes, rows, activations, columns, passes[p]);
                    double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    samples[p].Add((double)passes[p] * rows * columns / seconds);
                }
            }
            return samples.ToDictionary(kv => kv.Key, kv => best ? kv.Value.Max() : Median(kv.Value));
        }
        finally
        {
            NativeMemory.AlignedFree(weights);
            NativeMemory.AlignedFree(activations);
        }
    }

    private static float sink;

    private static void Pass(delegate*<byte*, byte*, int, float> kernel, byte* weights, int rowBytes, int rows, byte* activations, int columns, int passes)
    {
        float sum = 0;
        for (int pass = 0; pass < passes; pass++)
            for (int r = 0; r < rows; r++) sum += kernel(weights + (long)r * rowBytes, activations, columns);
        sink += sum;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int m = values.Count / 2;
        return values.Count % 2 == 1 ? values[m] : (values[m - 1] + values[m]) / 2;
    }
}
