using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Suiron.Gguf;

namespace Suiron.Cli.Pull;

/// <summary>A download that cannot go on: the message is for the user, one line where possible.</summary>
internal sealed class DownloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Bytes so far and the total (null while unknown), reported as a download runs.</summary>
internal readonly record struct DownloadProgress(long Received, long? Total, string Phase);

/// <summary>
/// Downloads GGUF files from a Hugging Face-style hub: <c>{endpoint}/{repo}/resolve/main/{file}</c> for the bytes and
/// <c>{endpoint}/api/models/{repo}</c> for the file list. Bytes go to <c>FILE.partial</c> first, so a broken transfer is
/// resumed with an HTTP Range request; the result is checked (SHA-256, then opened as GGUF) before it is renamed into place.
/// </summary>
internal sealed class ModelDownloader
{
    private const int MaxRedirects = 10;
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string? _token;

    /// <param name="http">A client that does not follow redirects itself (the hub's checksum header sits on the redirect).</param>
    public ModelDownloader(HttpClient http, Uri endpoint, string? token = null)
    {
        _http = http;
        _endpoint = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        _token = string.IsNullOrEmpty(token) ? null : token;
    }

    /// <summary>A client set up as <see cref="ModelDownloader"/> needs it: redirects handled here, no overall timeout (files are gigabytes).</summary>
    public static HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(30), AutomaticDecompression = DecompressionMethods.None };
        var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("suiron/1.0");
        return client;
    }

    /// <summary>How many times a dropped connection is resumed within one download.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>Pause before resuming after a dropped connection.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public Uri FileUri(string repo, string file) => new(_endpoint, $"{EscapePath(repo)}/resolve/main/{EscapePath(file)}");

    /// <summary>The repository's <c>.gguf</c> files, in the hub's order.</summary>
    public async Task<IReadOnlyList<string>> ListGgufFilesAsync(string repo, CancellationToken cancellation = default) =>
        (await ListGgufFilesWithSizesAsync(repo, cancellation)).Select(f => f.Name).ToList();

    /// <summary>The repository's <c>.gguf</c> files with their sizes in bytes where the hub gives them (<c>?blobs=true</c>), in the hub's order.</summary>
    public async Task<IReadOnlyList<(string Name, long? Size)>> ListGgufFilesWithSizesAsync(string repo, CancellationToken cancellation = default)
    {
        var uri = new Uri(_endpoint, $"api/models/{EscapePath(repo)}?blobs=true");
        using var response = await SendAsync(uri, rangeStart: 0, cancellation);
        if (!response.IsSuccessStatusCode) throw HttpError(response, $"repository '{repo}'", uri);
        await using var body = await response.Content.ReadAsStreamAsync(cancellation);
        try
        {
            using var json = await JsonDocument.ParseAsync(body, cancellationToken: cancellation);
            var files = new List<(string, long?)>();
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
                foreach (var sibling in siblings.EnumerateArray())
                    if (sibling.ValueKind == JsonValueKind.Object && sibling.TryGetProperty("rfilename", out var name) && name.ValueKind == JsonValueKind.String
                        && name.GetString()!.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
                    {
                        long? size = sibling.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long bytes) && bytes >= 0 ? bytes : null;
                        files.Add((name.GetString()!, size));
                    }
            return files;
        }
        catch (JsonException e)
        {
            throw new DownloadException($"{uri} did not answer with the repository's JSON description ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Downloads <paramref name="file"/> of <paramref name="repo"/> into <paramref name="directory"/> and returns the final path.
    /// A file already there is kept (and checked against <paramref name="expectedSha256"/> when one is given).
    /// </summary>
    public async Task<string> DownloadAsync(string repo, string file, string directory, string? expectedSha256 = null,
        Action<DownloadProgress>? progress = null, CancellationToken cancellation = default)
    {
        string? givenSha = expectedSha256 is null ? null : NormalizeSha256(expectedSha256)
            ?? throw new ArgumentException($"--sha256 must be 64 hexadecimal digits (got '{expectedSha256}').");
        string name = Path.GetFileName(file);
        if (name.Length == 0 || name is "." or "..") throw new ArgumentException($"'{file}' does not name a file.");
        Directory.CreateDirectory(directory);
        string target = Path.Combine(directory, name);
        string partial = target + ".partial";

        if (File.Exists(target))
        {
            if (givenSha is not null)
            {
                string actual = await HashFileAsync(target, progress, cancellation);
                if (actual != givenSha)
                    throw new DownloadException($"{target} already exists but its SHA-256 is {actual}, not {givenSha}; delete it to download again.");
            }
            return target;
        }

        Uri uri = FileUri(repo, file);
        string? hubSha = null;
        long? total = null;
        for (int attempt = 0; ; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            using var response = await SendAsync(uri, have, cancellation);
            hubSha ??= ShaFromHeaders(response);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // The partial file may already hold every byte (a run stopped between the last byte and the rename).
                long? size = response.Content.Headers.ContentRange?.Length;
                if (have > 0 && size == have) { total = have; break; }
                File.Delete(partial);
                if (attempt >= Retries) throw new DownloadException($"{uri} refused to resume the download (HTTP 416).");
                continue;
            }
            if (!response.IsSuccessStatusCode) throw HttpError(response, $"'{file}' in '{repo}'", uri);

            bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
            if (resumed && response.Content.Headers.ContentRange?.From != have)
            {
                // A range we did not ask for: start over rather than splice the wrong bytes.
                File.Delete(partial);
                if (attempt >= Retries) throw new DownloadException($"{uri} answered a range other than the one asked for.");
                continue;
            }
            long start = resumed ? have : 0;
            long? length = response.Content.Headers.ContentLength;
            total = resumed ? response.Content.Headers.ContentRange?.Length ?? (length is { } l ? start + l : null) : length;

            long received = start;
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellation);
                await using var output = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                var buffer = new byte[1 << 17];
                progress?.Invoke(new DownloadProgress(received, total, "downloading"));
                int read;
                while ((read = await body.ReadAsync(buffer, cancellation)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellation);
                    received += read;
                    progress?.Invoke(new DownloadProgress(received, total, "downloading"));
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellation.IsCancellationRequested)
            {
                if (attempt >= Retries)
                    throw new DownloadException($"The connection broke at {received:N0} of {Describe(total)} bytes ({e.Message}); run the same command again to resume.", e);
                await Task.Delay(RetryDelay, cancellation);
                continue;
            }
            if (total is { } expected && received != expected)
            {
                if (attempt >= Retries)
                    throw new DownloadException($"The transfer ended at {received:N0} of {expected:N0} bytes; run the same command again to resume.");
                await Task.Delay(RetryDelay, cancellation);
                continue;
            }
            break;
        }

        string? wanted = givenSha ?? hubSha;
        if (wanted is not null)
        {
            string actual = await HashFileAsync(partial, progress, cancellation);
            if (actual != wanted)
            {
                // Kept, not deleted: a large download may be right and the checksum given wrong, and either way it costs
                // hours to fetch again. It cannot be mistaken for the model under its own name.
                string aside = target + ".sha256-mismatch";
                File.Move(partial, aside, overwrite: true);
                string source = givenSha is not null ? "--sha256" : "the server's checksum";
                throw new DownloadException($"Checksum mismatch for {name}: SHA-256 is {actual} but {source} says {wanted}. " +
                                            $"The bytes are kept as {aside}: delete it, or rename it to {name} if you trust it.");
            }
        }

        try
        {
            using var gguf = GgufFile.Open(partial);
        }
        catch (GgufException e)
        {
            File.Delete(partial);
            throw new DownloadException($"{name} is not a usable GGUF file ({e.Message}); the download was removed.", e);
        }
        File.Move(partial, target);
        return target;
    }

    /// <summary>GET with manual redirects, so that headers of the first hop (the hub's checksum) are seen and the token never leaves the hub.</summary>
    private async Task<HttpResponseMessage> SendAsync(Uri uri, long rangeStart, CancellationToken cancellation)
    {
        string? linkedEtag = null;
        for (int hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (rangeStart > 0) request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            if (_token is not null && uri.Host == _endpoint.Host && uri.Port == _endpoint.Port)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            }
            catch (HttpRequestException e)
            {
                throw new DownloadException($"Cannot reach {uri.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);
            }
            linkedEtag ??= Header(response, "X-Linked-Etag");
            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                response.Dispose();
                if (hop >= MaxRedirects) throw new DownloadException($"Too many redirects fetching {uri}.");
                uri = location.IsAbsoluteUri ? location : new Uri(uri, location);
                continue;
            }
            if (linkedEtag is not null) response.Headers.TryAddWithoutValidation("X-Linked-Etag", linkedEtag);
            return response;
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>The SHA-256 a hub announces for an LFS file: X-Linked-Etag (on the redirect) or the ETag, when it is 64 hex digits.</summary>
    internal static string? ShaFromHeaders(HttpResponseMessage response) =>
        NormalizeSha256(Header(response, "X-Linked-Etag")) ?? NormalizeSha256(Header(response, "ETag"));

    internal static string? NormalizeSha256(string? value)
    {
        if (value is null) return null;
        string v = value.Trim();
        if (v.StartsWith("W/", StringComparison.Ordinal)) v = v[2..];
        v = v.Trim('"').ToLowerInvariant();
        return v.Length == 64 && v.All(char.IsAsciiHexDigitLower) ? v : null;
    }

    private static async Task<string> HashFileAsync(string path, Action<DownloadProgress>? progress, CancellationToken cancellation)
    {
        await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long done = 0, length = input.Length;
        int read;
        while ((read = await input.ReadAsync(buffer, cancellation)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            done += read;
            progress?.Invoke(new DownloadProgress(done, length, "verifying"));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static DownloadException HttpError(HttpResponseMessage response, string what, Uri uri)
    {
        int status = (int)response.StatusCode;
        string reason = response.ReasonPhrase is { Length: > 0 } r ? $"{status} {r}" : status.ToString();
        return status switch
        {
            404 => new DownloadException($"Not found: {what} ({uri} answered HTTP {reason}). Check the repository and file names."),
            401 or 403 => new DownloadException($"Access denied to {what} (HTTP {reason}): the repository may be gated or private; accept its terms on the hub and set HF_TOKEN."),
            _ => new DownloadException($"{uri} answered HTTP {reason}."),
        };
    }

    private static string Describe(long? total) => total is { } t ? t.ToString("N0") : "an unknown number of";

    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));
}
