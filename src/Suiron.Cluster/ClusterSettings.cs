using System.Net;
using Orleans.Runtime;

namespace Suiron.Cluster;

/// <summary>How the replicas route: by the longest cached prefix (the point of the cluster), or round robin (the baseline it is measured against).</summary>
public enum RoutingPolicy
{
    Prefix,
    RoundRobin,
}

/// <summary>What <c>suiron serve --cluster</c> is told; the same on every node.</summary>
public sealed record ClusterSettings
{
    /// <summary>Shards of the prefix directory (grains keyed 0..n-1); a prompt's lookup asks each shard once, in parallel.</summary>
    public const int DirectoryShards = 8;

    /// <summary>The Redis server that holds the membership table (<c>host:port</c>).</summary>
    public required string Redis { get; init; }

    /// <summary>The cluster's name: nodes with the same name and Redis form one cluster.</summary>
    public required string Name { get; init; }

    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other nodes reach this one by, and the one the silo listens on: loopback unless given.</summary>
    public IPAddress AdvertiseAddress { get; init; } = IPAddress.Loopback;

    public RoutingPolicy Routing { get; init; } = RoutingPolicy.Prefix;

    /// <summary>A replica with more requests than this waiting for a slot is passed over, even holding the prefix.</summary>
    public int QueueThreshold { get; init; } = 4;

    /// <summary>
    /// Parses <c>redis://HOST:PORT</c> (or <c>HOST:PORT</c>) into the <c>host:port</c> the Redis client takes.
    /// </summary>
    public static string ParseRedis(string url)
    {
        string rest = url.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) ? url["redis://".Length..] : url;
        rest = rest.TrimEnd('/');
        int colon = rest.LastIndexOf(':');
        if (rest.Length == 0 || rest.Contains('/') || rest.Contains('@')
            || colon >= 0 && (!int.TryParse(rest[(colon + 1)..], out int port) || port is < 1 or > 65535))
            throw new ArgumentException($"--cluster must be redis://HOST:PORT (got '{url}').");
        return colon >= 0 ? rest : rest + ":6379";
    }
}

/// <summary>This node's replica id: its silo's address.</summary>
internal sealed class LocalReplica(ILocalSiloDetails silo)
{
    public string Id => silo.SiloAddress.ToParsableString();
}
