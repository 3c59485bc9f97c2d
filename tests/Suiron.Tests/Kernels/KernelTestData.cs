using Xunit;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Tests.Kernels;

/// <summary>Deterministic random inputs for the kernel tests.</summary>
internal static class KernelTestData
{
    /// <summary>
    /// One single-token <see cref="MatMul.Compute(Tensor, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> over
    /// <paramref name="rows"/> × <paramref name="cols"/> weights (the decode path: multi-row kernels where the type has
    /// them, leftovers one row per call): every output must be bit-identical to its row's own <see cref="Quantization.Dot"/>.
    /// </summary>
    public static unsafe void AssertSingleTokenRowsEqualTheirDot(TensorType type, byte[] weights, int rows, int cols, float[] x, WorkerPool pool)
    {
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        var activation = EncodeActivations(type, x);
        var y = new float[rows];
        fixed (byte* data = weights)
        {
            var tensor = new Tensor("w", type, [cols, rows], data, weights.Length);
            MatMul.Compute(tensor, x, y, 1, pool);
        }
        for (int r = 0; r < rows; r++)
        {
            float expected = Quantization.Dot(type, weights.AsSpan(r * rowBytes, rowBytes), activation, cols);
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[r]),
                $"{type} rows {rows} row {r}: {expected} vs {y[r]}");
        }
    }

    public static readonly TensorType[] QuantizedTypes =
    [
        TensorType.Q4_0, TensorType.Q4_1, TensorType.Q5_0, TensorType.Q5_1, TensorType.Q8_0, TensorType.Q8_1,
        TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K, TensorType.Q8_K,
        TensorType.IQ4_NL, TensorType.IQ4_XS, TensorType.MXFP4, TensorType.TQ1_0, TensorType.TQ2_0,
    ];

    public static readonly TensorType[] AllTypes = [TensorType.F32, TensorType.F16, TensorType.BF16, .. QuantizedTypes];

    public static readonly int[] BlockCounts = [1, 3, 7, 33];

    public static IEnumerable<object[]> AllTypesData() => AllTypes.Select(t => new object[] { t });

    public static IEnumerable<object[]> QuantizedTypesData() => QuantizedTypes.Select(t => new object[] { t });

    /// <summary>Gaussian values with a few 6-sigma outliers (they set the block scales, so error bounds are per-type loose) and per-block scale changes, like real weights and activations.</summary>
    public static float[] Gaussian(int n, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var x = new float[n];
        float blockScale = scale;
        for (int i = 0; i < n; i++)
        {
            if (i % 32 == 0) blockScale = scale * (float)Math.Exp(random.NextDouble() * 2 - 1);
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double g = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            if (random.Next(64) == 0) g *= 6; // an outlier now and then
            x[i] = (float)(g * blockScale);
        }
        return x;
    }

    public static byte[] Encode(TensorType type, float[] x)
    {
        var bytes = new byte[TensorTypes.RowBytes(type, x.Length)];
        Quantization.Quantize(type, x, bytes);
        return bytes;
    }

    /// <summary><paramref name="rows"/> × <paramref name="cols"/> weights quantized row by row, as a weight tensor stores them.</summary>
    public static byte[] EncodeRows(TensorType type, float[] values, int rows, int cols)
    {
        int rowBytes = (int)TensorTypes.RowBytes(type, cols);
        var bytes = new byte[rowBytes * rows];
        for (int r = 0; r < rows; r++)
            Quantization.Quantize(type, values.AsSpan(r * cols, cols), bytes.AsSpan(r * rowBytes, rowBytes));
        return bytes;
    }

    public static byte[] EncodeActivations(TensorType weightType, float[] x)
    {
        var activationType = Quantization.ActivationType(weightType);
        var bytes = new byte[TensorTypes.RowBytes(activationType, x.Length)];
        Quantization.QuantizeActivations(activationType, x, bytes);
        return bytes;
    }

    public static float[] Decode(TensorType type, byte[] bytes, int n)
    {
        var x = new float[n];
        Quantization.Dequantize(type, bytes, x);
        return x;
    }
}
