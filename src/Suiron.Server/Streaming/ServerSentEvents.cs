using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Suiron.Server.Streaming;

/// <summary>
/// Server-sent events as OpenAI streams them (<c>data: {json}\n\n</c> per chunk, then <c>data: [DONE]\n\n</c>) and as
/// Anthropic does (<c>event: NAME\ndata: {json}\n\n</c>, no terminator). Each event is flushed at once.
/// </summary>
internal static class ServerSentEvents
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventPrefix = "event: "u8.ToArray();
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static async Task StartAsync(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies: do not buffer the stream
        await response.StartAsync();
    }

    public static async Task WriteAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> type, CancellationToken cancellation)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        buffer.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(buffer)) JsonSerializer.Serialize(writer, value, type);
        buffer.Write(EventEnd);
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellation);
        await response.Body.FlushAsync(cancellation);
    }

    /// <summary>A named event (Anthropic's <c>message_start</c>, <c>content_block_delta</c> …).</summary>
    public static async Task WriteEventAsync<T>(HttpResponse response, string name, T value, JsonTypeInfo<T> type, CancellationToken cancellation)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        buffer.Write(EventPrefix);
        buffer.Write(System.Text.Encoding.UTF8.GetBytes(name));
        buffer.Write(NewLine);
        buffer.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(buffer, Relaxed)) JsonSerializer.Serialize(writer, value, type);
        buffer.Write(EventEnd);
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellation);
        await response.Body.FlushAsync(cancellation);
    }

    // Text as UTF-8 (Japanese, emoji, quotes) rather than \uXXXX escapes, as the server's other JSON is written.
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteDoneAsync(HttpResponse response, CancellationToken cancellation)
    {
        await response.Body.WriteAsync(Done, cancellation);
        await response.Body.FlushAsync(cancellation);
    }
}
