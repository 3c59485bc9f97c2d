using System.Text.Json;

namespace Suiron.Server.Routing;

/// <summary>The model state a request was routed to; empty for requests that name no model.</summary>
internal sealed class RoutedRequest
{
    public ServerState? State { get; set; }
}

/// <summary>
/// Sends each API request to the model it names, as llama-server's router does: the <c>model</c> field of a JSON body,
/// else the <c>model</c> query parameter. The model is loaded if it is not (the request waits) and held until the
/// response has been written, so it is never unloaded under a request. The endpoints then see that model's
/// <see cref="ServerState"/> as if the server served it alone.
/// </summary>
internal sealed class ModelRequestRouting(ModelRouter router)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint() is null || !NamesAModel(context.Request.Path))
        {
            await next(context);
            return;
        }
        string? name = context.Request.Query["model"].FirstOrDefault();
        if (name is null && context.Request.HasJsonContentType())
        {
            context.Request.EnableBuffering();
            (bool parsed, name) = await ReadModelFieldAsync(context);
            context.Request.Body.Position = 0;
            // A body that is not JSON: the endpoint says what is wrong with it.
            if (!parsed)
            {
                await next(context);
                return;
            }
        }
        if (string.IsNullOrEmpty(name))
            throw new ApiError(400, $"This server serves several models: name one in the request's 'model' field ({string.Join(", ", router.Models.Select(m => $"'{m.Id}'"))}; GET /v1/models lists them).",
                param: "model", code: "model_required");
        using var lease = await router.AcquireAsync(name, context.RequestAborted);
        context.RequestServices.GetRequiredService<RoutedRequest>().State = lease.State;
        await next(context);
    }

    /// <summary>The paths whose requests run on one model; the router's own (/v1/models, /models/*, /health, /metrics) and the web chat's files do not.</summary>
    private static bool NamesAModel(PathString path)
        => (path.StartsWithSegments("/v1") && !path.StartsWithSegments("/v1/models"))
           || path.StartsWithSegments("/tokenize") || path.StartsWithSegments("/detokenize") || path.StartsWithSegments("/apply-template")
           || path.StartsWithSegments("/props") || path.StartsWithSegments("/rerank") || path.StartsWithSegments("/slots");

    /// <summary>The top-level <c>model</c> string of the JSON body (null when absent); false when the body is not a JSON object.</summary>
    private static async Task<(bool Parsed, string? Model)> ReadModelFieldAsync(HttpContext context)
    {
        var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        return FindModel(new ReadOnlySpan<byte>(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static (bool Parsed, string? Model) FindModel(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (false, null);
            string? model = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isModel = reader.ValueTextEquals("model"u8);
                reader.Read();
                if (isModel && reader.TokenType == JsonTokenType.String) model = reader.GetString();
                else reader.Skip();
            }
            return (true, model);
        }
        catch (JsonException)
        {
            return (false, null);
        }
        catch (InvalidOperationException)
        {
            return (false, null);
        }
    }
}
