using System.Text;

namespace Suiron.Server.Tests;

/// <summary>Which responses the connection-level rewrite touches: only Kestrel's own bare errors, never the application's.</summary>
public sealed class KestrelErrorBodiesTests
{
    private static string? Rewrite(string response) => KestrelErrorBodies.Rewrite(Encoding.Latin1.GetBytes(response)) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    [Fact]
    public void ABareKestrelErrorGetsTheErrorBody()
    {
        string? rewritten = Rewrite("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\nDate: x\r\n\r\n");
        Assert.NotNull(rewritten);
        string[] parts = rewritten.Split("\r\n\r\n", 2);
        Assert.Contains("Content-Type: application/json; charset=utf-8", parts[0]);
        Assert.Contains($"Content-Length: {Encoding.UTF8.GetByteCount(parts[1])}", parts[0]);
        Assert.Contains("Connection: close", parts[0]);
        var error = HostileRequestTests.ErrorOf(431, parts[1], "rewrite");
        Assert.Equal("request_headers_too_large", error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")]                       // not an error
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")]                                      // keeps the connection: not Kestrel's
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")]             // has a body
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 20\r\nConnection: close\r\n\r\n")]              // a body to come (HEAD)
    [InlineData("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")]       // the application's, chunked
    [InlineData("data: {\"x\":1}\n\n")]                                                                       // a later write of a stream
    public void EverythingElsePassesUnchanged(string response) => Assert.Null(Rewrite(response));
}
