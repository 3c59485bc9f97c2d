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
