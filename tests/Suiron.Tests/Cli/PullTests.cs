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
    public async Task ChecksumMismatchFromTheHubKeepsTheBytesAsideUnderAnotherName()
    {
        string wrong = new('a', 64);
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = wrong };
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir));
        Assert.Contains("Checksum mismatch", e.Message);
        Assert.Contains(ModelSha, e.Message);
        Assert.False(File.Exists(Final));
        Assert.False(File.Exists(Partial));
        string aside = Final + ".sha256-mismatch";
        Assert.Contains($"kept as {aside}", e.Message);
        Assert.Equal(Model, File.ReadAllBytes(aside));
    }

    [Fact]
    public async Task GivenSha256WinsOverTheHubsAndMismatchIsAnError()
    {
        _hub.Files["owner/tiny/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        var e = await Assert.ThrowsAsync<DownloadException>(() => Downloader().DownloadAsync("owner/tiny", "stories260K.gguf", _dir, expectedSha256: new string('b', 64)));
        Assert.Contains("--sha256", e.Message);
        Assert.False(File.Exists(Final));
        Assert.False(File.Exists(Partial));
        File.Delete(Final + ".sha256-mismatch");
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
        // Sizes as the hub lists them: the stories260K file is 1,185,376 bytes = 1.13 MiB.
        Assert.Contains("  a-Q4_K_M.gguf (1.13 MiB)", result.StdErr);
        Assert.Contains("  b-Q8_0.gguf (1.13 MiB)", result.StdErr);
        Assert.Equal(1_185_376, Model.Length);
    }

    [Fact]
    public void AFileAlreadyThereIsReportedAsPresentNotSaved()
    {
        _hub.Files["owner/one/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model, LinkedEtag = ModelSha };
        File.WriteAllBytes(Final, Model);
        var result = SuironProcess.Run("pull", "owner/one:stories260K.gguf", "--endpoint", _hub.Endpoint, "--dir", _dir, "--sha256", ModelSha);
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Equal(Final, result.StdOut.Trim());
        Assert.Equal($"already present: {Final} (1,185,376 bytes, SHA-256 checked); not downloaded again\n", result.StdErr.ReplaceLineEndings("\n"));
        Assert.Empty(_hub.ByteRequests);
    }

    [Theory]
    [InlineData("--sha256", "1234", "--sha256 must be 64 hexadecimal digits (got '1234').")]
    [InlineData("--sha256", "zz", "--sha256 must be 64 hexadecimal digits (got 'zz').")]
    [InlineData("--dir", "/proc/nope", "--dir /proc/nope: the folder cannot be created or written to")]
    public void BadArgumentsAreRefusedBeforeAnyRequest(string option, string value, string expected)
    {
        _hub.Files["owner/one/stories260K.gguf"] = new FakeHub.HostedFile { Bytes = Model };
        string[] args = option == "--dir"
            ? ["pull", "owner/one", "--endpoint", _hub.Endpoint, option, value]
            : ["pull", "owner/one", "--endpoint", _hub.Endpoint, "--dir", _dir, option, value];
        var result = SuironProcess.Run(args);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: " + expected, result.StdErr);
        Assert.DoesNotContain("pulling", result.StdErr);
        Assert.Empty(_hub.ByteRequests);
    }

    [Fact]
    public void ADirThatIsAFileIsAClearError()
    {
        string file = Path.Combine(_dir, "plain.txt");
        File.WriteAllText(file, "x");
        var result = SuironProcess.Run("pull", "owner/one:x.gguf", "--endpoint", _hub.Endpoint, "--dir", file);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --dir {file} is a file, not a folder.\nRun 'suiron pull --help' for usage.\n", result.StdErr.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData(50L << 20, 10.0, 950L << 20, "5.00 MiB/s, 3:10 left")]   // resumed at 900 MiB: only the 50 MiB of this run count
    [InlineData(3L << 30, 1024.0, null, "3.00 MiB/s")]
    [InlineData(100L << 20, 20.0, 18000L << 20, "5.00 MiB/s, 1:00:00 left")]
    [InlineData(1000L, 0.1, 10L, "")]                                       // too early to say
    public void TransferRateCountsOnlyThisRunsBytes(long received, double seconds, long? remaining, string expected) =>
        Assert.Equal(expected, TransferRate.Describe(received, TimeSpan.FromSeconds(seconds), remaining));

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
