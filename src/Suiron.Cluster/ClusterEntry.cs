using Microsoft.AspNetCore.Http.Features;
using Orleans.Runtime;
using Suiron.Server;
using Suiron.Server.Contracts;
using Suiron.Server.Endpoints;
using Suiron.Server.Streaming;

namespace Suiron.Cluster;

/// <summary>
/// Where a generation request enters the cluster (after the API key was checked on this node): its prompt is rendered
/// and tokenized as its endpoint would, cut into blocks, routed (<see cref="ReplicaRouter"/>), and either served here
/// or relayed to the chosen replica's <see cref="IReplicaService"/>, which pushes the response back piece by piece to a
/// <see cref="RelaySink"/> here; it is written unchanged, so the client sees the response of an ordinary server. A replica that fails before answering is
/// replaced by the next; one that fails mid-response ends a stream with an error event and <c>data: [DONE]</c>.
/// </summary>
internal sealed class ClusterEntry(ServerState state, ReplicaRouter router, ClusterView view, PrefixPublisher publisher, ClusterMetrics metrics,
    IGrainFactory grains, ReplicaServices replicas, ServerReplicaBackend? localBackend, ILogger<ClusterEntry> log)
{
    /// <summary>Request headers a replica's endpoint reads; the rest stay at the entry.</summary>
    private static readonly string[] ForwardedHeaders = ["Content-Type", "Authorization", "x-api-key", "anthropic-version", "anthropic-beta", "Accept"];
    private const int MaxTries = 3;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !RoutingPrompt.Routes(request.Path)) { await next(context); return; }
        if (localBackend is not null && localBackend.IsRelayedHere(request.Headers[ServerReplicaBackend.RelayHeader]))
        {
            // Relayed here by this node's replica service, which announced the prompt already.
            await ServeHereAsync(context, next);
            return;
        }

        var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted);
        byte[] body = buffer.ToArray();
        request.Body = new MemoryStream(body, writable: false);
        int[]? tokens = RoutingPrompt.Tokens(state, request.Path, body);
        if (tokens is null)
        {
            await next(context); // not a request this server accepts: its endpoint answers the error
            return;
        }
        ulong[] blocks = PrefixBlocks.Hashes(tokens);
        var route = await router.ChooseAsync(blocks);
        metrics.CountRoute(route);
        var headers = new List<string>();
        foreach (string name in ForwardedHeaders)
            foreach (string? value in request.Headers[name])
                if (value is not null) { headers.Add(name); headers.Add(value); }
        var relay = new RelayRequest { Path = request.Path.Value!, Body = body, Headers = headers.ToArray(), Blocks = blocks, Tokens = tokens };

        for (int attempt = 0; attempt < Math.Min(MaxTries, route.Replicas.Count); attempt++)
        {
            string replica = route.Replicas[attempt];
            if (attempt > 0) metrics.CountRetry();
            view.Dispatched(replica); // counted until the next load report, so a burst spreads instead of piling on one replica
            if (replica == view.LocalId)
            {
                using var announced = await publisher.AnnounceAsync(blocks);
                await ServeHereAsync(context, next);
                return;
            }
            if (await RelayAsync(context, replica, relay, lastTry: attempt + 1 >= Math.Min(MaxTries, route.Replicas.Count))) return;
        }
        // Every replica tried failed before answering: this node serves it.
        request.Body = new MemoryStream(body, writable: false);
        using (await publisher.AnnounceAsync(blocks)) await ServeHereAsync(context, next);
    }

    /// <summary>This node's endpoint serves the request, its response passing through <see cref="PublishingResponseBody"/>.</summary>
    private async Task ServeHereAsync(HttpContext context, RequestDelegate next)
    {
        var body = context.Response.Body;
        context.Response.Body = new PublishingResponseBody(body, publisher);
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = body;
        }
    }

    /// <summary>
    /// Relays to <paramref name="replica"/>. False when it failed before anything was written (the caller tries the next
    /// replica); a full queue or a draining replica (429, 503) counts as not started unless it is the last try.
    /// </summary>
    private async Task<bool> RelayAsync(HttpContext context, string replica, RelayRequest relay, bool lastTry)
    {
        var cancellation = context.RequestAborted;
        var response = context.Response;
        bool started = false, eventStream = false;
        var sink = new RelaySink();
        var sinkReference = grains.CreateObjectReference<IRelaySink>(sink);
        using var stopReplica = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        try
        {
            var call = replicas.Of(replica).ServeAsync(relay, sinkReference, stopReplica.Token);
            _ = call.ContinueWith(static (t, state) => ((RelaySink)state!).Complete(t.Exception?.InnerException ?? (t.IsCanceled ? new OperationCanceledException() : null)),
                sink, TaskScheduler.Default);
            await foreach (var chunk in sink.Chunks.ReadAllAsync(cancellation))
            {
                if (!started)
                {
                    if (chunk.Status is 429 or 503 && !lastTry)
                    {
                        stopReplica.Cancel();
                        return false;
                    }
                    response.StatusCode = chunk.Status;
                    var headers = chunk.Headers ?? [];
                    for (int i = 0; i + 1 < headers.Length; i += 2) response.Headers.Append(headers[i], headers[i + 1]);
                    eventStream = response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
                    if (eventStream) context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                    started = true;
                    metrics.CountRelayed();
                }
                if (chunk.Data.Length == 0) continue;
                await response.Body.WriteAsync(chunk.Data, cancellation);
                await response.Body.FlushAsync(cancellation);
            }
            return true;
        }
        catch (Exception) when (cancellation.IsCancellationRequested)
        {
            return true; // the client left; the cancelled call stops the replica's work
        }
        catch (Exception e) when (!started)
        {
            log.LogWarning("Replica {Replica} failed before answering {Path} ({Error}); trying the next", replica, context.Request.Path, e.GetType().Name);
            return false;
        }
        catch (Exception e)
        {
            return await EndBrokenRelayAsync(context, replica, e, eventStream);
        }
        finally
        {
            // A replica still pushing (the client left, or it was passed over) gets a failed push and stops.
            sink.Complete(new OperationCanceledException());
            grains.DeleteObjectReference<IRelaySink>(sinkReference);
        }
    }

    /// <summary>A relay cut off after its response began: a stream ends with an error event (and <c>[DONE]</c>), a JSON body with a reset connection.</summary>
    private async Task<bool> EndBrokenRelayAsync(HttpContext context, string replica, Exception e, bool eventStream)
    {
        log.LogWarning("Replica {Replica} failed while answering {Path} ({Error}); the response ends with an error", replica, context.Request.Path, e.GetType().Name);
        metrics.CountBrokenRelay();
        if (!eventStream)
        {
            context.Abort(); // a half-written JSON body must not look complete
            return true;
        }
        var error = new ApiError(502, "The replica generating this response left the cluster; the response is incomplete. Retry the request.",
            ApiError.ServerError, code: "replica_lost");
        var response = context.Response;
        if (AnthropicMessagesEndpoint.Serves(context.Request.Path))
            await ServerSentEvents.WriteEventAsync(response, "error", error.ToAnthropicResponse(), ServerJsonContext.Web.AnthropicErrorResponse, context.RequestAborted);
        else
        {
            await ServerSentEvents.WriteAsync(response, error.ToResponse(), ServerJsonContext.Web.ErrorResponse, context.RequestAborted);
            await ServerSentEvents.WriteDoneAsync(response, context.RequestAborted);
        }
        return true;
    }
}
