using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace Suiron.Cluster;

/// <summary>
/// This node's view of the replicas: the silos Orleans' membership has as active, each with its load as last asked
/// (a few times a second). A silo declared dead leaves the view at the next refresh; one that stops answering is kept
/// out of routing until it answers again.
/// </summary>
internal sealed class ClusterView(IClusterMembershipService membership, ReplicaServices replicas, LocalReplica local) : BackgroundService
{
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LoadTimeout = TimeSpan.FromSeconds(1);

    /// <summary>A member: its load as last reported (null: it did not answer the last time).</summary>
    public sealed record Member(string Id, ReplicaLoad? Load);

    private volatile IReadOnlyList<Member> _members = [];
    private readonly ConcurrentDictionary<string, int> _dispatchedSinceRefresh = new();

    public string LocalId => local.Id;

    /// <summary>Active members, as of the last refresh.</summary>
    public IReadOnlyList<Member> Members => _members;

    /// <summary>Requests waiting on a replica: its reported queue, plus what this node sent it since.</summary>
    public int Waiting(Member member) => (member.Load?.QueueDepth ?? 0) + _dispatchedSinceRefresh.GetValueOrDefault(member.Id);

    /// <summary>Busy-ness for least-loaded routing: requests running and waiting per slot.</summary>
    public double Busy(Member member)
        => member.Load is not { } load ? double.MaxValue
            : (load.ActiveSlots + load.QueueDepth + _dispatchedSinceRefresh.GetValueOrDefault(member.Id)) / (double)Math.Max(1, load.Slots);

    public void Dispatched(string id) => _dispatchedSinceRefresh.AddOrUpdate(id, 1, static (_, n) => n + 1);

    /// <summary>Asks every active member its load now (the background refresh does this continually).</summary>
    public async Task RefreshAsync()
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToParsableString()).OrderBy(id => id, StringComparer.Ordinal).ToArray();
        var loads = await Task.WhenAll(active.Select(AskLoadAsync));
        _dispatchedSinceRefresh.Clear();
        _members = active.Select((id, i) => new Member(id, loads[i])).ToArray();
    }

    private async Task<ReplicaLoad?> AskLoadAsync(string id)
    {
        try
        {
            return await replicas.Of(id).GetLoadAsync().WaitAsync(LoadTimeout);
        }
        catch (Exception)
        {
            return null;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync();
                await Task.Delay(RefreshPeriod, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
