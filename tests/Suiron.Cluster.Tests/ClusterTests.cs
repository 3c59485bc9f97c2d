using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.TestingHost;
using Suiron.Inference;
using Suiron.Server;

namespace Suiron.Cluster.Tests;

/// <summary>
/// Three silos in one process (Orleans' TestingHost), each a replica with its own scheduler over stories260K. Requests
/// enter through <see cref="ClusterEntry"/> on a chosen silo, as HTTP requests enter a node; which replica served them
/// and how much of their prompt its scheduler reused come back in the response.
/// </summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private InProcessTestCluster _cluster = null!;
    private readonly Dictionary<string, (LocalModel Model, SchedulerReplicaBackend Backend, ServerState State)> _replicas = new();

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((options, silo) =>
        {
            var model = LocalModel.Load(SharedData.Path("models", "stories260K.gguf"), new LocalModelOptions { Slots = 4, Model = new Suiron.Models.ModelOptions { Threads = 1 } });
            var backend = new SchedulerReplicaBackend(model, options.SiloName);
            var state = new ServerState(model, new SuironServerOptions());
            lock (_replicas) _replicas[options.SiloName] = (model, backend, state);
            silo.AddSuironReplica();
            silo.Services.AddSingleton<IReplicaBackend>(backend);
            silo.Services.AddSingleton(state);
            silo.Services.AddSingleton(sp => new ClusterEntry(state, sp.GetRequiredService<ReplicaRouter>(), sp.GetRequiredService<ClusterView>(),
                sp.GetRequiredService<PrefixPublisher>(), sp.GetRequiredService<ClusterMetrics>(), sp.GetRequiredService<IGrainFactory>(),
                sp.GetRequiredService<ReplicaServices>(), localBackend: null, NullLogger<ClusterEntry>.Instance));
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        await WaitForMembersAsync(_cluster.Silos, 3);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        foreach (var replica in _replicas.Values) replica.Model.Dispose();
    }

    [Fact]
    public async Task Follow_ups_go_to_the_replica_holding_the_longest_prefix()
    {
        var entries = _cluster.Silos.ToArray();
        int followUps = 0, held = 0;
        for (int conversation = 0; conversation < 6; conversation++)
        {
            string prompt = $"Once upon a time, there was a little girl named {Names[conversation]}. She had a red ball and she liked to play in the park with her dog.";
            var first = await SendAsync(entries[conversation % 3], prompt);
            Assert.True(first.Complete, first.Body);
            string text = prompt + first.Text;
            for (int turn = 1; turn < 4; turn++)
            {
                text += $" Then {Names[conversation]} went home.";
                // A different entry each turn: every node must know where the conversation lives.
                var reply = await SendAsync(entries[(conversation + turn) % 3], text);
                Assert.True(reply.Complete, reply.Body);
                followUps++;
                int promptTokens = Tokens(text).Length;
                // The scheduler's own count: the replica reused at least the first turn's prompt, so it is the one holding it.
                if (reply.Replica == first.Replica && reply.Cached >= Tokens(prompt).Length - 1) held++;
                Assert.True(reply.Cached < promptTokens, "reuse stops before the prompt's last token");
                text += reply.Text;
            }
        }
        Assert.Equal(followUps, held);
    }

    [Fact]
    public async Task A_silo_stopped_mid_stream_ends_its_streams_with_an_error_its_other_requests_are_retried_and_it_is_forgotten()
    {
        var entry = _cluster.Silos[0];
        // Place a conversation on a replica other than the entry, so its follow-up is relayed through the cluster.
        string prompt = "";
        Reply first = default;
        for (int i = 0; i < 12 && (first.Replica is null || first.Replica == entry.Name); i++)
        {
            prompt = $"Once upon a time, there was a boy named {Names[i % Names.Length]} number {i}. He had a big blue car and he liked to drive it around the garden.";
            first = await SendAsync(entry, prompt);
        }
        var victim = _cluster.Silos.Single(s => s.Name == first.Replica);
        Assert.NotSame(entry, victim);
        foreach (var replica in _replicas.Values) replica.Backend.StepDelay = TimeSpan.FromMilliseconds(300);

        // A follow-up streams from the victim; the victim is killed once the first piece has reached the client.
        var body = new FirstWriteStream();
        var running = SendAsync(entry, prompt + first.Text + " Then he went home.", body);
        await body.FirstWrite.WaitAsync(TimeSpan.FromSeconds(30));
        await _cluster.KillSiloAsync(victim);
        var cut = await running.WaitAsync(TimeSpan.FromSeconds(60)); // never a hang
        Assert.Contains("\"code\":\"replica_lost\"", cut.Body);
        Assert.EndsWith("data: [DONE]\n\n", cut.Body);

        // The same conversation again, before and after membership drops the victim: served whole by a survivor.
        foreach (var replica in _replicas.Values) replica.Backend.StepDelay = TimeSpan.Zero;
        var again = await SendAsync(entry, prompt + first.Text + " Then he went home.").WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(again.Complete, again.Body);
        Assert.NotEqual(victim.Name, again.Replica);

        var survivors = _cluster.Silos.Where(s => s != victim).ToArray();
        await WaitForMembersAsync(survivors, 2);
        string victimId = victim.SiloAddress.ToParsableString();
        var grains = survivors[0].ServiceProvider.GetRequiredService<IGrainFactory>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        int remembered;
        do
        {
            await Task.Delay(250);
            remembered = 0;
            for (int shard = 0; shard < ClusterSettings.DirectoryShards; shard++)
                remembered += (await grains.GetGrain<IPrefixDirectoryGrain>(shard).GetStatsAsync()).BlocksByReplica.GetValueOrDefault(victimId);
        } while (remembered > 0 && DateTime.UtcNow < deadline);
        Assert.Equal(0, remembered);
    }

    private static readonly string[] Names = ["Lily", "Tom", "Sue", "Max", "Ben", "Anna"];

    private readonly record struct Reply(string Body, string Text, string? Replica, int Cached, bool Complete);

    private int[] Tokens(string text) => _replicas.Values.First().Model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);

    /// <summary>POST /v1/completions through <see cref="ClusterEntry"/> on <paramref name="entry"/>.</summary>
    private async Task<Reply> SendAsync(InProcessSiloHandle entry, string prompt, Stream? body = null)
    {
        var services = entry.ServiceProvider;
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = "POST";
        context.Request.Path = "/v1/completions";
        context.Request.ContentType = "application/json";
        context.Request.Body = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(new { model = "default", prompt, stream = true }));
        var output = body ?? new MemoryStream();
        context.Response.Body = output;
        var local = _replicas[entry.Name];
        await services.GetRequiredService<ClusterEntry>().InvokeAsync(context,
            c => local.Backend.ServeLocallyAsync(c, Tokens(prompt)));
        string text = Encoding.UTF8.GetString(((MemoryStream)output).ToArray());
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        string? replica = null;
        int cached = -1;
        var generated = new StringBuilder();
        foreach (string data in events)
        {
            if (data.StartsWith("replica=", StringComparison.Ordinal))
            {
                var parts = data.Split(' ');
                replica = parts[0]["replica=".Length..];
                cached = int.Parse(parts[1]["cached=".Length..]);
            }
            else if (data != "[DONE]" && !data.StartsWith('{')) generated.Append(data);
        }
        return new Reply(text, generated.ToString(), replica, cached, replica is not null && text.EndsWith("data: [DONE]\n\n", StringComparison.Ordinal));
    }

    private static async Task WaitForMembersAsync(IEnumerable<InProcessSiloHandle> silos, int members)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        foreach (var silo in silos)
        {
            var view = silo.ServiceProvider.GetRequiredService<ClusterView>();
            while (view.Members.Count(m => m.Load is not null) != members || view.Members.Count != members)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"{silo.Name} sees {view.Members.Count} members, not {members}.");
                await Task.Delay(100);
            }
        }
    }

    /// <summary>A response body that tells when the first bytes arrive.</summary>
    private sealed class FirstWriteStream : MemoryStream
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task FirstWrite => _first.Task;

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            var task = base.WriteAsync(buffer, offset, count, cancellationToken);
            if (count > 0) _first.TrySetResult();
            return task;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var task = base.WriteAsync(buffer, cancellationToken);
            if (buffer.Length > 0) _first.TrySetResult();
            return task;
        }
    }
}
