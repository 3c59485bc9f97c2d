using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Suiron.Cluster;

/// <summary>What this node did as an entry: requests routed, how many went to a replica holding part of their prompt, retries and broken relays.</summary>
internal sealed class ClusterMetrics
{
    private long _routed, _routedWithBlocks, _prefixHits, _matchedBlocks, _promptBlocks, _relayed, _retries, _relaysBroken;

    public long Routed => Interlocked.Read(ref _routed);
    /// <summary>Routed requests whose prompt had at least one full block and went to a replica holding its first.</summary>
    public long PrefixHits => Interlocked.Read(ref _prefixHits);
    public long RoutedWithBlocks => Interlocked.Read(ref _routedWithBlocks);

    public void CountRoute(Route route)
    {
        Interlocked.Increment(ref _routed);
        Interlocked.Add(ref _promptBlocks, route.PromptBlocks);
        Interlocked.Add(ref _matchedBlocks, route.MatchedBlocks);
        if (route.PromptBlocks > 0) Interlocked.Increment(ref _routedWithBlocks);
        if (route.MatchedBlocks > 0) Interlocked.Increment(ref _prefixHits);
    }

    public void CountRelayed() => Interlocked.Increment(ref _relayed);
    public void CountRetry() => Interlocked.Increment(ref _retries);
    public void CountBrokenRelay() => Interlocked.Increment(ref _relaysBroken);

    public JsonObject Routing() => new()
    {
        ["routed"] = Routed,
        ["relayed"] = Interlocked.Read(ref _relayed),
        ["prefix_hits"] = PrefixHits,
        ["prefix_hit_rate"] = RoutedWithBlocks == 0 ? null : Math.Round(PrefixHits / (double)RoutedWithBlocks, 4),
        ["matched_block_rate"] = Interlocked.Read(ref _promptBlocks) == 0 ? null : Math.Round(Interlocked.Read(ref _matchedBlocks) / (double)Interlocked.Read(ref _promptBlocks), 4),
        ["retries"] = Interlocked.Read(ref _retries),
        ["relays_broken"] = Interlocked.Read(ref _relaysBroken),
    };

    public void Render(StringBuilder o, ClusterView view)
    {
        var c = CultureInfo.InvariantCulture;
        Counter(o, "suiron_cluster_routed_total", "Generation requests this node routed.", Routed);
        Counter(o, "suiron_cluster_routed_with_blocks_total", "Routed requests whose prompt has at least one full block.", RoutedWithBlocks);
        Counter(o, "suiron_cluster_prefix_hits_total", "Routed requests sent to a replica holding the start of their prompt.", PrefixHits);
        Counter(o, "suiron_cluster_prompt_blocks_total", "Prompt blocks of routed requests.", Interlocked.Read(ref _promptBlocks));
        Counter(o, "suiron_cluster_matched_blocks_total", "Prompt blocks the chosen replica held.", Interlocked.Read(ref _matchedBlocks));
        Counter(o, "suiron_cluster_relayed_total", "Requests served by another replica through the cluster.", Interlocked.Read(ref _relayed));
        Counter(o, "suiron_cluster_retries_total", "Requests tried on another replica after the chosen one failed before answering.", Interlocked.Read(ref _retries));
        Counter(o, "suiron_cluster_relays_broken_total", "Relayed responses cut off by their replica leaving; ended with an error event.", Interlocked.Read(ref _relaysBroken));
        var members = view.Members;
        o.Append(c, $"# HELP suiron_cluster_members Active replicas in this node's view.\n# TYPE suiron_cluster_members gauge\nsuiron_cluster_members {members.Count}\n");
        o.Append("# HELP suiron_cluster_replica_queue_depth Requests waiting for a slot, per replica.\n# TYPE suiron_cluster_replica_queue_depth gauge\n");
        foreach (var m in members) o.Append(c, $"suiron_cluster_replica_queue_depth{{replica=\"{m.Id}\"}} {m.Load?.QueueDepth ?? -1}\n");
        o.Append("# HELP suiron_cluster_replica_active_slots Slots generating, per replica.\n# TYPE suiron_cluster_replica_active_slots gauge\n");
        foreach (var m in members) o.Append(c, $"suiron_cluster_replica_active_slots{{replica=\"{m.Id}\"}} {m.Load?.ActiveSlots ?? -1}\n");
    }

    private static void Counter(StringBuilder o, string name, string help, long value)
        => o.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
}
