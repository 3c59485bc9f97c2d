using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Embeddings;
using Suiron.Server.Contracts;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>
/// POST /v1/rerank and /rerank, as llama-server answers them: <c>query</c> and <c>documents</c> scored by the reranker
/// (<c>--rerank-model</c>: a bert cross-encoder or Qwen3-Reranker) and returned best first in Jina's shape
/// (<c>{"model","object":"list","usage","results":[{"index","relevance_score"}]}</c>, <c>top_n</c> of them,
/// <c>return_documents</c> adding each text); a body with <c>texts</c> instead of <c>documents</c> gets Hugging Face
/// TEI's shape (<c>[{"index","score"}]</c>, <c>return_text</c> adding each text).
/// </summary>
public static class RerankEndpoint
{
    public const int MaxDocuments = 1024;

    public static RouteGroupBuilder MapRerank(this RouteGroupBuilder group)
    {
        group.MapPost("/rerank", HandleAsync);
        return group;
    }

    private static async Task HandleAsync(HttpContext context, ServerState state)
    {
        SuironReranker reranker = state.Options.Reranker
            ?? throw (state.Routed
                ? new ApiError(400, $"The model '{state.Id}' is not a reranker: name a reranker GGUF's model in 'model' (GET /v1/models lists them).", param: "model", code: "model_not_supported")
                : new ApiError(501, "This server has no reranker: start it with --rerank-model FILE (a bert cross-encoder GGUF such as bge-reranker, or Qwen3-Reranker).",
                "not_supported_error", code: "not_supported"));
        var body = await ReadBodyAsync(context, ServerJsonContext.Web.JsonNode);
        if (body is not JsonObject request) throw new ApiError(400, "The request body must be a JSON object.");
        if (request["model"] is JsonValue m && m.TryGetValue(out string? model) && model != reranker.ModelId && !state.Serves(model))
            throw new ApiError(404, $"The model '{model}' does not exist; this server reranks with '{reranker.ModelId}'.", param: "model", code: "model_not_found");
        string query = request["query"] is JsonValue q && q.TryGetValue(out string? text) ? text
            : throw ApiError.BadParameter("query", "'query' is required: a string.");
        bool tei = !request.ContainsKey("documents") && request.ContainsKey("texts");
        string field = tei ? "texts" : "documents";
        if (request[field] is not JsonArray list || list.Count == 0) throw ApiError.BadParameter(field, $"'{field}' must be a non-empty list of strings.");
        if (list.Count > MaxDocuments) throw ApiError.BadParameter(field, $"'{field}' takes at most {MaxDocuments} documents (got {list.Count}).");
        var documents = new string[list.Count];
        for (int i = 0; i < list.Count; i++)
            documents[i] = list[i] is JsonValue d && d.TryGetValue(out string? document) ? document
                // Jina also takes {"text": …} objects.
                : list[i] is JsonObject o && o["text"] is JsonValue t && t.TryGetValue(out string? inner) ? inner
                : throw ApiError.BadParameter($"{field}[{i}]", $"{field}[{i}] must be a string.");
        int topN = documents.Length;
        if (request["top_n"] is { } top)
        {
            if (top.GetValueKind() != JsonValueKind.Number || !top.AsValue().TryGetValue(out int n) || n < 1)
                throw ApiError.BadParameter("top_n", "'top_n' must be a whole number ≥ 1.");
            topN = Math.Min(n, documents.Length);
        }
        bool returnText = Flag(request, tei ? "return_text" : "return_documents");

        var tokens = new int[documents.Length][];
        for (int i = 0; i < documents.Length; i++)
        {
            tokens[i] = reranker.Tokenize(query, documents[i]);
            if (tokens[i].Length > reranker.MaxTokens)
                throw ApiError.BadParameter($"{field}[{i}]", $"The query with {field}[{i}] is {tokens[i].Length} tokens; the reranker takes at most {reranker.MaxTokens}.");
        }
        float[] scores = await Task.Run(() => tokens.Select(t => reranker.Score(t)).ToArray(), context.RequestAborted);
        var order = Enumerable.Range(0, documents.Length).OrderByDescending(i => scores[i]).Take(topN);
        JsonNode answer;
        if (tei)
        {
            answer = new JsonArray(order.Select(i =>
            {
                var item = new JsonObject { ["index"] = i, ["score"] = scores[i] };
                if (returnText) item["text"] = documents[i];
                return (JsonNode)item;
            }).ToArray());
        }
        else
        {
            int used = tokens.Sum(t => t.Length);
            answer = new JsonObject
            {
                ["model"] = reranker.ModelId,
                ["object"] = "list",
                ["usage"] = new JsonObject { ["prompt_tokens"] = used, ["total_tokens"] = used },
                ["results"] = new JsonArray(order.Select(i =>
                {
                    var item = new JsonObject { ["index"] = i, ["relevance_score"] = scores[i] };
                    if (returnText) item["document"] = new JsonObject { ["text"] = documents[i] };
                    return (JsonNode)item;
                }).ToArray()),
            };
        }
        await context.Response.WriteAsJsonAsync(answer, ServerJsonContext.Web.JsonNode, contentType: null, context.RequestAborted);
    }

    private static bool Flag(JsonObject request, string name)
    {
        if (request[name] is not { } value) return false;
        return value.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiError.BadParameter(name, $"'{name}' must be true or false."),
        };
    }
}
