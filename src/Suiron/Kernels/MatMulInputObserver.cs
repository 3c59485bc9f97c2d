using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// Sees the activation rows that the weight matmuls on the current thread multiply, the way llama-imatrix's eval
/// callback sees ggml's MUL_MAT and MUL_MAT_ID inputs. <c>suiron imatrix</c> installs one around its forward passes;
/// otherwise the slot is empty and a matmul pays one thread-static read.
/// </summary>
internal abstract class MatMulInputObserver
{
    [ThreadStatic] private static MatMulInputObserver? t_current;

    internal static MatMulInputObserver? Current => t_current;

    /// <summary>Observes the matmuls of this thread until the returned scope is disposed.</summary>
    public static IDisposable Install(MatMulInputObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var previous = t_current;
        t_current = observer;
        return new Scope(previous);
    }

    private sealed class Scope(MatMulInputObserver? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }

    /// <summary>A 2-D weight multiplied <paramref name="rows"/> activation rows, contiguous in <paramref name="x"/> (ggml's MUL_MAT).</summary>
    public abstract void OnDense(Tensor weight, ReadOnlySpan<float> x, int rows);

    /// <summary>Matrix <paramref name="matrix"/> of a 3-D weight (an expert) multiplied one activation row (ggml's MUL_MAT_ID).</summary>
    public abstract void OnRouted(Tensor weight, int matrix, ReadOnlySpan<float> row);

    /// <summary>
    /// Reports a <see cref="MatMul.Compute(Tensor, long, int, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> call.
    /// Only slices that start a matrix count: a fused tensor computed in two slices (gate then up) is one matmul to llama.cpp.
    /// </summary>
    internal void ReportCompute(Tensor w, long firstRow, ReadOnlySpan<float> x, int batch)
    {
        int cols = w.Columns;
        long rowsPerMatrix = RowsPerMatrix(w);
        if (firstRow % rowsPerMatrix != 0) return;
        if (rowsPerMatrix == w.Rows)
        {
            OnDense(w, x[..(batch * cols)], batch);
            return;
        }
        int matrix = (int)(firstRow / rowsPerMatrix);
        for (int b = 0; b < batch; b++) OnRouted(w, matrix, x.Slice(b * cols, cols));
    }

    /// <summary>Reports a grouped matmul: group g's activation rows against the matrix its first weight row starts.</summary>
    internal void ReportGroups(Tensor w, ReadOnlySpan<long> firstRows, ReadOnlySpan<int> groupStarts, ReadOnlySpan<int> sourceRows, ReadOnlySpan<float> x)
    {
        int cols = w.Columns;
        long rowsPerMatrix = RowsPerMatrix(w);
        for (int g = 0; g < firstRows.Length; g++)
        {
            if (firstRows[g] % rowsPerMatrix != 0) continue;
            int matrix = (int)(firstRows[g] / rowsPerMatrix);
            for (int j = groupStarts[g]; j < groupStarts[g + 1]; j++)
            {
                int row = sourceRows.IsEmpty ? j : sourceRows[j];
                OnRouted(w, matrix, x.Slice(row * cols, cols));
            }
        }
    }

    /// <summary>Reports a segmented matmul: segment s's row (or the shared one) against the matrix its first weight row starts.</summary>
    internal void ReportSegments(Tensor w, ReadOnlySpan<long> firstRows, ReadOnlySpan<float> x, bool sharedInput)
    {
        int cols = w.Columns;
        long rowsPerMatrix = RowsPerMatrix(w);
        for (int s = 0; s < firstRows.Length; s++)
        {
            if (firstRows[s] % rowsPerMatrix != 0) continue;
            OnRouted(w, (int)(firstRows[s] / rowsPerMatrix), x.Slice(sharedInput ? 0 : s * cols, cols));
        }
    }

    /// <summary>Rows of one matrix: ne[1] of a 3-D (stacked experts) tensor, all rows of a 2-D one.</summary>
    private static long RowsPerMatrix(Tensor w) => w.Shape.Length > 2 && w.Shape[2] > 1 ? w.Shape[1] : w.Rows;
}
