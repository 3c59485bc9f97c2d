using System.CommandLine;
using Spectre.Console;

namespace Suiron.Cli.Pull;

/// <summary><c>suiron pull REPO[:FILE]</c>: download a GGUF model from a Hugging Face-style hub, resumably and checked.</summary>
internal static class PullCommand
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public static Command Create()
    {
        var source = new Argument<string>("REPO[:FILE]") { Description = "Repository (owner/name) and, after ':', the GGUF file in it; without a file, the repository's only GGUF file" };
        var directory = new Option<DirectoryInfo>("--dir", "-d") { Description = "Folder to download into", DefaultValueFactory = _ => new DirectoryInfo(".") };
        var endpoint = new Option<string?>("--endpoint") { Description = $"Hub address (default: $HF_ENDPOINT, else {DefaultEndpoint})" };
        var sha256 = new Option<string?>("--sha256") { Description = "Expected SHA-256 of the file (default: the checksum the hub announces, if any)" };

        var command = new Command("pull", "Download a GGUF model from Hugging Face (or a compatible hub)") { source, directory, endpoint, sha256 };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            (string repo, string? file) = ParseSource(result.GetValue(source)!);
            Uri hub = ResolveEndpoint(result.GetValue(endpoint));
            // Everything the command line can get wrong is refused before the first byte moves.
            string? expectedSha = result.GetValue(sha256);
            if (expectedSha is not null && ModelDownloader.NormalizeSha256(expectedSha) is null)
                throw new UsageException($"--sha256 must be 64 hexadecimal digits (got '{expectedSha}').");
            string folder = PrepareFolder(result.GetValue(directory)!);
            string? token = Environment.GetEnvironmentVariable("HF_TOKEN");
            using var http = ModelDownloader.CreateHttpClient();
            var downloader = new ModelDownloader(http, hub, token);
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            using var interrupt = new CancelOnCtrlC();
            try
            {
                file ??= PickFile(downloader, repo, console, interrupt.Token);
                string path = Download(downloader, repo, file, folder, expectedSha, console, interrupt.Token);
                Console.Out.WriteLine(path);
                return CliErrors.Ok;
            }
            catch (DownloadException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return CliErrors.Failure;
            }
            catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested)
            {
                Console.Error.WriteLine("interrupted; run the same command again to resume the download.");
                return 130;
            }
        }));
        return command;
    }

    internal static (string Repo, string? File) ParseSource(string text)
    {
        int colon = text.IndexOf(':');
        string repo = colon < 0 ? text : text[..colon];
        string? file = colon < 0 ? null : text[(colon + 1)..];
        repo = repo.Trim().Trim('/');
        if (repo.Length == 0 || repo.Split('/').Any(part => part is "" or "." or ".."))
            throw new UsageException($"'{text}' is not a repository name; expected owner/name or owner/name:file.gguf.");
        if (file is not null && (file.Length == 0 || file.Split('/').Any(part => part is "" or "." or "..")))
            throw new UsageException($"'{text}' names no file after ':'.");
        return (repo, file);
    }

    internal static Uri ResolveEndpoint(string? option)
    {
        string? env = Environment.GetEnvironmentVariable("HF_ENDPOINT");
        string text = option ?? (string.IsNullOrEmpty(env) ? DefaultEndpoint : env);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new UsageException($"--endpoint must be an http(s) address (got '{text}').");
        return uri;
    }

    /// <summary>The --dir folder, created if missing, or a usage error saying why it cannot hold the download.</summary>
    internal static string PrepareFolder(DirectoryInfo directory)
    {
        string path = directory.FullName;
        if (File.Exists(path)) throw new UsageException($"--dir {path} is a file, not a folder.");
        try
        {
            Directory.CreateDirectory(path);
            string probe = Path.Combine(path, $".suiron-write-test-{Environment.ProcessId}");
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--dir {path}: the folder cannot be created or written to ({e.GetType().Name.Replace("Exception", "")}: {e.Message}).");
        }
        return path;
    }

    internal static string DescribeFile((string Name, long? Size) file) =>
        file.Size is { } size ? $"{file.Name} ({InfoCommand.Bytes(size)})" : file.Name;

    private static string PickFile(ModelDownloader downloader, string repo, IAnsiConsole console, CancellationToken cancellation)
    {
        var files = downloader.ListGgufFilesWithSizesAsync(repo, cancellation).GetAwaiter().GetResult();
        if (files.Count == 0) throw new DownloadException($"'{repo}' holds no .gguf file.");
        if (files.Count == 1) return files[0].Name;
        bool interactive = !Console.IsInputRedirected && !Console.IsErrorRedirected && console.Profile.Capabilities.Interactive;
        if (!interactive)
            throw new DownloadException($"'{repo}' holds {files.Count} GGUF files; name one as {repo}:FILE:{Environment.NewLine}  " +
                                        string.Join(Environment.NewLine + "  ", files.Select(DescribeFile)));
        return console.Prompt(new SelectionPrompt<(string Name, long? Size)>()
            .Title($"[bold]{Markup.Escape(repo)}[/] holds several GGUF files; pick one:").PageSize(15)
            .UseConverter(f => Markup.Escape(DescribeFile(f))).AddChoices(files)).Name;
    }

    private static string Download(ModelDownloader downloader, string repo, string file, string directory, string? sha256, IAnsiConsole console, CancellationToken cancellation)
    {
        string existing = Path.Combine(directory, Path.GetFileName(file));
        if (File.Exists(existing))
        {
            string kept = downloader.DownloadAsync(repo, file, directory, sha256, null, cancellation).GetAwaiter().GetResult();
            Console.Error.WriteLine($"already present: {kept} ({new FileInfo(kept).Length:N0} bytes{(sha256 is null ? "" : ", SHA-256 checked")}); not downloaded again");
            return kept;
        }
        Console.Error.WriteLine($"pulling {downloader.FileUri(repo, file)}");
        if (!console.Profile.Capabilities.Interactive)
        {
            string done = downloader.DownloadAsync(repo, file, directory, sha256, null, cancellation).GetAwaiter().GetResult();
            Console.Error.WriteLine($"saved {new FileInfo(done).Length:N0} bytes");
            return done;
        }
        var rate = new SessionRateColumn();
        string path = "";
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), rate)
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(Path.GetFileName(file)), maxValue: 1);
                task.IsIndeterminate = true;
                string phase = "downloading";
                path = downloader.DownloadAsync(repo, file, directory, sha256, p =>
                {
                    if (p.Phase != phase)
                    {
                        phase = p.Phase;
                        task.Description = $"{Markup.Escape(Path.GetFileName(file))} [grey]({phase})[/]";
                    }
                    if (p.Total is { } total && total > 0)
                    {
                        task.IsIndeterminate = false;
                        task.MaxValue = total;
                    }
                    if (p.Phase == "downloading") rate.Observe(p.Received, p.Total);
                    task.Value = p.Received;
                }, cancellation).GetAwaiter().GetResult();
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return path;
    }

    /// <summary>
    /// Speed and time left counted from the bytes this run received: Spectre's own columns count a resumed download's
    /// bytes already on disk as if they had just arrived, and overstate the speed.
    /// </summary>
    private sealed class SessionRateColumn : ProgressColumn
    {
        private readonly System.Diagnostics.Stopwatch _clock = new();
        private long _startBytes = -1, _received, _total;

        public void Observe(long received, long? total)
        {
            if (_startBytes < 0)
            {
                _startBytes = received;
                _clock.Start();
            }
            _received = received;
            _total = total ?? 0;
        }

        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(_startBytes < 0 ? "" : TransferRate.Describe(_received - _startBytes, _clock.Elapsed, _total > 0 ? _total - _received : null));
    }

    /// <summary>Turns the first Ctrl+C into a cancellation (so the partial file is closed cleanly and can be resumed).</summary>
    private sealed class CancelOnCtrlC : IDisposable
    {
        private readonly CancellationTokenSource _source = new();

        public CancelOnCtrlC() => Console.CancelKeyPress += OnCancel;

        public CancellationToken Token => _source.Token;

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            _source.Cancel();
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _source.Dispose();
        }
    }
}

/// <summary>"12.3 MiB/s, 0:42 left" from the bytes received in this run and the time they took.</summary>
internal static class TransferRate
{
    public static string Describe(long receivedThisRun, TimeSpan elapsed, long? remaining)
    {
        if (elapsed.TotalSeconds < 0.5 || receivedThisRun <= 0) return "";
        double perSecond = receivedThisRun / elapsed.TotalSeconds;
        string speed = $"{InfoCommand.Bytes((long)perSecond)}/s";
        if (remaining is not { } left || left <= 0) return speed;
        var eta = TimeSpan.FromSeconds(Math.Ceiling(left / perSecond));
        return $"{speed}, {(eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss") : eta.ToString(@"m\:ss"))} left";
    }
}
