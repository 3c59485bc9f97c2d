using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Suiron.Kernels;

/// <summary>A piece of parallel work: handles the index range [start, end). Implement it on a struct.</summary>
public interface IParallelWork
{
    /// <summary>Handles the indices from <paramref name="start"/> up to <paramref name="end"/> (excluded).</summary>
    void Execute(int start, int end);
}

/// <summary>
/// Persistent threads for the kernels: <c>threads - 1</c> workers plus the calling thread, created once.
/// <see cref="For{TWork}(int, ref TWork)"/> hands out index ranges in chunks from a shared counter, so a slow core does less.
/// A call allocates nothing and takes no lock on the fast path: the work struct is copied to the caller's stack,
/// published by bumping a generation counter that workers spin on, and reached through a pointer and a per-type
/// function pointer (never a delegate or a boxed interface). The caller runs chunks too, then closes the job and
/// waits only for workers that actually joined it, so a worker that is slow to wake never delays a call.
/// Workers spin (pause, with an occasional yield so an oversubscribed machine keeps moving) for
/// <see cref="SpinMilliseconds"/> after their last job — a decode step issues hundreds of matmuls back to back,
/// and waking a sleeping thread costs tens of microseconds — and then sleep until the next job.
/// Not reentrant: a <see cref="For{TWork}(int, ref TWork)"/> issued from inside a work item runs inline on that thread.
/// Calls from several threads at once are serialized.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    /// <summary>How long an idle worker spins before it sleeps.</summary>
    public const int SpinMilliseconds = 10;

    private static readonly long SpinTicks = Stopwatch.Frequency * SpinMilliseconds / 1000;

    [ThreadStatic] private static bool insideWork;

    private readonly Thread[] workers;
    private readonly object callGate = new();
    private readonly object sleepGate = new();

    // The current job, written by the caller before it bumps `generation`.
    private delegate*<void*, int, int, void> jobRunner;
    private void* jobState;
    private int jobCount;
    private int jobChunk;
    private ExceptionDispatchInfo? failure;
    private volatile bool disposed;

    // Each counter on its own cache line: workers hammer `generation` while spinning.
    private PaddedInt generation;  // number of the latest job
    private PaddedInt closed;      // number of the latest job that takes no more workers
    private PaddedInt nextStart;   // next index to hand out
    private PaddedInt active;      // workers inside the current job
    private PaddedInt sleepers;    // workers blocked in Monitor.Wait

    /// <summary>A pool that splits work over <paramref name="threads"/> threads.</summary>
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
        => For(count, ref work, long.MaxValue);

    /// <summary>
    /// Like <see cref="For{TWork}(int, ref TWork)"/>, but runs inline on the caller when <paramref name="cost"/>
    /// (multiply-adds or a comparable unit) is below <see cref="MinParallelCost"/>: a handful of microseconds of
    /// work gains nothing from a second thread.
    /// </summary>
    public void For<TWork>(int count, ref TWork work, long cost) where TWork : struct, IParallelWork
    {
        if (count <= 0) return;
        ObjectDisposedException.ThrowIf(disposed, this);
        if (Threads == 1 || count == 1 || insideWork || cost < MinParallelCost)
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
            failure = null;
            nextStart.Value = 0;
            int job = Interlocked.Increment(ref generation.Value); // publishes the fields above
            if (Volatile.Read(ref sleepers.Value) != 0)
            {
                lock (sleepGate) Monitor.PulseAll(sleepGate);
            }

            RunChunks();

            // No worker may join from now on; wait for those inside (they are finishing their last chunk).
            Interlocked.Exchange(ref closed.Value, job);
            int spins = 0;
            while (Volatile.Read(ref active.Value) != 0)
            {
                if (++spins < 64) Thread.SpinWait(1);
                else { Thread.Yield(); spins = 0; }
            }
            jobState = null;
            failure?.Throw();
            work = local;
        }
    }

    /// <summary>Below this many multiply-adds a call runs on the caller alone.</summary>
    public const long MinParallelCost = 48 * 1024;

    private void RunChunks()
    {
        insideWork = true;
        try
        {
            int count = jobCount, chunk = jobChunk;
            var runner = jobRunner;
            void* state = jobState;
            while (true)
            {
                int start = Interlocked.Add(ref nextStart.Value, chunk) - chunk;
                if (start >= count) break;
                runner(state, start, Math.Min(start + chunk, count));
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            Volatile.Write(ref nextStart.Value, int.MaxValue / 2); // stop handing out ranges
        }
        finally
        {
            insideWork = false;
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            int job = WaitForJob(seen);
            if (job < 0) return;
            seen = job;

            // Join only a job that is still open: the caller closes it before waiting for `active` to drain,
            // so a worker that saw it late never touches a job state that has gone.
            Interlocked.Increment(ref active.Value);
            if (Volatile.Read(ref generation.Value) == job && Volatile.Read(ref closed.Value) != job)
                RunChunks();
            Interlocked.Decrement(ref active.Value);
        }
    }

    /// <summary>Spins, then sleeps, until a job newer than <paramref name="seen"/> is published; -1 once disposed.</summary>
    private int WaitForJob(int seen)
    {
        long idleSince = Stopwatch.GetTimestamp();
        int spins = 0;
        while (true)
        {
            int job = Volatile.Read(ref generation.Value);
            if (job != seen) return job;
            if (disposed) return -1;
            spins++;
            if ((spins & 63) != 0)
            {
                Thread.SpinWait(1);
                continue;
            }
            if (Stopwatch.GetTimestamp() - idleSince < SpinTicks)
            {
                Thread.Yield(); // lets another runnable thread (the caller, when cores are oversubscribed) have the core
                continue;
            }

            // Long idle: sleep. Incrementing `sleepers` before rechecking under the lock pairs with the caller's
            // increment of `generation` before it reads `sleepers`, so a job is never missed.
            Interlocked.Increment(ref sleepers.Value);
            lock (sleepGate)
            {
                while (Volatile.Read(ref generation.Value) == seen && !disposed) Monitor.Wait(sleepGate);
            }
            Interlocked.Decrement(ref sleepers.Value);
            idleSince = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        if (disposed) return;
        lock (callGate)
        {
            disposed = true;
            lock (sleepGate) Monitor.PulseAll(sleepGate);
        }
        foreach (var worker in workers) worker.Join();
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedInt
    {
        [FieldOffset(64)] public int Value;
    }

    private static class Runner<TWork> where TWork : struct, IParallelWork
    {
        public static void Run(void* state, int start, int end) => Unsafe.AsRef<TWork>(state).Execute(start, end);
    }
}
