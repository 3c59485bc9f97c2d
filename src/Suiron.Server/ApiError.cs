using Suiron.Server.Contracts;

namespace Suiron.Server;

/// <summary>An error to answer with OpenAI's error shape and an HTTP status; thrown by request handling, written by <see cref="ErrorResults"/>.</summary>
public sealed class ApiError(int status, string message, string type = ApiError.InvalidRequest, string? param = null, string? code = null) : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";
    public const string ServerError = "server_error";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    /// <summary>Seconds for a Retry-After header (429, 503).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiError BadParameter(string param, string message) => new(400, message, param: param, code: "invalid_value");

    public ErrorResponse ToResponse() => new() { Error = new ErrorBody { Message = Message, Type = Type, Param = Param, Code = Code } };
}

internal static class ErrorResults
{
    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = error.Status;
        if (error.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await context.Response.WriteAsJsonAsync(error.ToResponse(), ServerJsonContext.Web.ErrorResponse, contentType: null, context.RequestAborted);
    }
}
