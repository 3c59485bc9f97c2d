using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

public unsafe class WorkerPoolTests
{
    private struct MarkEach : IParallelWork
    {
        public int* Hits;
        public readonly void Execute(int start, int end)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref Hits[i]);
        }
    }

    private struct Throws : IParallelWork
    {
        public readonly void Execute(int start, int end)
        {
            if (start <= 5 && 5 < end) throw new InvalidOperationException("boom");
        }
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 10)]
    [InlineData(2, 0)]
    [InlineData(2, 1)]
    [InlineData(4, 3)]
    [InlineData(2, 1000)]
    [InlineData(3, 12345)]
    public void Every_index_runs_exactly_once(int threads, int count)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.Threads);
        var hits = new int[Math.Max(count, 1)];
        for (int repeat = 0; repeat < 50; repeat++)
        {
            Array.Clear(hits);
            fixed (int* h = hits)
            {
                var work = new MarkEach { Hits = h };
                pool.For(count, ref work);
            }
            for (int i = 0; i < count; i++) Assert.Equal(1, hits[i]);
        }
    }

    [Fact]
    public void An_exception_in_a_range_reaches_the_caller_and_the_pool_still_works()
    {
        using var pool = new WorkerPool(2);
        var work = new Throws();
        Assert.Throws<InvalidOperationException>(() => pool.For(100, ref work));
        Every_index_runs_exactly_once(2, 100);
        var hits = new int[10];
        fixed (int* h = hits)
        {
            var mark = new MarkEach { Hits = h };
            pool.For(10, ref mark);
        }
        Assert.All(hits, v => Assert.Equal(1, v));
    }

    [Fact]
    public void For_allocates_nothing()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[64];
        fixed (int* h = hits)
        {
            var work = new MarkEach { Hits = h };
            for (int i = 0; i < 100; i++) pool.For(64, ref work); // warm up
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) pool.For(64, ref work);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }
}
