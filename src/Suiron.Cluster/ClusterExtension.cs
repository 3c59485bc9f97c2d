using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Hosting;
using Suiron.Server;

namespace Suiron.Cluster;

/// <summary>
/// Makes a <see cref="SuironServer"/> a replica in a cluster: an Orleans silo in the same host (Redis membership),
/// the routing step before the endpoints (<see cref="ClusterEntry"/>), and the cluster's view in /health and /metrics.
/// </summary>
public sealed class ClusterExtension(ClusterSettings settings) : IServerExtension
{
    public ClusterSettings Settings => settings;

    public void ConfigureHost(WebApplicationBuilder builder)
    {
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        // Probes that time out once on a busy machine are Orleans' business; a silo declared dead is still logged.
        builder.Logging.AddFilter("Orleans.Runtime.MembershipService.SiloHealthMonitor", LogLevel.Error);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(sp => new ServerReplicaBackend(sp.GetRequiredService<ServerState>(), sp.GetRequiredService<IServer>()));
        builder.Services.AddSingleton<IReplicaBackend>(sp => sp.GetRequiredService<ServerReplicaBackend>());
        builder.Services.AddSingleton(sp => new ClusterEntry(sp.GetRequiredService<ServerState>(), sp.GetRequiredService<ReplicaRouter>(),
            sp.GetRequiredService<ClusterView>(), sp.GetRequiredService<PrefixPublisher>(), sp.GetRequiredService<ClusterMetrics>(),
            sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<ReplicaServices>(), sp.GetRequiredService<ServerReplicaBackend>(), sp.GetRequiredService<ILogger<ClusterEntry>>()));
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(settings.Redis);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.Name;
                o.ServiceId = "suiron";
            });
            // Listens on the advertised address only: loopback unless --advertise-address says otherwise.
            silo.ConfigureEndpoints(settings.AdvertiseAddress, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
            silo.AddSuironReplica();
        });
    }

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
        => context.RequestServices.GetRequiredService<ClusterEntry>().InvokeAsync(context, next);

    public JsonObject? Health(IServiceProvider services)
    {
        var view = services.GetRequiredService<ClusterView>();
        var metrics = services.GetRequiredService<ClusterMetrics>();
        var members = new JsonArray();
        long cached = 0, evaluated = 0;
        foreach (var m in view.Members)
        {
            members.Add(new JsonObject
            {
                ["id"] = m.Id,
                ["self"] = m.Id == view.LocalId,
                ["reachable"] = m.Load is not null,
                ["http"] = m.Load?.HttpAddress,
                ["queue_depth"] = m.Load?.QueueDepth,
                ["slots_processing"] = m.Load?.ActiveSlots,
                ["slots"] = m.Load?.Slots,
                ["requests_completed"] = m.Load?.CompletedRequests,
                ["prompt_tokens_cached"] = m.Load?.PromptTokensCached,
                ["prompt_tokens_evaluated"] = m.Load?.PromptTokensEvaluated,
            });
            cached += m.Load?.PromptTokensCached ?? 0;
            evaluated += m.Load?.PromptTokensEvaluated ?? 0;
        }
        return new JsonObject
        {
            ["name"] = settings.Name,
            ["self"] = view.LocalId,
            ["routing"] = settings.Routing == RoutingPolicy.Prefix ? "prefix" : "round-robin",
            ["members"] = members,
            // The schedulers' own count: prompt tokens that came from a prefix cache, over all replicas.
            ["prompt_cache_hit_rate"] = cached + evaluated == 0 ? null : Math.Round(cached / (double)(cached + evaluated), 4),
            ["entry"] = metrics.Routing(),
        };
    }

    public string Metrics(IServiceProvider services)
    {
        var o = new StringBuilder();
        services.GetRequiredService<ClusterMetrics>().Render(o, services.GetRequiredService<ClusterView>());
        return o.ToString();
    }
}

/// <summary>The replica's grains and services on a silo (the server's and the tests' silos alike).</summary>
public static class ReplicaSiloBuilderExtensions
{
    public static ISiloBuilder AddSuironReplica(this ISiloBuilder silo)
    {
        silo.AddGrainService<ReplicaService>();
        silo.Services.AddSingleton<ReplicaServices>();
        silo.Services.AddSingleton<LocalReplica>();
        silo.Services.AddSingleton<ClusterMetrics>();
        silo.Services.AddSingleton<PrefixPublisher>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<PrefixPublisher>());
        silo.Services.AddSingleton<ClusterView>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<ClusterView>());
        silo.Services.AddSingleton<ReplicaRouter>();
        silo.Services.TryAddSingleton(new ClusterSettings { Redis = "", Name = "test" }); // what serve --cluster registers first wins
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            // A replica that stops answering probes is voted dead within seconds, not the defaults' half minute: its
            // requests are retried elsewhere and its directory entries forgotten that much sooner.
            o.ProbeTimeout = TimeSpan.FromSeconds(2);
            o.NumMissedProbesLimit = 3;
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        });
        return silo;
    }
}
