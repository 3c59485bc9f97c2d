using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Inference;

/// <summary>The scheduler tests here race a stream against a paced prompt: other tests starving the thread pool beside them
/// would let the stream end before the prompt is submitted, so nothing runs beside them.</summary>
[CollectionDefinition(nameof(PrefillPacingCollection), DisableParallelization = true)]
public sealed class PrefillPacingCollection;

/// <summary>
/// The prefill pacer's budgets against hand-computed ones, and a paced scheduler's outputs against plain generation:
/// pacing changes only how a long prompt is cut into chunks, never what anybody's tokens are.
/// </summary>
[Collection(nameof(PrefillPacingCollection))]
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
    public void Layered_slices_are_what_fits_in_the_latency_bound()
    {
        var pacer = new PrefillPacer(2.0);
        Assert.Equal(200, pacer.LayeredChunkTokens(decodeRows: 0, 200)); // nothing generating: the whole budget
        Assert.Equal(24, pacer.LayersPerStep(decodeRows: 0, tokens: 200, layersLeft: 24));
        Assert.Equal(0, pacer.LayeredChunkTokens(decodeRows: 1, 200));   // decode-only time unknown: measure it first
        Assert.Equal(0, pacer.LayersPerStep(decodeRows: 1, tokens: 16, layersLeft: 24));
        pacer.Observe(decodeRows: 1, promptTokens: 0, seconds: 0.020);
        Assert.Equal(16, pacer.LayeredChunkTokens(decodeRows: 1, 200));  // slice cost unknown: a probe chunk
        Assert.Equal(1, pacer.LayersPerStep(decodeRows: 1, tokens: 16, layersLeft: 24)); // … through one layer
        // 16 tokens through 1 layer took 8 ms: 0.5 ms a token-layer; the decode part took its decode-only 20 ms, so the
        // slice may take 2 · 20 − 20 = 20 ms: 40 token-layers.
        pacer.ObserveSlice(tokens: 16, layers: 1, sliceSeconds: 0.008, decodeSeconds: 0.020);
        Assert.Equal(2, pacer.LayersPerStep(decodeRows: 1, tokens: 16, layersLeft: 24));  // 40 / 16 = 2.5
        Assert.Equal(1, pacer.LayersPerStep(decodeRows: 1, tokens: 16, layersLeft: 1));   // no more than are left
        Assert.Equal(40, pacer.LayeredChunkTokens(decodeRows: 1, 200));                   // one layer's worth
        Assert.Equal(30, pacer.LayeredChunkTokens(decodeRows: 1, 30));
        // A slower slice raises the cost at once (40 tokens × 1 layer in 40 ms: 1 ms), and a decode part slowed to 25 ms
        // beside the slices leaves 40 − 25 = 15 ms: 15 tokens through one layer.
        pacer.ObserveSlice(tokens: 40, layers: 1, sliceSeconds: 0.040, decodeSeconds: 0.025);
        Assert.Equal(15, pacer.LayeredChunkTokens(decodeRows: 1, 200));
        Assert.Equal(1, pacer.LayersPerStep(decodeRows: 1, tokens: 40, layersLeft: 24)); // over the bound, still one layer
        // Faster ones lower both by the smoothing: 0.7 · 1 + 0.3 · 0.5 = 0.85 ms; 0.7 · 25 + 0.3 · 20 = 23.5 ms → 16.5 / 0.85 = 19.4.
        pacer.ObserveSlice(tokens: 5, layers: 2, sliceSeconds: 0.005, decodeSeconds: 0.020);
        Assert.Equal(19, pacer.LayeredChunkTokens(decodeRows: 1, 200));
        // After 64 sliced steps one step runs decode-only, to measure that time again.
        for (int i = 3; i < 64; i++) pacer.ObserveSlice(tokens: 5, layers: 2, sliceSeconds: 0.005, decodeSeconds: 0.020);
        Assert.Equal(0, pacer.LayersPerStep(decodeRows: 1, tokens: 5, layersLeft: 20));
        // Another batch (two generating rows): its decode-only time, and nothing known yet of its decode part beside slices.
        pacer.Observe(decodeRows: 2, promptTokens: 0, seconds: 0.030);
        Assert.True(pacer.LayersPerStep(decodeRows: 2, tokens: 5, layersLeft: 20) > 0);
        Assert.Equal(Math.Min(200, (int)(0.030 / pacer.SecondsPerTokenLayer)), pacer.LayeredChunkTokens(decodeRows: 2, 200)); // 2 · 30 − 30 ms
        Assert.Equal(7, new PrefillPacer(0).LayeredChunkTokens(decodeRows: 3, 7)); // off
        Assert.Equal(9, new PrefillPacer(0).LayersPerStep(decodeRows: 3, tokens: 7, layersLeft: 9));
    }

    /// <summary>
    /// A hybrid model's prompt cancelled while a chunk is part-way through the layers has moved some layers' recurrent
    /// state and not others: the next request with that prompt must not resume from it, and gets what the generator gives.
    /// </summary>
    [Fact]
    public async Task A_hybrid_prompt_cancelled_part_way_through_the_layers_leaves_no_bad_slot()
    {
        using var file = GgufFile.Open(Suiron.Tests.Models.MoeModelBuilder.Qwen35F32());
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 1024 });
        var greedy = new GenerationOptions { MaxTokens = 12, StopAtEndOfGeneration = false, Sampling = new SamplingOptions { Temperature = 0 } };
        int[] Tokens(IEnumerable<GenerationStep> steps) => steps.Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
        var generator = new Generator(model, tokenizer);

        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 2, ContextSize = 1024, PrefillLatencyFactor = 1.0 });
        int cancelledRounds = 0;
        // Where the cancellation lands is up to the scheduler thread; a few rounds make landing mid-chunk near certain.
        foreach (var (slices, name) in new[] { (7, "Tom"), (6, "Lily"), (9, "Sam"), (5, "Mia"), (10, "Ken"), (6, "Yui") })
        {
            // A new prompt each round: the last round's is in the prefix cache.
            int[] longPrompt = tokenizer.Encode(string.Concat(Enumerable.Repeat($"{name} had a red ball. He played with his dog in the park. ", 8)));
            int[] expected = Tokens(generator.Generate(longPrompt, greedy));
            long target = scheduler.LayeredSlices + slices;
            using var stopStream = new CancellationTokenSource();
            // The stream outlasts the paced prompt (one token through one layer a step at factor 1) by far.
            var stream = scheduler.Submit(new GenerationRequest(tokenizer.Encode("Once upon a time"), greedy with { MaxTokens = 1000 }), stopStream.Token);
            var enumerator = stream.GetAsyncEnumerator();
            Assert.True(await enumerator.MoveNextAsync()); // generating: the next prompt is paced
            using (var cancel = new CancellationTokenSource())
            {
                var cancelled = scheduler.Submit(new GenerationRequest(longPrompt, greedy), cancel.Token);
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (scheduler.LayeredSlices < target && DateTime.UtcNow < deadline) await Task.Delay(1);
                cancel.Cancel();
                await cancelled.ToListAsync();
                // A test thread held up for longer than the stream (a loaded machine) finds the prompt answered, or evaluated
                // alone: that round checks the slot reuse below but cancels nothing part-way.
                if (cancelled.Finish == FinishReason.Cancelled && scheduler.LayeredSlices >= target) cancelledRounds++;
            }
            stopStream.Cancel();
            while (await enumerator.MoveNextAsync()) { }
            await enumerator.DisposeAsync();
            // The cancelled request's slot holds the longest prefix of this prompt, so it is the one taken.
            var again = scheduler.Submit(new GenerationRequest(longPrompt, greedy));
            Assert.Equal(expected, Tokens(await again.ToListAsync()));
        }
        Assert.True(cancelledRounds >= 3, $"only {cancelledRounds} of 6 prompts were cancelled while going a few layers at a time");
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
        Assert.True(scheduler.LayeredSlices > 0, "the long prompt never went a few layers at a time");
    }
}
