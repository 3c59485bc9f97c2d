using System.Security.Cryptography;
using System.Text;
using Suiron.Cli.Pull;
using Xunit;

namespace Suiron.Tests.Cli;

/// <summary><c>suiron pull</c> against a local fake hub: full and resumed downloads, checksums, missing files, non-GGUF bytes.</summary>
public sealed class PullTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-pull-").FullName;
    private readonly FakeHub _hub = new();
    private readonly HttpClient _http = ModelDownloader.CreateHttpClient();

    public void Dispose()
    {
        _http.Dispose();
        _hub.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static readonly byte[] Model = File.ReadAllBytes(SharedData.Path("models", "stories260K.gguf"));
    private static readonly string ModelSha = Convert.ToHexStringLower(SHA256.HashData(Model));

    private ModelDownloader Downloader(int retries = 3) =>
        new(_http, new Uri(_hub.Endpoint), token: null) { Retries = retries, RetryDelay = TimeSpan.Zero };

    private string Final => Path.Combine(_dir, "stories260K.gguf");
    private string Partial => Final + ".partial";

    [Fact]
    public async Task FullDownloadFollowsTheRedirectAndChecksTheLinkedEtag()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        string path = await Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir);
        Assert.Equal(Final, path);
        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.False(File.Exists(Partial));
        Assert.Single(_hub.ByteRequests);
    }

    [Fact]
    public async Task DroppedConnectionIsResumedWithARangeRequest()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha, DropFirst = 1 };
        var seen = new List<DownloadProgress>();
        string path = await Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir, progress: seen.Add);
        Assert.Equal(Model, File.ReadAllBytes(path));
        var requests = _hub.ByteRequests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Null(requests[0].Range);
        Assert.Matches(@"^bytes=\d+-$", requests[1].Range);
        Assert.NotEqual("bytes=0-", requests[1].Range);
        Assert.Contains(seen, p => p.Phase == "verifying");
        Assert.Equal(Model.Length, seen.Where(p => p.Phase == "downloading").Max(p => p.Received));
    }

    [Fact]
    public async Task PartialFileFromAnEarlierRunIsResumed()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha, DropFirst = 1 };
        var broken = await Assert.ThrowsAsync<DownloadException>(() => Downloader(retries: 0).DownloadAsync("owner/tiny", "stories260K.gguf", _dir));
        Assert.Contains("run the same command again to resume", broken.Message);
        long kept = new FileInfo(Partial).Length;
        Assert.InRange(kept, 1, Model.Length - 1);
        Assert.False(File.Exists(Final));

        string path = await Downloader(retries: 0).DownloadAsync("owner/tiny", "stories260K.gguf", _dir);
        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.Equal($"bytes={kept}-", _hub.ByteRequests.Last().Range);
    }

    [Fact]
    public async Task CompletePartialFileIsFinishedWithoutDownloadingAgain()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        File.WriteAllBytes(Partial, Model);
        string path = await Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir);
        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.Equal($"bytes={Model.Length}-", Assert.Single(_hub.ByteRequests).Range);
    }

    [Fact]
    public async Task FileAlreadyThereIsKeptAndCheckedAgainstAGivenSha256()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        File.WriteAllBytes(Final, Model);
        Assert.Equal(Final, await Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir, expectedSha256: ModelSha));
        Assert.Empty(_hub.ByteRequests);
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir, expectedSha256: new string('c', 64)));
        Assert.Contains("already exists", e.Message);
        Assert.True(File.Exists(Final)); // never deletes a finished file
    }

    [Fact]
    public async Task ChecksumMismatchFromTheHubRemovesTheDownload()
    {
        string wrong = new('a', 64);
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = wrong };
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir));
        Assert.Contains("Checksum mismatch", e.Message);
        Assert.Contains(ModelSha, e.Message);
        Assert.False(File.Exists(Final));
        Assert.False(File.Exists(Partial));
    }

    [Fact]
    public async Task GivenSha256WinsOverTheHubsAndMismatchIsAnError()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir, expectedSha256: new string('b', 64)));
        Assert.Contains("--sha256", e.Message);
        Assert.False(File.Exists(Final));
        Assert.False(File.Exists(Partial));
        // The right one, in capitals, passes.
        string path = await Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir, expectedSha256: ModelSha.ToUpperInvariant());
        Assert.Equal(Model, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task MissingFileIsAClearNotFound()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model };
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "nope.gguf", _dir));
        Assert.StartsWith("Not found: 'nope.gguf' in 'owner/tiny'", e.Message);
        Assert.Contains("404", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task BytesThatAreNotGgufAreRejected()
    {
        _hub.Files["owner/tiny/fake.gguf"] = new FakeHub.HostedFile { Bytes = Encoding.UTF8.GetBytes("<html>This is a login page, not a model.</html>") };
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "fake.gguf", _dir));
        Assert.Contains("not a usable GGUF file", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task ListsOnlyTheGgufFilesOfARepository()
    {
        _hub.Files["owner/two/a-Q4_K_M.gguf"] = new FakeHub.HostedFile { Bytes = Model };
        _hub.Files["owner/two/b-Q8_0.gguf"] = new FakeHub.HostedFile { Bytes = Model };
        var files = await Downloader().ListGgufFilesAsync("owner/two");
        Assert.Equal(["a-Q4_K_M.gguf", "b-Q8_0.gguf"], files.Order());
        await Assert.ThrowsAsync<DownloadException>(() => Downloader().ListGgufFilesAsync("owner/none"));
    }

    [Fact]
    public void CommandPicksTheOnlyGgufFileAndPrintsItsPath()
    {
        _hub.Files["owner/one/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        var result = SuironProcess.Run("pull", "owner/one", "--endpoint", _hub.Endpoint, "--dir", _dir);
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Equal(Final, result.StdOut.Trim());
        Assert.Equal(Model, File.ReadAllBytes(Final));
    }

    [Fact]
    public void CommandWithSeveralGgufFilesAndNoTerminalListsThem()
    {
        _hub.Files["owner/two/a-Q4_K_M.gguf"] = new FakeHub.HostedFile { Bytes = Model };
        _hub.Files["owner/two/b-Q8_0.gguf"] = new FakeHub.HostedFile { Bytes = Model };
        var result = SuironProcess.Run("pull", "owner/two", "--endpoint", _hub.Endpoint, "--dir", _dir);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("holds 2 GGUF files", result.StdErr);
        Assert.Contains("a-Q4_K_M.gguf", result.StdErr);
        Assert.Contains("b-Q8_0.gguf", result.StdErr);
    }

    [Fact]
    public void CommandReportsNotFoundAndBadArguments()
    {
        var missing = SuironProcess.Run("pull", "owner/none:x.gguf", "--endpoint", _hub.Endpoint, "--dir", _dir);
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("pulling ", missing.StdErr);
        Assert.Contains("error: Not found", missing.StdErr);

        var bad = SuironProcess.Run("pull", "owner/x:", "--endpoint", _hub.Endpoint);
        Assert.Equal(2, bad.ExitCode);
        var badSha = SuironProcess.Run("pull", "owner/x:y.gguf", "--endpoint", _hub.Endpoint, "--sha256", "1234", "--dir", _dir);
        Assert.Equal(2, badSha.ExitCode);
        Assert.Contains("64 hexadecimal digits", badSha.StdErr);
    }

    [Fact]
    public void EndpointComesFromTheOptionThenHfEndpoint()
    {
        Assert.Equal("http://example.test/", PullCommand.ResolveEndpoint("http://example.test").AbsoluteUri);
        Assert.Equal(("a/b", "c/d.gguf"), PullCommand.ParseSource("a/b:c/d.gguf"));
        Assert.Equal(("a/b", null), PullCommand.ParseSource("a/b"));
    }
}
