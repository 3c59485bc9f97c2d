namespace Suiron.Tests;

/// <summary>
/// What a warm code path allocates on the calling thread. ArrayPool&lt;T&gt;.Shared drops the arrays it caches per thread
/// on a gen-2 collection, which other tests running in parallel trigger at any moment, so a round of calls that rents
/// may allocate one array once; a path that allocates per call allocates in every round. The least of a few rounds
/// is therefore zero exactly when the path allocates nothing in steady state.
/// </summary>
internal static class SteadyStateAllocation
{
    /// <summary>Bytes <paramref name="round"/> allocates on this thread, the least over <paramref name="rounds"/> runs.</summary>
    public static long Bytes(Action round, int rounds = 3)
    {
        long least = long.MaxValue;
        for (int i = 0; i < rounds && least != 0; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            round();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
