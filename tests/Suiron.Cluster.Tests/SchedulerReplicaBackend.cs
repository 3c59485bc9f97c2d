using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Suiron.Inference;
using Suiron.Sampling;

namespace Suiron.Cluster.Tests;

/// <summary>
/// A replica without HTTP: the relayed prompt's tokens (as the entry computed them) go straight into this silo's own
/// scheduler over stories260K, greedy, and the reply comes back as server-sent events: one per generated piece, then
/// <c>data: replica=ID cached=N</c> (which replica served it, and how many prompt tokens its scheduler took from its
/// prefix cache: the scheduler's own count, the truth the routing is judged by), then <c>data: [DONE]</c>.
/// </summary>
internal sealed class SchedulerReplicaBackend(LocalModel model, string name) : IReplicaBackend
{
    /// <summary>Pause before each generated piece, so that a test can act while a stream runs.</summary>
    public TimeSpan StepDelay { get; set; }

    public ReplicaLoad Load() => new()
    {
        QueueDepth = model.Scheduler.QueueDepth, ActiveSlots = model.Scheduler.ActiveSlots, Slots = model.Scheduler.SlotCount, HttpAddress = name,
        PromptTokensCached = model.Scheduler.PromptTokensCached, PromptTokensEvaluated = model.Scheduler.PromptTokensEvaluated,
    };

    public IReadOnlyList<int[]> PrefixCacheContents() => model.Scheduler.PrefixCacheContents();

    public long PrefixCacheVersion => model.Scheduler.PrefixCacheVersion;

    public event Action? PrefixCacheChanged
    {
        add => model.Scheduler.PrefixCacheChanged += value;
        remove => model.Scheduler.PrefixCacheChanged -= value;
    }

    public async IAsyncEnumerable<RelayChunk> ServeAsync(RelayRequest request, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var stream = model.Scheduler.Submit(new GenerationRequest(request.Tokens, new GenerationOptions { MaxTokens = 24, Sampling = SamplingOptions.Greedy }), cancellation);
        yield return new RelayChunk { Status = 200, Headers = ["Content-Type", "text/event-stream"], Data = [] };
        await foreach (var step in stream.WithCancellation(cancellation))
        {
            await Task.Delay(StepDelay, cancellation);
            yield return new RelayChunk { Data = Encoding.UTF8.GetBytes($"data: {step.Text.Replace("\n", " ")}\n\n") };
        }
        yield return new RelayChunk { Data = Encoding.UTF8.GetBytes($"data: replica={name} cached={stream.CachedPromptTokens}\n\ndata: [DONE]\n\n") };
    }

    /// <summary>The same events, written straight to a response: what the entry does when it chooses its own replica.</summary>
    public async Task ServeLocallyAsync(HttpContext context, int[] tokens)
    {
        context.Response.ContentType = "text/event-stream";
        await foreach (var chunk in ServeAsync(new RelayRequest { Path = "", Body = [], Headers = [], Blocks = [], Tokens = tokens }, context.RequestAborted))
            await context.Response.Body.WriteAsync(chunk.Data);
    }
}
