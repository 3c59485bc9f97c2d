namespace Suiron.Tests.Tokenization;

/// <summary>A deterministic measure of how much work an encode does, for tests of how it grows with the input.</summary>
internal static class TokenizerWork
{
    /// <summary>Bytes the calling thread allocates while <paramref name="work"/> runs once (warm the JIT on other input first).</summary>
    public static long AllocatedBytes(Action work)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        work();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
