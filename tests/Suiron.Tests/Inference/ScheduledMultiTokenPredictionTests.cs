using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tests.Models;
using Suiron.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Inference;

/// <summary>
/// Multi-token-prediction speculation in continuous batching. The truths: plain greedy decoding by the single-sequence
/// generator (itself checked against llama.cpp), and the drafts of <c>suiron run</c>'s drafter, whose head is checked
/// against llama.cpp's MTP context (<see cref="MultiTokenPredictionOracleTests"/>). The scheduler's batched passes must
/// hand the head the same hidden states a single-sequence pass does, so that it drafts the same tokens, while the output
/// stays plain decoding's and each slot's cache ends as plain decoding leaves it.
/// </summary>
public sealed class ScheduledMultiTokenPredictionTests(ITestOutputHelper output)
{
    private const int Context = 320, Generated = 200;

    private static readonly string[] Prompts =
    [
        "Once upon a time, there was a little girl named Lily. She loved to play in the park with her dog.",
        "Tom had a big red ball. He",
        "The sun was hot and the sky was blue. A bird sang in the tall tree, and",
    ];

    private static int[] Tokens(IEnumerable<GenerationStep> steps) => steps.Where(s => s.Token >= 0).Select(s => s.Token).ToArray();

    private static string PathOf(string family) => family switch
    {
        "qwen35" => MoeModelBuilder.Qwen35MtpF32(),
        "qwen35moe" => MoeModelBuilder.Qwen35MoeMtpF32(),
        "glm-dsa" => MoeModelBuilder.F32(MoeModelBuilder.GlmDsa),
        _ => MoeModelBuilder.Qwen35BigramMtpF32(),
    };

    /// <summary>
    /// One batched step of three sequences (two keeping their hidden states, one not), then a step that verifies a draft
    /// (every row's logits) beside a decode: each kept hidden row, and every logits row, is bit for bit what a pass over
    /// that sequence alone gives; a sequence that keeps none is unaffected.
    /// </summary>
    [Theory]
    [InlineData("qwen35")]
    [InlineData("qwen35moe")]
    [InlineData("glm-dsa")]
    public void BatchedHiddenStatesEqualTheSingleSequenceOnes(string family)
    {
        using var file = GgufFile.Open(PathOf(family));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 64 });
        var head = (IMultiTokenPredictor)model;
        int vocab = model.Info.VocabSize, e = model.Info.HyperParameters.EmbeddingLength;
        int[] a = [1, 5, 9, 14, 3, 7, 22, 40], b = [2, 8, 17], c = [30, 31], aNext = [11, 12, 13], bNext = [4];

        // Alone: each sequence in its own passes.
        float[] Alone(int[] first, int[] second, bool allLogits, out float[] firstHidden, out float[] secondLogits)
        {
            var cache = model.CreateCache(64);
            firstHidden = new float[first.Length * e];
            head.ForwardWithHidden(first, cache, new float[vocab], false, firstHidden);
            var secondHidden = new float[second.Length * e];
            secondLogits = new float[(allLogits ? second.Length : 1) * vocab];
            head.ForwardWithHidden(second, cache, secondLogits, allLogits, secondHidden);
            return secondHidden;
        }
        float[] aNextHidden = Alone(a, aNext, true, out float[] aHidden, out float[] aNextLogits);
        float[] bNextHidden = Alone(b, bNext, false, out _, out float[] bNextLogits);
        var cHidden = new float[c.Length * e];
        var cLogits = new float[vocab];
        head.ForwardWithHidden(c, model.CreateCache(64), cLogits, false, cHidden);

        // Together: a, b (no hidden state kept), c in one step; then b's decode beside a's verification.
        KvCache cacheA = model.CreateCache(64), cacheB = model.CreateCache(64), cacheC = model.CreateCache(64);
        var logits = new float[4 * vocab];
        var batchA = new float[a.Length * e];
        var batchC = new float[c.Length * e];
        head.ForwardBatchWithHidden([new(a, cacheA), new(b, cacheB), new(c, cacheC)], logits, [batchA, Memory<float>.Empty, batchC]);
        Assert.Equal(aHidden, batchA);
        Assert.Equal(cHidden, batchC);
        Assert.Equal(cLogits, logits.AsSpan(2 * vocab, vocab).ToArray());
        var batchBNext = new float[e];
        var batchANext = new float[aNext.Length * e];
        head.ForwardBatchWithHidden([new(bNext, cacheB), new(aNext, cacheA, AllLogits: true)], logits, [batchBNext, batchANext]);
        Assert.Equal(bNextHidden, batchBNext);
        Assert.Equal(aNextHidden, batchANext);
        Assert.Equal(bNextLogits, logits.AsSpan(0, vocab).ToArray());
        Assert.Equal(aNextLogits, logits.AsSpan(vocab, aNext.Length * vocab).ToArray());

        var error = Assert.Throws<ArgumentException>(() => head.ForwardBatchWithHidden([new(bNext, cacheB)], logits, [new float[e - 1]]));
        Assert.Contains("hidden buffer", error.Message);
        Assert.Equal(b.Length + 1, cacheB.Count); // refused before anything was written
    }

    /// <summary>
    /// Three sequences (one under a grammar) speculate with the head in the same passes: each gives plain greedy decoding's
    /// 200 tokens; the head drafts for each exactly what <c>suiron run</c>'s drafter drafts for it alone (the batched
    /// hidden states being the single-sequence ones); the passes and accepted tokens are the generator's; and after the
    /// rejected drafts each slot's cache is plain decoding's (the same next logits). The random head's drafts are mostly
    /// rejected, the bigram head's mostly accepted; glm-dsa's (latent attention, experts, no recurrent state) drops a rejected
    /// draft's rows by truncating its caches. With a step budget of 16 tokens the prompts are evaluated in chunks
    /// beside the others' decoding (the head takes each chunk's rows), and the drafts still fit the budget.
    /// </summary>
    [Theory]
    [InlineData("qwen35", 256)]
    [InlineData("qwen35", 16)]
    [InlineData("bigram", 256)]
    [InlineData("glm-dsa", 256)]
    public async Task ConcurrentSequencesGiveThePlainTokensAndTheGeneratorsDrafts(string family, int stepBudget)
    {
        using var file = GgufFile.Open(PathOf(family));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = Context });
        var generator = new Generator(model, tokenizer);
        int[][] prompts = Prompts.Select(p => tokenizer.Encode(p)).ToArray();
        // Lowercase text that never completes: the end-of-generation token is never allowed, so all 200 tokens are its.
        var grammar = Suiron.Sampling.Grammar.Grammar.Parse("root ::= [a-z ] root");
        var plain = prompts.Select((_, i) => new GenerationOptions
        {
            MaxTokens = Generated, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false, Grammar = i == 2 ? grammar : null,
        }).ToArray();
        var mtp = plain.Select(o => o with { Speculation = new SpeculationOptions { MultiTokenPrediction = true, DraftMax = 4 } }).ToArray();

        var plainCaches = new KvCache[prompts.Length];
        var expected = new int[prompts.Length][];
        var expectedDrafts = new List<int[]>[prompts.Length];
        long generatorPasses = 0, generatorAccepted = 0;
        for (int i = 0; i < prompts.Length; i++)
        {
            plainCaches[i] = model.CreateCache(Context);
            expected[i] = Tokens(generator.Generate(prompts[i], plain[i], plainCaches[i]));
            Assert.Equal(Generated, expected[i].Length);
            var cache = model.CreateCache(Context);
            var drafts = expectedDrafts[i] = [];
            MultiTokenDraft.For(model, cache)!.ProposalTap = drafts.Add;
            Assert.Equal(expected[i], Tokens(generator.Generate(prompts[i], mtp[i], cache)));
            generatorPasses += generator.LastStats!.DecodePasses;
            generatorAccepted += generator.LastStats.AcceptedDraftTokens;
        }

        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = prompts.Length, ContextSize = Context, StepTokenBudget = stepBudget });
        var slotDrafts = new List<int[]>[prompts.Length];
        for (int slot = 0; slot < prompts.Length; slot++)
        {
            var drafts = slotDrafts[slot] = [];
            MultiTokenDraft.For(model, scheduler.SlotCache(slot))!.ProposalTap = drafts.Add;
        }
        var streams = prompts.Select((p, i) => scheduler.Submit(new GenerationRequest(p, mtp[i]))).ToArray();
        var actual = await Task.WhenAll(streams.Select(async s => Tokens(await s.ToListAsync())));

        var statistics = scheduler.Speculation(DraftSource.MultiTokenPrediction);
        output.WriteLine($"{family}: {statistics.Drafts} drafts of {statistics.DraftTokens} tokens, {statistics.AcceptedTokens} accepted " +
                         $"({100 * statistics.AcceptanceRate:F1} %); {statistics.Tokens} tokens in {statistics.Passes} decode passes " +
                         $"({statistics.TokensPerPass:F2} per pass); the generator alone: {generatorAccepted} accepted, {generatorPasses} passes");
        var contents = scheduler.PrefixCacheContents();
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
            int slot = Enumerable.Range(0, prompts.Length).Single(s => contents[s].AsSpan().StartsWith(prompts[i]));
            Assert.Equal(expectedDrafts[i].Count, slotDrafts[slot].Count);
            for (int d = 0; d < expectedDrafts[i].Count; d++) Assert.Equal(expectedDrafts[i][d], slotDrafts[slot][d]);

            // Rollback: the slot holds what plain decoding leaves — the prompt and every emitted token but the last, which the
            // generator evaluates too before it stops — so the next step's logits are plain decoding's.
            KvCache slotCache = scheduler.SlotCache(slot);
            Assert.Equal(plainCaches[i].Count - 1, slotCache.Count);
            var theirs = new float[model.Info.VocabSize];
            var ours = new float[model.Info.VocabSize];
            model.Forward([expected[i][^1]], slotCache, ours);
            model.Forward([5, 6, 7], plainCaches[i], theirs);
            model.Forward([5, 6, 7], slotCache, ours);
            Assert.Equal(theirs, ours);
        }
        // The generator's passes: the scheduler's, and the one that evaluates each sequence's last token.
        Assert.Equal(generatorPasses, statistics.Passes + prompts.Length);
        Assert.Equal(generatorAccepted, statistics.AcceptedTokens);
        // Each decode pass gives the accepted draft tokens and one the model chose: 199 per sequence (the first came from its prompt).
        Assert.Equal(prompts.Length * (Generated - 1), statistics.Tokens);
        Assert.Equal(statistics.Passes + statistics.AcceptedTokens, statistics.Tokens);
        Assert.Equal(scheduler.DraftTokens, statistics.DraftTokens);
        Assert.Equal(0, scheduler.Speculation(DraftSource.Ngram).DraftTokens);
        Assert.True(statistics.DraftTokens > statistics.AcceptedTokens, "no draft was rejected: the rollback went untested");
        if (family == "bigram") Assert.True(statistics.AcceptedTokens > statistics.Drafts / 2, $"the bigram head had {statistics.AcceptedTokens} tokens of {statistics.Drafts} drafts accepted");
    }

    /// <summary>
    /// A prompt longer than a pass (300 tokens): the generator's head takes it 256 tokens at a time, the scheduler's one
    /// 64-token step chunk at a time; the drafts are the same and the tokens plain decoding's.
    /// </summary>
    [Fact]
    public async Task LongPromptsAreTakenByTheHeadChunkByChunk()
    {
        using var file = GgufFile.Open(PathOf("qwen35"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 400 });
        int[] story = tokenizer.Encode(string.Join(" ", Prompts) + " " + string.Join(" ", Prompts.Reverse()), addSpecial: false);
        int[] prompt = [.. tokenizer.Encode("Lily", addSpecial: true), .. Enumerable.Range(0, 299).Select(i => story[i % story.Length])];
        var plain = new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        var mtp = plain with { Speculation = new SpeculationOptions { MultiTokenPrediction = true, DraftMax = 3 } };
        var generator = new Generator(model, tokenizer);
        int[] expected = Tokens(generator.Generate(prompt, plain, model.CreateCache(400)));
        var cache = model.CreateCache(400);
        var generatorDrafts = new List<int[]>();
        MultiTokenDraft.For(model, cache)!.ProposalTap = generatorDrafts.Add;
        Assert.Equal(expected, Tokens(generator.Generate(prompt, mtp, cache)));

        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 1, ContextSize = 400, StepTokenBudget = 64 });
        var schedulerDrafts = new List<int[]>();
        MultiTokenDraft.For(model, scheduler.SlotCache(0))!.ProposalTap = schedulerDrafts.Add;
        Assert.Equal(expected, Tokens(await scheduler.Submit(new GenerationRequest(prompt, mtp)).ToListAsync()));
        Assert.True(generatorDrafts.Count > 10);
        Assert.Equal(generatorDrafts.Count, schedulerDrafts.Count);
        for (int d = 0; d < generatorDrafts.Count; d++) Assert.Equal(generatorDrafts[d], schedulerDrafts[d]);
    }

    /// <summary>
    /// A slot's prefix cache and the head: a prompt cached by a request without MTP is evaluated again for an MTP request
    /// (the head needs those tokens' hidden states), which then drafts; the next MTP request reuses the prefix and drafts
    /// too (the head followed the slot); a request without MTP in between leaves the head the prefix it shares. Every
    /// output is plain decoding's.
    /// </summary>
    [Fact]
    public async Task TheHeadFollowsASlotAcrossRequests()
    {
        using var file = GgufFile.Open(PathOf("bigram"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = Context });
        int[] prompt = tokenizer.Encode(Prompts[0]);
        var plain = new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        var mtp = plain with { Speculation = new SpeculationOptions { MultiTokenPrediction = true } };
        int[] expected = Tokens(new Generator(model, tokenizer).Generate(prompt, plain));

        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 1, ContextSize = Context });
        async Task<(int Cached, long Drafted)> Request(GenerationOptions options)
        {
            long before = scheduler.Speculation(DraftSource.MultiTokenPrediction).DraftTokens;
            var stream = scheduler.Submit(new GenerationRequest(prompt, options));
            Assert.Equal(expected, Tokens(await stream.ToListAsync()));
            return (stream.CachedPromptTokens, scheduler.Speculation(DraftSource.MultiTokenPrediction).DraftTokens - before);
        }

        Assert.Equal((0, 0L), await Request(plain));
        var (cached, drafted) = await Request(mtp);
        Assert.Equal(0, cached); // cached without the head: evaluated again
        Assert.True(drafted > 0);
        (cached, drafted) = await Request(mtp);
        Assert.Equal(prompt.Length - 1, cached);
        Assert.True(drafted > 0);
        Assert.Equal((prompt.Length - 1, 0L), await Request(plain));
        (cached, drafted) = await Request(mtp);
        Assert.Equal(prompt.Length - 1, cached);
        Assert.True(drafted > 0);
    }

    /// <summary>
    /// The head over several sequences in one pass (<see cref="IMultiTokenPredictor.PredictBatch"/>: seed rows of different
    /// lengths, then chained rows) gives each sequence bit for bit what <see cref="IMultiTokenPredictor.Predict"/> gives it
    /// alone, and leaves each head cache as that would.
    /// </summary>
    [Theory]
    [InlineData("qwen35moe")]
    [InlineData("glm-dsa")]
    public void BatchedHeadPassesEqualSingleSequenceOnes(string family)
    {
        using var file = GgufFile.Open(PathOf(family));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 64 });
        var head = (IMultiTokenPredictor)model;
        int vocab = model.Info.VocabSize, e = model.Info.HyperParameters.EmbeddingLength;
        var random = new Random(5);
        float[] Hidden(int rows) => Enumerable.Range(0, rows * e).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        int[][] seeds = [[3, 9, 27, 81, 243], [7], [12, 13, 14]];
        float[][] seedHidden = seeds.Select(t => Hidden(t.Length)).ToArray();
        int[] chained = [44, 55, 66];
        float[][] chainedHidden = seeds.Select(_ => Hidden(1)).ToArray();

        var alone = seeds.Select(_ => head.CreatePredictionCache(64)).ToArray();
        var aloneLogits = new float[2][][];
        var aloneHidden = new float[2][][];
        for (int round = 0; round < 2; round++)
        {
            aloneLogits[round] = new float[seeds.Length][];
            aloneHidden[round] = new float[seeds.Length][];
            for (int i = 0; i < seeds.Length; i++)
            {
                (aloneLogits[round][i], aloneHidden[round][i]) = (new float[vocab], new float[e]);
                if (round == 0) head.Predict(seeds[i], seedHidden[i], alone[i], aloneLogits[round][i], aloneHidden[round][i]);
                else head.Predict([chained[i]], chainedHidden[i], alone[i], aloneLogits[round][i], aloneHidden[round][i]);
            }
        }

        var together = seeds.Select(_ => head.CreatePredictionCache(64)).ToArray();
        var logits = new float[seeds.Length * vocab];
        var hidden = new float[seeds.Length * e];
        for (int round = 0; round < 2; round++)
        {
            HeadRows[] items = round == 0
                ? seeds.Select((t, i) => new HeadRows(t, seedHidden[i], together[i])).ToArray()
                : seeds.Select((_, i) => new HeadRows(new[] { chained[i] }, chainedHidden[i], together[i])).ToArray();
            head.PredictBatch(items, logits, hidden);
            for (int i = 0; i < seeds.Length; i++)
            {
                Assert.Equal(aloneLogits[round][i], logits.AsSpan(i * vocab, vocab).ToArray());
                Assert.Equal(aloneHidden[round][i], hidden.AsSpan(i * e, e).ToArray());
            }
        }
        for (int i = 0; i < seeds.Length; i++) Assert.Equal(alone[i].Count, together[i].Count);
        var shared = head.CreatePredictionCache(64);
        Assert.Throws<ArgumentException>(() => head.PredictBatch([new HeadRows(new[] { 1 }, Hidden(1), shared), new HeadRows(new[] { 2 }, Hidden(1), shared)], logits, hidden));
    }

    /// <summary>
    /// A batched decode step of two sequences drafting with the head as the scheduler runs it — both proposals begun, the
    /// head's rows of both run together position by position, the pass keeping both sequences' hidden states, the rejected
    /// rows dropped — allocates nothing once warm.
    /// </summary>
    [Fact]
    public void BatchedDraftingStepsAllocateNothingOnceWarm()
    {
        using var file = GgufFile.Open(PathOf("qwen35"));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 128 });
        var head = (IMultiTokenPredictor)model;
        int vocab = model.Info.VocabSize;
        KvCache[] caches = [model.CreateCache(128), model.CreateCache(128)];
        var drafters = caches.Select(c => MultiTokenDraft.For(model, c)!).ToArray();
        int[][] passes = [new int[3], new int[3]];
        var items = new SequenceTokens[2];
        var hidden = new Memory<float>[2];
        var logits = new float[6 * vocab];
        for (int i = 0; i < 2; i++)
        {
            int[] prompt = [1 + i, 5, 9, 14];
            items[i] = new SequenceTokens(prompt, caches[i]);
            hidden[i] = drafters[i].Record(prompt);
        }
        head.ForwardBatchWithHidden(items, logits, hidden);
        foreach (var drafter in drafters) drafter.CatchUp();
        int e = model.Info.HyperParameters.EmbeddingLength;
        var headRows = new HeadRows[2];
        var headLogits = new float[2 * vocab];
        var headHidden = new float[2 * e];
        void Step(int step)
        {
            for (int i = 0; i < 2; i++)
            {
                passes[i][0] = (step * 53 + 7 * i + 2) % 500;
                Assert.True(drafters[i].BeginProposal(passes[i][0], 2, out headRows[i]));
            }
            bool chaining = true;
            while (chaining)
            {
                head.PredictBatch(headRows, headLogits, headHidden);
                for (int i = 0; i < 2; i++)
                    chaining = drafters[i].Continue(headLogits.AsSpan(i * vocab, vocab), headHidden.AsSpan(i * e, e), out headRows[i]);
            }
            for (int i = 0; i < 2; i++)
            {
                drafters[i].Proposal.CopyTo(passes[i].AsSpan(1));
                items[i] = new SequenceTokens(passes[i].AsMemory(0, 3), caches[i], AllLogits: true);
                hidden[i] = drafters[i].Record(passes[i].AsSpan(0, 3));
            }
            head.ForwardBatchWithHidden(items, logits, hidden);
            for (int i = 0; i < 2; i++)
            {
                // Every draft rejected: the recurrent state goes back and the next token is evaluated again, as the scheduler does.
                drafters[i].Drop(2);
                if (!caches[i].DropDraft(2)) model.Forward(passes[i].AsSpan(0, 1), caches[i], logits.AsSpan(0, vocab));
            }
        }
        for (int step = 0; step < 6; step++)
        {
            foreach (var cache in caches) cache.MarkDraftBase();
            Step(step); // warm: JIT, pools, scratch
        }
        Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() =>
        {
            for (int step = 6; step < 12; step++)
            {
                foreach (var cache in caches) cache.MarkDraftBase();
                Step(step);
            }
        }));
        Assert.Equal(4 + 12, caches[0].Count);
    }

    [Fact]
    public void RefusesMtpForAModelWithoutAHead()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen35F32());
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 64 });
        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 1, ContextSize = 64 });
        Assert.False(scheduler.HasMultiTokenPrediction);
        var options = new GenerationOptions { MaxTokens = 4, Speculation = new SpeculationOptions { MultiTokenPrediction = true } };
        var error = Assert.Throws<ArgumentException>(() => scheduler.Submit(new GenerationRequest(tokenizer.Encode("Once"), options)));
        Assert.Contains("no multi-token-prediction block", error.Message);
    }
}
