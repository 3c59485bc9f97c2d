using System.Text.RegularExpressions;

namespace Suiron.Server.Tests;

/// <summary>
/// The web chat page as the server sends it: every file with its content type, every reference resolving to a file
/// of our own, and no address of another host (no CDN, no fonts or scripts from outside the machine).
/// The browser test (tests/webchat/chat.spec.mjs) drives the page itself.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed partial class WebChatAssetsTests(ServerFixture server)
{
    public static TheoryData<string, string> Assets => new()
    {
        { "/", "text/html" },
        { "/index.html", "text/html" },
        { "/app.js", "text/javascript" },
        { "/markdown.js", "text/javascript" },
        { "/sse.js", "text/javascript" },
        { "/store.js", "text/javascript" },
        { "/app.css", "text/css" },
        { "/favicon.svg", "image/svg+xml" },
    };

    [Theory]
    [MemberData(nameof(Assets))]
    public async Task AssetIsServedWithItsContentType(string path, string contentType)
    {
        using var response = await server.Http.GetAsync(path);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        Assert.False(string.IsNullOrWhiteSpace(body));
        foreach (Match url in AbsoluteUrl().Matches(body))
        {
            // An XML namespace names, it does not fetch.
            bool isNamespace = body.AsSpan(0, url.Index).EndsWith("xmlns=\"", StringComparison.Ordinal);
            Assert.True(isNamespace, $"{path} refers to another host: {url.Value}");
        }
        Assert.DoesNotContain("//cdn", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryReferenceOfThePageResolvesToOneOfItsOwnFiles()
    {
        string html = await server.Http.GetStringAsync("/");
        Assert.Contains("Content-Security-Policy", html);
        Assert.Contains("connect-src 'self'", html);
        var references = new List<string>();
        foreach (Match m in HtmlReference().Matches(html)) references.Add(m.Groups["url"].Value);
        foreach (string module in new[] { "app.js", "markdown.js", "sse.js", "store.js" })
        {
            string js = await server.Http.GetStringAsync("/" + module);
            foreach (Match m in ModuleImport().Matches(js)) references.Add(m.Groups["url"].Value);
        }
        Assert.Contains("app.js", references);
        Assert.Contains("app.css", references);
        Assert.Contains("./markdown.js", references);
        foreach (string reference in references)
        {
            Assert.DoesNotMatch("^[a-z]+:|^//", reference);
            using var response = await server.Http.GetAsync("/" + reference.TrimStart('.', '/'));
            Assert.True(response.IsSuccessStatusCode, $"{reference}: HTTP {(int)response.StatusCode}");
        }
    }

    [Theory]
    [InlineData("/nope.js")]
    [InlineData("/..%2FSuiron.Server.dll")]
    [InlineData("/wwwroot/app.js")]
    public async Task UnknownPathsAreNotFound(string path)
    {
        using var response = await server.Http.GetAsync(path);
        Assert.Equal(404, (int)response.StatusCode);
    }

    [GeneratedRegex(@"https?://[^\s""'<>)]+", RegexOptions.IgnoreCase)]
    private static partial Regex AbsoluteUrl();

    [GeneratedRegex(@"\b(?:src|href)=""(?<url>[^""]+)""")]
    private static partial Regex HtmlReference();

    [GeneratedRegex(@"\bfrom\s+'(?<url>[^']+)'")]
    private static partial Regex ModuleImport();
}
