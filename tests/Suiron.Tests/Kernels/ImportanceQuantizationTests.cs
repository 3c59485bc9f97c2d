using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Quantization with an importance matrix against ggml's own <c>ggml_quantize_chunk(type, src, dst, 0, rows, columns,
/// imatrix)</c> (the call llama-quantize makes per tensor), from the libggml-base.so LLamaSharp.Backend.Cpu ships:
/// the bytes must be identical. Random rows at three magnitudes and random positive importances spanning six decades,
/// as real imatrix columns do.
/// </summary>
public sealed unsafe class ImportanceQuantizationTests
{
    public static IEnumerable<object[]> Types() =>
        new[]
        {
            TensorType.Q4_0, TensorType.Q4_1, TensorType.Q5_0, TensorType.Q5_1, TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K,
            TensorType.Q5_K, TensorType.Q6_K, TensorType.IQ4_NL, TensorType.IQ4_XS,
            // ggml ignores the importance for these: the same bytes as without one.
            TensorType.Q8_0, TensorType.MXFP4, TensorType.TQ1_0, TensorType.TQ2_0, TensorType.F16, TensorType.BF16,
        }.Select(t => new object[] { t });

    private static float[] Importance(int columns, int seed)
    {
        var random = new Random(seed);
        var importance = new float[columns];
        for (int j = 0; j < columns; j++) importance[j] = (float)Math.Exp(random.NextDouble() * 14 - 7);
        return importance;
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Weighted_quantization_is_bit_exact_with_ggml_quantize_chunk(TensorType type)
    {
        nint f = GgmlOracleTests.Export("ggml_quantize_chunk");
        Assert.True(f != 0, "ggml_quantize_chunk not exported");
        var quantizeChunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)f;

        foreach (int columns in new[] { 256, 768, 2816 })
        {
            foreach (int rows in new[] { 1, 3 })
            {
                foreach (float scale in new[] { 1f, 1e-3f, 300f })
                {
                    int seed = columns + 7 * rows + (int)(scale * 10);
                    var x = KernelTestData.Gaussian(rows * columns, seed, scale);
                    var importance = Importance(columns, seed + 1);
                    long rowBytes = TensorTypes.RowBytes(type, columns);
                    var ours = new byte[rowBytes * rows];
                    var theirs = new byte[ours.Length];
                    Quantization.QuantizeRows(type, x, ours, importance);
                    fixed (float* xp = x) fixed (float* qw = importance) fixed (byte* tp = theirs)
                        Assert.Equal((nuint)ours.Length, quantizeChunk((int)type, xp, tp, 0, rows, columns, qw));
                    int diff = ours.AsSpan().CommonPrefixLength(theirs);
                    Assert.True(diff == ours.Length,
                        $"{type} {rows}x{columns} scale {scale}: first difference at byte {diff} (row {diff / rowBytes}, block " +
                        $"{diff % rowBytes / TensorTypes.BlockBytes(type)}, offset {diff % TensorTypes.BlockBytes(type)}): ours {ours[Math.Min(diff, ours.Length - 1)]} ggml {theirs[Math.Min(diff, ours.Length - 1)]}");
                }
            }
        }
    }

    [Fact]
    public void Importance_changes_the_bytes_of_the_types_that_use_it()
    {
        // A guard against a weighted path that silently falls back to the unweighted one.
        var x = KernelTestData.Gaussian(768, 5);
        var importance = Importance(768, 6);
        foreach (var type in new[] { TensorType.Q4_0, TensorType.Q4_K, TensorType.Q6_K, TensorType.IQ4_XS })
        {
            var weighted = new byte[TensorTypes.RowBytes(type, 768)];
            Quantization.QuantizeRows(type, x, weighted, importance);
            Assert.False(weighted.AsSpan().SequenceEqual(KernelTestData.Encode(type, x)), $"{type}: importance made no difference");
        }
    }

    [Fact]
    public void Rows_that_do_not_match_the_importance_length_are_refused()
    {
        var x = new float[300];
        var dst = new byte[TensorTypes.RowBytes(TensorType.Q4_0, 320)];
        Assert.Throws<ArgumentException>(() => Quantization.QuantizeRows(TensorType.Q4_0, x, dst, new float[64]));
    }
}
