using System.Net;

namespace Suiron.Server.Auth;

/// <summary>
/// Keeps web pages the user happens to visit from driving a server on their machine, as llama-server and Ollama
/// learned to (DNS rebinding and cross-site request forgery against local model servers):
/// <list type="bullet">
/// <item>the <c>Host</c> header must be an IP literal, <c>localhost</c> (or a <c>*.localhost</c> name), the name the
/// server was bound to, or one given with <c>--allowed-host</c>: a rebinding page reaches 127.0.0.1 under its own
/// name (<c>Host: attacker.example</c>), which is refused; an IP literal cannot be rebound;</item>
/// <item>a request with an <c>Origin</c> must come from the server's own origin (the web chat) or one given with
/// <c>--cors-origin</c>, which then gets CORS headers and preflight answers; any other page gets 403, so a form or a
/// <c>fetch</c> from another site cannot start a generation even where the browser would send it without asking;</item>
/// <item>every response carries headers that forbid framing, MIME sniffing and foreign scripts.</item>
/// </list>
/// Refusals use the route's error shape. The same rules hold with and without <c>--api-key</c>.
/// </summary>
internal sealed class BrowserRequestPolicy
{
    /// <summary>The web chat's own policy (it fetches only from its origin), plus no framing anywhere.</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private readonly HashSet<string> _hostNames = new(StringComparer.OrdinalIgnoreCase) { "localhost" };
    private readonly bool _anyHost;
    private readonly HashSet<string> _corsOrigins = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool _anyOrigin;

    public BrowserRequestPolicy(SuironServerOptions options)
    {
        if (!IPAddress.TryParse(options.Host, out _)) _hostNames.Add(options.Host.TrimEnd('.'));
        foreach (string host in options.AllowedHosts)
        {
            if (host == "*") _anyHost = true;
            else _hostNames.Add(host.Trim().TrimEnd('.'));
        }
        foreach (string origin in options.CorsOrigins)
        {
            if (origin == "*") _anyOrigin = true;
            else _corsOrigins.Add(origin.Trim().TrimEnd('/'));
        }
    }

    public bool IsAllowedHost(HostString host)
    {
        if (_anyHost || !host.HasValue) return true; // HTTP/1.0 without Host: not a browser
        string name = host.Host.TrimEnd('.');
        if (IPAddress.TryParse(name, out _)) return true;
        return _hostNames.Contains(name) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Same origin as the request (scheme and authority), so the web chat served here may call the API.</summary>
    private static bool IsSameOrigin(string origin, HttpRequest request)
        => Uri.TryCreate(origin, UriKind.Absolute, out var uri)
           && uri.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase)
           && uri.Authority.Equals(request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private bool IsCorsOrigin(string origin) => _anyOrigin || _corsOrigins.Contains(origin.TrimEnd('/'));

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";

        if (!IsAllowedHost(request.Host))
        {
            await ErrorResults.WriteAsync(context, new ApiError(403,
                $"Host '{request.Host.Host}' is not served here: use an IP address or localhost, or start the server with --allowed-host {request.Host.Host} " +
                "(requests under other names are refused so that web pages cannot reach the server through DNS rebinding).", code: "host_not_allowed"));
            return;
        }

        string? origin = request.Headers.Origin;
        if (origin is not null && !IsSameOrigin(origin, request))
        {
            if (!IsCorsOrigin(origin))
            {
                await ErrorResults.WriteAsync(context, new ApiError(403,
                    $"Cross-origin requests from '{origin}' are refused; start the server with --cors-origin {origin} to allow that page.", code: "origin_not_allowed"));
                return;
            }
            headers.AccessControlAllowOrigin = origin;
            headers.Vary = "Origin";
            if (HttpMethods.IsOptions(request.Method) && request.Headers.AccessControlRequestMethod.Count > 0)
            {
                headers.AccessControlAllowMethods = "GET, POST, OPTIONS";
                headers.AccessControlAllowHeaders = "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta";
                headers.AccessControlMaxAge = "600";
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }
        }
        await next(context);
    }
}
