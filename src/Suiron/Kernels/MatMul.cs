using System.Buffers;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// y = W x for a batch of activation rows, with ggml's numerics: activations are encoded once per call into
/// the weight type's activation encoding, then each output is one <see cref="Quantization.Dot"/> of a weight row
/// with an encoded activation row. Most of a forward pass is spent here.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>
    /// <c>y[b*rows + r] = dot(W row r, x[b*cols .. (b+1)*cols])</c> for b in [0, <paramref name="batch"/>), where W is
    /// <paramref name="w"/> seen as rows x cols (cols = Shape[0]).
    /// </summary>
    public static void Compute(Tensor w, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool)
        => Compute(w, 0, checked((int)w.Rows), x, y, batch, pool);

    /// <summary>
    /// Like <see cref="Compute(Tensor, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> over the rows
    /// [<paramref name="firstRow"/>, firstRow + rowCount) of <paramref name="w"/> only (one expert of a stacked MoE
    /// tensor, a slice of a fused QKV): <c>y[b*rowCount + r] = dot(W row firstRow + r, x_b)</c>.
    /// </summary>
    public static void Compute(Tensor w, long firstRow, int rowCount, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(pool);
        int cols = w.Columns;
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > w.Rows) throw new ArgumentOutOfRangeException(nameof(rowCount));
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch));
        if (x.Length < (long)batch * cols) throw new ArgumentException($"x needs {batch} x {cols} floats.", nameof(x));
        if (y.Length < (long)batch * rowCount) throw new ArgumentException($"y needs {batch} x {rowCount} floats.", nameof(y));
        if (batch == 0 || rowCount == 0) return;

        TensorType activationType = Quantization.ActivationType(w.Type);
        int activationRowBytes = checked((int)TensorTypes.RowBytes(activationType, cols));
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> activations;
            if (activationType == TensorType.F32)
            {
                activations = System.Runtime.InteropServices.MemoryMarshal.AsBytes(x[..(batch * cols)]);
            }
            else
            {
                rented = ArrayPool<byte>.Shared.Rent(checked(activationRowBytes * batch));
                for (int b = 0; b < batch; b++)
                {
                    Quantization.QuantizeActivations(activationType, x.Slice(b * cols, cols),
                        rented.AsSpan(b * activationRowBytes, activationRowBytes));
                }
                activations = rented;
            }

            fixed (byte* a = activations)
            fixed (float* output = y)
            {
                var work = new RowsTimesBatch
                {
                    Kernel = DotKernels.For(w.Type),
                    Weights = w.Data + firstRow * w.RowByteCount,
                    WeightRowBytes = w.RowByteCount,
                    Activations = a,
                    ActivationRowBytes = activationRowBytes,
                    Output = output,
                    Rows = rowCount,
                    Columns = cols,
                    Batch = batch,
                };
                pool.For(rowCount, ref work);
            }
        }
        finally
        {
            if (rented != null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>A range of weight rows against every activation row: each weight row is read once per call.</summary>
    private struct RowsTimesBatch : IParallelWork
    {
        public delegate*<byte*, byte*, int, float> Kernel;
        public byte* Weights;
        public int WeightRowBytes;
        public byte* Activations;
        public int ActivationRowBytes;
        public float* Output;
        public int Rows;
        public int Columns;
        public int Batch;

        public readonly void Execute(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                byte* row = Weights + (long)r * WeightRowBytes;
                for (int b = 0; b < Batch; b++)
                    Output[(long)b * Rows + r] = Kernel(row, Activations + (long)b * ActivationRowBytes, Columns);
            }
        }
    }
}
