using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Suiron.Server.Contracts;

namespace Suiron.Server;

/// <summary>
/// Gives the responses Kestrel writes by itself — a malformed request line or header (400), a URL or headers over its
/// limits (414, 431), a request that times out (408) — OpenAI's error body, where Kestrel sends none: those requests
/// never reach a middleware, so this sits one level lower, on the connection, and rewrites a response that is a bare
/// error status with <c>Content-Length: 0</c> and <c>Connection: close</c> (the application never writes one: its
/// errors all carry a body).
/// Everything else passes through unchanged, one copy per flush.
/// </summary>
internal static class KestrelErrorBodies
{
    public static Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => connection =>
    {
        var transport = connection.Transport;
        connection.Transport = new Pipe(transport.Input, new RewritingWriter(transport.Output));
        return next(connection);
    };

    private sealed class Pipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    private sealed class RewritingWriter(PipeWriter inner) : PipeWriter
    {
        private readonly ArrayBufferWriter<byte> _pending = new(4096);

        public override void Advance(int bytes) => _pending.Advance(bytes);
        public override Memory<byte> GetMemory(int sizeHint = 0) => _pending.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => _pending.GetSpan(sizeHint);
        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        // System.Text.Json asks how much is buffered to decide when to flush while serializing a response.
        public override bool CanGetUnflushedBytes => true;
        public override long UnflushedBytes => _pending.WrittenCount + (inner.CanGetUnflushedBytes ? inner.UnflushedBytes : 0);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            MovePending();
            return inner.FlushAsync(cancellationToken);
        }

        public override void Complete(Exception? exception = null)
        {
            MovePending();
            inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            MovePending();
            await inner.FlushAsync();
            await inner.CompleteAsync(exception);
        }

        private void MovePending()
        {
            if (_pending.WrittenCount == 0) return;
            ReadOnlySpan<byte> bytes = _pending.WrittenSpan;
            if (Rewrite(bytes) is { } rewritten) inner.Write(rewritten);
            else inner.Write(bytes);
            _pending.ResetWrittenCount();
        }
    }

    /// <summary>The response with a JSON error body, or null when <paramref name="response"/> is not a bare error from Kestrel.</summary>
    internal static byte[]? Rewrite(ReadOnlySpan<byte> response)
    {
        if (!response.StartsWith("HTTP/1.1 "u8) || response.Length < 12) return null;
        byte statusClass = response[9];
        if (statusClass is not ((byte)'4' or (byte)'5')) return null;
        int headerEnd = response.IndexOf("\r\n\r\n"u8);
        if (headerEnd < 0 || headerEnd + 4 != response.Length) return null;
        string head = Encoding.Latin1.GetString(response[..headerEnd]);
        const string emptyLength = "\r\nContent-Length: 0";
        int lengthAt = head.IndexOf(emptyLength, StringComparison.OrdinalIgnoreCase);
        if (lengthAt < 0 || (lengthAt + emptyLength.Length < head.Length && head[lengthAt + emptyLength.Length] != '\r')) return null;
        // Kestrel closes the connection after each of these; a response that keeps it open is not one of them.
        if (!head.Contains("\r\nConnection: close", StringComparison.OrdinalIgnoreCase)) return null;
        if (!int.TryParse(head.AsSpan(9, 3), out int status)) return null;

        string reason = head[..head.IndexOf('\r')][12..].Trim();
        var error = new ApiError(status, $"{(reason.Length > 0 ? reason : "Bad request")}: the HTTP server refused the request before it reached the API.",
            status >= 500 ? ApiError.ServerError : ApiError.InvalidRequest, code: status switch
            {
                408 => "request_timeout",
                413 => "request_too_large",
                414 => "uri_too_long",
                431 => "request_headers_too_large",
                501 => "not_implemented",
                505 => "http_version_not_supported",
                _ => "bad_request",
            });
        byte[] body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(error.ToResponse(), ServerJsonContext.Web.ErrorResponse);
        string newHead = head[..lengthAt]
                         + $"\r\nContent-Length: {body.Length}\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff"
                         + head[(lengthAt + emptyLength.Length)..] + "\r\n\r\n";
        return [.. Encoding.Latin1.GetBytes(newHead), .. body];
    }
}
