using System.Security.Cryptography;
using System.Text;

namespace Suiron.Server.Auth;

/// <summary>
/// API-key check when the server has a key: <c>Authorization: Bearer KEY</c> (OpenAI's clients) or <c>x-api-key: KEY</c>
/// (Anthropic's) on every API path, else 401 in the route's error shape. The comparison is in constant time (both sides hashed to SHA-256 first, so neither the key's
/// length nor its content leaks through timing). /health and the web chat page stay open.
/// </summary>
internal sealed class ApiKeyAuthentication(string apiKey)
{
    private readonly byte[] _keyHash = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));

    public static bool IsProtected(PathString path)
        => path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase)
           || path.StartsWithSegments("/tokenize", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/detokenize", StringComparison.OrdinalIgnoreCase)
           || path.StartsWithSegments("/apply-template", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/props", StringComparison.OrdinalIgnoreCase)
           || path.StartsWithSegments("/slots", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/rerank", StringComparison.OrdinalIgnoreCase);

    public bool IsAuthorized(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        const string scheme = "Bearer ";
        if (header is not null && header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && Matches(header[scheme.Length..])) return true;
        return request.Headers["x-api-key"] is [{ } key] && Matches(key);
    }

    private bool Matches(string key)
        => CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(key.Trim())), _keyHash);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (IsProtected(context.Request.Path) && !IsAuthorized(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ErrorResults.WriteAsync(context, new ApiError(401,
                "Invalid or missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>' with the key the server was started with.", code: "invalid_api_key"));
            return;
        }
        await next(context);
    }
}
