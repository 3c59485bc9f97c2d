using System.Diagnostics;
using System.Text.Json;
using Suiron.Benchmarking;
using Suiron.Gguf;
using Xunit;

namespace Suiron.Tests.Benchmarking;

/// <summary>
/// <c>suiron bench</c> through the real CLI (Suiron.Cli.dll in a child process) on the tiny real model: the shape and
/// internal consistency of what it reports, never how fast it is.
/// </summary>
public sealed class BenchCommandTests
{
    private static readonly string Model = SharedData.Path("models", "stories260K.gguf");

    [Fact]
    public void Json_reports_one_object_per_test_with_consistent_values()
    {
        var (code, stdout, stderr) = Suiron("bench", "-m", Model, "-p", "16", "-n", "4", "-r", "3", "-t", "2", "--json");
        Assert.True(code == 0, $"exit {code}: {stderr}");

        using var json = JsonDocument.Parse(stdout);
        var tests = json.RootElement.EnumerateArray().ToArray();
        Assert.Equal(["pp16", "tg4"], tests.Select(t => t.GetProperty("test").GetString()));
        foreach (var t in tests)
        {
            Assert.Equal("stories260K.gguf", t.GetProperty("model").GetString());
            Assert.Equal("llama", t.GetProperty("architecture").GetString());
            Assert.Equal(2, t.GetProperty("threads").GetInt32());
            Assert.Equal(3, t.GetProperty("repetitions").GetInt32());
            Assert.True(t.GetProperty("params").GetInt64() > 0);
            Assert.True(t.GetProperty("size_bytes").GetInt64() > 0);
            Assert.True(t.GetProperty("peak_rss_bytes").GetInt64() > 0);

            double[] samples = t.GetProperty("samples").EnumerateArray().Select(s => s.GetDouble()).ToArray();
            Assert.Equal(3, samples.Length);
            Assert.All(samples, s => Assert.True(s > 0 && double.IsFinite(s)));
            double median = t.GetProperty("tokens_per_second").GetDouble(), min = t.GetProperty("min").GetDouble(), max = t.GetProperty("max").GetDouble();
            Assert.True(min > 0 && min <= median && median <= max, $"min {min}, median {median}, max {max}");
            Assert.Equal(samples.Min(), min);
            Assert.Equal(samples.Max(), max);
            Assert.Equal(samples.Order().ElementAt(1), median);
        }

        Assert.Equal(16, tests[0].GetProperty("n_prompt").GetInt32());
        Assert.Equal(0, tests[0].GetProperty("n_gen").GetInt32());
        Assert.False(tests[0].TryGetProperty("gb_per_second", out _));
        Assert.Equal(0, tests[1].GetProperty("n_prompt").GetInt32());
        Assert.Equal(4, tests[1].GetProperty("n_gen").GetInt32());

        using var file = GgufFile.Open(Model);
        long bytesPerToken = tests[1].GetProperty("bytes_per_token").GetInt64();
        Assert.Equal(WeightTraffic.BytesPerToken(file), bytesPerToken);
        double gbPerSecond = tests[1].GetProperty("gb_per_second").GetDouble();
        Assert.Equal(bytesPerToken * tests[1].GetProperty("tokens_per_second").GetDouble() / 1e9, gbPerSecond, 1e-9);
    }

    /// <summary>
    /// Constrained tg rows: one per grammar, beside the free tg they alternated with; the extra time per token is the
    /// difference of the two medians' per-token times, the grammar's own work is positive, masks are a share of tokens.
    /// A grammar that does not parse is a usage error.
    /// </summary>
    [Fact]
    public void Grammar_options_add_a_constrained_tg_row_each()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"suiron-bench-grammar-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        string gbnf = Path.Combine(directory, "words.gbnf"), schema = Path.Combine(directory, "schema.json"), broken = Path.Combine(directory, "broken.gbnf");
        File.WriteAllText(gbnf, "root ::= [a-z]+ (\" \" [a-z]+)*\n");
        File.WriteAllText(schema, """{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":9}},"required":["n"]}""");
        File.WriteAllText(broken, "root ::= (\n");
        try
        {
            var (code, stdout, stderr) = Suiron("bench", "-m", Model, "-p", "0", "-n", "8", "-r", "3", "-t", "1", "--json",
                "--json-object", "--grammar", gbnf, "--json-schema", schema);
            Assert.True(code == 0, $"exit {code}: {stderr}");
            var rows = JsonDocument.Parse(stdout).RootElement.EnumerateArray().ToArray();
            Assert.Equal(["tg8", "tg8", "tg8", "tg8"], rows.Select(r => r.GetProperty("test").GetString()));
            Assert.False(rows[0].TryGetProperty("constraint", out _));
            Assert.Equal(["json-schema schema.json", "json-object", "grammar words.gbnf"], rows.Skip(1).Select(r => r.GetProperty("constraint").GetString()));
            foreach (var row in rows.Skip(1))
            {
                double constrained = row.GetProperty("tokens_per_second").GetDouble(), free = row.GetProperty("free_tokens_per_second").GetDouble();
                Assert.True(constrained > 0 && free > 0);
                Assert.Equal(1000 / constrained - 1000 / free, row.GetProperty("extra_ms_per_token").GetDouble(), 1e-9);
                Assert.Equal(100 * (1000 / constrained - 1000 / free) / (1000 / free), row.GetProperty("extra_percent").GetDouble(), 1e-6);
                double masks = row.GetProperty("masks_per_token").GetDouble();
                Assert.InRange(masks, 0, 1);
                Assert.True(row.GetProperty("grammar_ms_per_token").GetDouble() > 0);
                Assert.True(row.GetProperty("ms_per_mask").GetDouble() >= 0);
            }
            // The free tg of every constrained row is the same set of alternated runs.
            Assert.Single(rows.Skip(1).Select(r => r.GetProperty("free_tokens_per_second").GetDouble()).Distinct());

            (code, _, stderr) = Suiron("bench", "-m", Model, "-p", "0", "-n", "4", "-r", "1", "--grammar", broken);
            Assert.Equal(2, code);
            Assert.Contains("broken.gbnf", stderr);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Read_bandwidth_is_reported_with_the_decode_share_it_implies()
    {
        var (code, stdout, stderr) = Suiron("bench", "-m", Model, "-p", "0", "-n", "4", "-r", "1", "-t", "2", "--read-bandwidth", "--json");
        Assert.True(code == 0, $"exit {code}: {stderr}");
        using var json = JsonDocument.Parse(stdout);
        var tg = json.RootElement.EnumerateArray().Single();
        double wall = tg.GetProperty("read_bandwidth_gb_per_second").GetDouble();
        Assert.True(wall > 0 && double.IsFinite(wall));
        Assert.Equal(tg.GetProperty("gb_per_second").GetDouble() / wall, tg.GetProperty("read_bandwidth_fraction").GetDouble(), 1e-9);

        (code, stdout, stderr) = Suiron("bench", "-m", Model, "-p", "0", "-n", "4", "-r", "1", "-t", "1", "--read-bandwidth");
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Matches(@"read bandwidth: [0-9.]+ GB/s \(1 threads streaming a 1024 MiB buffer, (128|256|512)-bit loads, best of 1/2/4/8 streams per thread: [1248], median of 5\); tg4 reaches", stdout);
    }

    [Fact]
    public void Table_names_the_tests_and_skips_a_zero_count()
    {
        var (code, stdout, stderr) = Suiron("bench", "-m", Model, "-p", "0", "-n", "3", "-r", "1", "-t", "1", "--no-warmup");
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Contains("| test |", stdout);
        Assert.Contains("tg3", stdout);
        Assert.DoesNotContain("pp", stdout.Split('\n').Where(l => l.StartsWith("| stories", StringComparison.Ordinal)).Single());
        Assert.Contains("peak RSS", stdout);
    }

    [Theory]
    [InlineData("-r", "0")]
    [InlineData("-p", "-1")]
    [InlineData("-n", "-5")]
    [InlineData("-t", "0")]
    [InlineData("-p", "abc")]
    [InlineData("-p", "100000")] // beyond the model's 2048-token context
    [InlineData("-n", "4096")]
    public void Bad_values_exit_with_2(string option, string value)
    {
        var (code, _, stderr) = Suiron("bench", "-m", Model, option, value);
        Assert.Equal(2, code);
        Assert.Contains("error:", stderr);
        Assert.DoesNotContain("   at ", stderr); // a message, not a stack trace
    }

    [Fact]
    public void Nothing_to_measure_and_missing_model_are_errors()
    {
        Assert.Equal(2, Suiron("bench", "-m", Model, "-p", "0", "-n", "0").Code);
        Assert.Equal(2, Suiron("bench").Code);
        var (code, _, stderr) = Suiron("bench", "-m", Path.Combine(Path.GetTempPath(), "no-such-model.gguf"));
        Assert.Equal(1, code);
        Assert.Contains("not found", stderr);
    }

    [Fact]
    public void Context_error_names_the_limit()
    {
        var (_, _, stderr) = Suiron("bench", "-m", Model, "-p", "100000");
        Assert.Contains("context of 2048 tokens", stderr);
    }

    /// <summary>Runs <c>dotnet Suiron.Cli.dll args…</c> (the CLI is copied beside the tests by the project reference).</summary>
    internal static (int Code, string Stdout, string Stderr) Suiron(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Suiron.Cli.dll");
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderrTask = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = stderrTask.Result;
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(); throw new TimeoutException("suiron bench did not finish in 5 minutes."); }
        return (process.ExitCode, stdout, stderr);
    }

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        return "dotnet";
    }
}
