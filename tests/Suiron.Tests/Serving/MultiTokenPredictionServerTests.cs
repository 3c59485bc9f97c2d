using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Suiron.Inference;
using Suiron.Server;
using Suiron.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Serving;

/// <summary>
/// <c>suiron serve --spec mtp</c> over HTTP, in process (the tiny Qwen3.5 models with a head are built by this project's
/// test builders): completions are plain greedy generation's text while the head's drafts are verified; llama-server's
/// <c>speculative.n_max</c> and Suiron's <c>speculative.type</c> set it per request; /metrics and /props report it; a
/// request for MTP on a model without a head is a 400 naming the parameter.
/// </summary>
public sealed class MultiTokenPredictionServerTests(ITestOutputHelper output)
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She";

    private sealed class Served : IAsyncDisposable
    {
        private Served(LocalModel model, SuironServer server)
        {
            Model = model;
            Server = server;
            Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
        }

        public LocalModel Model { get; }
        public SuironServer Server { get; }
        public HttpClient Http { get; }

        public static async Task<Served> StartAsync(string path, SpeculationOptions? speculation)
        {
            var model = LocalModel.Load(path, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 2, ContextSize = 256 }, Slots = 2 });
            var server = SuironServer.Create(model, new SuironServerOptions { Port = 0, Speculation = speculation });
            await server.StartAsync();
            return new Served(model, server);
        }

        public async Task<(int Status, JsonElement Body)> CompleteAsync(string extra)
        {
            string json = $$"""{"prompt": {{JsonSerializer.Serialize(Prompt)}}, "max_tokens": 60, "temperature": 0{{extra}}}""";
            using var response = await Http.PostAsync("/v1/completions", new StringContent(json, Encoding.UTF8, "application/json"));
            string text = await response.Content.ReadAsStringAsync();
            await WaitForIdleAsync();
            return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
        }

        private async Task WaitForIdleAsync()
        {
            for (int i = 0; i < 200 && (Model.Scheduler.ActiveSlots > 0 || Model.Scheduler.QueueDepth > 0); i++) await Task.Delay(25);
        }

        public SpeculationStatistics Mtp => Model.Scheduler.Speculation(DraftSource.MultiTokenPrediction);

        public string PlainText() => string.Concat(new Generator(Model.Model, Model.Tokenizer).Generate(Model.Tokenizer.Encode(Prompt),
            new GenerationOptions { MaxTokens = 60, Sampling = Suiron.Sampling.SamplingOptions.Greedy }).Select(s => s.Text));

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Server.StopAsync();
            await Server.DisposeAsync();
            Model.Dispose();
        }
    }

    private static string Text(JsonElement body) => body.GetProperty("choices")[0].GetProperty("text").GetString()!;

    [Fact]
    public async Task A_server_with_spec_mtp_answers_the_plain_text_and_reports_the_drafts()
    {
        await using var served = await Served.StartAsync(MoeModelBuilder.Qwen35BigramMtpF32(), new SpeculationOptions { MultiTokenPrediction = true, DraftMax = 4 });
        string expected = served.PlainText();

        var (status, body) = await served.CompleteAsync("");
        Assert.Equal(200, status);
        Assert.Equal(expected, Text(body));
        var mtp = served.Mtp;
        Assert.True(mtp.AcceptedTokens > 0, "no draft of the head was accepted");
        Assert.True(mtp.DraftTokens <= 4 * mtp.Drafts);
        output.WriteLine($"--spec mtp: {mtp.AcceptedTokens}/{mtp.DraftTokens} accepted, {mtp.TokensPerPass:F2} tokens per pass");

        string metrics = await served.Http.GetStringAsync("/metrics");
        mtp = served.Mtp;
        Assert.Contains($"suiron_speculative_drafts_total{{source=\"mtp\"}} {mtp.Drafts}\n", metrics);
        Assert.Contains($"suiron_speculative_draft_tokens_total{{source=\"mtp\"}} {mtp.DraftTokens}\n", metrics);
        Assert.Contains($"suiron_speculative_draft_tokens_accepted_total{{source=\"mtp\"}} {mtp.AcceptedTokens}\n", metrics);
        Assert.Contains($"suiron_speculative_passes_total{{source=\"mtp\"}} {mtp.Passes}\n", metrics);
        Assert.Contains($"suiron_speculative_tokens_total{{source=\"mtp\"}} {mtp.Tokens}\n", metrics);
        Assert.Contains("suiron_speculative_draft_tokens_total{source=\"ngram\"} 0\n", metrics);
        Assert.Contains($"suiron_draft_tokens_total {mtp.DraftTokens}\n", metrics);

        var props = await served.Http.GetFromJsonAsync<JsonElement>("/props");
        Assert.Equal("mtp", props.GetProperty("default_generation_settings").GetProperty("params").GetProperty("speculative.type").GetString());

        // n_max 0 turns it off for one request; n_max 2 shortens the drafts.
        long before = mtp.DraftTokens;
        (status, body) = await served.CompleteAsync(""", "speculative.n_max": 0""");
        Assert.Equal(200, status);
        Assert.Equal(expected, Text(body));
        Assert.Equal(before, served.Mtp.DraftTokens);
        var beforeShort = served.Mtp;
        (status, body) = await served.CompleteAsync(""", "speculative.n_max": 2""");
        Assert.Equal(200, status);
        Assert.Equal(expected, Text(body));
        var afterShort = served.Mtp;
        Assert.True(afterShort.Drafts > beforeShort.Drafts);
        Assert.True(afterShort.DraftTokens - beforeShort.DraftTokens <= 2 * (afterShort.Drafts - beforeShort.Drafts));
    }

    [Fact]
    public async Task A_request_turns_mtp_on_where_the_server_has_no_speculation()
    {
        await using var served = await Served.StartAsync(MoeModelBuilder.Qwen35BigramMtpF32(), null);
        string expected = served.PlainText();
        var (status, body) = await served.CompleteAsync("");
        Assert.Equal(200, status);
        Assert.Equal(expected, Text(body));
        Assert.Equal(0, served.Mtp.DraftTokens);

        (status, body) = await served.CompleteAsync(""", "speculative.type": "mtp", "speculative.n_max": 3""");
        Assert.Equal(200, status);
        Assert.Equal(expected, Text(body));
        Assert.True(served.Mtp.AcceptedTokens > 0, "the request's MTP drafted nothing that was accepted");
        Assert.Equal(0, served.Model.Scheduler.Speculation(DraftSource.Ngram).DraftTokens);
    }

    [Theory]
    [InlineData("mtp")]
    [InlineData("eagle3")]
    public async Task Mtp_on_a_model_without_a_head_and_unknown_types_are_refused(string type)
    {
        await using var served = await Served.StartAsync(MoeModelBuilder.Qwen35F32(), null);
        var (status, body) = await served.CompleteAsync($$""", "speculative.type": "{{type}}" """);
        Assert.Equal(400, status);
        var error = body.GetProperty("error");
        Assert.Equal("speculative.type", error.GetProperty("param").GetString());
        Assert.Contains(type == "mtp" ? "multi-token-prediction" : "'ngram' or 'mtp'", error.GetProperty("message").GetString());
    }
}
