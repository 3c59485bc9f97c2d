using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Suiron.Kernels;

namespace Suiron.Benchmarking;

/// <summary>The machine's memory read bandwidth as measured by <see cref="ReadBandwidth.Measure"/>.</summary>
/// <param name="GigabytesPerSecond">Median over the passes, in GB/s (10⁹ bytes).</param>
/// <param name="Bytes">Size of the buffer read in each pass.</param>
/// <param name="Threads">Threads that read it.</param>
/// <param name="Passes">Timed passes.</param>
public sealed record ReadBandwidthResult(double GigabytesPerSecond, long Bytes, int Threads, int Passes);

/// <summary>
/// The yardstick for decode speed: how fast these threads can stream bytes from DRAM. Decode reads every weight once
/// per token, so its tokens/s times weight bytes per token (<see cref="WeightTraffic"/>) over this number says how
/// close it gets to the wall. The buffer is far larger than any cache (1 GiB by default), filled once so its pages
/// exist, then read whole in every pass by the worker pool in 2 MiB chunks — the access pattern of a decode step's
/// matmuls (rows split across threads, sequential within a chunk) with no arithmetic to slow it down. The sum of
/// all 64-bit words is returned so the reads cannot be elided, and lets a test check every byte was read once.
/// </summary>
public static unsafe class ReadBandwidth
{
    public const long DefaultBytes = 1L << 30;
    internal const int ChunkBytes = 2 << 20;

    /// <summary>Streams a <paramref name="bytes"/> buffer through <paramref name="pool"/>'s threads; one untimed pass, then <paramref name="passes"/> timed ones.</summary>
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
            Checksum(buffer, bytes, pool);
            var seconds = new double[passes];
            for (int p = 0; p < passes; p++)
            {
                long start = Stopwatch.GetTimestamp();
                Checksum(buffer, bytes, pool);
                seconds[p] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            Array.Sort(seconds);
            return new ReadBandwidthResult(bytes / seconds[passes / 2] / 1e9, bytes, pool.Threads, passes);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>Wrapping sum of the 64-bit words of <paramref name="data"/> (length a multiple of <see cref="ChunkBytes"/>), read by the pool.</summary>
    internal static ulong Checksum(byte* data, long length, WorkerPool pool)
    {
        if (length % ChunkBytes != 0) throw new ArgumentException($"Length must be a multiple of {ChunkBytes} bytes.", nameof(length));
        var work = new SumChunks { Data = data };
        pool.For(checked((int)(length / ChunkBytes)), ref work);
        return work.Total;
    }

    private struct SumChunks : IParallelWork
    {
        public byte* Data;
        private long total;

        public readonly ulong Total => (ulong)Volatile.Read(ref Unsafe.AsRef(in total));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int start, int end)
        {
            ulong sum = 0;
            for (int c = start; c < end; c++) sum += SumWords(Data + (long)c * ChunkBytes, ChunkBytes);
            Interlocked.Add(ref total, (long)sum);
        }
    }

    /// <summary>Four independent accumulators so the adds never wait on each other; loads are the only limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static ulong SumWords(byte* p, int length)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < length; i += 128)
            {
                a0 += Vector256.Load((ulong*)(p + i));
                a1 += Vector256.Load((ulong*)(p + i + 32));
                a2 += Vector256.Load((ulong*)(p + i + 64));
                a3 += Vector256.Load((ulong*)(p + i + 96));
            }
            return Vector256.Sum(a0 + a1 + a2 + a3);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < length; i += 64)
            {
                a0 += Vector128.Load((ulong*)(p + i));
                a1 += Vector128.Load((ulong*)(p + i + 16));
                a2 += Vector128.Load((ulong*)(p + i + 32));
                a3 += Vector128.Load((ulong*)(p + i + 48));
            }
            return Vector128.Sum(a0 + a1 + a2 + a3);
        }
        ulong sum = 0;
        for (int i = 0; i < length; i += 8) sum += *(ulong*)(p + i);
        return sum;
    }
}
