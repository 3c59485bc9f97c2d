using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>
/// Whole matmuls per weight type on the AVX2 kernels vs the AVX-512 ones (<see cref="DotPath.Avx512"/>), A/B in one
/// process: the paths take turns over the same weights and activations, each reports the median of its turns. Batch 1
/// is decode (the multi-row kernels), a larger batch the GEMM. The weights are either cache-resident (the kernels'
/// compute) or larger than the caches (decode's real case, bound by memory once a kernel is fast enough). Both paths
/// give the same bits, so only speed differs. With <c>--block32-scales</c> both turns run the AVX2 path and differ only in
/// the Block32 GEMM micro-kernel: <see cref="Gemm.Block32Kernel"/> vs <see cref="Gemm.Block32KernelBroadcastScales"/>.
/// </summary>
internal static unsafe class PathBench
{
    /// <param name="best">Each path's fastest turn instead of its median (on a shared machine the medians of one run can sit
    /// at either of two load levels).</param>
    public static string Run(IReadOnlyList<TensorType> types, int columns, int rows, IReadOnlyList<int> batches, int threads, int rounds, TimeSpan turn, TextWriter progress,
        bool block32Scales = false, bool best = false)
    {
        bool defaultScales = Gemm.BroadcastScaleOperands;
        try { return RunAll(types, columns, rows, batches, threads, rounds, turn, progress, block32Scales, best); }
        finally { Gemm.BroadcastScaleOperands = defaultScales; }
    }

    private static string RunAll(IReadOnlyList<TensorType> types, int columns, int rows, IReadOnlyList<int> batches, int threads, int rounds, TimeSpan turn, TextWriter progress,
        bool block32Scales, bool best)
    {
        DotPath wide = DotKernels.CanRun(DotPath.Avx512) ? DotPath.Avx512 : DotPath.Avx512Twin; // the twin: the same logic on AVX2 halves
        var text = new StringBuilder();
        text.AppendLine($"matmul, {threads} thread(s), {rows} rows x {columns} columns, {(best ? "fastest" : "median")} of {rounds} alternating turns of ~{turn.TotalMilliseconds:F0} ms; G multiply-adds/s");
        string first = block32Scales ? "permute" : "avx2", second = block32Scales ? "broadcast" : wide == DotPath.Avx512 ? "avx512" : "twin";
        text.AppendLine($"{"type",-6} {"batch",6} {first,10} {second,10} {"ratio",12}");
        using var pool = new WorkerPool(threads);
        foreach (var type in types)
            foreach (int batch in batches)
            {
                var medians = Measure(type, columns, rows, batch, pool, rounds, turn, wide, block32Scales, best);
                string line = $"{type,-6} {batch,6} {medians[0] / 1e9,10:F2} {medians[1] / 1e9,10:F2} {medians[1] / medians[0],11:F3}x";
                progress.WriteLine(line);
                text.AppendLine(line);
            }
        return text.ToString();
    }

    private static double[] Measure(TensorType type, int columns, int rows, int batch, WorkerPool pool, int rounds, TimeSpan turn, DotPath wide, bool block32Scales,
        bool best)
    {
        long rowBytes = TensorTypes.RowBytes(type, columns);
        long bytes = rowBytes * rows;
        byte* weights = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            var random = new Random(1);
            var values = new float[columns];
            for (int r = 0; r < rows; r++)
            {
                var row = new Span<byte>(weights + r * rowBytes, checked((int)rowBytes));
                if (KernelBench.IsLattice(type))
                {
                    KernelBench.RandomLatticeRow(type, random, row); // types Suiron does not encode
                    continue;
                }
                for (int i = 0; i < columns; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * 0.1f;
                Quantization.Quantize(type, values, row);
            }
            var x = new float[batch * columns];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
            var y = new float[batch * rows];
            var tensor = new Tensor("w", type, [columns, rows], weights, bytes);
            DotPath[] paths = block32Scales ? [DotPath.Avx2, DotPath.Avx2] : [DotPath.Avx2, wide];
            var passes = new int[2];
            for (int p = 0; p < 2; p++)
            {
                if (block32Scales) Gemm.BroadcastScaleOperands = p == 1;
                for (int i = 0; i < 3; i++) MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, paths[p]);
                long start = Stopwatch.GetTimestamp();
                int count = 0;
                while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromMilliseconds(30)) { MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, paths[p]); count++; }
                passes[p] = Math.Max(1, (int)(count * turn.TotalMilliseconds / 30));
            }
            var samples = new[] { new List<double>(), new List<double>() };
            for (int round = 0; round < rounds; round++)
                for (int p = 0; p < 2; p++)
                {
                    if (block32Scales) Gemm.BroadcastScaleOperands = p == 1;
                    long t0 = Stopwatch.GetTimestamp();
                    for (int i = 0; i < passes[p]; i++) MatMul.Compute(tensor, 0, rows, x, y, batch, pool, allowGemm: true, paths[p]);
                    double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    samples[p].Add((double)passes[p] * rows * columns * batch / seconds);
                }
            return best ? [samples[0].Max(), samples[1].Max()] : [Median(samples[0]), Median(samples[1])];
        }
        finally
        {
            NativeMemory.AlignedFree(weights);
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int m = values.Count / 2;
        return values.Count % 2 == 1 ? values[m] : (values[m - 1] + values[m]) / 2;
    }
}
