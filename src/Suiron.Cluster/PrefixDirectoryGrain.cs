using Orleans.Runtime;

namespace Suiron.Cluster;

/// <summary>
/// One shard of the prefix directory: for the block hashes that fall to it (<see cref="PrefixBlocks.Shard"/>), which
/// replicas hold them. Kept in memory only: a shard that is lost with its silo comes back empty, and each replica
/// notices (its <see cref="UpdateAsync"/> answers a new epoch) and sends it all its blocks again.
/// </summary>
public interface IPrefixDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Records what <paramref name="replica"/> gained and lost (with <paramref name="replaceAll"/>, <paramref name="added"/>
    /// is all it holds in this shard). Returns the shard activation's epoch.
    /// </summary>
    Task<Guid> UpdateAsync(string replica, ulong[] added, ulong[] removed, bool replaceAll);

    /// <summary>For each hash, the live replicas that hold its block.</summary>
    Task<string[][]> LookupAsync(ulong[] hashes);

    Task<DirectoryShardStats> GetStatsAsync();
}

internal sealed class PrefixDirectoryGrain(IClusterMembershipService membership) : Grain, IPrefixDirectoryGrain
{
    /// <summary>How often replicas that left the cluster are forgotten.</summary>
    private static readonly TimeSpan PurgePeriod = TimeSpan.FromSeconds(2);

    private readonly Guid _epoch = Guid.NewGuid();
    private readonly Dictionary<ulong, List<string>> _holders = new();
    private readonly Dictionary<string, HashSet<ulong>> _blocksByReplica = new();
    private readonly Dictionary<string, SiloAddress> _addresses = new();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(PurgeDeparted, new GrainTimerCreationOptions(PurgePeriod, PurgePeriod) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task<Guid> UpdateAsync(string replica, ulong[] added, ulong[] removed, bool replaceAll)
    {
        if (!_blocksByReplica.TryGetValue(replica, out var blocks)) _blocksByReplica[replica] = blocks = new HashSet<ulong>();
        if (replaceAll)
        {
            foreach (ulong hash in blocks) RemoveHolder(hash, replica);
            blocks.Clear();
        }
        foreach (ulong hash in removed)
            if (blocks.Remove(hash)) RemoveHolder(hash, replica);
        foreach (ulong hash in added)
        {
            if (!blocks.Add(hash)) continue;
            if (!_holders.TryGetValue(hash, out var holders)) _holders[hash] = holders = new List<string>(1);
            holders.Add(replica);
        }
        return Task.FromResult(_epoch);
    }

    public Task<string[][]> LookupAsync(ulong[] hashes)
    {
        var snapshot = membership.CurrentSnapshot;
        var result = new string[hashes.Length][];
        for (int i = 0; i < hashes.Length; i++)
            result[i] = _holders.TryGetValue(hashes[i], out var holders) ? holders.Where(r => !HasLeft(snapshot, Address(r))).ToArray() : [];
        return Task.FromResult(result);
    }

    public Task<DirectoryShardStats> GetStatsAsync()
        => Task.FromResult(new DirectoryShardStats { BlocksByReplica = _blocksByReplica.ToDictionary(p => p.Key, p => p.Value.Count) });

    private Task PurgeDeparted()
    {
        var snapshot = membership.CurrentSnapshot;
        foreach (var replica in _blocksByReplica.Keys.ToArray())
        {
            if (!HasLeft(snapshot, Address(replica))) continue;
            foreach (ulong hash in _blocksByReplica[replica]) RemoveHolder(hash, replica);
            _blocksByReplica.Remove(replica);
            _addresses.Remove(replica);
        }
        return Task.CompletedTask;
    }

    /// <summary>Declared dead or leaving; a silo this shard's view does not know yet (just joined) still counts.</summary>
    private static bool HasLeft(ClusterMembershipSnapshot snapshot, SiloAddress replica)
        => snapshot.GetSiloStatus(replica) is SiloStatus.Dead or SiloStatus.ShuttingDown or SiloStatus.Stopping;

    private SiloAddress Address(string replica)
    {
        if (!_addresses.TryGetValue(replica, out var address)) _addresses[replica] = address = SiloAddress.FromParsableString(replica);
        return address;
    }

    private void RemoveHolder(ulong hash, string replica)
    {
        if (!_holders.TryGetValue(hash, out var holders)) return;
        holders.Remove(replica);
        if (holders.Count == 0) _holders.Remove(hash);
    }
}
