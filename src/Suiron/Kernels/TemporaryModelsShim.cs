// TEMPORARY: a minimal stand-in for the kernels branch's API (F32/F16 only, scalar), so the models branch builds
// and its F32/F16 oracle tests run before `kernels` is merged. Deleted in the merge commit; nothing else may use it.
using System.Runtime.InteropServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

public static class Quantization
{
    public static void Dequantize(TensorType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case TensorType.F32: MemoryMarshal.Cast<byte, float>(src)[..dst.Length].CopyTo(dst); break;
            case TensorType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)h[i];
                break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    public static void Quantize(TensorType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (type)
        {
            case TensorType.F32: src.CopyTo(MemoryMarshal.Cast<byte, float>(dst)); break;
            case TensorType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(dst);
                for (int i = 0; i < src.Length; i++) h[i] = (Half)src[i];
                break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    public static TensorType ActivationType(TensorType weightType) => weightType;

    public static float Dot(TensorType weightType, ReadOnlySpan<byte> weightRow, ReadOnlySpan<byte> activationRow, int n)
    {
        float sum = 0;
        if (weightType == TensorType.F32)
        {
            var w = MemoryMarshal.Cast<byte, float>(weightRow); var a = MemoryMarshal.Cast<byte, float>(activationRow);
            for (int i = 0; i < n; i++) sum += w[i] * a[i];
        }
        else
        {
            var w = MemoryMarshal.Cast<byte, Half>(weightRow); var a = MemoryMarshal.Cast<byte, Half>(activationRow);
            for (int i = 0; i < n; i++) sum += (float)w[i] * (float)a[i];
        }
        return sum;
    }
}

public sealed class WorkerPool(int threads) : IDisposable
{
    public int Threads { get; } = threads;
    public void Dispose() { }
}

public static class MatMul
{
    public static void Compute(Tensor w, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool)
    {
        int cols = w.Columns, rows = (int)w.Rows;
        var at = Quantization.ActivationType(w.Type);
        int ab = (int)TensorTypes.RowBytes(at, cols);
        var act = new byte[ab * batch];
        for (int b = 0; b < batch; b++) Quantization.Quantize(at, x.Slice(b * cols, cols), act.AsSpan(b * ab, ab));
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < rows; r++)
                y[b * rows + r] = Quantization.Dot(w.Type, w.Row(r), act.AsSpan(b * ab, ab), cols);
    }
}
