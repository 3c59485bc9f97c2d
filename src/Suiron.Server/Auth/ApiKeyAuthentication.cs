using System.Security.Cryptography;
using System.Text;

namespace Suiron.Server.Auth;

/// <summary>
/// Bearer-token check when the server has an API key: <c>Authorization: Bearer KEY</c> on every API path, else 401 in
/// OpenAI's error shape. The comparison is in constant time (both sides hashed to SHA-256 first, so neither the key's
/// length nor its content leaks through timing). /health and the web chat page stay open.
/// </summary>
internal sealed class ApiKeyAuthentication(string apiKey)
{
    private readonly byte[] _keyHash = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));

    public static bool IsProtected(PathString path)
        => path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);

    public bool IsAuthorized(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(header.AsSpan(scheme.Length).Trim().ToString()));
        return CryptographicOperations.FixedTimeEquals(given, _keyHash);
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (IsProtected(context.Request.Path) && !IsAuthorized(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ErrorResults.WriteAsync(context, new ApiError(401,
                "Invalid or missing API key: send 'Authorization: Bearer <key>' with the key the server was started with.", code: "invalid_api_key"));
            return;
        }
        await next(context);
    }
}
