using System.Text;
using System.Text.Json;
using Xunit;

namespace Suiron.Tests.Cli;

/// <summary><c>suiron serve</c> with several models: the flags' errors, and a real process serving a models folder.</summary>
public sealed class ServeModelsCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-serve-models-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories => SharedData.Path("models", "stories260K.gguf");
    private static string Tiny => SharedData.Path("models", "llama-2-tiny-random.gguf");

    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["serve", "--port", "0"], "error: Give the model to serve: --model FILE (repeatable) or --models-dir DIR." },
        { ["serve", "--models-dir", "/nonexistent-models", "--port", "0"], "error: --models-dir: '/nonexistent-models' does not exist." },
        { ["serve", "-m", Stories, "-m", Tiny, "--alias", "x=nope", "--port", "0"], "error: --alias 'x=nope': no model 'nope' is served." },
        { ["serve", "-m", Stories, "-m", Tiny, "--alias", "tales", "--port", "0"], "error: --alias 'tales': with several models give NAME=MODEL." },
        { ["serve", "-m", Stories, "--alias", "a=b", "--port", "0"], "error: --alias 'a=b': with one model give the name alone (--alias NAME)." },
        { ["serve", "-m", Stories, "-m", Tiny, "--models-max", "-1", "--port", "0"], "error: --models-max must be ≥ 0 (got -1)." },
        { ["serve", "-m", Stories, "-m", Stories, "--port", "0"], "error: Two models are named 'stories260K'" },
        {
            ["serve", "-m", Stories, "-m", Tiny, "--port", "0", "--cluster", "redis://127.0.0.1:1", "--cluster-name", "x", "--silo-port", "1", "--gateway-port", "2"],
            "error: --cluster serves one model per replica: give one --model, not several or --models-dir."
        },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void BadModelFlagsAreUsageErrors(string[] args, string message)
    {
        var result = SuironProcess.Run(args);
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.StdErr}");
        Assert.StartsWith(message, result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr);
    }

    /// <summary>A folder of two models and an alias: the banner lists them, /v1/models their states, each answers by its name.</summary>
    [Fact]
    public async Task ServesEveryModelOfAFolder()
    {
        File.Copy(Stories, Path.Combine(_dir, "stories260K.gguf"));
        File.Copy(Tiny, Path.Combine(_dir, "llama-2-tiny-random.gguf"));
        using var server = await RunningServer.StartAsync("--models-dir", _dir, "--alias", "tales=stories260K",
            "--models-max", "1", "--port", "0", "--threads", "1", "--ctx-size", "128");
        Assert.Contains("suiron: serving 2 models at ", server.StdErr);
        Assert.Contains("llama-2-tiny-random, stories260K (tales)", server.StdErr);
        using var http = new HttpClient { BaseAddress = server.Address };
        var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
        Assert.Equal(["llama-2-tiny-random", "stories260K"], models.EnumerateArray().Select(m => m.GetProperty("id").GetString()!));
        Assert.All(models.EnumerateArray(), m => Assert.Equal("unloaded", m.GetProperty("status").GetProperty("value").GetString()));

        foreach (string name in new[] { "tales", "llama-2-tiny-random" })
        {
            using var response = await http.PostAsync("/v1/completions",
                new StringContent(JsonSerializer.Serialize(new { model = name, prompt = "Once upon a time", max_tokens = 4, temperature = 0 }), Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.Equal(name == "tales" ? "stories260K" : name, JsonDocument.Parse(body).RootElement.GetProperty("model").GetString());
        }
        var states = JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement.GetProperty("data").EnumerateArray()
            .ToDictionary(m => m.GetProperty("id").GetString()!, m => m.GetProperty("status").GetProperty("value").GetString());
        Assert.Equal("loaded", states["llama-2-tiny-random"]);
        Assert.Equal("unloaded", states["stories260K"]);
        Assert.Equal(0, await server.StopAsync());
    }
}
