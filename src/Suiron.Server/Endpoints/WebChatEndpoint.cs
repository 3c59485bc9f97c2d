using System.Reflection;
using Microsoft.AspNetCore.StaticFiles;

namespace Suiron.Server.Endpoints;

/// <summary>GET / and the files of the web chat page, served from resources embedded from wwwroot/ (nothing to install beside the binary).</summary>
public static class WebChatEndpoint
{
    private static readonly Assembly Assembly = typeof(WebChatEndpoint).Assembly;
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    /// <summary>
    /// One route per embedded file (not a catch-all): any other path, under any method, then matches no endpoint and
    /// gets the API's 404 in OpenAI's error shape, where a catch-all answered an empty 404, or 405 for a POST.
    /// </summary>
    public static RouteGroupBuilder MapWebChat(this RouteGroupBuilder group)
    {
        group.MapGet("/", () => Serve("index.html"));
        foreach (string resource in Assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            string path = resource[Prefix.Length..];
            group.MapGet("/" + path, () => Serve(path));
        }
        return group;
    }

    private const string Prefix = "wwwroot/";

    private static IResult Serve(string path)
    {
        Stream stream = Assembly.GetManifestResourceStream(Prefix + path)!;
        if (!ContentTypes.TryGetContentType(path, out string? type)) type = "application/octet-stream";
        return Results.Stream(stream, type);
    }
}
