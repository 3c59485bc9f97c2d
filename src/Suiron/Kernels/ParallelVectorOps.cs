namespace Suiron.Kernels;

/// <summary>
/// The row- and element-wise <see cref="VectorOps"/> of a batched pass (RMS norms, residual and bias adds, SwiGLU) split
/// over the pool's threads. Each row, and each element, is computed exactly as in one call over the whole span (the
/// element ranges start at multiples of eight, so the same elements take the vector lanes and the same last few the
/// scalar tail), so the split never changes a bit. A decode step's few rows stay on the calling thread (their cost is
/// under <see cref="WorkerPool.MinParallelCost"/>); a long prompt's would otherwise run on one thread while the others
/// wait, a share of the pass that grows with the thread count.
/// </summary>
internal static unsafe class ParallelVectorOps
{
    /// <summary>Elements per range of the element-wise operations: a multiple of the vector width.</summary>
    private const int RangeElements = 4096;

    /// <summary><see cref="VectorOps.RmsNorm"/> of every row of <paramref name="input"/> (rows of <c>weight.Length</c>); output may alias input.</summary>
    public static void RmsNormRows(WorkerPool pool, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float epsilon, Span<float> output)
    {
        int width = weight.Length;
        if (input.Length % width != 0 || output.Length < input.Length)
            throw new ArgumentException($"The input must be whole rows of {width} and the output as long.");
        fixed (float* x = input) fixed (float* w = weight) fixed (float* y = output)
        {
            var work = new RmsNormWork { Input = x, Weight = w, Output = y, Width = width, Epsilon = epsilon };
            pool.For(input.Length / width, ref work, input.Length * 4L);
        }
    }

    /// <summary>dst = a + b, element-wise (<see cref="VectorOps.Add"/>); dst may alias either.</summary>
    public static void Add(WorkerPool pool, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        if (a.Length != b.Length || dst.Length != a.Length) throw new ArgumentException("Add needs three spans of one length.");
        fixed (float* x = a) fixed (float* y = b) fixed (float* z = dst)
        {
            var work = new ElementWork { A = x, B = y, Destination = z, Length = a.Length, SiluOfA = false };
            pool.For((a.Length + RangeElements - 1) / RangeElements, ref work, a.Length);
        }
    }

    /// <summary>dst = silu(gate) · up, element-wise (<see cref="VectorOps.SiluMul"/>); dst may alias either.</summary>
    public static void SiluMul(WorkerPool pool, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        if (gate.Length != up.Length || dst.Length != gate.Length) throw new ArgumentException("SiluMul needs three spans of one length.");
        fixed (float* x = gate) fixed (float* y = up) fixed (float* z = dst)
        {
            var work = new ElementWork { A = x, B = y, Destination = z, Length = gate.Length, SiluOfA = true };
            pool.For((gate.Length + RangeElements - 1) / RangeElements, ref work, gate.Length * 8L); // an exp per element
        }
    }

    /// <summary>Adds <paramref name="bias"/> to every row of <paramref name="rows"/> (rows of <c>bias.Length</c>).</summary>
    public static void AddToRows(WorkerPool pool, Span<float> rows, ReadOnlySpan<float> bias)
    {
        if (rows.Length % bias.Length != 0) throw new ArgumentException($"The rows must be whole rows of {bias.Length}.");
        fixed (float* x = rows) fixed (float* b = bias)
        {
            var work = new BiasWork { Rows = x, Bias = b, Width = bias.Length };
            pool.For(rows.Length / bias.Length, ref work, rows.Length);
        }
    }

    private struct RmsNormWork : IParallelWork
    {
        public float* Input, Weight, Output;
        public int Width;
        public float Epsilon;

        public readonly void Execute(int start, int end)
        {
            var weight = new ReadOnlySpan<float>(Weight, Width);
            for (int r = start; r < end; r++)
                VectorOps.RmsNorm(new ReadOnlySpan<float>(Input + (long)r * Width, Width), weight, Epsilon, new Span<float>(Output + (long)r * Width, Width));
        }
    }

    private struct ElementWork : IParallelWork
    {
        public float* A, B, Destination;
        public int Length;
        public bool SiluOfA;

        public readonly void Execute(int start, int end)
        {
            long first = (long)start * RangeElements;
            int count = (int)(Math.Min((long)end * RangeElements, Length) - first);
            var a = new ReadOnlySpan<float>(A + first, count);
            var b = new ReadOnlySpan<float>(B + first, count);
            var destination = new Span<float>(Destination + first, count);
            if (SiluOfA) VectorOps.SiluMul(a, b, destination);
            else VectorOps.Add(a, b, destination);
        }
    }

    private struct BiasWork : IParallelWork
    {
        public float* Rows, Bias;
        public int Width;

        public readonly void Execute(int start, int end)
        {
            var bias = new ReadOnlySpan<float>(Bias, Width);
            for (int r = start; r < end; r++)
            {
                var row = new Span<float>(Rows + (long)r * Width, Width);
                VectorOps.Add(row, bias, row);
            }
        }
    }
}
