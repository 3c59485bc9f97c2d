using Suiron.Kernels;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>The Q8_0 value-cache kernels of <see cref="Attention"/>: SIMD against the scalar spec, and the online softmax against a two-pass one in double.</summary>
public sealed unsafe class AttentionQ8_0Tests
{
    private static BlockQ8_0[] Quantize(float[] x)
    {
        var blocks = new BlockQ8_0[x.Length / 32];
        fixed (float* p = x) fixed (BlockQ8_0* b = blocks) ActivationQuantizer.Q8_0Reference(p, b, blocks.Length);
        return blocks;
    }

    /// <summary>Element-wise q·d then one FMA in both: the SIMD path must equal the scalar spec bit for bit.</summary>
    [Theory]
    [InlineData(1, 0.37f)]
    [InlineData(2, -1.5f)]
    [InlineData(4, 1e-3f)]
    [InlineData(18, 0.9f)]
    public void AccumulateMatchesReference(int blocks, float weight)
    {
        BlockQ8_0[] v = Quantize(KernelTestData.Gaussian(blocks * 32, seed: blocks, scale: 3f));
        float[] start = KernelTestData.Gaussian(blocks * 32, seed: 100 + blocks);
        float[] simd = (float[])start.Clone(), scalar = (float[])start.Clone();
        fixed (BlockQ8_0* pv = v) fixed (float* ps = simd) fixed (float* pr = scalar)
        {
            Attention.AccumulateQ8_0(weight, pv, ps, blocks);
            Attention.AccumulateQ8_0Reference(weight, pv, pr, blocks);
        }
        Assert.Equal(scalar, simd);
        // and the spec itself is o + w·q·d
        for (int i = 0; i < start.Length; i++)
            Assert.Equal(start[i] + (double)weight * v[i / 32].Qs[i % 32] * (double)(float)v[i / 32].D, scalar[i], 1e-5);
    }

    /// <summary>
    /// The one-pass online softmax (ggml's flash attention, float M and S) equals softmax(s)·dequantize(V) computed in
    /// double from scratch, to float rounding: relative 1e-5 of the largest output. Scores include a rising sequence
    /// (every step rescales), a falling one (none does) and large magnitudes (exp would overflow without the max shift).
    /// </summary>
    [Theory]
    [InlineData(1, 64, 1.0f, 1)]
    [InlineData(37, 64, 3.0f, 2)]
    [InlineData(300, 128, 10f, 3)]
    [InlineData(513, 32, 80f, 4)]
    public void OnlineSoftmaxMatchesTwoPassInDouble(int length, int valueLength, float scoreScale, int seed)
    {
        int blocksPerRow = valueLength / 32, rowBlocks = blocksPerRow * 3; // rows of 3 heads; the middle head is read
        BlockQ8_0[] cache = Quantize(KernelTestData.Gaussian(length * rowBlocks * 32, seed));
        float[] scores = KernelTestData.Gaussian(length, seed + 10, scoreScale);
        if (seed == 2) for (int t = 0; t < length; t++) scores[t] = t * 0.1f;
        if (seed == 3) for (int t = 0; t < length; t++) scores[t] = 50f - t * 0.2f;
        var ours = new float[valueLength];
        fixed (BlockQ8_0* c = cache) fixed (float* s = scores) fixed (float* o = ours)
            Attention.OnlineSoftmaxQ8_0(s, length, (byte*)(c + blocksPerRow), rowBlocks * sizeof(BlockQ8_0), o, valueLength);

        double max = scores.Max(), sum = scores.Sum(x => Math.Exp(x - max));
        var expected = new double[valueLength];
        for (int t = 0; t < length; t++)
        {
            double weight = Math.Exp(scores[t] - max) / sum;
            for (int i = 0; i < valueLength; i++)
            {
                BlockQ8_0 block = cache[t * rowBlocks + blocksPerRow + i / 32];
                expected[i] += weight * block.Qs[i % 32] * (double)(float)block.D;
            }
        }
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < valueLength; i++) Assert.True(Math.Abs(ours[i] - expected[i]) <= 1e-5 * scale, $"[{i}] {ours[i]} vs {expected[i]}");
    }
}
