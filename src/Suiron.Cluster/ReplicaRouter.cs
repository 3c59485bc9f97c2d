namespace Suiron.Cluster;

/// <summary>Where a request goes: replicas to try in order, and how many leading blocks of its prompt the first holds.</summary>
internal sealed record Route(IReadOnlyList<string> Replicas, int MatchedBlocks, int PromptBlocks);

/// <summary>
/// Picks the replica for a prompt: the one the prefix directory says holds the longest run of its leading blocks
/// (the least busy of those that tie), unless that run is under half the prompt or more than
/// <see cref="ClusterSettings.QueueThreshold"/> requests already wait there; otherwise the least busy. The rest follow
/// by busy-ness, for retries.
/// </summary>
internal sealed class ReplicaRouter(IGrainFactory grains, ClusterView view, ClusterSettings settings)
{
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(1);
    private int _rotation;

    public async Task<Route> ChooseAsync(ulong[] blocks)
    {
        var members = view.Members.Where(m => m.Load is not null).ToList();
        if (members.Count == 0) return new Route([view.LocalId], 0, blocks.Length);
        int rotation = (int)((uint)Interlocked.Increment(ref _rotation) % (uint)members.Count);
        // Rotated first, so that ties in busy-ness are broken round robin rather than always to the same replica.
        var rotated = members.Skip(rotation).Concat(members.Take(rotation)).ToList();
        if (settings.Routing == RoutingPolicy.RoundRobin) return new Route(rotated.Select(m => m.Id).ToArray(), 0, blocks.Length);

        var byBusy = rotated.OrderBy(view.Busy).ToList();
        var matched = await LongestPrefixesAsync(blocks);
        ClusterView.Member? best = null;
        int bestBlocks = 0;
        foreach (var member in byBusy)
        {
            int held = matched.GetValueOrDefault(member.Id);
            if (held > bestBlocks) (best, bestBlocks) = (member, held);
        }
        // A match of only a common opening (a shared system prompt, a template's header) is no reason to pile new
        // conversations onto the replicas that happened to serve first: below half the prompt, the least busy wins.
        if (best is not null && bestBlocks * 2 >= blocks.Length && view.Waiting(best) <= settings.QueueThreshold)
            return new Route([best.Id, .. byBusy.Where(m => m != best).Select(m => m.Id)], bestBlocks, blocks.Length);
        return new Route(byBusy.Select(m => m.Id).ToArray(), matched.GetValueOrDefault(byBusy[0].Id), blocks.Length);
    }

    /// <summary>For each replica holding the first block, how many leading blocks it holds without a gap.</summary>
    private async Task<Dictionary<string, int>> LongestPrefixesAsync(ulong[] blocks)
    {
        var run = new Dictionary<string, int>();
        if (blocks.Length == 0) return run;
        int shards = ClusterSettings.DirectoryShards;
        var byShard = Enumerable.Range(0, blocks.Length).GroupBy(i => PrefixBlocks.Shard(blocks[i], shards)).ToArray();
        var holders = new string[blocks.Length][];
        try
        {
            await Task.WhenAll(byShard.Select(async group =>
            {
                int[] indices = group.ToArray();
                var answer = await grains.GetGrain<IPrefixDirectoryGrain>(group.Key).LookupAsync(indices.Select(i => blocks[i]).ToArray());
                for (int j = 0; j < indices.Length; j++) holders[indices[j]] = answer[j];
            })).WaitAsync(LookupTimeout);
        }
        catch (Exception)
        {
            // A shard lost with its silo (until it is placed again) or slow: route on what answered.
        }
        foreach (string replica in holders[0] ?? []) run[replica] = 1;
        for (int i = 1; i < blocks.Length; i++)
            foreach (string replica in holders[i] ?? [])
                if (run.TryGetValue(replica, out int length) && length == i) run[replica] = i + 1;
        return run;
    }
}
