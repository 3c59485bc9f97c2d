using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>GET /v1/models: the one served model (its id is the file name without .gguf).</summary>
public static class ModelsEndpoint
{
    public static RouteGroupBuilder MapModels(this RouteGroupBuilder group)
    {
        group.MapGet("/models", (ServerState state) => Results.Json(List(state), ServerJsonContext.Web.ModelList));
        group.MapGet("/models/{id}", (string id, ServerState state) => state.Serves(id)
            ? Results.Json(List(state).Data[0], ServerJsonContext.Web.ModelCard)
            : throw new ApiError(404, $"The model '{id}' does not exist; this server serves '{state.Model.Id}'.", param: "model", code: "model_not_found"));
        return group;
    }

    private static ModelList List(ServerState state)
    {
        var info = state.Model.Model.Info;
        return new ModelList
        {
            Data =
            [
                new ModelCard
                {
                    Id = state.Model.Id,
                    Created = state.Model.Created.ToUnixTimeSeconds(),
                    Meta = new ModelMeta
                    {
                        Architecture = info.Architecture, VocabSize = info.VocabSize, TrainedContext = info.ContextLength,
                        Context = state.Model.Scheduler.ContextSize, Parameters = info.ParameterCount, Slots = state.Model.Scheduler.SlotCount,
                    },
                },
            ],
        };
    }
}

/// <summary>GET /health (open even with an API key) and GET /metrics (Prometheus text).</summary>
public static class HealthEndpoints
{
    public static RouteGroupBuilder MapHealth(this RouteGroupBuilder group)
    {
        group.MapGet("/health", (ServerState state, HttpContext context) =>
        {
            var scheduler = state.Model.Scheduler;
            int active = scheduler.ActiveSlots;
            var body = new HealthResponse
            {
                Status = state.Stopping ? "draining" : "ok",
                SlotsIdle = scheduler.SlotCount - active,
                SlotsProcessing = active,
                QueueDepth = scheduler.QueueDepth,
                Cluster = state.Options.Extension?.Health(context.RequestServices),
            };
            // 503 while draining: a load balancer's health check takes the instance out of rotation.
            if (state.Stopping) context.Response.Headers.RetryAfter = SuironServer.ShutdownRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Json(body, ServerJsonContext.Web.HealthResponse, statusCode: state.Stopping ? 503 : 200);
        });
        return group;
    }

    public static RouteGroupBuilder MapMetrics(this RouteGroupBuilder group)
    {
        group.MapGet("/metrics", (ServerState state, HttpContext context) =>
            Results.Text(state.Metrics.Render(state.Model.Scheduler) + state.Options.Extension?.Metrics(context.RequestServices), "text/plain; version=0.0.4; charset=utf-8"));
        return group;
    }
}
