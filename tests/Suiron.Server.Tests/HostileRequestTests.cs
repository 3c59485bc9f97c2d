using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Suiron.Server.Tests;

/// <summary>
/// Requests an attacker or a broken client sends: text that is not Unicode, schemas with keywords of the wrong type,
/// grammars too big to run, unknown routes, wrong content types. Each must get a 4xx in OpenAI's error shape naming
/// what is wrong — never a 500, never an empty body.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class HostileRequestTests(ServerFixture fixture)
{
    /// <summary>Asserts an error status with OpenAI's error shape and returns the error object.</summary>
    internal static JsonElement ErrorOf(int status, string body, string context)
    {
        Assert.True(status >= 400, $"{context}: HTTP {status}: {body}");
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new Xunit.Sdk.XunitException($"{context}: HTTP {status} with a body that is not JSON: '{body}'");
        }
        Assert.True(root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object, $"{context}: no error object: {body}");
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        return error;
    }

    private async Task<(int Status, string Body)> PostBytesAsync(string path, byte[] body, string? contentType = "application/json")
    {
        using var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await fixture.Http.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Where the bad text goes: a request with the marker X where a string is, and the parameter that must be named.</summary>
    public static TheoryData<string, string, string> Fields => new()
    {
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"aXb"}],"max_tokens":1}""", "messages[0].content" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":[{"type":"text","text":"X"}]}],"max_tokens":1}""", "messages[0].content[0].text" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"a"}],"stop":["X"],"max_tokens":1}""", "stop[0]" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"a"}],"json_schema":{"type":"string","enum":["X"]},"max_tokens":1}""", "json_schema.enum[0]" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"X","max_tokens":1}""", "tool_choice" },
        { "/v1/chat/completions", """{"model":"X","messages":[{"role":"user","content":"a"}],"max_tokens":1}""", "model" },
        { "/v1/completions", """{"prompt":"X","max_tokens":1}""", "prompt" },
        { "/v1/completions", """{"prompt":["X"],"max_tokens":1}""", "prompt[0]" },
        { "/v1/completions", """{"prompt":"a","stop":"X","max_tokens":1}""", "stop" },
        { "/v1/embeddings", """{"input":"X"}""", "input" },
        { "/v1/embeddings", """{"input":["ok","X"]}""", "input[1]" },
        { "/v1/completions", """{"prompt":"a","max_tokens":1,"logit_bias":{"X":1}}""", "logit_bias.(a property name)" },
        { "/v1/completions", """{"prompt":"a","max_tokens":1,"X":1}""", "(a property name)" },
    };

    private static readonly (string Name, byte[] Bytes)[] BadText =
    [
        ("escaped lone high surrogate", "\\ud800"u8.ToArray()),
        ("escaped lone low surrogate", "\\udc00x"u8.ToArray()),
        ("escaped reversed pair", "\\udc00\\ud800"u8.ToArray()),
        ("UTF-8 surrogate ED A0 80", [0xED, 0xA0, 0x80]),
        ("overlong NUL C0 80", [0xC0, 0x80]),
        ("beyond U+10FFFF F4 90 80 80", [0xF4, 0x90, 0x80, 0x80]),
        ("FF FE", [0xFF, 0xFE]),
        ("truncated sequence E2 82", [0xE2, 0x82]),
    ];

    [Theory]
    [MemberData(nameof(Fields))]
    public async Task TextThatIsNotUnicodeIsA400NamingTheField(string path, string template, string param)
    {
        foreach (var (name, bytes) in BadText)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(template);
            int at = Array.IndexOf(utf8, (byte)'X');
            byte[] body = [.. utf8.AsSpan(0, at), .. bytes, .. utf8.AsSpan(at + 1)];
            var (status, text) = await PostBytesAsync(path, body);
            var error = ErrorOf(status, text, $"{path} {param} {name}");
            Assert.Equal(400, status);
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Equal("invalid_encoding", error.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task ValidSurrogatePairsAndNonAsciiTextStillWork()
    {
        var (status, body) = await fixture.PostAsync("/v1/completions", """{"prompt":"caf\u00e9 \ud83d\ude00 日本","max_tokens":1}""");
        Assert.Equal(200, status);
        Assert.Equal(1, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    /// <summary>Schema keywords of the wrong type, in each place a schema is given: 400 naming the keyword's path.</summary>
    public static TheoryData<string, string, string> WrongSchemas => new()
    {
        { "json_schema", """{"type":"integer","minimum":"x"}""", "minimum" },
        { "json_schema", """{"type":["string",5]}""", "type" },
        { "json_schema", """{"type":"object","properties":{"a":{"type":"string","maxLength":"long"}}}""", "maxLength" },
        { "json_schema", """{"type":"object","properties":[1,2]}""", "properties" },
        { "json_schema", """{"type":"array","items":5}""", "items" },
        { "json_schema", """{"type":"object","required":"a"}""", "required" },
        { "json_schema", """{"enum":5}""", "enum" },
        { "json_schema", """{"anyOf":{"type":"string"}}""", "anyOf" },
        { "json_schema", """{"type":"string","pattern":7}""", "pattern" },
        { "json_schema", """{"type":"string","minLength":-1}""", "minLength" },
        { "json_schema", """{"type":"string","maxLength":1e300}""", "maxLength" },
        { "response_format", """{"type":"integer","minimum":"x"}""", "minimum" },
        { "response_format", """{"type":["string",5]}""", "type" },
        { "tools", """{"type":"object","properties":{"a":{"type":"integer","minimum":"x"}}}""", "minimum" },
        { "tools", """{"type":"object","properties":{"a":{"type":["string",5]}}}""", "type" },
    };

    [Theory]
    [MemberData(nameof(WrongSchemas))]
    public async Task SchemaKeywordOfTheWrongTypeIsA400NamingIt(string where, string schema, string keyword)
    {
        string request = where switch
        {
            "json_schema" => $$"""{"messages":[{"role":"user","content":"a"}],"max_tokens":1,"json_schema":{{schema}}}""",
            "response_format" => """{"messages":[{"role":"user","content":"a"}],"max_tokens":1,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":""" + schema + "}}}",
            _ => """{"messages":[{"role":"user","content":"a"}],"max_tokens":1,"tools":[{"type":"function","function":{"name":"f","parameters":""" + schema + """}}],"tool_choice":"required"}""",
        };
        using var response = await fixture.PostJsonAsync("/v1/chat/completions", request);
        string body = await response.Content.ReadAsStringAsync();
        var error = ErrorOf((int)response.StatusCode, body, $"{where} {schema}");
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains(keyword, error.GetProperty("message").GetString());
        Assert.StartsWith(where, error.GetProperty("param").GetString());
    }

    /// <summary>Unknown paths are 404 under any method (a catch-all route once made an unknown POST a 405); a known path under the wrong method is 405.</summary>
    [Theory]
    [InlineData("GET", "//v1/models", 404)]
    [InlineData("GET", "/v1%2Fmodels", 404)]
    [InlineData("GET", "/v1/nope", 404)]
    [InlineData("POST", "/v1/nope", 404)]
    [InlineData("POST", "/nope.html", 404)]
    [InlineData("GET", "/app.js/x", 404)]
    [InlineData("POST", "/", 405)]
    [InlineData("DELETE", "/v1/models", 405)]
    [InlineData("GET", "/v1/chat/completions", 405)]
    [InlineData("PUT", "/v1/completions", 405)]
    public async Task UnknownRoutesAndMethodsAnswerInTheErrorShape(string method, string path, int expected)
    {
        // Over a raw socket: HttpClient would read "//v1/models" as a URL of the host "v1".
        string body = method is "POST" or "PUT" ? "{}" : "";
        string raw = $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
        var (status, text) = await RawRequestAsync(fixture.Address, raw);
        ErrorOf(status, text, $"{method} {path}");
        Assert.Equal(expected, status);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData(null)]
    public async Task JsonEndpointsRefuseOtherContentTypes(string? contentType)
    {
        // What a web page can send without a CORS preflight: a form, or fetch() with a text body.
        foreach (string path in new[] { "/v1/chat/completions", "/v1/completions", "/v1/embeddings" })
        {
            var (status, body) = await PostBytesAsync(path, """{"prompt":"Hi","messages":[{"role":"user","content":"Hi"}],"input":"Hi","max_tokens":1}"""u8.ToArray(), contentType);
            var error = ErrorOf(status, body, $"{path} {contentType}");
            Assert.Equal(415, status);
            Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task JsonContentTypeVariantsAreAccepted()
    {
        foreach (string type in new[] { "application/json", "application/json; charset=utf-8", "Application/JSON" })
        {
            var (status, body) = await PostBytesAsync("/v1/completions", """{"prompt":"Hi","max_tokens":1}"""u8.ToArray(), type);
            Assert.True(status == 200, $"{type}: {status} {body}");
        }
    }

    /// <summary>Requests Kestrel rejects before any endpoint runs (request line, headers, URL too long) still get the error shape.</summary>
    [Theory]
    [InlineData("GET /" + "x" + " HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n", 400)]
    [InlineData("GARBAGE\r\n\r\n", 400)]
    [InlineData("LONGURL", 414)]
    [InlineData("LONGHEADERS", 431)]
    public async Task ServerLevelRejectionsUseTheErrorShape(string raw, int expected)
    {
        if (raw == "LONGURL") raw = $"GET /{new string('a', 20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        if (raw == "LONGHEADERS") raw = $"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {new string('a', 40_000)}\r\n\r\n";
        var (status, body) = await RawRequestAsync(fixture.Address, raw);
        ErrorOf(status, body, raw.Length > 60 ? raw[..60] : raw);
        Assert.Equal(expected, status);
    }

    /// <summary>Sends bytes over a plain socket and parses the status and the body of the first response.</summary>
    internal static async Task<(int Status, string Body)> RawRequestAsync(Uri address, string raw)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(raw));
        var received = new MemoryStream();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
                if (TryParseResponse(received.ToArray(), out _, out _)) break;
            }
        }
        catch (IOException)
        {
            // Kestrel closes the connection after a rejection; what arrived before is the answer.
        }
        Assert.True(TryParseResponse(received.ToArray(), out int status, out string body), $"no complete response: '{Encoding.Latin1.GetString(received.ToArray())}'");
        return (status, body);
    }

    private static bool TryParseResponse(byte[] bytes, out int status, out string body)
    {
        status = 0;
        body = "";
        string text = Encoding.UTF8.GetString(bytes);
        int headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headerEnd < 0) return false;
        string[] lines = text[..headerEnd].Split("\r\n");
        status = int.Parse(lines[0].Split(' ')[1]);
        int length = 0;
        bool chunked = false;
        foreach (string line in lines)
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line["Content-Length:".Length..].Trim());
            if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase)) chunked = true;
        }
        string rest = text[(headerEnd + 4)..];
        if (!chunked)
        {
            if (bytes.Length < headerEnd + 4 + length) return false;
            body = Encoding.UTF8.GetString(bytes, headerEnd + 4, length);
            return true;
        }
        var decoded = new StringBuilder();
        int at = 0;
        while (true)
        {
            int lineEnd = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (lineEnd < 0) return false;
            int size = Convert.ToInt32(rest[at..lineEnd], 16);
            if (size == 0) break;
            if (lineEnd + 2 + size > rest.Length) return false;
            decoded.Append(rest, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
        body = decoded.ToString();
        return true;
    }
}

/// <summary>A server with the default 8 MiB body limit, for requests the shared fixture's 64 KiB refuses.</summary>
public sealed class LargeBodyFixture : ServerFixture
{
    protected override SuironServerOptions ServerOptions => new() { Port = 0 };
}

/// <summary>
/// The 100,000-word grammars take hundreds of MB while they compile; run apart from the other collections, so that
/// LoadTests' measure of the process's managed memory sees only its own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LargeGrammarCollection
{
    public const string Name = "large grammars, alone";
}

[Collection(LargeGrammarCollection.Name)]
public sealed class LargeGrammarTests(LargeBodyFixture fixture) : IClassFixture<LargeBodyFixture>
{
    [Fact]
    public async Task AHundredThousandLiteralAlternativesRun()
    {
        // {"enum": [100,000 strings]} and the same as GBNF: a flat alternation of literals, compiled to a trie rather
        // than tracked as 100,000 parse stacks (which once answered 500 "Grammar too ambiguous").
        string[] words = Enumerable.Range(0, 100_000).Select(i => $"w{i:x}z").ToArray();
        string schema = JsonSerializer.Serialize(new { @enum = words });
        var (status, body) = await fixture.PostAsync("/v1/completions", $$"""{"prompt":"Once","max_tokens":12,"temperature":1,"seed":1,"json_schema":{{schema}}}""");
        Assert.True(status == 200, body.ToString());
        string text = body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        if (body.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop")
            Assert.Contains(JsonSerializer.Deserialize<string>(text), words);

        string gbnf = "root ::= " + string.Join(" | ", words.Select(w => $"\"{w}\""));
        (status, body) = await fixture.PostAsync("/v1/completions", JsonSerializer.Serialize(new { prompt = "Once", max_tokens = 12, temperature = 1, seed = 2, grammar = gbnf }));
        Assert.True(status == 200, body.ToString());
        text = body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        if (body.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop") Assert.Contains(text, words);
    }

    [Fact]
    public async Task AGrammarTooAmbiguousToRunIsA400NamingIt()
    {
        // 70,000 alternatives that are not plain literals (each ends in a character class), so no trie applies: more
        // parse stacks than the matcher keeps, refused up front instead of failing the generation with a 500.
        string gbnf = "root ::= " + string.Join(" | ", Enumerable.Range(0, 70_000).Select(i => $"\"v{i}\" [a-z]"));
        var (status, body) = await fixture.PostAsync("/v1/completions", JsonSerializer.Serialize(new { prompt = "Once", max_tokens = 4, grammar = gbnf }));
        var error = HostileRequestTests.ErrorOf(status, body.ToString(), "ambiguous grammar");
        Assert.Equal(400, status);
        Assert.Equal("grammar", error.GetProperty("param").GetString());
        Assert.Contains("ambiguous", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AGrammarThatTurnsTooAmbiguousMidGenerationEndsTheAnswerNotTheServer()
    {
        // One stack to start, 70,000 after the first "O": past the check of the first step. The matcher's exception
        // used to escape on the scheduler's thread; now the answer ends where the grammar can no longer be followed.
        string gbnf = "root ::= \"O\" (" + string.Join(" | ", Enumerable.Range(0, 70_000).Select(i => $"\"v{i}\" [a-z]")) + ")";
        var (status, body) = await fixture.PostAsync("/v1/completions", JsonSerializer.Serialize(new { prompt = "Once", max_tokens = 4, grammar = gbnf }));
        Assert.True(status == 200, body.ToString());
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        (status, body) = await fixture.PostAsync("/v1/completions", """{"prompt":"Once","max_tokens":2}""");
        Assert.Equal(200, status); // the scheduler is still running
    }
}
