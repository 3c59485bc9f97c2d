using System.Threading.Channels;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Runtime.Services;
using Orleans.Services;

namespace Suiron.Cluster;

/// <summary>
/// One replica (one silo's model and scheduler): an Orleans grain service, of which each silo runs exactly one,
/// addressed by the silo's address. Unlike a grain it is not found through the grain directory, so calls to a replica
/// do not depend on directory partitions that move when another silo dies.
/// </summary>
public interface IReplicaService : IGrainService
{
    /// <summary>
    /// Serves the request on this replica, pushing the response to <paramref name="sink"/> piece by piece as the
    /// replica writes it; completes when the response is complete. Fails when the replica's silo dies (Orleans breaks
    /// calls to a silo declared dead); cancelling it stops the generation.
    /// </summary>
    [ResponseTimeout("01:00:00")] // a long generation; a dead replica is noticed by membership, not by this timeout
    Task ServeAsync(RelayRequest request, IRelaySink sink, CancellationToken cancellation);

    Task<ReplicaLoad> GetLoadAsync();

    /// <summary>
    /// Takes one token's hidden state, as a stage of a layer-parallel model would from the stage before it; answers
    /// its length. Only measured today (<c>suiron cluster hidden-state-cost</c>): the cost of a stage boundary.
    /// </summary>
    Task<int> AcceptHiddenStateAsync(float[] hidden);
}

/// <summary>Where a replica pushes a relayed response: an object on the entry node.</summary>
public interface IRelaySink : IGrainObserver
{
    Task OnChunkAsync(RelayChunk chunk);
}

[Reentrant]
internal sealed class ReplicaService(GrainId id, Silo silo, ILoggerFactory loggers, IReplicaBackend backend, PrefixPublisher publisher)
    : GrainService(id, silo, loggers), IReplicaService
{
    public async Task ServeAsync(RelayRequest request, IRelaySink sink, CancellationToken cancellation)
    {
        using var announced = await publisher.AnnounceAsync(request.Blocks);
        // A sink that fails (the entry node died) ends the loop, and disposing the backend's stream cancels the generation.
        await foreach (var chunk in backend.ServeAsync(request, cancellation)) await sink.OnChunkAsync(chunk);
    }

    public Task<ReplicaLoad> GetLoadAsync() => Task.FromResult(backend.Load());

    public Task<int> AcceptHiddenStateAsync(float[] hidden) => Task.FromResult(hidden.Length);
}

/// <summary>The entry node's end of a relay: pieces queue here (a few, for back-pressure) until written to the client.</summary>
internal sealed class RelaySink : IRelaySink
{
    private readonly Channel<RelayChunk> _chunks = Channel.CreateBounded<RelayChunk>(new BoundedChannelOptions(16) { SingleReader = true });

    public ChannelReader<RelayChunk> Chunks => _chunks.Reader;

    public Task OnChunkAsync(RelayChunk chunk) => _chunks.Writer.WriteAsync(chunk).AsTask();

    /// <summary>The replica's call ended: after the queued pieces, the reader sees the end or <paramref name="error"/>.</summary>
    public void Complete(Exception? error) => _chunks.Writer.TryComplete(error);
}

/// <summary>Reaches the replica service of a given silo (replica ids are silo addresses, <see cref="SiloAddress.ToParsableString"/>).</summary>
internal sealed class ReplicaServices(IServiceProvider services) : GrainServiceClient<IReplicaService>(services)
{
    public IReplicaService Of(string replica) => GetGrainService(SiloAddress.FromParsableString(replica));
}
