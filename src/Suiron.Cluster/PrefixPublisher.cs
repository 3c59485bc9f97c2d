using Microsoft.Extensions.Hosting;

namespace Suiron.Cluster;

/// <summary>
/// Keeps the prefix directory told what this replica holds: the blocks of every sequence in its prefix cache, plus the
/// prompts of requests it has taken and not yet finished (announced at once, so a conversation's next turn finds this
/// replica even while the current one is still queued). Sends differences; a directory shard that answers a new epoch
/// (it was lost and came back empty) is sent everything again.
/// </summary>
internal sealed class PrefixPublisher(IGrainFactory grains, IReplicaBackend backend, LocalReplica local) : BackgroundService
{
    /// <summary>
    /// How long the publisher waits for the scheduler's signal before looking anyway, and how often, at the longest,
    /// each shard's epoch is checked. A change is sent as soon as it is signalled: a finished reply's blocks must reach
    /// the directory before its client sends the next turn.
    /// </summary>
    private static readonly TimeSpan PollPeriod = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan EpochCheckPeriod = TimeSpan.FromSeconds(3);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly Dictionary<long, ulong[]> _inFlight = new();
    private long _nextInFlight;
    private HashSet<ulong> _published = new();
    private readonly Guid[] _epochs = new Guid[ClusterSettings.DirectoryShards];

    /// <summary>Adds a taken request's prompt blocks to what this replica holds until the returned handle is disposed.</summary>
    public async Task<IDisposable> AnnounceAsync(ulong[] blocks)
    {
        long id;
        lock (_inFlight)
        {
            id = _nextInFlight++;
            _inFlight[id] = blocks;
        }
        try
        {
            await PublishAsync(force: false);
        }
        catch (Exception)
        {
            // A directory shard unreachable (its silo just died): the request is served all the same, and the
            // background round sends the blocks once the shard is placed again.
        }
        return new InFlight(this, id);
    }

    private sealed class InFlight(PrefixPublisher publisher, long id) : IDisposable
    {
        public void Dispose()
        {
            lock (publisher._inFlight) publisher._inFlight.Remove(id);
        }
    }

    /// <summary>
    /// Sends what changed in the prefix cache since the last publication, if anything did: awaited before a response's
    /// bytes go out, so a finished reply's blocks are in the directory before its client can send the next turn.
    /// </summary>
    public Task PublishPendingAsync()
        => backend.PrefixCacheVersion == Volatile.Read(ref _publishedVersion) ? Task.CompletedTask : PublishQuietlyAsync();

    private async Task PublishQuietlyAsync()
    {
        try
        {
            await PublishAsync(force: false);
        }
        catch (Exception)
        {
            // A shard unreachable: the response goes out all the same; the background round retries.
        }
    }

    private long _publishedVersion = -1;

    /// <summary>Sends the directory what changed since the last call; with <paramref name="force"/>, every shard is asked its epoch.</summary>
    public async Task PublishAsync(bool force)
    {
        await _gate.WaitAsync();
        try
        {
            long version = backend.PrefixCacheVersion; // read before the contents: a change after it is sent next time
            var holding = new HashSet<ulong>();
            foreach (int[] sequence in backend.PrefixCacheContents()) holding.UnionWith(PrefixBlocks.Hashes(sequence));
            lock (_inFlight)
                foreach (ulong[] blocks in _inFlight.Values) holding.UnionWith(blocks);

            int shards = _epochs.Length;
            var added = new List<ulong>[shards];
            var removed = new List<ulong>[shards];
            for (int s = 0; s < shards; s++) { added[s] = new(); removed[s] = new(); }
            foreach (ulong hash in holding)
                if (!_published.Contains(hash)) added[PrefixBlocks.Shard(hash, shards)].Add(hash);
            foreach (ulong hash in _published)
                if (!holding.Contains(hash)) removed[PrefixBlocks.Shard(hash, shards)].Add(hash);

            var calls = new List<Task>();
            for (int s = 0; s < shards; s++)
            {
                if (!force && added[s].Count == 0 && removed[s].Count == 0 && _epochs[s] != Guid.Empty) continue;
                calls.Add(UpdateShardAsync(s, added[s], removed[s], holding));
            }
            await Task.WhenAll(calls);
            _published = holding;
            Volatile.Write(ref _publishedVersion, version);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task UpdateShardAsync(int shard, List<ulong> added, List<ulong> removed, HashSet<ulong> holding)
    {
        try
        {
            await SendShardAsync(shard, added, removed, holding);
        }
        catch
        {
            _epochs[shard] = Guid.Empty; // not known what the shard holds now: the next round replaces it all
            throw;
        }
    }

    private async Task SendShardAsync(int shard, List<ulong> added, List<ulong> removed, HashSet<ulong> holding)
    {
        var directory = grains.GetGrain<IPrefixDirectoryGrain>(shard);
        bool replaceAll = _epochs[shard] == Guid.Empty;
        if (replaceAll) added = holding.Where(h => PrefixBlocks.Shard(h, _epochs.Length) == shard).ToList();
        Guid epoch = await directory.UpdateAsync(local.Id, added.ToArray(), replaceAll ? [] : removed.ToArray(), replaceAll);
        if (!replaceAll && epoch != _epochs[shard])
        {
            // The shard was lost and reactivated empty: it gets everything this replica holds in it.
            var all = holding.Where(h => PrefixBlocks.Shard(h, _epochs.Length) == shard).ToArray();
            epoch = await directory.UpdateAsync(local.Id, all, [], replaceAll: true);
        }
        _epochs[shard] = epoch;
    }

    private void Signal()
    {
        try { _changed.Release(); }
        catch (SemaphoreFullException) { } // already signalled: the next round sends this change too
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long seenVersion = -1;
        var lastEpochCheck = DateTime.UtcNow;
        backend.PrefixCacheChanged += Signal;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(PollPeriod, stoppingToken);
                bool force = DateTime.UtcNow - lastEpochCheck > EpochCheckPeriod;
                long version = backend.PrefixCacheVersion;
                if (version == seenVersion && !force) continue;
                await PublishAsync(force);
                seenVersion = version;
                if (force) lastEpochCheck = DateTime.UtcNow;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                backend.PrefixCacheChanged -= Signal;
                return;
            }
            catch (Exception)
            {
                // A shard unreachable for a moment (its silo leaving, the cluster starting): the next round sends the difference again.
            }
        }
    }
}
