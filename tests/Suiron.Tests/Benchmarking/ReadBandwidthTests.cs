using Xunit;
using System.Runtime.InteropServices;
using Suiron.Benchmarking;
using Suiron.Kernels;

namespace Suiron.Tests.Benchmarking;

public sealed unsafe class ReadBandwidthTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(2, 8)]
    public void Checksum_reads_every_word_exactly_once(int threads, int streams)
    {
        const int chunks = 7; // not a multiple of the threads: uneven ranges
        long bytes = (long)chunks * ReadBandwidth.ChunkBytes;
        ulong* words = (ulong*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            var random = new Random(17);
            ulong expected = 0;
            for (long i = 0; i < bytes / 8; i++)
            {
                words[i] = (ulong)random.NextInt64() ^ ((ulong)i << 40);
                expected += words[i];
            }
            using var pool = new WorkerPool(threads);
            Assert.Equal(expected, ReadBandwidth.Checksum((byte*)words, bytes, pool, streams));
            // A word counted twice or skipped changes the sum.
            words[bytes / 8 - 1] += 1;
            Assert.Equal(expected + 1, ReadBandwidth.Checksum((byte*)words, bytes, pool, streams));
            // And one in the first stream's part of the first chunk.
            words[1] += 1;
            Assert.Equal(expected + 2, ReadBandwidth.Checksum((byte*)words, bytes, pool, streams));
        }
        finally
        {
            NativeMemory.AlignedFree(words);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void SumWords_simd_matches_scalar_sum(int streams)
    {
        var data = new ulong[4096];
        var random = new Random(3);
        ulong expected = 0;
        for (int i = 0; i < data.Length; i++) { data[i] = (ulong)random.NextInt64(); expected += data[i]; }
        fixed (ulong* p = data) Assert.Equal(expected, ReadBandwidth.SumWords((byte*)p, data.Length * 8, streams));
    }

    [Fact]
    public void Measure_rounds_the_buffer_to_whole_chunks_and_reports_the_threads()
    {
        using var pool = new WorkerPool(2);
        var result = ReadBandwidth.Measure(pool, bytes: 2L * ReadBandwidth.ChunkBytes + 12345, passes: 3);
        Assert.Equal(2L * ReadBandwidth.ChunkBytes, result.Bytes);
        Assert.Equal(2, result.Threads);
        Assert.Equal(3, result.Passes);
        Assert.Contains(result.StreamsPerThread, new[] { 1, 2, 4, 8 });
        Assert.Equal(ReadBandwidth.VectorBits, result.VectorBits);
        Assert.True(double.IsFinite(result.GigabytesPerSecond) && result.GigabytesPerSecond > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => ReadBandwidth.Measure(pool, bytes: 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReadBandwidth.Checksum(null, ReadBandwidth.ChunkBytes, pool, streams: 3));
    }
}
