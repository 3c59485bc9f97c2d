using Suiron.Server.Contracts;
using Suiron.Server.Endpoints;

namespace Suiron.Server;

/// <summary>An error to answer with an HTTP status and the API's error shape (OpenAI's, or Anthropic's on its routes); thrown by request handling, written by <see cref="ErrorResults"/>.</summary>
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

    /// <summary>The prompt does not fit the context (prompt and reply together); the counts stay with the error for APIs that word it their way.</summary>
    public static ApiError ContextExceeded(int promptTokens, int contextTokens, string param) => new(400,
        $"The prompt is {promptTokens} tokens long but the context holds {contextTokens} tokens (prompt and reply together); shorten it or restart the server with a larger --ctx-size.",
        param: param, code: ContextLengthExceeded) { PromptTokens = promptTokens, ContextTokens = contextTokens };

    public const string ContextLengthExceeded = "context_length_exceeded";

    /// <summary>For <see cref="ContextExceeded"/>: the prompt's tokens and the context's.</summary>
    public int? PromptTokens { get; init; }
    public int? ContextTokens { get; init; }

    public ErrorResponse ToResponse() => new() { Error = new ErrorBody { Message = Message, Type = Type, Param = Param, Code = Code } };

    /// <summary>Anthropic's shape, whose error types follow the status (their list: 400, 401, 403, 404, 413, 429, 500, 529).</summary>
    public AnthropicErrorResponse ToAnthropicResponse() => new()
    {
        Error = new AnthropicErrorBody
        {
            Message = Message,
            Type = Status switch
            {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                503 or 529 => "overloaded_error",
                >= 500 => "api_error",
                _ => "invalid_request_error",
            },
        },
    };
}

internal static class ErrorResults
{
    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = error.Status;
        if (error.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (AnthropicMessagesEndpoint.Serves(context.Request.Path))
            await context.Response.WriteAsJsonAsync(error.ToAnthropicResponse(), ServerJsonContext.Web.AnthropicErrorResponse, contentType: null, context.RequestAborted);
        else
            await context.Response.WriteAsJsonAsync(error.ToResponse(), ServerJsonContext.Web.ErrorResponse, contentType: null, context.RequestAborted);
    }
}
