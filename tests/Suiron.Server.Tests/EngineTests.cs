using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Server.Tests;

/// <summary>The engine side of serving: batched forward, the scheduler's determinism, prefix cache, queue and cancellation.</summary>
public sealed class EngineTests
{
    [Theory]
    [InlineData("stories260K.gguf")]
    [InlineData("llama-2-tiny-random.gguf")]
    public void ForwardBatchEqualsOneForwardPerSequence(string model)
    {
        using var file = GgufFile.Open(SharedData.Path("models", model));
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        int vocab = lm.Info.VocabSize;
        var random = new Random(7);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => random.Next(3, Math.Min(vocab, 500))).ToArray();

        // Histories of different lengths (one longer than a pass, so it is split), then a step where each sequence adds
        // a different number of tokens: one (decoding), several (a prompt chunk), and one whose cache starts empty.
        int[][] history = [Tokens(5), Tokens(300), Tokens(17), []];
        int[][] step = [Tokens(1), Tokens(9), Tokens(1), Tokens(260)];
        var single = history.Select(_ => lm.CreateCache(600)).ToArray();
        var batched = history.Select(_ => lm.CreateCache(600)).ToArray();
        var scratch = new float[vocab];
        for (int i = 0; i < history.Length; i++)
        {
            if (history[i].Length == 0) continue;
            lm.Forward(history[i], single[i], scratch);
        }
        // The batched caches get their history through ForwardBatch as well (all at once).
        var withHistory = Enumerable.Range(0, history.Length).Where(i => history[i].Length > 0).ToArray();
        lm.ForwardBatch(withHistory.Select(i => new SequenceTokens(history[i], batched[i])).ToArray(), new float[withHistory.Length * vocab]);

        var expected = new float[history.Length][];
        for (int i = 0; i < history.Length; i++)
        {
            expected[i] = new float[vocab];
            lm.Forward(step[i], single[i], expected[i]);
        }
        var logits = new float[history.Length * vocab];
        lm.ForwardBatch(step.Select((t, i) => new SequenceTokens(t, batched[i])).ToArray(), logits);

        for (int i = 0; i < history.Length; i++)
        {
            Assert.Equal(single[i].Count, batched[i].Count);
            var row = logits.AsSpan(i * vocab, vocab);
            float maxDiff = 0;
            for (int v = 0; v < vocab; v++) maxDiff = Math.Max(maxDiff, Math.Abs(row[v] - expected[i][v]));
            // Rows of passes cut differently go through GEMMs of other widths (float rounding, ~3e-6 here); where that moves
            // an attention weight across an F16 rounding boundary (weights are rounded to F16 against an F16 cache, as in
            // llama.cpp) the logits move by up to ~1e-4.
            Assert.True(maxDiff <= 3e-4f, $"sequence {i}: batched logits differ by {maxDiff}");
            Assert.Equal(Sampler.ArgMax(expected[i]), Sampler.ArgMax(row));
        }
    }

    [Fact]
    public void ForwardBatchRejectsAnOverfullItemWithoutTouchingAnyCache()
    {
        using var file = GgufFile.Open(TestModels.Stories);
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 1, ContextSize = 64 });
        var a = lm.CreateCache(8);
        var b = lm.CreateCache(4);
        var items = new[] { new SequenceTokens(new[] { 1, 2, 3 }, a), new SequenceTokens(new[] { 1, 2, 3, 4, 5 }, b) };
        Assert.Throws<InvalidOperationException>(() => lm.ForwardBatch(items, new float[2 * lm.Info.VocabSize]));
        Assert.Equal(0, a.Count);
        Assert.Equal(0, b.Count);
        Assert.Throws<ArgumentException>(() => lm.ForwardBatch([new SequenceTokens(new[] { 1 }, a), new SequenceTokens(new[] { 2 }, a)], new float[2 * lm.Info.VocabSize]));
    }

    [Fact]
    public async Task SchedulerOutputEqualsTheSingleSequenceGenerator()
    {
        using var model = LocalModel.Load(TestModels.Stories, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 128 }, Slots = 3 });
        var prompts = new[] { "Once upon a time", "The cat sat", "Lily and Tom went to the park" };
        var options = prompts.Select((_, i) => new GenerationOptions
        {
            MaxTokens = 24,
            Sampling = new SamplingOptions { Temperature = 0.9f, Seed = (ulong)(100 + i), RepeatPenalty = 1.1f },
        }).ToArray();

        var generator = new Generator(model.Model, model.Tokenizer);
        var expected = prompts.Select((p, i) =>
            string.Concat(generator.Generate(model.Tokenizer.Encode(p), options[i]).Select(s => s.Text))).ToArray();

        var streams = prompts.Select((p, i) => model.Scheduler.Submit(new GenerationRequest(model.Tokenizer.Encode(p), options[i]))).ToArray();
        var texts = await Task.WhenAll(streams.Select(async s => string.Concat((await s.ToListAsync()).Select(step => step.Text))));
        Assert.Equal(expected, texts);
        Assert.All(streams, s => Assert.Equal(FinishReason.Length, s.Finish));
        Assert.All(streams, s => Assert.Equal(24, s.GeneratedTokens));
    }

    [Fact]
    public async Task PrefixCacheReusesASlotAndGivesTheSameOutput()
    {
        using var model = LocalModel.Load(TestModels.Stories, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 256 }, Slots = 2 });
        string system = string.Concat(Enumerable.Repeat("Once upon a time there was a little girl named Lily who loved to play. ", 6));
        int[] first = model.Tokenizer.Encode(system + "One day she saw a dog.");
        int[] second = model.Tokenizer.Encode(system + "One day she found a ball.");
        var options = new GenerationOptions { MaxTokens = 20, Sampling = SamplingOptions.Greedy };

        var cold = model.Scheduler.Submit(new GenerationRequest(second, options));
        string coldText = Text(await cold.ToListAsync());
        Assert.Equal(0, cold.CachedPromptTokens);

        // A different prompt with the same long prefix: it takes the slot that holds it and evaluates only the rest.
        var warmUp = model.Scheduler.Submit(new GenerationRequest(first, options));
        await warmUp.ToListAsync();
        var warm = model.Scheduler.Submit(new GenerationRequest(second, options));
        string warmText = Text(await warm.ToListAsync());
        int shared = first.Zip(second).TakeWhile(p => p.First == p.Second).Count();
        Assert.Equal(shared, warm.CachedPromptTokens);
        Assert.True(shared > 60);
        Assert.Equal(coldText, warmText);

        // The very same prompt again: all but its last token come from the cache.
        var again = model.Scheduler.Submit(new GenerationRequest(second, options));
        Assert.Equal(coldText, Text(await again.ToListAsync()));
        Assert.Equal(second.Length - 1, again.CachedPromptTokens);
    }

    [Fact]
    public async Task CancellationFreesTheSlotAndTheQueueIsBounded()
    {
        // A context the endless sequence cannot fill before it is cancelled, however fast the engine and slow the machine.
        using var model = LocalModel.Load(TestModels.Stories, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 32768 }, Slots = 1, QueueLimit = 1 });
        var scheduler = model.Scheduler;
        int[] prompt = model.Tokenizer.Encode("Once upon a time");
        var endless = new GenerationOptions { MaxTokens = 100_000, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        using var cancelFirst = new CancellationTokenSource();
        var first = scheduler.Submit(new GenerationRequest(prompt, endless), cancelFirst.Token);
        var second = scheduler.Submit(new GenerationRequest(prompt, endless with { MaxTokens = 3 }));
        var full = Assert.Throws<QueueFullException>(() => scheduler.Submit(new GenerationRequest(prompt, endless)));
        Assert.True(full.RetryAfterSeconds > 0);

        await using (var steps = first.GetAsyncEnumerator())
        {
            Assert.True(await steps.MoveNextAsync());
            cancelFirst.Cancel();
            while (await steps.MoveNextAsync()) { }
        }
        Assert.Equal(FinishReason.Cancelled, first.Finish);
        Assert.True(first.GeneratedTokens < 30000);
        await second.ToListAsync();
        Assert.Equal(FinishReason.Length, second.Finish);
        Assert.Equal(0, scheduler.ActiveSlots);
        Assert.Throws<ArgumentException>(() => scheduler.Submit(new GenerationRequest(new int[32768], endless)));
    }

    private static string Text(IEnumerable<GenerationStep> steps) => string.Concat(steps.Select(s => s.Text));
}
