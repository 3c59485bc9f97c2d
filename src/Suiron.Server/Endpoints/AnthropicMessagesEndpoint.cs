using Suiron.Inference;
using Suiron.Server.Contracts;
using Suiron.Server.Streaming;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>
/// POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API (what Claude Code and the Anthropic SDKs
/// speak), translated onto the same <see cref="ChatTurn"/> as chat completions. Errors on these routes take
/// Anthropic's shape (<see cref="ApiError.ToAnthropicResponse"/>); <c>anthropic-version</c> and
/// <c>anthropic-beta</c> headers are accepted whatever their value.
/// </summary>
public static class AnthropicMessagesEndpoint
{
    private const int MaxStopSequences = 64;

    public static RouteGroupBuilder MapAnthropicMessages(this RouteGroupBuilder group)
    {
        group.MapPost("/messages", HandleAsync);
        group.MapPost("/messages/count_tokens", CountTokensAsync);
        return group;
    }

    /// <summary>Whether <paramref name="path"/> is one of these routes (their errors take Anthropic's shape).</summary>
    internal static bool Serves(PathString path) => path.StartsWithSegments("/v1/messages", StringComparison.OrdinalIgnoreCase);

    private static async Task HandleAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.AnthropicMessagesRequest);
        CheckModel(state, request.Model);
        if (request.MaxTokens is not { } maxTokens) throw ApiError.BadParameter("max_tokens", "'max_tokens' is required.");
        if (maxTokens < 1) throw ApiError.BadParameter("max_tokens", $"'max_tokens' must be ≥ 1 (got {maxTokens}).");
        var options = new GenerationOptions
        {
            MaxTokens = maxTokens,
            Sampling = GenerationSupport.Sampling(request.Temperature, request.TopP, request.TopK, seed: request.Seed),
            Stop = StopSequences(request.StopSequences),
            Speculation = GenerationSupport.DefaultSpeculation(state),
        };
        var messages = AnthropicConversation.Messages(request);
        string? prefill = AnthropicConversation.TakePrefill(messages);
        var tools = AnthropicConversation.Tools(request);
        var thinking = AnthropicConversation.Thinking(request, maxTokens);
        ChatTurn turn;
        try
        {
            turn = ChatTurn.Start(state, messages, tools, thinking.Variables, options, logprobs: -1, "messages", "tool_choice",
                thinking.Budget ?? state.Options.ReasoningBudget,
                context.RequestAborted, prefill);
        }
        catch (ApiError e) when (e is { Code: ApiError.ContextLengthExceeded, PromptTokens: { } prompt, ContextTokens: { } limit })
        {
            // Anthropic's wording, which clients read: Claude Code compacts the conversation when it sees it.
            throw new ApiError(400, $"prompt is too long: {prompt} tokens > {limit} maximum (the server's context per slot, prompt and reply together; see --ctx-size).",
                param: e.Param, code: e.Code);
        }
        try
        {
            var builder = new AnthropicReplyBuilder(turn.NewReasoningParser(), turn.NewToolCallParser(), thinking.OmitText);
            if (request.Stream == true) await StreamAsync(context, state, turn, builder);
            else await RespondAsync(context, state, turn, builder);
        }
        finally
        {
            state.Metrics.RecordGeneration(turn.Stream);
        }
    }

    /// <summary>The prompt's tokens as /v1/messages would render them (tools and thinking switch included); nothing is generated.</summary>
    private static async Task CountTokensAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.AnthropicMessagesRequest);
        CheckModel(state, request.Model);
        var messages = AnthropicConversation.Messages(request);
        string? prefill = AnthropicConversation.TakePrefill(messages);
        var tools = AnthropicConversation.Tools(request);
        var thinking = AnthropicConversation.Thinking(request, request.MaxTokens);
        var (_, tokens, _) = ChatTurn.Render(state, messages, tools, thinking.Variables, "messages", prefill);
        await context.Response.WriteAsJsonAsync(new AnthropicTokenCount { InputTokens = tokens.Length }, ServerJsonContext.Web.AnthropicTokenCount,
            contentType: null, context.RequestAborted);
    }

    private static string[] StopSequences(List<string?>? stops)
    {
        if (stops is null) return [];
        if (stops.Count > MaxStopSequences) throw ApiError.BadParameter("stop_sequences", $"'stop_sequences' takes at most {MaxStopSequences} strings (got {stops.Count}).");
        if (stops.Any(s => string.IsNullOrEmpty(s))) throw ApiError.BadParameter("stop_sequences", "'stop_sequences' must be non-empty strings.");
        return stops.ToArray()!;
    }

    private static async Task RespondAsync(HttpContext context, ServerState state, ChatTurn turn, AnthropicReplyBuilder builder)
    {
        await foreach (var step in turn.Stream.WithCancellation(context.RequestAborted)) builder.Push(step);
        if (turn.Stream.Finish == FinishReason.Cancelled)
            throw new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError) { RetryAfterSeconds = 5 };
        var message = new AnthropicMessage
        {
            Id = NewId(),
            Model = state.Model.Id,
            Content = builder.Blocks,
            StopReason = builder.StopReason(turn.Stream),
            StopSequence = turn.Stream.StopSequence,
            Usage = Usage(turn.Stream),
        };
        await context.Response.WriteAsJsonAsync(message, ServerJsonContext.Web.AnthropicMessage, contentType: null, context.RequestAborted);
    }

    /// <summary>
    /// Anthropic's named events: message_start, ping, then per block content_block_start / content_block_delta … /
    /// content_block_stop, then message_delta (stop_reason, usage) and message_stop. A shutdown mid-stream ends it with
    /// an <c>error</c> event (overloaded_error); a client that goes away cancels the generation (the request's token
    /// cancels the sequence, which frees its slot).
    /// </summary>
    private static async Task StreamAsync(HttpContext context, ServerState state, ChatTurn turn, AnthropicReplyBuilder builder)
    {
        var response = context.Response;
        var cancellation = context.RequestAborted;
        var stream = turn.Stream;
        var json = ServerJsonContext.Web;
        await ServerSentEvents.StartAsync(response);
        try
        {
            var start = new AnthropicMessage
            {
                // As Anthropic's: the prompt's count, nothing generated yet (message_delta carries the final usage).
                Id = NewId(), Model = state.Model.Id, Content = [], StopReason = null, StopSequence = null,
                Usage = new AnthropicUsage { InputTokens = stream.PromptTokens - stream.CachedPromptTokens, CacheReadInputTokens = stream.CachedPromptTokens },
            };
            await ServerSentEvents.WriteEventAsync(response, "message_start", new AnthropicMessageStart { Message = start }, json.AnthropicMessageStart, cancellation);
            await ServerSentEvents.WriteEventAsync(response, "ping", new AnthropicSignal { Type = "ping" }, json.AnthropicSignal, cancellation);
            // While the model has nothing to send (the request waits for a slot, a long prompt is evaluated), a ping
            // once the stream has been quiet for StreamKeepAlive. One timer at a time, re-armed for the rest of the
            // interval when something was sent meanwhile, so a fast stream costs nothing more.
            TimeSpan keepAlive = state.Options.StreamKeepAlive;
            long lastSent = System.Diagnostics.Stopwatch.GetTimestamp();
            Task pingDue = Task.Delay(keepAlive, cancellation);
            await using var steps = stream.GetAsyncEnumerator(cancellation);
            while (true)
            {
                var next = steps.MoveNextAsync();
                if (!next.IsCompleted)
                {
                    var waiting = next.AsTask();
                    while (await Task.WhenAny(waiting, pingDue) == pingDue)
                    {
                        await pingDue; // throws when the client went away
                        var quiet = System.Diagnostics.Stopwatch.GetElapsedTime(lastSent);
                        if (quiet >= keepAlive)
                        {
                            await ServerSentEvents.WriteEventAsync(response, "ping", new AnthropicSignal { Type = "ping" }, json.AnthropicSignal, cancellation);
                            lastSent = System.Diagnostics.Stopwatch.GetTimestamp();
                            quiet = TimeSpan.Zero;
                        }
                        pingDue = Task.Delay(keepAlive - quiet, cancellation);
                    }
                    next = new ValueTask<bool>(waiting);
                }
                if (!await next) break;
                var step = steps.Current;
                lastSent = System.Diagnostics.Stopwatch.GetTimestamp();
                if (step.Finish == FinishReason.Cancelled)
                {
                    var error = new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError);
                    await ServerSentEvents.WriteEventAsync(response, "error", error.ToAnthropicResponse(), json.AnthropicErrorResponse, cancellation);
                    return;
                }
                foreach (var e in builder.Push(step))
                {
                    switch (e)
                    {
                        case AnthropicBlockStarted started:
                            await ServerSentEvents.WriteEventAsync(response, "content_block_start",
                                new AnthropicContentBlockStart { Index = started.Index, ContentBlock = started.Block }, json.AnthropicContentBlockStart, cancellation);
                            break;
                        case AnthropicBlockGrew grew:
                            await ServerSentEvents.WriteEventAsync(response, "content_block_delta",
                                new AnthropicContentBlockDelta { Index = grew.Index, Delta = grew.Delta }, json.AnthropicContentBlockDelta, cancellation);
                            break;
                        case AnthropicBlockStopped stopped:
                            await ServerSentEvents.WriteEventAsync(response, "content_block_stop",
                                new AnthropicContentBlockStop { Index = stopped.Index }, json.AnthropicContentBlockStop, cancellation);
                            break;
                    }
                }
                if (step.Finish is not null)
                {
                    var delta = new AnthropicMessageDelta
                    {
                        Delta = new AnthropicStopDelta { StopReason = builder.StopReason(stream), StopSequence = stream.StopSequence },
                        Usage = Usage(stream),
                    };
                    await ServerSentEvents.WriteEventAsync(response, "message_delta", delta, json.AnthropicMessageDelta, cancellation);
                    await ServerSentEvents.WriteEventAsync(response, "message_stop", new AnthropicSignal { Type = "message_stop" }, json.AnthropicSignal, cancellation);
                }
            }
        }
        catch (Exception e) when (cancellation.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away: the scheduler has freed the slot (the same token cancels the sequence).
        }
    }

    private static AnthropicUsage Usage(GenerationStream stream) => new()
    {
        InputTokens = stream.PromptTokens - stream.CachedPromptTokens,
        OutputTokens = stream.GeneratedTokens,
        CacheReadInputTokens = stream.CachedPromptTokens,
    };

    private static string NewId() => "msg_" + Guid.NewGuid().ToString("N")[..24];
}
