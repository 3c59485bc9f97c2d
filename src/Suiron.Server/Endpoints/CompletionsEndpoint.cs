using System.Text;
using System.Text.Json;
using Suiron.Inference;
using Suiron.Server.Contracts;
using Suiron.Server.Streaming;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>POST /v1/completions: continue a raw prompt (BOS added as the vocabulary asks, special-token text parsed, as llama.cpp's server does).</summary>
public static class CompletionsEndpoint
{
    public static RouteGroupBuilder MapCompletions(this RouteGroupBuilder group)
    {
        group.MapPost("/completions", HandleAsync);
        return group;
    }

    private static async Task HandleAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.CompletionRequest);
        CheckModel(state, request.Model);
        var options = Options(state, request, request.MaxTokens ?? 16, "max_tokens"); // OpenAI's default for completions
        if (request.Logprobs is < 0 or > 20) throw ApiError.BadParameter("logprobs", $"'logprobs' must be between 0 and 20 (got {request.Logprobs}).");
        if (request.Echo == true) throw ApiError.BadParameter("echo", "'echo' is not supported.");
        int[] tokens = PromptTokens(state, request.Prompt);
        var stream = Submit(state, tokens, options, request.Logprobs ?? -1, "prompt", context.RequestAborted);
        try
        {
            if (request.Stream == true) await StreamAsync(context, state, stream, request.StreamOptions?.IncludeUsage == true);
            else await RespondAsync(context, state, stream, request.Logprobs is not null);
        }
        finally
        {
            state.Metrics.RecordGeneration(stream);
        }
    }

    internal static int[] PromptTokens(ServerState state, JsonElement? prompt)
    {
        const string invalid = "'prompt' must be a string, a list of one string, or a list of token ids.";
        if (prompt is not { } element || element.ValueKind == JsonValueKind.Null) throw ApiError.BadParameter("prompt", "'prompt' is required.");
        if (element.ValueKind == JsonValueKind.String) return Encode(state, element.GetString()!);
        if (element.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("prompt", invalid);
        int length = element.GetArrayLength();
        if (length == 0) throw ApiError.BadParameter("prompt", "'prompt' is empty.");
        var first = element[0];
        if (first.ValueKind == JsonValueKind.String)
        {
            if (length > 1) throw ApiError.BadParameter("prompt", $"Only one prompt per request is supported (got {length}).");
            return Encode(state, first.GetString()!);
        }
        var ids = new int[length];
        int vocab = state.Model.Model.Info.VocabSize, i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id)) throw ApiError.BadParameter("prompt", invalid);
            if ((uint)id >= (uint)vocab) throw ApiError.BadParameter("prompt", $"Token id {id} is outside the vocabulary (0..{vocab - 1}).");
            ids[i++] = id;
        }
        return ids;
    }

    private static int[] Encode(ServerState state, string text)
    {
        int[] tokens = state.Model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);
        if (tokens.Length == 0) throw ApiError.BadParameter("prompt", "'prompt' is empty.");
        return tokens;
    }

    private static CompletionLogprobs? Logprobs(ServerState state, IEnumerable<GenerationStep> steps, int textOffset)
    {
        var result = new CompletionLogprobs();
        foreach (var step in steps)
        {
            if (step.Logprobs is not { } lp) continue;
            string token = TokenText(state, lp.Token).Text;
            result.Tokens.Add(token);
            result.TokenLogprobs.Add(lp.Logprob);
            var top = new Dictionary<string, float>();
            foreach (var t in lp.Top) top.TryAdd(TokenText(state, t.Token).Text, t.Logprob);
            result.TopLogprobs.Add(top);
            result.TextOffset.Add(textOffset);
            textOffset += token.Length;
        }
        return result;
    }

    private static async Task RespondAsync(HttpContext context, ServerState state, GenerationStream stream, bool logprobs)
    {
        var steps = await stream.ToListAsync(context.RequestAborted);
        if (stream.Finish == FinishReason.Cancelled)
            throw new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError) { RetryAfterSeconds = 5 };
        var response = new CompletionResponse
        {
            Id = NewId(),
            Created = UnixNow(),
            Model = state.Model.Id,
            SystemFingerprint = state.SystemFingerprint,
            Choices =
            [
                new CompletionChoice
                {
                    Text = string.Concat(steps.Select(s => s.Text)),
                    Index = 0,
                    Logprobs = logprobs ? Logprobs(state, steps, 0) : null,
                    FinishReason = FinishReasonText(stream.Finish),
                },
            ],
            Usage = Usage(stream),
        };
        await context.Response.WriteAsJsonAsync(response, ServerJsonContext.Web.CompletionResponse, contentType: null, context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context, ServerState state, GenerationStream stream, bool includeUsage)
    {
        var response = context.Response;
        var cancellation = context.RequestAborted;
        string id = NewId();
        long created = UnixNow();
        int offset = 0;
        await ServerSentEvents.StartAsync(response);
        try
        {
            await foreach (var step in stream.WithCancellation(cancellation))
            {
                if (step.Finish == FinishReason.Cancelled)
                {
                    var error = new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError);
                    await ServerSentEvents.WriteAsync(response, error.ToResponse(), ServerJsonContext.Web.ErrorResponse, cancellation);
                    break;
                }
                if (step.Text.Length == 0 && step.Finish is null && step.Logprobs is null) continue;
                var chunk = new CompletionResponse
                {
                    Id = id, Created = created, Model = state.Model.Id, SystemFingerprint = state.SystemFingerprint,
                    Choices =
                    [
                        new CompletionChoice
                        {
                            Text = step.Text, Index = 0, FinishReason = FinishReasonText(step.Finish),
                            Logprobs = step.Logprobs is null ? null : Logprobs(state, [step], offset),
                        },
                    ],
                    Usage = step.Finish is not null && includeUsage ? Usage(stream) : null,
                };
                offset += step.Text.Length;
                await ServerSentEvents.WriteAsync(response, chunk, ServerJsonContext.Web.CompletionResponse, cancellation);
            }
            await ServerSentEvents.WriteDoneAsync(response, cancellation);
        }
        catch (Exception e) when (cancellation.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away: the scheduler has freed the slot.
        }
    }

    private static string NewId() => "cmpl-" + Guid.NewGuid().ToString("N")[..24];
}
