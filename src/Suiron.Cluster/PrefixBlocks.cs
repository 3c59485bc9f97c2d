using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Suiron.Cluster;

/// <summary>
/// A prompt cut into fixed blocks of tokens, each named by a hash chained over every block before it (as vLLM names
/// its KV blocks): equal hashes at position i mean equal prompts up to the end of block i, so the longest run of a
/// prompt's hashes that a replica holds is the prefix it can reuse. The trailing partial block is not named.
/// </summary>
internal static class PrefixBlocks
{
    /// <summary>Tokens per block: small enough that a short chat turn fills one, large enough that a long prompt names few.</summary>
    public const int BlockTokens = 16;

    /// <summary>The hash of each full block of <paramref name="tokens"/>, in order.</summary>
    public static ulong[] Hashes(ReadOnlySpan<int> tokens)
    {
        var hashes = new ulong[tokens.Length / BlockTokens];
        ulong parent = 0;
        for (int i = 0; i < hashes.Length; i++)
        {
            // XxHash3 seeded with the parent's hash: the same block after a different prefix gets a different name.
            parent = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(tokens.Slice(i * BlockTokens, BlockTokens)), unchecked((long)parent));
            hashes[i] = parent;
        }
        return hashes;
    }

    /// <summary>The directory shard that keeps <paramref name="hash"/>.</summary>
    public static int Shard(ulong hash, int shards) => (int)(hash % (ulong)shards);
}
