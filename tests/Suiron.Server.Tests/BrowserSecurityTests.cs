using System.Net;
using Microsoft.AspNetCore.Http;
using System.Text;
using Suiron.Server.Auth;

namespace Suiron.Server.Tests;

/// <summary>
/// What a web page the user visits could do to a server on their machine: a cross-site POST (a form, or fetch with
/// text/plain, which browsers send without asking), DNS rebinding (the page's own name resolving to 127.0.0.1, so the
/// request carries <c>Host: attacker.example</c>), framing the web chat. None may start a generation or read a reply.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class BrowserSecurityTests(ServerFixture fixture)
{
    private const string Generation = """{"model":"default","prompt":"Once upon a time","max_tokens":4}""";

    private async Task<(int Status, string Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? host = null,
        string? origin = null, string? body = null, string contentType = "application/json", HttpClient? client = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (host is not null) request.Headers.Host = host;
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, contentType);
        var response = await (client ?? fixture.Http).SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Theory]
    [InlineData("attacker.example")]
    [InlineData("attacker.example:8080")]
    [InlineData("localhost.attacker.example")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task ForeignHostNamesAreRefusedEverywhere(string host)
    {
        long generated = fixture.Model.Scheduler.GeneratedTokens;
        foreach (var (method, path, body) in new (HttpMethod, string, string?)[]
                 {
                     (HttpMethod.Get, "/", null), (HttpMethod.Get, "/v1/models", null), (HttpMethod.Get, "/health", null),
                     (HttpMethod.Post, "/v1/completions", Generation), (HttpMethod.Post, "/v1/chat/completions", Generation),
                 })
        {
            var (status, text, response) = await SendAsync(method, path, host: host, body: body);
            var error = HostileRequestTests.ErrorOf(status, text, $"{method} {path} Host: {host}");
            Assert.Equal(403, status);
            Assert.Equal("host_not_allowed", error.GetProperty("code").GetString());
            response.Dispose();
        }
        Assert.Equal(generated, fixture.Model.Scheduler.GeneratedTokens);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("LOCALHOST.")]
    [InlineData("chat.localhost")]
    [InlineData("[::1]")]
    [InlineData("192.168.1.20")]
    public async Task LoopbackNamesAndAddressesAreServed(string name)
    {
        var (status, body, response) = await SendAsync(HttpMethod.Get, "/v1/models", host: $"{name}:{fixture.Address.Port}");
        response.Dispose();
        Assert.True(status == 200, $"{name}: {status} {body}");
    }

    [Fact]
    public async Task ACrossSiteTextPlainPostStartsNoGeneration()
    {
        // The request: a page on another site POSTs text/plain (no CORS preflight) and once ran a generation.
        long generated = fixture.Model.Scheduler.GeneratedTokens;
        foreach (string contentType in new[] { "text/plain", "application/json", "application/x-www-form-urlencoded" })
        {
            var (status, text, response) = await SendAsync(HttpMethod.Post, "/v1/completions", origin: "http://evil.example", body: Generation, contentType: contentType);
            response.Dispose();
            var error = HostileRequestTests.ErrorOf(status, text, contentType);
            Assert.Equal(403, status);
            Assert.Equal("origin_not_allowed", error.GetProperty("code").GetString());
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
        foreach (string origin in new[] { "null", "http://127.0.0.1.evil.example", $"http://127.0.0.1:{fixture.Address.Port + 1}", $"https://127.0.0.1:{fixture.Address.Port}" })
        {
            var (status, _, response) = await SendAsync(HttpMethod.Post, "/v1/chat/completions", origin: origin, body: Generation);
            response.Dispose();
            Assert.True(status == 403, $"Origin {origin}: {status}");
        }
        Assert.Equal(generated, fixture.Model.Scheduler.GeneratedTokens);
    }

    [Fact]
    public async Task APreflightFromAnotherSiteIsRefused()
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        request.Headers.Add("Origin", "http://evil.example");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type");
        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task TheWebChatsOwnOriginMayCallTheApi()
    {
        // What the page at / sends: fetch('v1/chat/completions') with its own origin.
        string origin = $"http://127.0.0.1:{fixture.Address.Port}";
        var (status, body, response) = await SendAsync(HttpMethod.Post, "/v1/chat/completions", origin: origin,
            body: """{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2}""");
        response.Dispose();
        Assert.True(status == 200, body);
        (status, body, response) = await SendAsync(HttpMethod.Get, "/v1/models", host: $"localhost:{fixture.Address.Port}", origin: $"http://localhost:{fixture.Address.Port}");
        response.Dispose();
        Assert.True(status == 200, body);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/app.js")]
    [InlineData("/v1/models")]
    [InlineData("/health")]
    [InlineData("/nope")]
    public async Task EveryResponseCarriesTheSecurityHeaders(string path)
    {
        using var response = await fixture.Http.GetAsync(path);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        string csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("script-src 'self'", csp);
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Fact]
    public void HostRulesFollowTheBindAddressAndTheAllowList()
    {
        var any = new BrowserRequestPolicy(new SuironServerOptions { Host = "0.0.0.0" });
        Assert.True(any.IsAllowedHost(new HostString("10.0.0.7:8080")));     // reached by its LAN address
        Assert.True(any.IsAllowedHost(new HostString("[fe80::1]:8080")));
        Assert.False(any.IsAllowedHost(new HostString("mybox.lan:8080")));  // a name must be listed
        var named = new BrowserRequestPolicy(new SuironServerOptions { Host = "0.0.0.0", AllowedHosts = ["mybox.lan", "Proxy.Example."] });
        Assert.True(named.IsAllowedHost(new HostString("mybox.lan:8080")));
        Assert.True(named.IsAllowedHost(new HostString("proxy.example")));
        Assert.False(named.IsAllowedHost(new HostString("attacker.example")));
        var wildcard = new BrowserRequestPolicy(new SuironServerOptions { AllowedHosts = ["*"] });
        Assert.True(wildcard.IsAllowedHost(new HostString("attacker.example")));
    }
}

/// <summary>A server reached under a LAN name, with one web app allowed cross-origin and an API key.</summary>
public sealed class CorsFixture : ServerFixture
{
    public const string Key = "cors-key";
    public const string App = "https://app.example";
    protected override SuironServerOptions ServerOptions => new() { Port = 0, ApiKey = Key, AllowedHosts = ["suiron.lan"], CorsOrigins = [App] };
}

public sealed class CorsAndKeyTests(CorsFixture fixture) : IClassFixture<CorsFixture>
{
    [Fact]
    public async Task AnAllowedOriginGetsCorsHeadersAndOthersStayRefusedEvenWithTheKey()
    {
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions"))
        {
            preflight.Headers.Add("Origin", CorsFixture.App);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");
            using var response = await fixture.Http.SendAsync(preflight);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal(CorsFixture.App, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
            Assert.Contains("Authorization", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Headers")));
        }
        foreach (var (origin, expected) in new[] { (CorsFixture.App, 200), ("https://evil.example", 403), ("https://app.example.evil", 403) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = new StringContent("""{"prompt":"Once","max_tokens":2}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Origin", origin);
            using var response = await fixture.Http.SendAsync(request); // carries the key
            Assert.Equal(expected, (int)response.StatusCode);
            Assert.Equal(expected == 200, response.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task HostAndContentTypeRulesHoldWithAKey()
    {
        foreach (var (host, expected) in new[] { ("suiron.lan", 200), ("attacker.example", 403), ("127.0.0.1", 200) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            request.Headers.Host = $"{host}:{fixture.Address.Port}";
            using var response = await fixture.Http.SendAsync(request);
            Assert.True(expected == (int)response.StatusCode, $"{host}: {(int)response.StatusCode}");
        }
        // Without the key, a foreign host is refused before auth is asked for (403, not 401).
        using var anonymous = new HttpClient { BaseAddress = fixture.Address };
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models"))
        {
            request.Headers.Host = "attacker.example";
            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
        using var text = await fixture.Http.PostAsync("/v1/completions", new StringContent("""{"prompt":"Once","max_tokens":2}""", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
    }
}
