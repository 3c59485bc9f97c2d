using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Our lattice i-quant encoders against ggml's own <c>ggml_quantize_chunk</c> (libggml-base.so from LLamaSharp.Backend.Cpu,
/// which runs quantize_iq2_xxs … quantize_iq1_m): the bytes must be identical, with importance weights and, for the types
/// ggml encodes without them (IQ2_S, IQ3_XXS, IQ3_S, IQ1_M), without. Rows of 256, 512 and 2816 columns at three
/// magnitudes, and rows with zeros (single weights, a whole 32-weight sub-block, a whole block), which take ggml's
/// early-out branches. Few rows: the IQ1/IQ2 searches are slow in ggml and here.
/// </summary>
public sealed unsafe class LatticeQuantizerTests
{
    public static IEnumerable<object[]> TypesData() => LatticeQuantTests.Types.Select(t => new object[] { t });

    private static float[] Importance(int columns, int seed)
    {
        var random = new Random(seed);
        var importance = new float[columns];
        for (int j = 0; j < columns; j++) importance[j] = (float)Math.Exp(random.NextDouble() * 14 - 7);
        return importance;
    }

    /// <summary>Random rows; <paramref name="zeros"/> puts zeros at scattered weights, in one sub-block and in one whole block.</summary>
    private static float[] Rows(int rows, int columns, int seed, float scale, bool zeros)
    {
        var x = KernelTestData.Gaussian(rows * columns, seed, scale);
        if (!zeros) return x;
        var random = new Random(seed + 99);
        for (int i = 0; i < x.Length / 10; i++) x[random.Next(x.Length)] = 0;
        x.AsSpan(32, 32).Clear();                           // second 32-weight sub-block of row 0's first block
        if (columns >= 512) x.AsSpan(256, 256).Clear();     // row 0's second block
        if (rows > 1) x.AsSpan(columns + 16, 16).Clear();   // a 16-weight sub-block (IQ2_XS, IQ2_S, IQ1_M)
        return x;
    }

    private static void AssertSameAsGgml(TensorType type, float[] x, int rows, int columns, float[]? importance, string label)
    {
        nint f = GgmlOracleTests.Export("ggml_quantize_chunk");
        Assert.True(f != 0, "ggml_quantize_chunk not exported");
        var quantizeChunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)f;
        long rowBytes = TensorTypes.RowBytes(type, columns);
        var ours = new byte[rowBytes * rows];
        var theirs = new byte[ours.Length];
        Quantization.QuantizeRows(type, x, ours, importance ?? []);
        fixed (float* xp = x) fixed (float* qw = importance) fixed (byte* tp = theirs)
            Assert.Equal((nuint)ours.Length, quantizeChunk((int)type, xp, tp, 0, rows, columns, qw));
        int same = ours.AsSpan().CommonPrefixLength(theirs);
        int blockBytes = TensorTypes.BlockBytes(type);
        Assert.True(same == ours.Length,
            $"{type} {label}: first difference at byte {same} (row {same / rowBytes}, block {same % rowBytes / blockBytes}, offset " +
            $"{same % blockBytes}): ours {ours[Math.Min(same, ours.Length - 1)]} ggml {theirs[Math.Min(same, ours.Length - 1)]}");
    }

    [Theory]
    [MemberData(nameof(TypesData))]
    public void Weighted_encoding_is_byte_identical_to_ggml(TensorType type)
    {
        foreach (int columns in new[] { 256, 512, 2816 })
            foreach (float scale in new[] { 1f, 1e-3f, 300f })
                for (int seed = 0; seed < 2; seed++)
                {
                    int rows = columns == 2816 ? 1 : 2;
                    bool zeros = seed == 1;
                    int dataSeed = columns * 31 + (int)(scale * 7) + seed;
                    var x = Rows(rows, columns, dataSeed, scale, zeros);
                    AssertSameAsGgml(type, x, rows, columns, Importance(columns, dataSeed + 1), $"{rows}x{columns} scale {scale} seed {seed} zeros {zeros}");
                }
    }

    [Theory]
    [InlineData(TensorType.IQ2_S)]
    [InlineData(TensorType.IQ3_XXS)]
    [InlineData(TensorType.IQ3_S)]
    [InlineData(TensorType.IQ1_M)]
    public void Unweighted_encoding_is_byte_identical_to_ggml(TensorType type)
    {
        foreach (int columns in new[] { 256, 2816 })
            foreach (float scale in new[] { 1f, 1e-3f, 300f })
                for (int seed = 0; seed < 2; seed++)
                {
                    int rows = columns == 2816 ? 1 : 2;
                    var x = Rows(rows, columns, columns * 17 + (int)(scale * 3) + seed, scale, zeros: seed == 1);
                    AssertSameAsGgml(type, x, rows, columns, null, $"{rows}x{columns} scale {scale} seed {seed} no importance");
                }
    }

    [Theory]
    [InlineData(TensorType.IQ2_XXS)]
    [InlineData(TensorType.IQ2_XS)]
    [InlineData(TensorType.IQ1_S)]
    public void Types_that_need_importance_refuse_to_encode_without_it(TensorType type)
    {
        Assert.True(Quantization.RequiresImportance(type));
        var x = KernelTestData.Gaussian(256, 3);
        var dst = new byte[TensorTypes.RowBytes(type, 256)];
        var error = Assert.Throws<ArgumentException>(() => Quantization.Quantize(type, x, dst));
        Assert.Contains("importance", error.Message);
        Assert.Throws<ArgumentException>(() => Quantization.QuantizeRows(type, x, dst, []));
    }

    /// <summary>An encoded row decodes close to its input: the encoders are not just byte-copies of a broken ggml path.</summary>
    [Theory]
    [MemberData(nameof(TypesData))]
    public void Encoded_rows_decode_close_to_the_input(TensorType type)
    {
        var x = KernelTestData.Gaussian(512, 11);
        var importance = Enumerable.Repeat(1f, 512).ToArray();
        var encoded = new byte[TensorTypes.RowBytes(type, 512)];
        Quantization.QuantizeRows(type, x, encoded, importance);
        var decoded = KernelTestData.Decode(type, encoded, 512);
        double error = 0, energy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            error += (decoded[i] - x[i]) * (double)(decoded[i] - x[i]);
            energy += x[i] * (double)x[i];
        }
        // Relative RMS error: about 0.3-0.5 for the 1.5-2 bit types, lower for 3 bits; 0.75 would mean a broken encoder.
        Assert.True(error / energy < 0.75 * 0.75, $"{type}: relative squared error {error / energy}");
    }
}
