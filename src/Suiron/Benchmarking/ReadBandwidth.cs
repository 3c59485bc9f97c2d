using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Suiron.Kernels;

namespace Suiron.Benchmarking;

/// <summary>The machine's memory read bandwidth as measured by <see cref="ReadBandwidth.Measure"/>.</summary>
/// <param name="GigabytesPerSecond">Median over the passes of the fastest access pattern, in GB/s (10⁹ bytes).</param>
/// <param name="Bytes">Size of the buffer read in each pass.</param>
/// <param name="Threads">Threads that read it.</param>
/// <param name="Passes">Timed passes per access pattern.</param>
/// <param name="StreamsPerThread">Sequential streams each thread reads at once in the fastest pattern.</param>
/// <param name="VectorBits">Width of the loads, in bits (512 where Vector512 is accelerated).</param>
public sealed record ReadBandwidthResult(double GigabytesPerSecond, long Bytes, int Threads, int Passes, int StreamsPerThread = 1, int VectorBits = 256);

/// <summary>
/// The yardstick for decode speed: how fast these threads can stream bytes from DRAM. Decode reads every weight once
/// per token, so its tokens/s times weight bytes per token (<see cref="WeightTraffic"/>) over this number says how
/// close it gets to the wall, and so the number must be a ceiling: no access pattern of decode's may read faster.
/// The buffer is far larger than any cache (1 GiB by default), filled once so its pages exist, then read whole in every
/// pass by the worker pool (ranges of 2 MiB chunks) with the widest loads the CPU accelerates. A core's own sequential
/// stream is limited by how many cache lines its prefetchers keep in flight, and decode's multi-row kernels read two to
/// four rows far apart at once for that reason, so each thread's range is read as 1, 2, 4 and 8 interleaved streams
/// (the range cut into that many parts, one load from each part in turn) and the fastest pattern is the bandwidth. The sum of all
/// 64-bit words is returned so the reads cannot be elided, and lets a test check every byte was read once.
/// </summary>
public static unsafe class ReadBandwidth
{
    /// <summary>Bytes streamed per measurement by default (1 GiB).</summary>
    public const long DefaultBytes = 1L << 30;
    internal const int ChunkBytes = 2 << 20;

    /// <summary>Streams per thread tried by <see cref="Measure"/>.</summary>
    internal static ReadOnlySpan<int> StreamCounts => [1, 2, 4, 8];

    /// <summary>
    /// Streams a <paramref name="bytes"/> buffer through <paramref name="pool"/>'s threads in each access pattern: one
    /// untimed pass, then <paramref name="passes"/> timed ones; the fastest pattern's median is the result.
    /// </summary>
    public static ReadBandwidthResult Measure(WorkerPool pool, long bytes = DefaultBytes, int passes = 5)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, ChunkBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        bytes -= bytes % ChunkBytes;
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            // Distinct values in every page: a zero page could be shared by the kernel and never leave the cache.
            var fill = new Span<ulong>(buffer, checked((int)Math.Min(bytes / 8, int.MaxValue)));
            for (long offset = 0; offset < bytes; offset += (long)fill.Length * 8)
            {
                var part = new Span<ulong>(buffer + offset, (int)Math.Min(fill.Length, (bytes - offset) / 8));
                for (int i = 0; i < part.Length; i++) part[i] = (ulong)(offset / 8 + i) * 0x9E3779B97F4A7C15UL;
            }
            double best = 0;
            int bestStreams = 1;
            var seconds = new double[passes];
            foreach (int streams in StreamCounts)
            {
                Checksum(buffer, bytes, pool, streams);
                for (int p = 0; p < passes; p++)
                {
                    long start = Stopwatch.GetTimestamp();
                    Checksum(buffer, bytes, pool, streams);
                    seconds[p] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                }
                Array.Sort(seconds);
                double gigabytesPerSecond = bytes / seconds[passes / 2] / 1e9;
                if (gigabytesPerSecond > best) (best, bestStreams) = (gigabytesPerSecond, streams);
            }
            return new ReadBandwidthResult(best, bytes, pool.Threads, passes, bestStreams, VectorBits);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>The load width <see cref="SumWords"/> uses here.</summary>
    internal static int VectorBits => Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 64;

    /// <summary>
    /// Wrapping sum of the 64-bit words of <paramref name="data"/> (length a multiple of <see cref="ChunkBytes"/>), read by
    /// the pool, each chunk as <paramref name="streams"/> interleaved streams.
    /// </summary>
    internal static ulong Checksum(byte* data, long length, WorkerPool pool, int streams = 1)
    {
        if (length % ChunkBytes != 0) throw new ArgumentException($"Length must be a multiple of {ChunkBytes} bytes.", nameof(length));
        if (!StreamCounts.Contains(streams)) throw new ArgumentOutOfRangeException(nameof(streams), streams, "Streams must be 1, 2, 4 or 8.");
        var work = new SumChunks { Data = data, Streams = streams };
        pool.For(checked((int)(length / ChunkBytes)), ref work);
        return work.Total;
    }

    private struct SumChunks : IParallelWork
    {
        public byte* Data;
        public int Streams;
        private long total;

        public readonly ulong Total => (ulong)Volatile.Read(ref Unsafe.AsRef(in total));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int start, int end)
        {
            // The thread's whole range (up to 64 chunks at a time) as the streams, as decode splits a thread's rows.
            ulong sum = 0;
            for (int c = start; c < end; c += 64)
            {
                int chunks = Math.Min(64, end - c);
                sum += SumWords(Data + (long)c * ChunkBytes, chunks * ChunkBytes, Streams);
            }
            Interlocked.Add(ref total, (long)sum);
        }
    }

    /// <summary>
    /// Wrapping sum of the 64-bit words of <paramref name="length"/> bytes, read as <paramref name="streams"/> parts of
    /// equal length side by side, 64 or 128 bytes of each part in turn (the length a multiple of 128 · streams). At least four
    /// independent accumulators, so the adds never wait on each other; loads are the only limit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static ulong SumWords(byte* p, int length, int streams = 1)
    {
        if (length % (128 * streams) != 0) throw new ArgumentException("Length must be a multiple of 128 bytes per stream.", nameof(length));
        return streams switch
        {
            1 => SumStreams<One>(p, length),
            2 => SumStreams<Two>(p, length),
            4 => SumStreams<Four>(p, length),
            8 => SumStreams<Eight>(p, length),
            _ => throw new ArgumentOutOfRangeException(nameof(streams)),
        };
    }

    private interface IStreamCount { static abstract int Count { get; } }
    private struct One : IStreamCount { public static int Count => 1; }
    private struct Two : IStreamCount { public static int Count => 2; }
    private struct Four : IStreamCount { public static int Count => 4; }
    private struct Eight : IStreamCount { public static int Count => 8; }

    /// <summary>The streams' steps in turn; a constant stream count unrolls the inner loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong SumStreams<TStreams>(byte* p, int length) where TStreams : struct, IStreamCount
    {
        int part = length / TStreams.Count;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < part; i += 128)
                for (int s = 0; s < TStreams.Count; s++)
                {
                    byte* q = p + (long)s * part + i;
                    if ((s & 1) == 0) { a0 += Vector512.Load((ulong*)q); a1 += Vector512.Load((ulong*)(q + 64)); }
                    else { a2 += Vector512.Load((ulong*)q); a3 += Vector512.Load((ulong*)(q + 64)); }
                }
            return Vector512.Sum(a0 + a1 + a2 + a3);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < part; i += 64)
                for (int s = 0; s < TStreams.Count; s++)
                {
                    byte* q = p + (long)s * part + i;
                    if ((s & 1) == 0) { a0 += Vector256.Load((ulong*)q); a1 += Vector256.Load((ulong*)(q + 32)); }
                    else { a2 += Vector256.Load((ulong*)q); a3 += Vector256.Load((ulong*)(q + 32)); }
                }
            return Vector256.Sum(a0 + a1 + a2 + a3);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < part; i += 64)
                for (int s = 0; s < TStreams.Count; s++)
                {
                    byte* q = p + (long)s * part + i;
                    a0 += Vector128.Load((ulong*)q);
                    a1 += Vector128.Load((ulong*)(q + 16));
                    a2 += Vector128.Load((ulong*)(q + 32));
                    a3 += Vector128.Load((ulong*)(q + 48));
                }
            return Vector128.Sum(a0 + a1 + a2 + a3);
        }
        ulong sum = 0;
        for (int i = 0; i < length; i += 8) sum += *(ulong*)(p + i);
        return sum;
    }
}
