using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

public static unsafe partial class MatMul
{
    /// <summary>
    /// Several row slices of one weight tensor, each against its own activation row, in one pass over the pool:
    /// <c>y[s*rowCount + r] = dot(W row firstRows[s] + r, x_s)</c>, where x_s is row s of <paramref name="x"/> (or
    /// its only row when <paramref name="sharedInput"/>). The results are bit-identical to one
    /// <see cref="Compute(Tensor, long, int, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> per slice with
    /// batch 1, but the slices share one fork/join and one activation encoding: decoding a token through its k
    /// experts (or MLA's per-head absorptions) is a few hundred small row blocks that one call per slice would
    /// leave mostly in pool hand-offs.
    /// </summary>
    public static void ComputeSegments(Tensor w, ReadOnlySpan<long> firstRows, int rowCount, ReadOnlySpan<float> x, bool sharedInput,
        Span<float> y, WorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(pool);
        int segments = firstRows.Length, cols = w.Columns;
        if (rowCount < 0) throw new ArgumentOutOfRangeException(nameof(rowCount));
        foreach (long first in firstRows)
            if (first < 0 || first + rowCount > w.Rows) throw new ArgumentOutOfRangeException(nameof(firstRows), $"Rows {first}..{first + rowCount} are outside the tensor's {w.Rows}.");
        int inputRows = sharedInput ? 1 : segments;
        if (x.Length < (long)inputRows * cols) throw new ArgumentException($"x needs {inputRows} x {cols} floats.", nameof(x));
        if (y.Length < (long)segments * rowCount) throw new ArgumentException($"y needs {segments} x {rowCount} floats.", nameof(y));
        if (segments == 0 || rowCount == 0) return;
        MatMulInputObserver.Current?.ReportSegments(w, firstRows, x, sharedInput);

        RowKernels rowKernels = RowKernels.For(w.Type, WideKernelChoice.PathFor(w.Type, gemm: false)); // as Compute picks them for one token
        fixed (float* input = x)
        fixed (float* output = y)
        fixed (long* firsts = firstRows)
        {
            using var encoded = EncodedActivations.Encode(pool, w.Type, input, cols, inputRows, rowKernels.NeedsExtra, rowKernels.F16Rebiased);
            var work = new SegmentRows
            {
                Kernels = rowKernels,
                Scales = encoded.Extra,
                ScalesRowBytes = sharedInput ? 0 : encoded.ExtraRowBytes,
                Weights = w.Data,
                WeightRowBytes = w.RowByteCount,
                FirstRows = firsts,
                Activations = rowKernels.ReadsWidened ? encoded.Extra : encoded.Rows,
                ActivationRowBytes = sharedInput ? 0 : rowKernels.ReadsWidened ? encoded.ExtraRowBytes : encoded.RowBytes,
                Output = output,
                RowsPerSegment = rowCount,
                Columns = cols,
            };
            pool.For(segments * rowCount, ref work, (long)segments * rowCount * cols);
        }
    }

    /// <summary>A range of output rows over all segments; row i is row i % RowsPerSegment of segment i / RowsPerSegment.</summary>
    private struct SegmentRows : IParallelWork
    {
        public RowKernels Kernels;
        public byte* Scales, Weights, Activations;
        public long* FirstRows;
        public long WeightRowBytes;
        public int ScalesRowBytes, ActivationRowBytes, RowsPerSegment, Columns;
        public float* Output;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            if (Kernels.HasMultiRow)
            {
                ExecuteMultiRow(start, end);
                return;
            }
            int segment = start / RowsPerSegment, local = start - segment * RowsPerSegment;
            for (int i = start; i < end; i++)
            {
                byte* row = Weights + (FirstRows[segment] + local) * WeightRowBytes;
                byte* activation = Activations + (long)segment * ActivationRowBytes;
                Output[i] = Kernels.Dot(row, activation, (float*)(Scales + (long)segment * ScalesRowBytes), Columns);
                if (++local == RowsPerSegment)
                {
                    local = 0;
                    segment++;
                }
            }
        }

        /// <summary>The range cut at segment ends; each piece (adjacent rows of one slice, one activation row) through
        /// <see cref="RowKernels.MultiRowRun"/>, as Compute runs its rows.</summary>
        private readonly void ExecuteMultiRow(int start, int end)
        {
            for (int i = start; i < end;)
            {
                int segment = i / RowsPerSegment, local = i - segment * RowsPerSegment;
                int count = Math.Min(end, (segment + 1) * RowsPerSegment) - i;
                Kernels.MultiRowRun(Weights + (FirstRows[segment] + local) * WeightRowBytes, WeightRowBytes, count,
                    Activations + (long)segment * ActivationRowBytes, (float*)(Scales + (long)segment * ScalesRowBytes), Columns, Output + i);
                i += count;
            }
        }
    }
}
