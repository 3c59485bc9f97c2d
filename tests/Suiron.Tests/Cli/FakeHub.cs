using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Suiron.Tests.Cli;

/// <summary>
/// A tiny Hugging Face-style hub on 127.0.0.1 for download tests: <c>/{repo}/resolve/main/{file}</c> redirects (with
/// X-Linked-Etag) to <c>/cdn/{repo}/{file}</c>, which honours Range requests and can drop the connection halfway;
/// <c>/api/models/{repo}</c> lists the files. Nothing leaves the machine.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public sealed class HostedFile
    {
        public required byte[] Bytes { get; init; }
        /// <summary>Sent as X-Linked-Etag on the redirect (as the hub does for LFS files); null sends none.</summary>
        public string? LinkedEtag { get; init; }
        /// <summary>The first this many GETs of the bytes stop after half the body and drop the connection.</summary>
        public int DropFirst { get; set; }
    }

    public FakeHub()
    {
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Endpoint => $"http://127.0.0.1:{Port}";
    public ConcurrentDictionary<string, HostedFile> Files { get; } = new(); // key: "repo/file"
    /// <summary>Every request for file bytes: path and Range header (null when none).</summary>
    public ConcurrentQueue<(string Path, string? Range)> ByteRequests { get; } = new();

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(context));
        }
    }

    private void Serve(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            string path = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath.TrimStart('/'));
            if (path.StartsWith("api/models/", StringComparison.Ordinal))
            {
                string repo = path["api/models/".Length..];
                var names = Files.Keys.Where(k => k.StartsWith(repo + "/", StringComparison.Ordinal)).Select(k => k[(repo.Length + 1)..]).ToList();
                if (names.Count == 0) { Send(response, 404, "{\"error\":\"Repository not found\"}"); return; }
                names.Add("README.md");
                // As the hub answers ?blobs=true: each sibling with its size in bytes.
                string json = JsonSerializer.Serialize(new
                {
                    id = repo,
                    siblings = names.Select(n => new { rfilename = n, size = Files.TryGetValue(repo + "/" + n, out var f) ? f.Bytes.Length : 5 }),
                });
                Send(response, 200, json);
                return;
            }
            int resolve = path.IndexOf("/resolve/main/", StringComparison.Ordinal);
            if (resolve > 0)
            {
                string key = path[..resolve] + "/" + path[(resolve + "/resolve/main/".Length)..];
                if (!Files.TryGetValue(key, out var hosted)) { Send(response, 404, "Entry not found"); return; }
                response.StatusCode = 302;
                if (hosted.LinkedEtag is not null) response.AddHeader("X-Linked-Etag", $"\"{hosted.LinkedEtag}\"");
                response.RedirectLocation = $"/cdn/{key}";
                response.ContentLength64 = 0;
                response.Close();
                return;
            }
            if (path.StartsWith("cdn/", StringComparison.Ordinal) && Files.TryGetValue(path["cdn/".Length..], out var file))
            {
                string? range = context.Request.Headers["Range"];
                ByteRequests.Enqueue((path, range));
                long start = 0;
                if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
                    start = long.Parse(range["bytes=".Length..^1]);
                if (start >= file.Bytes.Length && start > 0)
                {
                    response.StatusCode = 416;
                    response.AddHeader("Content-Range", $"bytes */{file.Bytes.Length}");
                    response.ContentLength64 = 0;
                    response.Close();
                    return;
                }
                response.StatusCode = start > 0 ? 206 : 200;
                if (start > 0) response.AddHeader("Content-Range", $"bytes {start}-{file.Bytes.Length - 1}/{file.Bytes.Length}");
                response.AddHeader("Accept-Ranges", "bytes");
                long length = file.Bytes.Length - start;
                response.ContentLength64 = length;
                bool drop;
                lock (file) { drop = file.DropFirst > 0; if (drop) file.DropFirst--; }
                int count = drop ? (int)(length / 2) : (int)length;
                response.OutputStream.Write(file.Bytes, (int)start, count);
                response.OutputStream.Flush();
                if (drop) { response.Abort(); return; }
                response.Close();
                return;
            }
            Send(response, 404, "Entry not found");
        }
        catch (Exception)
        {
            try { response.Abort(); } catch (Exception) { }
        }
    }

    private static void Send(HttpListenerResponse response, int status, string body)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = body.StartsWith('{') ? "application/json" : "text/plain";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (Exception) { }
    }
}
