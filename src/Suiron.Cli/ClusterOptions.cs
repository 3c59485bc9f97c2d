using System.CommandLine;
using System.Net;
#if SUIRON_CLUSTER
using Suiron.Cluster;
#endif
using Suiron.Server;

namespace Suiron.Cli;

/// <summary>
/// <c>suiron serve --cluster redis://HOST:PORT --cluster-name NAME --silo-port N --gateway-port N [--advertise-address IP]</c>:
/// the flags that make the server a replica in an Orleans cluster (the same on every node but the ports and address).
/// </summary>
internal sealed class ClusterOptions
{
    public Option<string?> Redis { get; } = new("--cluster") { Description = "Join a cluster of replicas whose membership is kept in this Redis (redis://HOST:PORT); requests are routed to the replica holding their prefix" };
    public Option<string> Name { get; } = new("--cluster-name") { Description = "Cluster name: nodes with the same Redis and name form one cluster", DefaultValueFactory = _ => "suiron" };
    public Option<int> SiloPort { get; } = new("--silo-port") { Description = "Port for traffic between nodes", DefaultValueFactory = _ => 11111 };
    public Option<int> GatewayPort { get; } = new("--gateway-port") { Description = "Port for Orleans clients", DefaultValueFactory = _ => 30000 };
    public Option<string?> AdvertiseAddress { get; } = new("--advertise-address") { Description = "Address other nodes reach this one by and the cluster ports listen on (default 127.0.0.1: loopback only)" };
    public Option<string> Routing { get; } = new("--cluster-routing") { Description = "prefix (the replica holding the longest cached prefix) or round-robin (a baseline)", DefaultValueFactory = _ => "prefix" };
    public Option<int> QueueThreshold { get; } = new("--cluster-queue-threshold") { Description = "Requests waiting on the prefix holder beyond which the least busy replica is chosen instead", DefaultValueFactory = _ => 4 };

    public IEnumerable<Option> All => [Redis, Name, SiloPort, GatewayPort, AdvertiseAddress, Routing, QueueThreshold];

    /// <summary>Why this build cannot join a cluster: the native AOT binary is built without Orleans.</summary>
    internal const string NotInNativeBinary =
        "this native binary has no cluster support (Orleans needs the JIT): run the cluster with the .NET tool " +
        "(`dotnet tool install`) or the framework-dependent build of suiron.";

    /// <summary>The cluster extension asked for, or null without <c>--cluster</c>; a bad value → <see cref="UsageException"/>.</summary>
    public IServerExtension? Create(ParseResult result)
    {
        if (result.GetValue(Redis) is not { } redis) return null;
#if !SUIRON_CLUSTER
        throw new UsageException("--cluster: " + NotInNativeBinary);
#else
        string redisEndpoint;
        try { redisEndpoint = ClusterSettings.ParseRedis(redis); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        string name = result.GetValue(Name)!;
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new UsageException($"--cluster-name must be letters, digits, '-', '_' or '.' (got '{name}').");
        int silo = result.GetValue(SiloPort), gateway = result.GetValue(GatewayPort), threshold = result.GetValue(QueueThreshold);
        if (silo is < 1 or > 65535) throw new UsageException($"--silo-port must be between 1 and 65535 (got {silo}).");
        if (gateway is < 1 or > 65535) throw new UsageException($"--gateway-port must be between 1 and 65535 (got {gateway}).");
        if (silo == gateway) throw new UsageException("--silo-port and --gateway-port must differ.");
        if (threshold < 0) throw new UsageException($"--cluster-queue-threshold must be ≥ 0 (got {threshold}).");
        var advertise = IPAddress.Loopback;
        if (result.GetValue(AdvertiseAddress) is { } text && !IPAddress.TryParse(text, out advertise))
            throw new UsageException($"--advertise-address must be an IP address (got '{text}').");
        if (advertise!.Equals(IPAddress.Any) || advertise.Equals(IPAddress.IPv6Any))
            throw new UsageException("--advertise-address must be an address other nodes can reach, not 0.0.0.0 or ::.");
        var routing = result.GetValue(Routing) switch
        {
            "prefix" => RoutingPolicy.Prefix,
            "round-robin" => RoutingPolicy.RoundRobin,
            var other => throw new UsageException($"--cluster-routing must be prefix or round-robin (got '{other}')."),
        };
        return new ClusterExtension(new ClusterSettings
        {
            Redis = redisEndpoint, Name = name, SiloPort = silo, GatewayPort = gateway, AdvertiseAddress = advertise, Routing = routing, QueueThreshold = threshold,
        });
#endif
    }

    /// <summary>The error line for a cluster that could not be joined at start, or null when <paramref name="extension"/> is no cluster.</summary>
    public static string? JoinError(IServerExtension? extension, Exception e) =>
#if SUIRON_CLUSTER
        extension is ClusterExtension cluster
            ? $"error: cannot join the cluster '{cluster.Settings.Name}' (Redis {cluster.Settings.Redis}, silo port {cluster.Settings.SiloPort}): {e.Message}"
            : null;
#else
        null;
#endif

    /// <summary>The banner line of a joined replica, or null when <paramref name="extension"/> is no cluster.</summary>
    public static string? Banner(IServerExtension? extension) =>
#if SUIRON_CLUSTER
        extension is ClusterExtension joined
            ? $"suiron: replica in cluster '{joined.Settings.Name}' (Redis {joined.Settings.Redis}; silo {joined.Settings.AdvertiseAddress}:{joined.Settings.SiloPort}, " +
              $"gateway {joined.Settings.GatewayPort}; routing {(joined.Settings.Routing == RoutingPolicy.Prefix ? "prefix" : "round-robin")})"
            : null;
#else
        null;
#endif
}
