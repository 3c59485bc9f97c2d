using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Suiron.Server;

namespace Suiron.Cluster;

/// <summary>Round trips of one token's hidden state between two silos, as <see cref="HiddenStateCost.MeasureAsync"/> times them.</summary>
public sealed record HiddenStateTimings(int Floats, int Calls, double MeanMicroseconds, double P50Microseconds, double P99Microseconds, double PipelinedMicroseconds);

/// <summary>
/// What a stage boundary of a layer-parallel model would cost on this cluster: two silos in this process, talking over
/// loopback TCP exactly as two nodes do (Orleans' serializer, its connection, one grain call per token), one passing
/// the other a hidden state of <c>floats</c> floats per call. Sequential calls give the per-token latency a pipeline
/// adds per boundary when decoding one sequence; many calls in flight give the cost per token when it is kept busy.
/// </summary>
public static class HiddenStateCost
{
    public static async Task<HiddenStateTimings> MeasureAsync(int floats, int calls, int basePort)
    {
        using var first = StartSilo(basePort, basePort + 1, basePort);
        await first.StartAsync();
        using var second = StartSilo(basePort + 2, basePort + 3, basePort);
        await second.StartAsync();
        try
        {
            var view = first.Services.GetRequiredService<ClusterView>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (view.Members.Count(m => m.Load is not null) < 2)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("The second silo did not join within a minute.");
                await Task.Delay(100);
            }
            string other = view.Members.Single(m => m.Id != view.LocalId).Id;
            var target = first.Services.GetRequiredService<ReplicaServices>().Of(other);
            var hidden = new float[floats];
            new Random(1).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(hidden.AsSpan()));
            for (int i = 0; i < Math.Min(200, calls); i++) await target.AcceptHiddenStateAsync(hidden); // connection, JIT

            var times = new double[calls];
            for (int i = 0; i < calls; i++)
            {
                long start = Stopwatch.GetTimestamp();
                int length = await target.AcceptHiddenStateAsync(hidden);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (length != floats) throw new InvalidOperationException($"The other silo received {length} floats, not {floats}.");
            }
            Array.Sort(times);

            const int inFlight = 16;
            long all = Stopwatch.GetTimestamp();
            var pending = new List<Task<int>>(inFlight);
            for (int i = 0; i < calls; i++)
            {
                pending.Add(target.AcceptHiddenStateAsync(hidden));
                if (pending.Count == inFlight) { await Task.WhenAll(pending); pending.Clear(); }
            }
            await Task.WhenAll(pending);
            double pipelined = Stopwatch.GetElapsedTime(all).TotalMicroseconds / calls;
            return new HiddenStateTimings(floats, calls, times.Average(), times[calls / 2], times[(int)(calls * 0.99)], pipelined);
        }
        finally
        {
            await second.StopAsync();
            await first.StopAsync();
        }
    }

    private static IHost StartSilo(int siloPort, int gatewayPort, int primaryPort)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IReplicaBackend, IdleReplicaBackend>();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, primaryPort), "suiron", "hidden-state-cost");
            silo.AddSuironReplica();
        });
        return builder.Build();
    }

    /// <summary>A replica with no model: it only receives hidden states.</summary>
    private sealed class IdleReplicaBackend : IReplicaBackend
    {
        public ReplicaLoad Load() => new() { Slots = 1 };
        public IReadOnlyList<int[]> PrefixCacheContents() => [];
        public long PrefixCacheVersion => 0;
        public event Action? PrefixCacheChanged { add { } remove { } }
        public IAsyncEnumerable<RelayChunk> ServeAsync(RelayRequest request, CancellationToken cancellation) => throw new NotSupportedException("This replica has no model.");
    }
}
