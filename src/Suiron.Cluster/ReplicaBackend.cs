using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Suiron.Inference;
using Suiron.Server;

namespace Suiron.Cluster;

/// <summary>What a node offers the cluster as a replica: its load, what its prefix cache holds, and serving a relayed request.</summary>
public interface IReplicaBackend
{
    ReplicaLoad Load();

    /// <summary>The token sequences the prefix cache holds (see <see cref="Scheduler.PrefixCacheContents"/>).</summary>
    IReadOnlyList<int[]> PrefixCacheContents();

    /// <summary>Changes whenever <see cref="PrefixCacheContents"/> may have.</summary>
    long PrefixCacheVersion { get; }

    /// <summary>Raised when <see cref="PrefixCacheContents"/> changed (from the scheduler's thread: handlers only signal).</summary>
    event Action? PrefixCacheChanged;

    IAsyncEnumerable<RelayChunk> ServeAsync(RelayRequest request, CancellationToken cancellation);
}

/// <summary>
/// The replica inside <c>suiron serve</c>: a relayed request is replayed against this node's own HTTP endpoint on its
/// listening address, marked with a secret only this process knows (<see cref="RelaySecret"/>) so it is served here and
/// not routed again, and the response is read back in the pieces Kestrel writes. The endpoints run exactly as for a
/// client of this node, so a relayed response is the one this node would have given.
/// </summary>
internal sealed class ServerReplicaBackend(ServerState state, IServer server) : IReplicaBackend, IDisposable
{
    public const string RelayHeader = "x-suiron-relay";

    /// <summary>Marks requests that this process relays to itself; random per process, never sent beyond it.</summary>
    public string RelaySecret { get; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Whether a request's relay header holds this process's secret (compared in constant time).</summary>
    public bool IsRelayedHere(Microsoft.Extensions.Primitives.StringValues header)
        => header.Count == 1 && header[0] is { } value && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(value), System.Text.Encoding.ASCII.GetBytes(RelaySecret));

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase) { "Transfer-Encoding", "Connection", "Content-Length", "Date", "Server", "Keep-Alive" };

    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
    private Uri? _address;

    private Scheduler Scheduler => state.Model.Scheduler;

    public ReplicaLoad Load() => new()
    {
        QueueDepth = Scheduler.QueueDepth, ActiveSlots = Scheduler.ActiveSlots, Slots = Scheduler.SlotCount, HttpAddress = Address.ToString(),
        PromptTokensCached = Scheduler.PromptTokensCached, PromptTokensEvaluated = Scheduler.PromptTokensEvaluated, CompletedRequests = Scheduler.CompletedRequests,
    };

    public IReadOnlyList<int[]> PrefixCacheContents() => Scheduler.PrefixCacheContents();

    public long PrefixCacheVersion => Scheduler.PrefixCacheVersion;

    public event Action? PrefixCacheChanged
    {
        add => Scheduler.PrefixCacheChanged += value;
        remove => Scheduler.PrefixCacheChanged -= value;
    }

    /// <summary>This node's HTTP address, an unspecified bind (0.0.0.0, [::]) reached by loopback.</summary>
    private Uri Address => _address ??= new Uri(server.Features.Get<IServerAddressesFeature>()!.Addresses.First()
        .Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));

    public async IAsyncEnumerable<RelayChunk> ServeAsync(RelayRequest request, [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(Address, request.Path)) { Content = new ByteArrayContent(request.Body) };
        for (int i = 0; i + 1 < request.Headers.Length; i += 2)
        {
            if (request.Headers[i].Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.Headers[i + 1]);
            else message.Headers.TryAddWithoutValidation(request.Headers[i], request.Headers[i + 1]);
        }
        message.Headers.TryAddWithoutValidation(RelayHeader, RelaySecret);
        using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellation);
        var headers = new List<string>();
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (HopByHop.Contains(name)) continue;
            foreach (string value in values) { headers.Add(name); headers.Add(value); }
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancellation);
        var buffer = new byte[16 * 1024];
        bool first = true;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellation)) > 0)
        {
            yield return new RelayChunk { Status = (int)response.StatusCode, Headers = first ? headers.ToArray() : null, Data = buffer.AsSpan(0, read).ToArray() };
            first = false;
        }
        if (first) yield return new RelayChunk { Status = (int)response.StatusCode, Headers = headers.ToArray(), Data = [] };
    }

    public void Dispose() => _http.Dispose();
}
