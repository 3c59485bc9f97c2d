using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Suiron.Server.Contracts;
using Suiron.Server.Endpoints;

namespace Suiron.Server.Routing;

/// <summary>
/// The router's own endpoints, as llama-server's router mode has them: GET /v1/models (and /models) listing every model
/// with its status, POST /models/load and /models/unload, and /health and /metrics over all loaded models.
/// </summary>
internal static class RouterEndpoints
{
    public static RouteGroupBuilder MapRouterModels(this RouteGroupBuilder group)
    {
        group.MapGet("/models", (ModelRouter router) => Results.Json(List(router), ServerJsonContext.Web.ModelList));
        group.MapGet("/models/{id}", (string id, ModelRouter router) =>
        {
            string model = router.IdOf(id)
                ?? throw new ApiError(404, $"The model '{id}' does not exist; GET /v1/models lists this server's models.", param: "model", code: "model_not_found");
            ModelCard card = List(router).Data.First(c => c.Id == model);
            return Results.Json(card, ServerJsonContext.Web.ModelCard);
        });
        return group;
    }

    public static RouteGroupBuilder MapRouterControl(this RouteGroupBuilder group)
    {
        group.MapGet("/models", (ModelRouter router) => Results.Json(List(router), ServerJsonContext.Web.ModelList));
        group.MapPost("/models/load", async (HttpContext context, ModelRouter router) =>
        {
            await router.LoadAsync(await ModelNameAsync(context), context.RequestAborted);
            return Success();
        });
        group.MapPost("/models/unload", async (HttpContext context, ModelRouter router) =>
        {
            await router.UnloadAsync(await ModelNameAsync(context), context.RequestAborted);
            return Success();
        });
        group.MapGet("/health", (ModelRouter router, ServerState front, HttpContext context) =>
        {
            int idle = 0, processing = 0, queued = 0;
            foreach (var state in router.LoadedStates())
            {
                if (!state.HasModel) continue;
                var scheduler = state.Model.Scheduler;
                int active = scheduler.ActiveSlots;
                idle += scheduler.SlotCount - active;
                processing += active;
                queued += scheduler.QueueDepth;
            }
            var body = new HealthResponse { Status = front.Stopping ? "draining" : "ok", SlotsIdle = idle, SlotsProcessing = processing, QueueDepth = queued };
            if (front.Stopping) context.Response.Headers.RetryAfter = SuironServer.ShutdownRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            return Results.Json(body, ServerJsonContext.Web.HealthResponse, statusCode: front.Stopping ? 503 : 200);
        });
        group.MapGet("/metrics", (ModelRouter router, ServerState front) => Results.Text(Metrics(router, front), "text/plain; version=0.0.4; charset=utf-8"));
        return group;
    }

    private static IResult Success() => Results.Json(new JsonObject { ["success"] = true }, ServerJsonContext.Web.JsonNode);

    private static async Task<string> ModelNameAsync(HttpContext context)
    {
        var body = await GenerationSupport.ReadBodyAsync(context, ServerJsonContext.Web.JsonNode);
        return body is JsonObject o && o["model"] is JsonValue v && v.TryGetValue(out string? name) && name.Length > 0 ? name
            : throw ApiError.BadParameter("model", "'model' is required: the name of one of this server's models (GET /v1/models lists them).");
    }

    internal static ModelList List(ModelRouter router)
    {
        var cards = new List<ModelCard>();
        foreach (var model in router.Models)
        {
            ModelMeta? meta = null;
            if (router.LoadedState(model.Id) is { HasModel: true } state)
            {
                var info = state.Model.Model.Info;
                meta = new ModelMeta
                {
                    Architecture = info.Architecture, VocabSize = info.VocabSize, TrainedContext = info.ContextLength,
                    Context = state.Model.Scheduler.ContextSize, Parameters = info.ParameterCount, Slots = state.Model.Scheduler.SlotCount,
                };
            }
            cards.Add(new ModelCard
            {
                Id = model.Id,
                Created = model.Created.ToUnixTimeSeconds(),
                Meta = meta,
                Aliases = [.. model.Aliases],
                Kind = model.Kind switch { RoutedModelKind.Embedding => "embedding", RoutedModelKind.Rerank => "rerank", _ => "generation" },
                Status = new RoutedModelStatusBody
                {
                    Value = model.Status switch { RoutedModelStatus.Loaded => "loaded", RoutedModelStatus.Loading => "loading", _ => "unloaded" },
                    Failed = model.LoadError is null ? null : true,
                    Error = model.LoadError,
                    MemoryBytes = model.Status == RoutedModelStatus.Loaded ? model.CostBytes : null,
                },
            });
        }
        return new ModelList { Data = cards };
    }

    /// <summary>The request counters, then per model: loaded or not, its cost, requests in flight, and its scheduler's gauges while loaded.</summary>
    private static string Metrics(ModelRouter router, ServerState front)
    {
        var o = new StringBuilder(front.Metrics.Render(null));
        var c = CultureInfo.InvariantCulture;
        var models = router.Models;
        o.Append("# HELP suiron_model_loaded Whether the model is loaded (1) or not (0).\n# TYPE suiron_model_loaded gauge\n");
        foreach (var m in models) o.Append(c, $"suiron_model_loaded{{model=\"{m.Id}\"}} {(m.Status == RoutedModelStatus.Loaded ? 1 : 0)}\n");
        o.Append("# HELP suiron_model_requests_in_flight Requests holding the model now.\n# TYPE suiron_model_requests_in_flight gauge\n");
        foreach (var m in models) o.Append(c, $"suiron_model_requests_in_flight{{model=\"{m.Id}\"}} {m.RequestsInFlight}\n");
        o.Append("# HELP suiron_models_memory_bytes Loaded models' file bytes plus KV caches, as counted against --models-memory.\n# TYPE suiron_models_memory_bytes gauge\n");
        o.Append(c, $"suiron_models_memory_bytes {router.UsedBytes}\n");
        o.Append("# HELP suiron_model_active_slots Slots generating now, per loaded model.\n# TYPE suiron_model_active_slots gauge\n");
        foreach (var m in models)
            if (router.LoadedState(m.Id) is { HasModel: true } state)
                o.Append(c, $"suiron_model_active_slots{{model=\"{m.Id}\"}} {state.Model.Scheduler.ActiveSlots}\n");
        return o.ToString();
    }
}
