using System.Reflection;
using Microsoft.AspNetCore.StaticFiles;

namespace Suiron.Server.Endpoints;

/// <summary>GET / and the files of the web chat page, served from resources embedded from wwwroot/ (nothing to install beside the binary).</summary>
public static class WebChatEndpoint
{
    private static readonly Assembly Assembly = typeof(WebChatEndpoint).Assembly;
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static RouteGroupBuilder MapWebChat(this RouteGroupBuilder group)
    {
        group.MapGet("/", (HttpContext context) => Serve(context, "index.html"));
        group.MapGet("/{**path}", (string path, HttpContext context) => Serve(context, path));
        return group;
    }

    private static IResult Serve(HttpContext context, string path)
    {
        if (path.Contains("..", StringComparison.Ordinal)) return Results.NotFound();
        Stream? stream = Assembly.GetManifestResourceStream("wwwroot/" + path);
        if (stream is null) return Results.NotFound();
        if (!ContentTypes.TryGetContentType(path, out string? type)) type = "application/octet-stream";
        return Results.Stream(stream, type);
    }
}
