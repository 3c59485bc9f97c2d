using Suiron.Tests.Models;
using Xunit;

namespace Suiron.Tests.Cli;

/// <summary><c>suiron run --spec mtp</c>: the text of a plain run, the drafts counted on stderr; a clear refusal where the file has no head, from run and serve.</summary>
public sealed class MultiTokenPredictionCliTests
{
    [Fact]
    public void Run_with_mtp_prints_the_plain_text_and_the_acceptance()
    {
        string path = MoeModelBuilder.Qwen35BigramMtpF32();
        string[] args = ["run", "--model", path, "--prompt", "Once upon a time", "-n", "40", "--temp", "0", "--threads", "2"];
        var plain = SuironProcess.Run(args);
        var mtp = SuironProcess.Run([.. args, "--spec", "mtp", "--draft-max", "3"]);
        Assert.True(mtp.ExitCode == 0, mtp.StdErr);
        Assert.Equal(plain.StdOut, mtp.StdOut);
        Assert.Matches(@"speculation: \d+ passes for 40 tokens; \d+ of \d+ draft tokens accepted", mtp.StdErr);
    }

    /// <summary>Two piped turns of <c>chat --spec mtp</c> (the head's cache following the conversation's): the plain chat's answers.</summary>
    [Fact]
    public void Chat_with_mtp_gives_the_plain_answers()
    {
        string path = MoeModelBuilder.Qwen35BigramMtpF32();
        string[] args = ["chat", "--model", path, "--temp", "0", "-n", "30", "--threads", "2", "-c", "256"];
        const string turns = "Once upon a time\nThe dog ran\n";
        var plain = SuironProcess.RunWithInput(turns, args);
        var mtp = SuironProcess.RunWithInput(turns, [.. args, "--spec", "mtp"]);
        Assert.True(mtp.ExitCode == 0, mtp.StdErr);
        Assert.Equal(plain.StdOut, mtp.StdOut);
        Assert.True(mtp.StdOut.Length > 0);
    }

    [Fact]
    public void Run_with_mtp_refuses_a_model_without_a_head()
    {
        var result = SuironProcess.Run("run", "--model", MoeModelBuilder.Qwen35F32(), "--prompt", "x", "--spec", "mtp");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no multi-token-prediction block", result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr);
    }

    /// <summary>
    /// <c>serve --spec mtp --draft-max 2</c>: a greedy completion is <c>run</c>'s text for the same prompt, and /metrics shows
    /// the head's drafts, at most 2 tokens each.
    /// </summary>
    [Fact]
    public async Task Serve_with_mtp_answers_runs_text_and_counts_the_drafts()
    {
        string path = MoeModelBuilder.Qwen35BigramMtpF32();
        const string prompt = "Once upon a time";
        var run = SuironProcess.Run("run", "--model", path, "--prompt", prompt, "-n", "30", "--temp", "0", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.StdErr);
        using var server = await RunningServer.StartAsync("--model", path, "--port", "0", "--threads", "1", "--spec", "mtp", "--draft-max", "2");
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
        string body = System.Text.Json.JsonSerializer.Serialize(new { prompt, max_tokens = 30, temperature = 0 });
        using var response = await http.PostAsync("/v1/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(run.StdOut, json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());

        string metrics = await http.GetStringAsync("/metrics");
        long Counter(string name) => long.Parse(System.Text.RegularExpressions.Regex.Match(metrics, "^" + name + @"\{source=""mtp""\} (\d+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        long drafts = Counter("suiron_speculative_drafts_total"), tokens = Counter("suiron_speculative_draft_tokens_total");
        Assert.True(drafts > 0, metrics);
        Assert.True(tokens <= 2 * drafts, $"{tokens} draft tokens in {drafts} drafts of at most 2");
        await server.StopAsync();
    }

    [Fact]
    public void Serve_with_mtp_refuses_a_model_without_a_head()
    {
        var result = SuironProcess.Run("serve", "--model", MoeModelBuilder.Qwen35F32(), "--port", "0", "--spec", "mtp", "--threads", "1");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--spec mtp", result.StdErr);
        Assert.Contains("no multi-token-prediction block", result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr);
    }
}
