namespace Suiron.Tests;

/// <summary>What code allocates on the calling thread: a deterministic measure for allocation and growth tests.</summary>
internal static class ThreadAllocation
{
    /// <summary>Bytes the calling thread allocates while <paramref name="work"/> runs once (warm the JIT on other input first).</summary>
    public static long Bytes(Action work)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        work();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>
    /// Bytes a warm code path allocates, the least over <paramref name="rounds"/> runs of <paramref name="round"/>.
    /// ArrayPool&lt;T&gt;.Shared drops the arrays it caches per thread on a gen-2 collection, which other tests running in
    /// parallel trigger at any moment, so a round of calls that rents may allocate one array once; a path that allocates
    /// per call allocates in every round. The least is therefore zero exactly when the path allocates nothing in steady state.
    /// </summary>
    public static long SteadyStateBytes(Action round, int rounds = 3)
    {
        long least = long.MaxValue;
        for (int i = 0; i < rounds && least != 0; i++) least = Math.Min(least, Bytes(round));
        return least;
    }
}
