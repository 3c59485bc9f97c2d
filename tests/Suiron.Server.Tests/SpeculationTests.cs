using System.Text.Json;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>A server started with <c>--spec ngram</c>.</summary>
public sealed class SpeculatingFixture : ServerFixture
{
    protected override SuironServerOptions ServerOptions => new() { Port = 0, Speculation = new SpeculationOptions() };
}

/// <summary>
/// <c>suiron serve --spec ngram</c>: completions are what a server without speculation answers (the engine's plain
/// generator here), token for token, while the scheduler verifies drafts for them.
/// </summary>
public sealed class SpeculationTests(SpeculatingFixture fixture) : IClassFixture<SpeculatingFixture>
{
    [Fact]
    public async Task CompletionsEqualPlainGenerationAndDraftsAreVerified()
    {
        const string prompt = "Lily went to the park. She saw a big red ball. She kicked the ball. Lily went to the park. She saw";
        long draftsBefore = fixture.Model.Scheduler.DraftTokens;
        var (status, body) = await fixture.PostAsync("/v1/completions",
            JsonSerializer.Serialize(new { prompt, max_tokens = 60, temperature = 0 }));
        Assert.Equal(200, status);
        string text = body.GetProperty("choices")[0].GetProperty("text").GetString()!;

        var generator = new Generator(fixture.Model.Model, fixture.Model.Tokenizer);
        await fixture.WaitForIdleAsync();
        string expected = string.Concat(generator.Generate(fixture.Model.Tokenizer.Encode(prompt),
            new GenerationOptions { MaxTokens = 60, Sampling = Suiron.Sampling.SamplingOptions.Greedy }).Select(s => s.Text));
        Assert.Equal(expected, text);
        Assert.True(fixture.Model.Scheduler.DraftTokens > draftsBefore, "the scheduler verified no draft");
        string metrics = await fixture.MetricsAsync();
        Assert.Contains($"suiron_draft_tokens_total {fixture.Model.Scheduler.DraftTokens}", metrics);
        Assert.Contains($"suiron_draft_tokens_accepted_total {fixture.Model.Scheduler.DraftTokensAccepted}", metrics);
    }
}

/// <summary>
/// llama-server's per-request <c>speculative.n_max</c> / <c>speculative.n_min</c>: they turn prompt-lookup speculation on
/// for one request on a server started without <c>--spec</c>, or off (<c>n_max</c> 0) on one started with it; either way the
/// text is what plain generation gives, and only the requests that speculate are verified with drafts.
/// </summary>
public sealed class PerRequestSpeculationTests(ServerFixture plain, SpeculatingFixture speculating)
    : IClassFixture<ServerFixture>, IClassFixture<SpeculatingFixture>
{
    private const string Prompt = "Lily went to the park. She saw a big red ball. She kicked the ball. Lily went to the park. She saw";

    private static async Task<string> PlainText(ServerFixture fixture)
    {
        await fixture.WaitForIdleAsync();
        var generator = new Generator(fixture.Model.Model, fixture.Model.Tokenizer);
        return string.Concat(generator.Generate(fixture.Model.Tokenizer.Encode(Prompt),
            new GenerationOptions { MaxTokens = 60, Sampling = Suiron.Sampling.SamplingOptions.Greedy }).Select(s => s.Text));
    }

    private static async Task<(int Status, JsonElement Body)> Complete(ServerFixture fixture, string speculative) =>
        await fixture.PostAsync("/v1/completions", $$"""{"prompt": {{JsonSerializer.Serialize(Prompt)}}, "max_tokens": 60, "temperature": 0{{speculative}}}""");

    [Fact]
    public async Task A_request_turns_speculation_on_where_the_server_has_none()
    {
        long before = plain.Model.Scheduler.DraftTokens;
        var (status, body) = await Complete(plain, """, "speculative.n_max": 4, "speculative.n_min": 2""");
        Assert.Equal(200, status);
        Assert.True(plain.Model.Scheduler.DraftTokens > before, "no draft was verified for a request with speculative.n_max 4");
        Assert.Equal(await PlainText(plain), body.GetProperty("choices")[0].GetProperty("text").GetString());

        before = plain.Model.Scheduler.DraftTokens;
        (status, _) = await Complete(plain, "");
        Assert.Equal(200, status);
        Assert.Equal(before, plain.Model.Scheduler.DraftTokens);
    }

    [Fact]
    public async Task A_request_turns_the_servers_speculation_off()
    {
        long before = speculating.Model.Scheduler.DraftTokens;
        var (status, body) = await Complete(speculating, """, "speculative.n_max": 0""");
        Assert.Equal(200, status);
        Assert.Equal(before, speculating.Model.Scheduler.DraftTokens);
        Assert.Equal(await PlainText(speculating), body.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("speculative.n_max", "-1")]
    [InlineData("speculative.n_max", "65")]
    [InlineData("speculative.n_min", "-3")]
    [InlineData("speculative.p_min", "1.5")]
    public async Task Out_of_range_values_are_refused_naming_the_parameter(string name, string value)
    {
        var (status, body) = await Complete(plain, $$""", "{{name}}": {{value}}""");
        Assert.Equal(400, status);
        Assert.Equal(name, body.GetProperty("error").GetProperty("param").GetString());
    }
}
