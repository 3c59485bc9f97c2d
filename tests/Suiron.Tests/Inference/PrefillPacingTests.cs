using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Inference;

/// <summary>
/// The prefill pacer's budgets against hand-computed ones, and a paced scheduler's outputs against plain generation:
/// pacing changes only how a long prompt is cut into chunks, never what anybody's tokens are.
/// </summary>
public sealed class PrefillPacingTests
{
    [Fact]
    public void Budget_is_what_fits_in_the_latency_bound()
    {
        var pacer = new PrefillPacer(2.0);
        Assert.Equal(256, pacer.PromptBudget(decodeRows: 0, 256));  // nothing generating: the whole budget
        Assert.Equal(0, pacer.PromptBudget(decodeRows: 1, 255));    // decode-only time unknown: measure it first
        pacer.Observe(decodeRows: 1, promptTokens: 0, seconds: 0.040);
        Assert.Equal(16, pacer.PromptBudget(decodeRows: 1, 255));   // per-token cost unknown: a probe chunk
        // 1 decode row + 16 prompt tokens took 0.2 s: (0.2 − 0.04) / 16 = 10 ms a prompt token.
        pacer.Observe(decodeRows: 1, promptTokens: 16, seconds: 0.200);
        Assert.Equal(4, pacer.PromptBudget(decodeRows: 1, 255));    // (2 − 1) · 40 ms / 10 ms
        // A faster step lowers the estimate by the smoothing: 0.7 · 10 ms + 0.3 · (0.06 − 0.04) / 4 = 8.5 ms → 40 / 8.5 = 4.7.
        pacer.Observe(decodeRows: 1, promptTokens: 4, seconds: 0.060);
        Assert.Equal(4, pacer.PromptBudget(decodeRows: 1, 255));
        // A slower one raises it at once: (0.2 − 0.04) / 4 = 40 ms → 40 / 40 = 1.
        pacer.Observe(decodeRows: 1, promptTokens: 4, seconds: 0.200);
        Assert.Equal(1, pacer.PromptBudget(decodeRows: 1, 255));
        // Twice the generating rows of the decode-only measurement: measure again.
        Assert.Equal(0, pacer.PromptBudget(decodeRows: 3, 253));
        Assert.Equal(7, new PrefillPacer(0).PromptBudget(decodeRows: 5, 7)); // off
    }

    [Fact]
    public void Decode_time_is_measured_again_after_many_paced_steps()
    {
        var pacer = new PrefillPacer(3.0);
        pacer.Observe(1, 0, 0.030);
        pacer.Observe(1, 10, 0.130); // 10 ms a token
        Assert.Equal(6, pacer.PromptBudget(1, 100)); // (3 − 1) · 30 / 10
        for (int i = 0; i < 63; i++) pacer.Observe(1, 6, 0.090);
        Assert.Equal(0, pacer.PromptBudget(1, 100));
        pacer.Observe(1, 0, 0.030);
        Assert.True(pacer.PromptBudget(1, 100) > 0);
    }

    [Fact]
    public async Task A_paced_long_prompt_beside_a_stream_changes_no_token()
    {
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        var generator = new Generator(model, tokenizer);
        var options = new GenerationOptions { MaxTokens = 120, StopAtEndOfGeneration = false, Sampling = new SamplingOptions { Temperature = 0.9f, Seed = 5 } };
        int[] shortPrompt = tokenizer.Encode("Once upon a time");
        int[] longPrompt = tokenizer.Encode(string.Concat(Enumerable.Repeat("Tom had a red ball. He played with his dog in the park. ", 20)));
        int[] Tokens(IEnumerable<GenerationStep> steps) => steps.Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
        int[] expectedShort = Tokens(generator.Generate(shortPrompt, options));
        int[] expectedLong = Tokens(generator.Generate(longPrompt, options with { MaxTokens = 20 }));

        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 2, ContextSize = 512, PrefillLatencyFactor = 1.0 });
        var first = scheduler.Submit(new GenerationRequest(shortPrompt, options));
        var enumerator = first.GetAsyncEnumerator();
        var firstTokens = new List<GenerationStep>();
        for (int i = 0; i < 10 && await enumerator.MoveNextAsync(); i++) firstTokens.Add(enumerator.Current); // streaming
        var second = scheduler.Submit(new GenerationRequest(longPrompt, options with { MaxTokens = 20 }));
        while (await enumerator.MoveNextAsync()) firstTokens.Add(enumerator.Current);
        await enumerator.DisposeAsync();
        Assert.Equal(expectedShort, Tokens(firstTokens));
        Assert.Equal(expectedLong, Tokens(await second.ToListAsync()));
        Assert.True(longPrompt.Length is > 300 and < 490, $"long prompt of {longPrompt.Length} tokens");
    }
}
