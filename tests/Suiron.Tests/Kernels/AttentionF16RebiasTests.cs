using System.Runtime.Intrinsics;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Models;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Attention over an F16 cache with the rebiased widening (query and weights times 2^112, cache halves shifted into
/// float position) must give the very bits of the plain path (exact conversion, same accumulation order) — for
/// normal, subnormal, zero, infinite and NaN cache entries alike.
/// </summary>
public sealed unsafe class AttentionF16RebiasTests
{
    private static ushort[] RandomHalves(Random random, int n, double specialRate)
    {
        var halves = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            double roll = random.NextDouble();
            halves[i] = roll < specialRate ? (ushort)(random.Next(2) == 0 ? 0x7C00 : 0xFC00 | random.Next(0, 0x400)) // ±inf or NaN
                : roll < 0.2 ? (ushort)random.Next(0, 0x400 * 2) // subnormals and zeros of both signs' low part
                : roll < 0.25 ? (ushort)(0x8000 | random.Next(0, 0x400))
                : BitConverter.HalfToUInt16Bits((Half)(random.NextDouble() * 8 - 4));
        }
        return halves;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.01)]
    public void Scores_and_weighted_values_equal_the_plain_path_bit_for_bit(double specialRate)
    {
        if (!Avx2Dot.IsSupported) return;
        var random = new Random(42);
        foreach (int n in new[] { 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 128, 576 })
        {
            ushort[] cacheRow = RandomHalves(random, n, specialRate);
            var query = new float[n];
            for (int i = 0; i < n; i++) query[i] = (float)(Half)(float)(random.NextDouble() * 6 - 3);
            if (n > 3) query[3] = (float)BitConverter.UInt16BitsToHalf(0x0001); // a subnormal query element
            var rebiased = query.Select(v => v * Avx2Dot.HalfRebias).ToArray();

            fixed (ushort* k = cacheRow)
            fixed (float* q = query)
            fixed (float* qr = rebiased)
            {
                float plain = Attention.DotHalf(q, k, n);
                float fast = FloatDot<Avx2FloatOps, Vector256x2, Vector256<ushort>>.F16xRebiasedF32((byte*)k, (byte*)qr, n);
                Assert.True(BitConverter.SingleToInt32Bits(plain) == BitConverter.SingleToInt32Bits(fast) || (float.IsNaN(plain) && float.IsNaN(fast)),
                    $"n {n}: dot {plain} vs {fast}");

                foreach (float weight in new[] { 0f, 1f, (float)(Half)0.3137f, (float)BitConverter.UInt16BitsToHalf(0x0003) })
                {
                    var expected = new float[n];
                    var actual = new float[n];
                    for (int i = 0; i < n; i++) expected[i] = actual[i] = (float)(random.NextDouble() - 0.5);
                    fixed (float* e = expected)
                    fixed (float* a = actual)
                    {
                        Attention.AccumulateHalf(weight, k, e, n);
                        Attention.AccumulateHalfRebiased(weight, k, a, n);
                    }
                    for (int i = 0; i < n; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]) || (float.IsNaN(expected[i]) && float.IsNaN(actual[i])),
                            $"n {n}, weight {weight}, element {i} (half 0x{cacheRow[i]:X4}): {expected[i]} vs {actual[i]}");
                }
            }
        }
    }

    [Theory]
    [InlineData(7, 64, 64, 1)]
    [InlineData(4, 64, 64, 300)]
    [InlineData(2, 128, 128, 37)]
    [InlineData(3, 40, 24, 9)] // lengths that leave 8-element and scalar tails
    public void A_group_of_heads_equals_each_head_alone_bit_for_bit(int groupSize, int keyLength, int valueLength, int length)
    {
        if (!Avx2Dot.IsSupported) return;
        const int kvHeads = 2, layer = 1;
        var cache = new KvCache(2, kvHeads * keyLength, kvHeads * valueLength, 512, KvCacheType.F16);
        Assert.True(Attention.SupportsGroup(cache));
        var random = new Random(groupSize * 1000 + length);
        var keys = new float[length * kvHeads * keyLength];
        var values = new float[length * kvHeads * valueLength];
        for (int i = 0; i < keys.Length; i++) keys[i] = (float)(random.NextDouble() * 4 - 2);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        values[3] = 1e-7f; // becomes an F16 subnormal
        cache.Write(layer, 0, keys, values);

        for (int kvHead = 0; kvHead < kvHeads; kvHead++)
        {
            var queries = new float[groupSize * keyLength];
            for (int i = 0; i < queries.Length; i++) queries[i] = (float)(random.NextDouble() * 2 - 1);
            float scale = 1 / MathF.Sqrt(keyLength);

            var grouped = new float[groupSize * valueLength];
            Attention.Group(queries, groupSize, cache, layer, kvHead, length, scale,
                new float[groupSize * length], new float[groupSize * keyLength + Math.Max(keyLength, valueLength)], grouped);

            for (int g = 0; g < groupSize; g++)
            {
                var alone = new float[valueLength];
                Attention.Head(queries.AsSpan(g * keyLength, keyLength), cache, layer, kvHead, length, scale,
                    new float[length], new float[keyLength], alone);
                for (int d = 0; d < valueLength; d++)
                    Assert.True(BitConverter.SingleToInt32Bits(alone[d]) == BitConverter.SingleToInt32Bits(grouped[g * valueLength + d]),
                        $"kv head {kvHead}, query {g}, element {d}: {alone[d]} vs {grouped[g * valueLength + d]}");
            }
        }
    }
}
