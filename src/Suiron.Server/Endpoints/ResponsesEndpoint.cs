using System.Text.Json.Nodes;
using Suiron.Inference;
using Suiron.Server.Contracts;
using Suiron.Server.Streaming;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>
/// POST /v1/responses (OpenAI's Responses API, what Codex CLI and the Agents SDK speak), translated onto the same
/// <see cref="ChatTurn"/> as chat completions; GET and DELETE /v1/responses/{id} for stored responses. Stateless
/// unless a request says <c>store: true</c> (OpenAI's default is to store; a local server keeps nothing it was not
/// asked to): then the response and its conversation are kept in the bounded <see cref="ResponseStore"/>, and
/// <c>previous_response_id</c> continues it.
/// </summary>
public static class ResponsesEndpoint
{
    public static RouteGroupBuilder MapResponses(this RouteGroupBuilder group)
    {
        group.MapPost("/responses", HandleAsync);
        group.MapGet("/responses/{id}", (string id, ServerState state) => state.Responses.TryGet(id, out _, out var response)
            ? Results.Json(response, ServerJsonContext.Web.ResponseObject)
            : throw NotFound(id, "id"));
        group.MapDelete("/responses/{id}", (string id, ServerState state) => state.Responses.Remove(id)
            ? Results.Json(new ResponseDeleted { Id = id }, ServerJsonContext.Web.ResponseDeleted)
            : throw NotFound(id, "id"));
        return group;
    }

    private static ApiError NotFound(string id, string param) => new(404,
        $"No response with id '{id}' is stored here: only responses created with \"store\": true are kept, the least recently used are dropped beyond --responses-store, and none survive a restart.",
        param: param, code: "response_not_found");

    private static async Task HandleAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.ResponsesRequest);
        CheckModel(state, request.Model);
        if (request.MaxTokens is not null && request.MaxOutputTokens is not null && request.MaxTokens != request.MaxOutputTokens)
            throw ApiError.BadParameter("max_output_tokens", "Give 'max_output_tokens' or 'max_tokens', not both with different values.");
        if (request.MaxOutputTokens is < 1) throw ApiError.BadParameter("max_output_tokens", $"'max_output_tokens' must be ≥ 1 (got {request.MaxOutputTokens}).");
        var options = Options(state, request, request.MaxOutputTokens ?? request.MaxTokens, "max_output_tokens");
        var (grammar, textEcho) = ResponsesConversation.TextFormat(request);
        if (grammar is not null)
        {
            if (options.Grammar is not null) throw ApiError.BadParameter("text.format", "Give only one of 'text.format', 'response_format', 'json_schema' and 'grammar'.");
            options = options with { Grammar = grammar };
        }
        var (tools, toolsEcho) = ResponsesConversation.Tools(request);
        var (variables, reasoningEcho) = ResponsesConversation.Reasoning(request);

        var conversation = new JsonArray();
        if (request.PreviousResponseId is { } previous)
        {
            if (!state.Responses.TryGet(previous, out conversation, out _))
                throw new ApiError(400, $"Previous response with id '{previous}' not found: only responses created with \"store\": true are kept here, the least recently used are dropped beyond --responses-store, and none survive a restart.",
                    param: "previous_response_id", code: "previous_response_not_found");
        }
        ResponsesConversation.AddInput(conversation, request.Input);
        var messages = (JsonArray)conversation.DeepClone();
        if (request.Instructions is { } instructions) messages.Insert(0, new JsonObject { ["role"] = "system", ["content"] = instructions });

        var turn = ChatTurn.Start(state, messages, tools, variables, options, logprobs: -1, "input", "tool_choice",
            RequestedReasoningBudget(state, request.ReasoningBudgetTokens ?? request.ThinkingBudgetTokens), context.RequestAborted);
        var response = new ResponseObject
        {
            Id = ResponsesReply.NewId("resp_"),
            CreatedAt = UnixNow(),
            Status = "in_progress",
            Instructions = request.Instructions,
            MaxOutputTokens = request.MaxOutputTokens ?? request.MaxTokens,
            Model = state.Model.Id,
            Output = [],
            ParallelToolCalls = request.ParallelToolCalls ?? true,
            PreviousResponseId = request.PreviousResponseId,
            Reasoning = reasoningEcho,
            Store = request.Store == true,
            Temperature = options.Sampling.Temperature,
            TopP = options.Sampling.TopP,
            Text = textEcho,
            ToolChoice = request.ToolChoice is { ValueKind: not System.Text.Json.JsonValueKind.Null } choice ? JsonNode.Parse(choice.GetRawText())! : JsonValue.Create("auto"),
            Tools = toolsEcho,
            Metadata = request.Metadata ?? [],
        };
        var reply = new ResponsesReply(turn.NewReasoningParser(), turn.NewToolCallParser(), reasoningEcho.Summary is not null);
        try
        {
            if (request.Stream == true) await StreamAsync(context, state, turn.Stream, reply, response, conversation);
            else
            {
                await foreach (var step in turn.Stream.WithCancellation(context.RequestAborted)) reply.Push(step);
                if (turn.Stream.Finish == FinishReason.Cancelled)
                    throw new ApiError(503, "The server is shutting down; the generation was cancelled.", ApiError.ServerError) { RetryAfterSeconds = 5 };
                Finish(state, turn.Stream, reply, response, conversation);
                await context.Response.WriteAsJsonAsync(response, ServerJsonContext.Web.ResponseObject, contentType: null, context.RequestAborted);
            }
        }
        finally
        {
            state.Metrics.RecordGeneration(turn.Stream);
        }
    }

    /// <summary>Fills in the outcome, output and usage of a finished generation, and keeps it when asked to.</summary>
    private static void Finish(ServerState state, GenerationStream stream, ResponsesReply reply, ResponseObject response, JsonArray conversation)
    {
        (response.Status, response.IncompleteDetails) = ResponsesReply.Outcome(stream);
        response.Output = reply.Output;
        response.Usage = new ResponseUsage
        {
            InputTokens = stream.PromptTokens,
            InputTokensDetails = new ResponseInputTokensDetails { CachedTokens = stream.CachedPromptTokens },
            OutputTokens = stream.GeneratedTokens,
            OutputTokensDetails = new ResponseOutputTokensDetails { ReasoningTokens = reply.ReasoningTokens },
        };
        if (response.Store && response.Status != "failed")
        {
            ResponsesConversation.AddItems(conversation, ResponsesReply.AsInputItems(response.Output), "output");
            state.Responses.Add(response, conversation);
        }
    }

    /// <summary>
    /// The typed events, each as <c>event: TYPE</c> + <c>data:</c> with a rising <c>sequence_number</c>:
    /// response.created, response.in_progress, the items' events, then response.completed (or response.incomplete).
    /// A shutdown mid-stream ends it with an <c>error</c> event and response.failed; a client that goes away cancels
    /// the generation (the request's token cancels the sequence, which frees its slot).
    /// </summary>
    private static async Task StreamAsync(HttpContext context, ServerState state, GenerationStream stream, ResponsesReply reply, ResponseObject response,
        JsonArray conversation)
    {
        var http = context.Response;
        var cancellation = context.RequestAborted;
        int sequence = 0;
        Task Send(ResponseStreamEvent e)
        {
            e.SequenceNumber = sequence++;
            return ServerSentEvents.WriteEventAsync(http, e.Type, e, ServerJsonContext.Web.ResponseStreamEvent, cancellation);
        }
        await ServerSentEvents.StartAsync(http);
        try
        {
            await Send(new ResponseStreamEvent { Type = "response.created", Response = response });
            await Send(new ResponseStreamEvent { Type = "response.in_progress", Response = response });
            await foreach (var step in stream.WithCancellation(cancellation))
            {
                if (step.Finish == FinishReason.Cancelled)
                {
                    await Send(new ResponseStreamEvent { Type = "error", Code = "server_shutting_down", Message = "The server is shutting down; the generation was cancelled." });
                    response.Status = "failed";
                    response.Error = new ResponseError { Code = "server_error", Message = "The server is shutting down; the generation was cancelled." };
                    response.Output = reply.Output;
                    await Send(new ResponseStreamEvent { Type = "response.failed", Response = response });
                    return;
                }
                foreach (var e in reply.Push(step)) await Send(e);
                if (step.Finish is not null)
                {
                    Finish(state, stream, reply, response, conversation);
                    await Send(new ResponseStreamEvent { Type = response.Status == "incomplete" ? "response.incomplete" : "response.completed", Response = response });
                }
            }
        }
        catch (Exception e) when (cancellation.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away: the scheduler has freed the slot (the same token cancels the sequence).
        }
    }
}
