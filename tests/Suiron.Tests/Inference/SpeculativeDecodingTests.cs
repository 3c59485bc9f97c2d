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
/// Prompt-lookup speculative decoding: every token is still drawn by the sampler from the model's logits (the batched
/// verification pass gives the same logits as one-token passes), so the output is token for token the output without
/// speculation — greedy, and sampled with the same seed, penalties included — while drafts from a repetitive context are
/// accepted and save passes.
/// </summary>
public sealed class SpeculativeDecodingTests(ITestOutputHelper output)
{
    // stories260K continues a story it has just read: its own earlier sentences are the drafts.
    private const string Prompt =
        "Lily went to the park. She saw a big red ball. She kicked the ball. Lily went to the park. She saw a big red ball. She kicked";

    private static string[] Run(Generator generator, int[] prompt, GenerationOptions options, out GenerationStats stats, KvCache? cache = null)
    {
        var steps = generator.Generate(prompt, options, cache).ToList();
        stats = generator.LastStats!;
        return steps.Where(s => s.Token >= 0).Select(s => s.Token.ToString()).ToArray();
    }

    public static TheoryData<string> Samplings => new() { "greedy", "sampled" };

    [Theory]
    [MemberData(nameof(Samplings))]
    public void GivesTheTokensOfPlainDecodingInFewerPasses(string sampling)
    {
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode(Prompt);
        var samplingOptions = sampling == "greedy" ? SamplingOptions.Greedy
            : new SamplingOptions { Temperature = 0.8f, Seed = 42, RepeatPenalty = 1.05f, TopK = 40 };
        var plain = new GenerationOptions { MaxTokens = 120, Sampling = samplingOptions, StopAtEndOfGeneration = false };

        string[] expected = Run(generator, prompt, plain, out var plainStats);
        var plainCache = model.CreateCache(512);
        Run(generator, prompt, plain, out _, plainCache);
        var speculativeCache = model.CreateCache(512);
        string[] actual = Run(generator, prompt, plain with { Speculation = new SpeculationOptions() }, out var stats, speculativeCache);

        output.WriteLine($"{sampling}: {stats.GeneratedTokens} tokens in {stats.DecodePasses} passes (plain {plainStats.DecodePasses}); " +
                         $"drafted {stats.DraftTokens}, accepted {stats.AcceptedDraftTokens}");
        Assert.Equal(expected, actual);
        Assert.True(stats.AcceptedDraftTokens > 0, "no draft token was accepted");
        Assert.True(stats.DecodePasses < plainStats.DecodePasses, $"{stats.DecodePasses} passes, plain {plainStats.DecodePasses}");
        Assert.Equal(stats.DecodePasses + stats.AcceptedDraftTokens, plainStats.DecodePasses);
        // The cache ends holding what plain decoding leaves in it: the prompt and every emitted token but the last.
        Assert.Equal(plainCache.Count, speculativeCache.Count);
    }

    [Fact]
    public void DraftsTheContinuationOfTheLatestEarlierOccurrence()
    {
        var options = new SpeculationOptions { NgramMin = 2, NgramMax = 3 };
        var draft = new int[4];
        // ... 7 8 9 | 1 2 3 4 5 | 7 8 → the 3-gram "? 7 8" is not there, "7 8" is: its latest continuation is 9 1 2 3.
        int n = NgramDraft.Propose([5, 7, 8, 9, 1, 2, 3, 4, 5, 7, 8], options, draft);
        Assert.Equal(4, n);
        Assert.Equal([9, 1, 2, 3], draft);
        // A suffix seen nowhere earlier drafts nothing.
        Assert.Equal(0, NgramDraft.Propose([1, 2, 3, 4], options, draft));
        // The continuation is cut at the end of the history.
        Assert.Equal(1, NgramDraft.Propose([6, 6, 6], new SpeculationOptions { NgramMin = 2, NgramMax = 2 }, draft));
        Assert.Equal(6, draft[0]);
    }

    /// <summary>A hybrid model's recurrent state goes back to before a rejected draft's pass: drafts, and still the plain tokens.</summary>
    [Fact]
    public void ARecurrentModelSpeculatesAndGivesTheSameTokens()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen35F32());
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 256 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode(Prompt);
        var plain = new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        string[] expected = Run(generator, prompt, plain, out _);
        var cache = model.CreateCache(256);
        string[] actual = Run(generator, prompt, plain with { Speculation = new SpeculationOptions { NgramMin = 1 } }, out var stats, cache);
        output.WriteLine($"qwen35: drafted {stats.DraftTokens}, accepted {stats.AcceptedDraftTokens}");
        Assert.Equal(expected, actual);
        Assert.True(stats.DraftTokens > stats.AcceptedDraftTokens, "no draft was rejected: the rollback went untested");
        // The state it ends with is the plain run's: the same continuation follows.
        var plainCache = model.CreateCache(256);
        Run(generator, prompt, plain, out _, plainCache);
        Assert.Equal(plainCache.Count, cache.Count);
        int[] more = [5, 6, 7];
        var a = new float[model.Info.VocabSize];
        var b = new float[model.Info.VocabSize];
        model.Forward(more, plainCache, a);
        model.Forward(more, cache, b);
        Assert.Equal(a, b);
    }
}

/// <summary>
/// Draft-model speculation: stories260K verifies the drafts of its own Q4_K_M copy (a draft that agrees most of the time);
/// the output is plain decoding's, greedy and sampled, and a model of another vocabulary is refused as a draft.
/// </summary>
public sealed class DraftModelSpeculationTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-draft-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("greedy")]
    [InlineData("sampled")]
    public void GivesTheTokensOfPlainDecoding(string sampling)
    {
        string target = SharedData.Path("models", "stories260K.gguf"), draftPath = Path.Combine(_dir, "draft-q4_k_m.gguf");
        Suiron.ModelQuantization.ModelQuantizer.Quantize(target, draftPath, Suiron.ModelQuantization.ModelFileType.Q4_K_M);
        using var file = GgufFile.Open(target);
        using var draftFile = GgufFile.Open(draftPath);
        var tokenizer = Tokenizer.FromGguf(file);
        SpeculationOptions.CheckDraftVocabulary(tokenizer.Vocabulary, Tokenizer.FromGguf(draftFile).Vocabulary);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        using var draft = ModelLoader.Load(draftFile, new ModelOptions { Threads = 2, ContextSize = 512 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode("Once upon a time, there was a little girl named Lily. She");
        var samplingOptions = sampling == "greedy" ? SamplingOptions.Greedy : new SamplingOptions { Temperature = 0.7f, Seed = 7, TopK = 40 };
        var plain = new GenerationOptions { MaxTokens = 100, Sampling = samplingOptions, StopAtEndOfGeneration = false };

        int[] expected = generator.Generate(prompt, plain).Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
        var plainStats = generator.LastStats!;
        int[] actual = generator.Generate(prompt, plain with { Speculation = new SpeculationOptions { DraftModel = draft, DraftMax = 6 } })
            .Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
        var stats = generator.LastStats!;
        output.WriteLine($"{sampling}: {stats.GeneratedTokens} tokens in {stats.DecodePasses} passes (plain {plainStats.DecodePasses}); drafted {stats.DraftTokens}, accepted {stats.AcceptedDraftTokens}");
        Assert.Equal(expected, actual);
        Assert.True(stats.AcceptedDraftTokens > stats.DraftTokens / 2, $"{stats.AcceptedDraftTokens} of {stats.DraftTokens} accepted");
        Assert.Equal(stats.DecodePasses + stats.AcceptedDraftTokens, plainStats.DecodePasses);
    }

    [Fact]
    public void RefusesADraftOfAnotherVocabulary()
    {
        using var stories = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        using var other = GgufFile.Open(SharedData.Path("models", "llama-2-tiny-random.gguf"));
        var e = Assert.Throws<ArgumentException>(() =>
            SpeculationOptions.CheckDraftVocabulary(Tokenizer.FromGguf(stories).Vocabulary, Tokenizer.FromGguf(other).Vocabulary));
        Assert.Contains("differ by more than 128", e.Message);
    }
}

/// <summary>
/// Speculation in continuous batching: several sequences verify their drafts in the same passes (items with every
/// row's logits); each one's text equals what the single-sequence generator gives it without speculation, and the
/// slots keep exactly the emitted tokens, so the prefix cache still works.
/// </summary>
public sealed class ScheduledSpeculationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ConcurrentSpeculatingSequencesGiveThePlainOutputs()
    {
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 3, ContextSize = 512 });
        string[] prompts =
        [
            "Lily went to the park. She saw a big red ball. She kicked the ball. Lily went to the park. She saw",
            "Once upon a time, there was a little girl named Lily. She",
            "Tom had a dog. The dog was big. Tom had a cat. The cat was small. Tom had a",
        ];
        var options = prompts.Select((_, i) => new GenerationOptions
        {
            MaxTokens = 80, StopAtEndOfGeneration = false,
            Sampling = i == 1 ? SamplingOptions.Greedy : new SamplingOptions { Temperature = 0.8f, Seed = (ulong)(10 + i), RepeatPenalty = 1.05f },
        }).ToArray();
        var generator = new Generator(model, tokenizer);
        int[][] expected = prompts.Select((p, i) => generator.Generate(tokenizer.Encode(p), options[i]).Where(s => s.Token >= 0).Select(s => s.Token).ToArray()).ToArray();

        var streams = prompts.Select((p, i) => scheduler.Submit(new GenerationRequest(tokenizer.Encode(p), options[i] with { Speculation = new SpeculationOptions() }))).ToArray();
        var actual = await Task.WhenAll(streams.Select(async s => (await s.ToListAsync()).Where(step => step.Token >= 0).Select(step => step.Token).ToArray()));
        output.WriteLine($"drafted {scheduler.DraftTokens}, accepted {scheduler.DraftTokensAccepted}");
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(expected[i], actual[i]);
        Assert.True(scheduler.DraftTokensAccepted > 0);

        // The slot holds the prompt and the emitted tokens but the last: asking again reuses all but the prompt's last token.
        var again = scheduler.Submit(new GenerationRequest(tokenizer.Encode(prompts[1]), options[1] with { Speculation = new SpeculationOptions() }));
        int[] second = (await again.ToListAsync()).Where(step => step.Token >= 0).Select(step => step.Token).ToArray();
        Assert.Equal(expected[1], second);
        Assert.Equal(tokenizer.Encode(prompts[1]).Length - 1, again.CachedPromptTokens);
    }

    /// <summary>
    /// A draft the grammar rejects is cut before it costs a verify pass: the prompt repeats a sentence, so once the grammar's
    /// " Lily" is out the n-gram drafter proposes the rest of it (" went to the park. Lily …"), but the grammar allows only
    /// " Lily went to the zoo.": the draft is cut before " park", so every draft token verified is one the grammar allows
    /// and greedy sampling then accepts. Uncut, " park" and what follows would be verified and rejected.
    /// </summary>
    [Fact]
    public async Task DraftsTheGrammarRejectsAreCutBeforeVerification()
    {
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 1, ContextSize = 512 });
        int[] prompt = tokenizer.Encode("Lily went to the park. Lily went to the park. Lily went to the park.");
        var options = new GenerationOptions
        {
            MaxTokens = 20, Sampling = SamplingOptions.Greedy, Speculation = new SpeculationOptions(),
            Grammar = Suiron.Sampling.Grammar.Grammar.Parse("root ::= \" Lily went to the zoo.\""),
        };
        var steps = await scheduler.Submit(new GenerationRequest(prompt, options)).ToListAsync();
        Assert.Equal(" Lily went to the zoo.", string.Concat(steps.Select(s => s.Text)));
        Assert.True(scheduler.DraftTokens > 0, "no draft was verified");
        Assert.Equal(scheduler.DraftTokens, scheduler.DraftTokensAccepted);
    }
}

/// <summary>
/// Every architecture, each proposer, single and batched: 200 greedy tokens with speculation equal the plain ones. The
/// tiny random models rarely repeat themselves, so single-token lookups (drafts on almost every step, mostly
/// rejected) exercise the rollback; the draft model is the family's own Q8_0 copy (mostly accepted), or for the hybrid
/// families an attention-only tiny llama of the same vocabulary.
/// </summary>
public sealed class SpeculationAcrossArchitecturesTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new()
    {
        "llama", "qwen3", "qwen3moe", "glm4moe", "ernie4_5-moe", "hunyuan-moe", "minimax-m2", "deepseek2-v3", "deepseek32",
        "qwen3next", "qwen35", "qwen35moe",
    };

    private static string PathOf(string family) => family switch
    {
        "llama" => TinyModelBuilder.F32(TinyModelOracleTests.Llama),
        "qwen3" => TinyModelBuilder.F32(TinyModelOracleTests.Qwen3),
        "qwen3moe" => MoeModelBuilder.Qwen3MoeF32(),
        "glm4moe" => MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true),
        "ernie4_5-moe" => MoeModelBuilder.Ernie4_5MoeF32(),
        "hunyuan-moe" => MoeModelBuilder.HunyuanMoeF32(),
        "minimax-m2" => MoeModelBuilder.MiniMaxM2F32(),
        "deepseek2-v3" => MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV3),
        "deepseek32" => MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV32),
        "qwen3next" => MoeModelBuilder.Qwen3NextF32(),
        "qwen35" => MoeModelBuilder.Qwen35F32(),
        _ => MoeModelBuilder.Qwen35MoeF32(),
    };

    private static int[] Tokens(IEnumerable<GenerationStep> steps) => steps.Where(s => s.Token >= 0).Select(s => s.Token).ToArray();

    [Theory]
    [MemberData(nameof(Families))]
    public async Task TwoHundredGreedyTokensEqualPlainDecoding(string family)
    {
        string path = PathOf(family);
        using var file = GgufFile.Open(path);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 320 });
        bool recurrent = model.CreateCache(1).RecurrentBytes > 0;
        string draftPath = recurrent ? TinyModelBuilder.F32(TinyModelOracleTests.Llama) : MoeModelBuilder.Quantized(path, Suiron.Tensors.TensorType.Q8_0);
        using var draftFile = GgufFile.Open(draftPath);
        using var draft = ModelLoader.Load(draftFile, new ModelOptions { Threads = 2, ContextSize = 320 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode("Once upon a time, there was a little girl named Lily. She loved to play in the park with her dog.");
        var plain = new GenerationOptions { MaxTokens = 200, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };

        int[] expected = Tokens(generator.Generate(prompt, plain));
        int[] ngram = Tokens(generator.Generate(prompt, plain with { Speculation = new SpeculationOptions { NgramMin = 1 } }));
        var ngramStats = generator.LastStats!;
        int[] drafted = Tokens(generator.Generate(prompt, plain with { Speculation = new SpeculationOptions { DraftModel = draft } }));
        var draftStats = generator.LastStats!;
        Assert.Equal(expected, ngram);
        Assert.Equal(expected, drafted);

        // Batched: two sequences speculating in the same passes.
        using var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = 2, ContextSize = 320 });
        var options = plain with { Speculation = new SpeculationOptions { NgramMin = 1 } };
        int[] otherPrompt = tokenizer.Encode("The cat sat on the mat.");
        int[] otherExpected = Tokens(generator.Generate(otherPrompt, plain));
        var streams = new[] { scheduler.Submit(new GenerationRequest(prompt, options)), scheduler.Submit(new GenerationRequest(otherPrompt, options)) };
        var batched = await Task.WhenAll(streams.Select(async s => Tokens(await s.ToListAsync())));
        Assert.Equal(expected, batched[0]);
        Assert.Equal(otherExpected, batched[1]);
        output.WriteLine($"{family}: ngram {ngramStats.AcceptedDraftTokens}/{ngramStats.DraftTokens} accepted, draft model {draftStats.AcceptedDraftTokens}/{draftStats.DraftTokens}, " +
                         $"batched {scheduler.DraftTokensAccepted}/{scheduler.DraftTokens}");
        Assert.True(ngramStats.DraftTokens > ngramStats.AcceptedDraftTokens && draftStats.DraftTokens > 0 && scheduler.DraftTokens > 0);
    }

    /// <summary>
    /// Sampling: each seed's first tokens with speculation are the plain ones (so the distribution is the plain one, with no
    /// statistical slack: one draw per emitted token from the same logits), over 40 seeds on stories260K.
    /// </summary>
    [Fact]
    public void EverySeedSamplesThePlainTokens()
    {
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 256 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode("Lily saw a red ball. Lily saw a red ball. Lily saw a red");
        var differing = new List<ulong>();
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var plain = new GenerationOptions { MaxTokens = 12, StopAtEndOfGeneration = false, Sampling = new SamplingOptions { Temperature = 1f, Seed = seed } };
            if (!Tokens(generator.Generate(prompt, plain)).SequenceEqual(Tokens(generator.Generate(prompt, plain with { Speculation = new SpeculationOptions() }))))
                differing.Add(seed);
        }
        Assert.Empty(differing);
    }
}

/// <summary>
/// Multi-token-prediction speculation (<see cref="SpeculationOptions.MultiTokenPrediction"/>): the tokens are those of
/// plain decoding (the truth, itself checked against llama.cpp), greedy and sampled, whether the head's drafts are mostly
/// accepted or mostly rejected, over a chat's turns that keep the cache, and with the head's cache unable to follow.
/// </summary>
public sealed class MultiTokenPredictionSpeculationTests(ITestOutputHelper output)
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play in the park with her dog.";

    private static int[] Tokens(IEnumerable<GenerationStep> steps) => steps.Where(s => s.Token >= 0).Select(s => s.Token).ToArray();

    public static TheoryData<string, string> Cases => new()
    {
        { "bigram", "greedy" }, { "bigram", "sampled" }, { "qwen35", "greedy" }, { "qwen35moe", "greedy" }, { "glm-dsa", "greedy" },
    };

    private static string PathOf(string head) => head switch
    {
        "bigram" => MoeModelBuilder.Qwen35BigramMtpF32(),
        "qwen35" => MoeModelBuilder.Qwen35MtpF32(),
        "glm-dsa" => MoeModelBuilder.F32(MoeModelBuilder.GlmDsa),
        _ => MoeModelBuilder.Qwen35MoeMtpF32(),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GivesTheTokensOfPlainDecoding(string head, string sampling)
    {
        using var file = GgufFile.Open(PathOf(head));
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 320 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode(Prompt);
        var samplingOptions = sampling == "greedy" ? SamplingOptions.Greedy : new SamplingOptions { Temperature = 0.9f, Seed = 7, TopK = 40 };
        var plain = new GenerationOptions { MaxTokens = 200, Sampling = samplingOptions, StopAtEndOfGeneration = false };

        var plainCache = model.CreateCache(320);
        int[] expected = Tokens(generator.Generate(prompt, plain, plainCache));
        var plainStats = generator.LastStats!;
        var cache = model.CreateCache(320);
        int[] actual = Tokens(generator.Generate(prompt, plain with { Speculation = new SpeculationOptions { MultiTokenPrediction = true, DraftMax = 4 } }, cache));
        var stats = generator.LastStats!;
        output.WriteLine($"{head} {sampling}: {stats.GeneratedTokens} tokens in {stats.DecodePasses} passes (plain {plainStats.DecodePasses}); " +
                         $"drafted {stats.DraftTokens}, accepted {stats.AcceptedDraftTokens}");
        Assert.Equal(expected, actual);
        Assert.True(stats.DraftTokens > stats.AcceptedDraftTokens, "no draft was rejected: the rollback went untested");
        Assert.Equal(plainStats.DecodePasses, stats.DecodePasses + stats.AcceptedDraftTokens);
        if (head == "bigram") Assert.True(stats.AcceptedDraftTokens > 0, "the bigram head had no draft accepted");
        // The cache ends as plain decoding leaves it: the same continuation follows.
        Assert.Equal(plainCache.Count, cache.Count);
        var a = new float[model.Info.VocabSize];
        var b = new float[model.Info.VocabSize];
        model.Forward([5, 6, 7], plainCache, a);
        model.Forward([5, 6, 7], cache, b);
        Assert.Equal(a, b);
    }

    /// <summary>
    /// A chat keeps its cache across turns, and the head's cache follows it: the second turn drafts too and both turns are
    /// plain decoding's. A cache filled without the head (a turn without MTP first) cannot be followed: no drafts, same tokens.
    /// </summary>
    [Fact]
    public void FollowsACacheKeptAcrossTurns()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen35BigramMtpF32());
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 320 });
        var generator = new Generator(model, tokenizer);
        var plain = new GenerationOptions { MaxTokens = 60, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        var mtp = plain with { Speculation = new SpeculationOptions { MultiTokenPrediction = true } };
        int[] first = tokenizer.Encode(Prompt), second = tokenizer.Encode(" Then the sun went down and", addSpecial: false);

        var plainCache = model.CreateCache(320);
        int[] plainFirst = Tokens(generator.Generate(first, plain, plainCache));
        int[] plainSecond = Tokens(generator.Generate(second, plain, plainCache));
        var cache = model.CreateCache(320);
        Assert.Equal(plainFirst, Tokens(generator.Generate(first, mtp, cache)));
        Assert.Equal(plainSecond, Tokens(generator.Generate(second, mtp, cache)));
        var secondStats = generator.LastStats!;
        output.WriteLine($"second turn: drafted {secondStats.DraftTokens}, accepted {secondStats.AcceptedDraftTokens}");
        Assert.True(secondStats.AcceptedDraftTokens > 0, "the second turn did not draft");

        var unfollowed = model.CreateCache(320);
        Assert.Equal(plainFirst, Tokens(generator.Generate(first, plain, unfollowed)));
        Assert.Equal(plainSecond, Tokens(generator.Generate(second, mtp, unfollowed)));
        Assert.Equal(0, generator.LastStats!.DraftTokens);
    }

    /// <summary>A decode step with MTP drafting (the model's pass keeping its hidden states, the head catching up and
    /// drafting 3 tokens) allocates nothing once warm.</summary>
    [Fact]
    public void DraftingStepsAllocateNothingOnceWarm()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen35MtpF32());
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 128 });
        var cache = model.CreateCache(128);
        var drafter = MultiTokenDraft.For(model, cache)!;
        var logits = new float[model.Info.VocabSize];
        var draft = new int[3];
        drafter.Forward([1, 5, 9, 14, 3, 7], cache, logits, allLogits: false);
        drafter.CatchUp();
        int[] token = [0];
        int drafted = 0;
        void Step(int i)
        {
            token[0] = (i * 53 + 2) % 500;
            drafter.Forward(token, cache, logits, allLogits: false);
            drafted += drafter.Propose((i * 31 + 7) % 500, draft);
        }
        for (int i = 0; i < 6; i++) Step(i); // warm: JIT, pools, scratch
        Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() => { for (int i = 6; i < 16; i++) Step(i); }));
        Assert.Equal(3 * cache.Count - 3 * 6, drafted);
    }

    [Fact]
    public void RefusesAModelWithoutAHeadAndADraftModelBeside()
    {
        using var file = GgufFile.Open(MoeModelBuilder.Qwen35F32());
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 64 });
        var generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.Encode("Once upon a time");
        var mtp = new GenerationOptions { MaxTokens = 4, Speculation = new SpeculationOptions { MultiTokenPrediction = true } };
        var error = Assert.Throws<ArgumentException>(() => generator.Generate(prompt, mtp).ToList());
        Assert.Contains("multi-token-prediction", error.Message);
        var both = mtp with { Speculation = new SpeculationOptions { MultiTokenPrediction = true, DraftModel = model } };
        Assert.Throws<ArgumentException>(() => generator.Generate(prompt, both).ToList());
    }
}
