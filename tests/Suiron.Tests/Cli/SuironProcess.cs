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
