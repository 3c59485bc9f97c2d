using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tensors;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Models;

/// <summary>
/// Serving a hybrid model (recurrent DeltaNet state beside attention caches): the scheduler's continuous batching gives
/// each sequence what the single-sequence generator gives it, and its prefix cache reuses a recurrent slot only where
/// a state snapshot was taken — the chunk boundaries of a prompt and the token before its end — with the same output
/// as a cold start.
/// </summary>
public sealed class HybridQwenServingTests
{
    private static string PathOf(string family) => family switch
    {
        "qwen3next" => MoeModelBuilder.Qwen3NextF32(),
        "qwen35" => MoeModelBuilder.Qwen35F32(),
        _ => MoeModelBuilder.Quantized(MoeModelBuilder.Qwen35MoeF32(), TensorType.Q8_0),
    };

    private sealed class Served : IDisposable
    {
        public Served(string family, int slots, int stepBudget = 256)
        {
            File = GgufFile.Open(PathOf(family));
            Tokenizer = Tokenizer.FromGguf(File);
            Model = ModelLoader.Load(File, new ModelOptions { Threads = 2, ContextSize = 512 });
            Scheduler = new Scheduler(Model, Tokenizer, new SchedulerOptions { Slots = slots, ContextSize = 512, StepTokenBudget = stepBudget });
        }

        public GgufFile File { get; }
        public Tokenizer Tokenizer { get; }
        public ILanguageModel Model { get; }
        public Scheduler Scheduler { get; }

        public void Dispose()
        {
            Scheduler.Dispose();
            Model.Dispose();
            File.Dispose();
        }
    }

    private static string Text(IEnumerable<GenerationStep> steps) => string.Concat(steps.Select(s => s.Text));

    /// <summary>The generated token ids, comma-separated (the tiny models' text is byte soup; ids compare exactly).</summary>
    private static string Ids(IEnumerable<GenerationStep> steps) => string.Join(",", steps.Where(s => s.Token >= 0).Select(s => s.Token));

    [Theory]
    [InlineData("qwen3next", false)]
    [InlineData("qwen35", false)]
    [InlineData("qwen35moe-Q8_0", false)]
    [InlineData("qwen35", true)]
    public async Task SchedulerOutputEqualsTheSingleSequenceGenerator(string family, bool speculate)
    {
        using var served = new Served(family, slots: 3);
        var prompts = new[] { "Once upon a time", "The cat sat on the mat and", "Lily and Tom went to the park. They saw a big dog" };
        var options = prompts.Select((_, i) => new GenerationOptions
        {
            MaxTokens = 24,
            StopAtEndOfGeneration = false,
            Sampling = new SamplingOptions { Temperature = 0.9f, Seed = (ulong)(100 + i) },
        }).ToArray();
        var generator = new Generator(served.Model, served.Tokenizer);
        var expected = prompts.Select((p, i) => Text(generator.Generate(served.Tokenizer.Encode(p), options[i]))).ToArray();

        // With speculation (single-token lookups, so drafts come often and are mostly rejected): each rejection takes the
        // recurrent state back to before the pass and evaluates the accepted tokens again.
        var speculation = speculate ? new SpeculationOptions { NgramMin = 1 } : null;
        var streams = prompts.Select((p, i) => served.Scheduler.Submit(new GenerationRequest(served.Tokenizer.Encode(p), options[i] with { Speculation = speculation }))).ToArray();
        var texts = await Task.WhenAll(streams.Select(async s => Text(await s.ToListAsync())));
        Assert.Equal(expected, texts);
        Assert.All(streams, s => Assert.Equal(24, s.GeneratedTokens));
        if (speculate) Assert.True(served.Scheduler.DraftTokens > 0, "nothing was drafted");
    }

    [Theory]
    [InlineData("qwen3next")]
    [InlineData("qwen35moe-Q8_0")]
    public async Task PrefixCacheResumesFromRecurrentSnapshots(string family)
    {
        // A budget of 32 rows a step: the 100-odd-token prompts go in chunks, each chunk end a snapshot.
        using var served = new Served(family, slots: 1, stepBudget: 32);
        var scheduler = served.Scheduler;
        var options = new GenerationOptions { MaxTokens = 12, StopAtEndOfGeneration = false, Sampling = SamplingOptions.Greedy };
        string system = string.Concat(Enumerable.Repeat("Once upon a time there was a little girl named Lily who loved to play. ", 3));
        int[] first = served.Tokenizer.Encode(system + "One day she saw a dog.");
        int[] second = served.Tokenizer.Encode(system + "One day she found a ball.");
        int shared = first.Zip(second).TakeWhile(p => p.First == p.Second).Count();
        Assert.True(shared > 64, $"the prompts share {shared} tokens");

        string Cold(int[] prompt) => Ids(new Generator(served.Model, served.Tokenizer).Generate(prompt, options));

        var firstRun = scheduler.Submit(new GenerationRequest(first, options));
        await firstRun.ToListAsync();
        Assert.Equal(0, firstRun.CachedPromptTokens);

        // Another prompt with the same beginning: the state comes back from the last chunk boundary within the shared part.
        var secondRun = scheduler.Submit(new GenerationRequest(second, options));
        var secondSteps = await secondRun.ToListAsync();
        Assert.Equal(shared / 32 * 32, secondRun.CachedPromptTokens);
        Assert.Equal(Cold(second), Ids(secondSteps));

        // A follow-up (the prompt, its answer and more): resumes at or after the end of the prompt (the snapshot one
        // token before it, or the slot's current state where the answer ended).
        int[] followUp = [.. second, .. secondSteps.Where(s => s.Token >= 0).Select(s => s.Token), .. served.Tokenizer.Encode(" Then she went home.", addSpecial: false)];
        var followUpRun = scheduler.Submit(new GenerationRequest(followUp, options));
        var followUpSteps = await followUpRun.ToListAsync();
        Assert.True(followUpRun.CachedPromptTokens >= second.Length - 1, $"reused {followUpRun.CachedPromptTokens} of {second.Length - 1}");
        Assert.Equal(Cold(followUp), Ids(followUpSteps));

        // The same prompt again after that: back to the snapshot one token before its end.
        var again = scheduler.Submit(new GenerationRequest(second, options));
        string againIds = Ids(await again.ToListAsync()); // before Cold: one forward at a time per model
        Assert.Equal(Cold(second), againIds);
        Assert.Equal(second.Length - 1, again.CachedPromptTokens);
    }

    [Fact]
    public void TruncateGoesBackOnlyToSnapshots()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen35F32());
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 1, ContextSize = 128 });
        var cache = model.CreateCache(128);
        Assert.True(cache.RecurrentBytes > 0);
        var logits = new float[model.Info.VocabSize];
        int[] tokens = Enumerable.Range(10, 40).ToArray();
        model.Forward(tokens.AsSpan(0, 20), cache, logits);
        cache.Checkpoint();
        model.Forward(tokens.AsSpan(20), cache, logits);
        Assert.Equal(40, cache.ReusablePrefix(40));
        Assert.Equal(20, cache.ReusablePrefix(39));
        Assert.Equal(0, cache.ReusablePrefix(19));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(30));
        Assert.Equal(40, cache.Count);

        // Back to 20 and forward the rest again: the same logits as the first time.
        float[] before = (float[])logits.Clone();
        cache.Truncate(20);
        model.Forward(tokens.AsSpan(20), cache, logits);
        Assert.Equal(before, logits);

        // Back to the start: the empty state.
        cache.Truncate(0);
        var fresh = model.CreateCache(128);
        var expected = new float[model.Info.VocabSize];
        model.Forward(tokens, fresh, expected);
        model.Forward(tokens, cache, logits);
        Assert.Equal(expected, logits);
    }
}
