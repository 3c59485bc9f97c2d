using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Suiron.Inference;
using Suiron.Server.Auth;
using Suiron.Server.Contracts;
using Suiron.Server.Endpoints;
using Suiron.Server.Routing;

namespace Suiron.Server;

/// <summary>
/// The OpenAI-compatible HTTP server over a <see cref="LocalModel"/>: Kestrel, minimal API endpoints under /v1,
/// /health, /metrics, and the web chat page at /. Start it, read <see cref="Address"/>, stop it; the model is not
/// disposed with it.
/// </summary>
public sealed class SuironServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServerState _state;

    private readonly ModelRouter? _router;

    private SuironServer(WebApplication app, ServerState state, ModelRouter? router)
    {
        _app = app;
        _state = state;
        _router = router;
    }

    /// <summary>The served model's state; with several models (<see cref="Router"/>), the router's own, which serves no model.</summary>
    public ServerState State => _state;

    /// <summary>The models of a server with several (<see cref="Create(ModelRouterOptions, SuironServerOptions)"/>); null with one.</summary>
    public ModelRouter? Router => _router;

    /// <summary>The address the server listens on (with the real port when 0 was asked for); valid after <see cref="StartAsync"/>.</summary>
    public Uri Address { get; private set; } = null!;

    public static SuironServer Create(LocalModel model, SuironServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        return Build(new ServerState(model, options), router: null, options);
    }

    /// <summary>
    /// A server over several models (llama-server's router mode): each request runs on the model its <c>model</c>
    /// field names, loaded on first use and unloaded least recently used under the router's limits. The server owns
    /// the router: disposing the server unloads every model.
    /// </summary>
    public static SuironServer Create(ModelRouterOptions models, SuironServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Extension is not null) throw new ArgumentException("A server with several models cannot join a cluster.", nameof(options));
        if (options.EmbeddingModel is not null || options.Reranker is not null)
            throw new ArgumentException("A server with several models serves embedding and reranking files as models of their own, not as EmbeddingModel or Reranker.", nameof(options));
        var router = new ModelRouter(models);
        var metrics = new ServerMetrics();
        router.Attach(options, metrics);
        return Build(new ServerState("(router)", null, options, metrics), router, options);
    }

    private static SuironServer Build(ServerState state, ModelRouter? router, SuironServerOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Logging.ClearProviders();
        if (options.Logging) ConfigureConsoleLogging(builder.Logging, options);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + TimeSpan.FromSeconds(5));
        if (router is null) builder.Services.AddSingleton(state);
        else
        {
            // Endpoints take the ServerState of the model their request was routed to; requests that name none get the router's.
            builder.Services.AddSingleton(router);
            builder.Services.AddScoped<RoutedRequest>();
            builder.Services.AddTransient(services => services.GetRequiredService<RoutedRequest>().State ?? state);
        }
        builder.Services.AddHostedService(_ => new DrainOnShutdown(state, router));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ServerJsonContext.Web));
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            if (options.Host is "localhost") kestrel.ListenLocalhost(options.Port, listen => listen.Use(KestrelErrorBodies.Middleware));
            else if (IPAddress.TryParse(options.Host, out var ip)) kestrel.Listen(ip, options.Port, listen => listen.Use(KestrelErrorBodies.Middleware));
            else throw new ArgumentException($"--host must be an IP address or 'localhost' (got '{options.Host}').");
        });

        options.Extension?.ConfigureHost(builder);

        var app = builder.Build();
        app.Use(CountRequests);
        app.Use(HandleErrors);
        app.Use(new BrowserRequestPolicy(options).InvokeAsync);
        app.Use(RefuseWhileDraining);
        if (options.ApiKey is { Length: > 0 } key) app.Use(new ApiKeyAuthentication(key).InvokeAsync);
        if (options.Extension is { } extension) app.Use(extension.InvokeAsync);
        if (router is not null) app.Use(new ModelRequestRouting(router).InvokeAsync);

        var root = app.MapGroup("");
        if (router is null) root.MapHealth().MapMetrics();
        else root.MapRouterControl();
        root.MapLlamaServerExtras().MapRerank();
        var v1 = app.MapGroup("/v1");
        if (router is null) v1.MapModels();
        else v1.MapRouterModels();
        v1.MapChatCompletions().MapCompletions().MapEmbeddings().MapAnthropicMessages().MapResponses().MapRerank();
        app.MapGroup("").MapWebChat();
        return new SuironServer(app, state, router);
    }

    /// <summary>
    /// Console logs on stderr (stdout stays free for whatever the host writes there): warnings and errors by default,
    /// ASP.NET Core's request and lifetime lines too with <see cref="SuironServerOptions.LogLevel"/> Information, one JSON
    /// object per line for log collectors. A failed start (port in use) is the host's to report in one line, so the
    /// generic host's own account of it, a stack trace, is left out.
    /// </summary>
    private static void ConfigureConsoleLogging(ILoggingBuilder logging, SuironServerOptions options)
    {
        if (options.LogFormat == ServerLogFormat.Json)
            logging.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
        else
            logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(options.LogLevel);
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        // Information from ASP.NET Core: one line as a request starts and one as it ends, and the lifetime events; its
        // routing and result chatter stays out.
        logging.AddFilter("Microsoft", options.LogLevel > LogLevel.Information ? LogLevel.Error : LogLevel.Warning);
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", options.LogLevel);
        logging.AddFilter("Microsoft.Hosting.Lifetime", options.LogLevel);
    }

    /// <summary>During the drain every request but /health gets 503 with Retry-After, in OpenAI's error shape.</summary>
    private static async Task RefuseWhileDraining(HttpContext context, RequestDelegate next)
    {
        var state = context.RequestServices.GetRequiredService<ServerState>();
        if (state.Stopping && !context.Request.Path.Equals("/health", StringComparison.OrdinalIgnoreCase))
        {
            await ErrorResults.WriteAsync(context, new ApiError(503, "The server is shutting down; retry on another instance or after it restarts.",
                ApiError.ServerError, code: "server_shutting_down") { RetryAfterSeconds = ShutdownRetryAfterSeconds });
            return;
        }
        await next(context);
    }

    internal const int ShutdownRetryAfterSeconds = 5;

    /// <summary>
    /// The drain, run when the host begins to stop and before Kestrel does, so the server keeps listening throughout:
    /// new requests get 503 (<see cref="RefuseWhileDraining"/>), running generations get the grace period to finish,
    /// then the rest are cancelled (a stream then ends with an error event and <c>data: [DONE]</c>) and Kestrel's own
    /// stop waits for those responses to be written.
    /// </summary>
    private sealed class DrainOnShutdown(ServerState state, ModelRouter? router) : IHostedLifecycleService
    {
        public async Task StoppingAsync(CancellationToken cancellationToken)
        {
            state.Stopping = true;
            router?.Stop();
            Scheduler[] schedulers = router is null ? [state.Model.Scheduler]
                : router.LoadedStates().Where(s => s.HasModel).Select(s => s.Model.Scheduler).ToArray();
            var grace = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                while (grace.Elapsed < state.Options.ShutdownGrace && schedulers.Any(s => s.ActiveSlots > 0 || s.QueueDepth > 0))
                    await Task.Delay(20, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The host's shutdown timeout ran out first: cancel now.
            }
            foreach (var scheduler in schedulers) scheduler.CancelAll();
        }

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public async Task StartAsync(CancellationToken cancellation = default)
    {
        await _app.StartAsync(cancellation);
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <summary>Runs until the host is stopped (Ctrl+C, SIGTERM or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => _app.WaitForShutdownAsync(cancellation);

    public Task StopAsync(CancellationToken cancellation = default) => _app.StopAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _router?.Dispose();
    }

    /// <summary>Requests by endpoint and status for /metrics (paths outside the API count as "other").</summary>
    private static async Task CountRequests(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var state = context.RequestServices.GetRequiredService<ServerState>();
            string path = context.Request.Path.Value ?? "";
            string endpoint = path is "/v1/chat/completions" or "/v1/completions" or "/v1/embeddings" or "/v1/models" or "/v1/messages"
                or "/models" or "/models/load" or "/models/unload"
                or "/v1/messages/count_tokens" or "/v1/responses" or "/health" or "/metrics"
                or "/tokenize" or "/detokenize" or "/apply-template" or "/props" or "/v1/rerank" or "/rerank" ? path
                : path.StartsWith("/v1/models/", StringComparison.Ordinal) ? "/v1/models/{id}"
                : path.StartsWith("/v1/responses/", StringComparison.Ordinal) ? "/v1/responses/{id}"
                : path.StartsWith("/slots/", StringComparison.Ordinal) ? "/slots/{id}" : "other";
            state.Metrics.CountRequest(endpoint, context.Response.StatusCode);
        }
    }

    /// <summary>Turns <see cref="ApiError"/> into its status and OpenAI error body, and anything unexpected into a 500 of the same shape.</summary>
    private static async Task HandleErrors(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
            if (context.Response.StatusCode == 404 && !context.Response.HasStarted && context.GetEndpoint() is null)
                await ErrorResults.WriteAsync(context, new ApiError(404, $"No endpoint {context.Request.Method} {context.Request.Path}.", code: "not_found"));
            else if (context.Response.StatusCode == 405 && !context.Response.HasStarted)
                await ErrorResults.WriteAsync(context, new ApiError(405, $"{context.Request.Method} is not allowed on {context.Request.Path}.", code: "method_not_allowed"));
        }
        catch (ApiError e)
        {
            await ErrorResults.WriteAsync(context, e);
        }
        catch (BadHttpRequestException e)
        {
            await ErrorResults.WriteAsync(context, new ApiError(e.StatusCode, e.Message, code: e.StatusCode == 413 ? "request_too_large" : null));
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away mid-request: nothing to answer.
        }
        catch (Exception e)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger<SuironServer>().LogError(e, "Request failed");
            await ErrorResults.WriteAsync(context, new ApiError(500, $"Internal error: {e.Message}", ApiError.ServerError));
        }
    }
}
