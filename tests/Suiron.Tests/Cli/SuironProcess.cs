using System.Diagnostics;
using System.Text;

namespace Suiron.Tests.Cli;

/// <summary>Runs the real <c>suiron</c> executable (Suiron.Cli.dll, copied beside the tests) as a child process.</summary>
internal static class SuironProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        /// <summary>Standard output as written, for output that need not be valid UTF-8 (raw token bytes).</summary>
        public byte[] StdOutBytes { get; init; } = [];
    }

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs with <paramref name="input"/> piped to stdin (then closed); null leaves stdin empty and closed.</summary>
    public static Result RunWithInput(string? input, params string[] args) => RunWithEnvironment(input, null, args);

    /// <summary>Runs with <paramref name="environment"/>'s variables set (over the inherited ones) in the child.</summary>
    public static Result RunWithEnvironment(string? input, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Suiron.Cli.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(dll);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using (var stdin = new StreamWriter(process.StandardInput.BaseStream, new UTF8Encoding(false)))
            if (input is not null) stdin.Write(input);
        var stdoutBytes = new MemoryStream();
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(stdoutBytes);
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"suiron {string.Join(' ', args)} did not finish in 2 minutes");
        }
        stdout.Wait();
        byte[] written = stdoutBytes.ToArray();
        return new Result(process.ExitCode, new UTF8Encoding(false).GetString(written), stderr.Result) { StdOutBytes = written };
    }
}

/// <summary>
/// A real <c>suiron serve</c> child process (<c>--port 0</c> among its arguments): <see cref="StartAsync"/> returns once it
/// prints its web chat address; <see cref="StopAsync"/> sends SIGTERM as a user's Ctrl+C would and waits for the exit;
/// disposing kills what is still running.
/// </summary>
internal sealed class RunningServer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private RunningServer(Process process) => _process = process;

    /// <summary>The address the server printed (<c>suiron: web chat at …</c>).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>What it has written to stderr so far.</summary>
    public string StdErr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public static async Task<RunningServer> StartAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Suiron.Cli.dll"));
        start.ArgumentList.Add("serve");
        foreach (string a in args) start.ArgumentList.Add(a);
        var server = new RunningServer(Process.Start(start)!);
        var address = new TaskCompletionSource<Uri>();
        server._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (server._stderr) server._stderr.Append(e.Data).Append('\n');
            var match = System.Text.RegularExpressions.Regex.Match(e.Data, @"^suiron: web chat at (http://\S+)");
            if (match.Success) address.TrySetResult(new Uri(match.Groups[1].Value));
        };
        server._process.BeginErrorReadLine();
        _ = server._process.StandardOutput.ReadToEndAsync();
        try
        {
            server.Address = await address.Task.WaitAsync(TimeSpan.FromMinutes(1));
        }
        catch
        {
            server.Dispose();
            throw;
        }
        return server;
    }

    /// <summary>SIGTERM, then the exit code once it has shut down (within 30 s).</summary>
    public async Task<int> StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!) await kill.WaitForExitAsync();
        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
