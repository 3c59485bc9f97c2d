using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Suiron.Cli;

/// <summary><c>suiron cluster status</c>: a node's view of its cluster (members, their queues, prefix hit rates), read from its /health.</summary>
internal static class ClusterCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "Any node of the cluster", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var json = new Option<bool>("--json") { Description = "Print the node's cluster object as JSON" };
        var status = new Command("status", "Show the members of the cluster a node belongs to, their queues and the prefix hit rate") { url, json };
        status.SetAction(result => CliErrors.Guard(() => PrintAsync(result.GetValue(url)!, result.GetValue(json)).GetAwaiter().GetResult()));
        var floats = new Option<int>("--floats") { Description = "Floats per hidden state (DeepSeek-V3: 7168)", DefaultValueFactory = _ => 7168 };
        var calls = new Option<int>("--calls") { Description = "Calls timed", DefaultValueFactory = _ => 2000 };
        var port = new Option<int>("--port") { Description = "First of four loopback ports the two silos use", DefaultValueFactory = _ => 21111 };
        var cost = new Command("hidden-state-cost", "Time passing one token's hidden state between two silos over loopback (a layer-parallel stage boundary)") { floats, calls, port };
        cost.SetAction(result => CliErrors.Guard(() =>
        {
            int n = result.GetValue(floats), count = result.GetValue(calls), first = result.GetValue(port);
            if (n is < 1 or > 1 << 24) throw new UsageException($"--floats must be between 1 and {1 << 24} (got {n}).");
            if (count is < 10 or > 1_000_000) throw new UsageException($"--calls must be between 10 and 1000000 (got {count}).");
            if (first is < 1 or > 65532) throw new UsageException($"--port must be between 1 and 65532 (got {first}).");
#if SUIRON_CLUSTER
            var t = Suiron.Cluster.HiddenStateCost.MeasureAsync(n, count, first).GetAwaiter().GetResult();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"hidden state of {t.Floats} floats ({t.Floats * 4 / 1024.0:F1} KiB), {t.Calls} grain calls between two silos on loopback:\n" +
                $"  one at a time: mean {t.MeanMicroseconds:F0} µs, p50 {t.P50Microseconds:F0} µs, p99 {t.P99Microseconds:F0} µs per call\n" +
                $"  16 in flight:  {t.PipelinedMicroseconds:F0} µs per call"));
            return CliErrors.Ok;
#else
            throw new UsageException("hidden-state-cost: " + ClusterOptions.NotInNativeBinary);
#endif
        }));
        return new Command("cluster", "Replicas joined with serve --cluster") { status, cost };
    }

    private static async Task<int> PrintAsync(string url, bool asJson)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            throw new UsageException($"--url must be an http(s) address (got '{url}').");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string body;
        try
        {
            body = await http.GetStringAsync(new Uri(baseUri, "/health"));
        }
        catch (HttpRequestException e) when (e.StatusCode is null)
        {
            Console.Error.WriteLine($"error: cannot reach {baseUri}: {e.Message}");
            return CliErrors.Failure;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"error: {baseUri}health answered {(int)e.StatusCode!}.");
            return CliErrors.Failure;
        }
        if (JsonNode.Parse(body)?["cluster"] is not JsonObject cluster)
        {
            Console.Error.WriteLine($"error: {baseUri} is not in a cluster (started without --cluster).");
            return CliErrors.Failure;
        }
        if (asJson)
        {
            Console.WriteLine(cluster.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return CliErrors.Ok;
        }
        var c = CultureInfo.InvariantCulture;
        var entry = cluster["entry"] as JsonObject;
        Console.WriteLine($"cluster '{cluster["name"]}', routing {cluster["routing"]}, seen from {cluster["self"]}");
        Console.WriteLine(string.Create(c, $"prompt tokens from prefix caches (all replicas): {Percent(cluster["prompt_cache_hit_rate"])}; " +
                                           $"this node routed {entry?["routed"]}, to the prefix holder {Percent(entry?["prefix_hit_rate"])}, retries {entry?["retries"]}, broken relays {entry?["relays_broken"]}"));
        Console.WriteLine($"{"replica",-28} {"http",-24} {"queue",5} {"busy",9} {"done",7} {"cached/evaluated tokens",24}");
        foreach (var member in cluster["members"]?.AsArray() ?? [])
        {
            if (member is null) continue;
            bool reachable = member["reachable"]?.GetValue<bool>() == true;
            string id = member["id"] + (member["self"]?.GetValue<bool>() == true ? " *" : "");
            Console.WriteLine(reachable
                ? $"{id,-28} {member["http"],-24} {member["queue_depth"],5} {member["slots_processing"] + "/" + member["slots"],9} {member["requests_completed"],7} {member["prompt_tokens_cached"] + "/" + member["prompt_tokens_evaluated"],24}"
                : $"{id,-28} {"(not answering)",-24}");
        }
        return CliErrors.Ok;
    }

    private static string Percent(JsonNode? rate) => rate is null ? "n/a" : (rate.GetValue<double>() * 100).ToString("F1", CultureInfo.InvariantCulture) + " %";
}
