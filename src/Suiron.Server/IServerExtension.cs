using System.Text.Json.Nodes;

namespace Suiron.Server;

/// <summary>
/// What a layer above the server adds to it without the server knowing that layer: services in the same host (the
/// cluster's Orleans silo), a step every request passes after authentication and before the endpoints (routing to
/// another replica), and its part of /health and /metrics.
/// </summary>
public interface IServerExtension
{
    /// <summary>Adds services and hosted services to the host before it is built.</summary>
    void ConfigureHost(WebApplicationBuilder builder);

    /// <summary>Runs for every request that passed authentication; calls <paramref name="next"/> to serve it here.</summary>
    Task InvokeAsync(HttpContext context, RequestDelegate next);

    /// <summary>The extension's object in /health.</summary>
    JsonObject? Health(IServiceProvider services);

    /// <summary>Prometheus text appended to /metrics.</summary>
    string Metrics(IServiceProvider services);
}
