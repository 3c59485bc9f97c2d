using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Suiron.Kernels;

/// <summary>A piece of parallel work: handles the index range [start, end). Implement it on a struct.</summary>
public interface IParallelWork
{
    void Execute(int start, int end);
}

/// <summary>
/// Persistent threads for the kernels: <c>threads - 1</c> workers plus the calling thread, created once.
/// <see cref="For{TWork}"/> hands out index ranges in chunks from a shared counter, so a slow core does less.
/// A call allocates nothing: the work struct is copied to the caller's stack and workers reach it through a
/// pointer and a per-type function pointer, never through a delegate or a boxed interface.
/// Between jobs workers spin briefly (a decode step issues hundreds of small matmuls back to back, and waking
/// a sleeping thread costs tens of microseconds) and then sleep.
/// Not reentrant: a <see cref="For{TWork}"/> issued from inside a work item runs inline on that thread.
/// Calls from several threads at once are serialized.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    [ThreadStatic] private static bool insideWork;

    private readonly Thread[] workers;
    private readonly object callGate = new();
    private readonly object startGate = new();
    private readonly object doneGate = new();

    // The current job, published by bumping `generation`.
    private delegate*<void*, int, int, void> jobRunner;
    private void* jobState;
    private int jobCount;
    private int jobChunk;
    private int nextStart;
    private int workersRunning;
    private int generation;
    private volatile bool disposed;
    private ExceptionDispatchInfo? failure;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"Suiron worker {i + 1}" };
            workers[i].Start();
        }
    }

    /// <summary>Threads that run work, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs <c>work.Execute(start, end)</c> over disjoint ranges covering [0, <paramref name="count"/>) and
    /// returns when all are done. The first exception thrown by any range is rethrown here.
    /// </summary>
    public void For<TWork>(int count, ref TWork work) where TWork : struct, IParallelWork
    {
        if (count <= 0) return;
        ObjectDisposedException.ThrowIf(disposed, this);
        if (Threads == 1 || count == 1 || insideWork)
        {
            work.Execute(0, count);
            return;
        }

        lock (callGate)
        {
            TWork local = work; // on this stack frame, so its address is stable while workers use it
            jobRunner = &Runner<TWork>.Run;
            jobState = Unsafe.AsPointer(ref local);
            jobCount = count;
            // Several chunks per thread balance uneven progress; one chunk per index would cost an atomic each.
            jobChunk = Math.Max(1, count / (Threads * 4));
            nextStart = 0;
            failure = null;
            Volatile.Write(ref workersRunning, workers.Length);
            lock (startGate)
            {
                Interlocked.Increment(ref generation);
                Monitor.PulseAll(startGate);
            }

            try
            {
                RunChunks();
            }
            finally
            {
                WaitForWorkers();
                jobState = null;
            }
            failure?.Throw();
            work = local;
        }
    }

    private void RunChunks()
    {
        insideWork = true;
        try
        {
            int count = jobCount, chunk = jobChunk;
            while (true)
            {
                int start = Interlocked.Add(ref nextStart, chunk) - chunk;
                if (start >= count) break;
                jobRunner(jobState, start, Math.Min(start + chunk, count));
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            Volatile.Write(ref nextStart, int.MaxValue / 2); // stop handing out ranges
        }
        finally
        {
            insideWork = false;
        }
    }

    private void WaitForWorkers()
    {
        long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
        while (Volatile.Read(ref workersRunning) != 0)
        {
            if (Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(8); continue; }
            lock (doneGate)
            {
                while (Volatile.Read(ref workersRunning) != 0) Monitor.Wait(doneGate);
            }
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref generation) == seen && !disposed)
            {
                if (Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(8); continue; }
                lock (startGate)
                {
                    while (Volatile.Read(ref generation) == seen && !disposed) Monitor.Wait(startGate);
                }
            }
            if (disposed) return;
            seen = Volatile.Read(ref generation);

            RunChunks();

            if (Interlocked.Decrement(ref workersRunning) == 0)
            {
                lock (doneGate) Monitor.PulseAll(doneGate);
            }
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        lock (callGate)
        {
            disposed = true;
            lock (startGate) Monitor.PulseAll(startGate);
        }
        foreach (var worker in workers) worker.Join();
    }

    private static class Runner<TWork> where TWork : struct, IParallelWork
    {
        public static void Run(void* state, int start, int end) => Unsafe.AsRef<TWork>(state).Execute(start, end);
    }
}
