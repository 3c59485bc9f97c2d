using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// <see cref="ILanguageModel.ForwardBatch"/> of the MoE models (qwen3moe, glm4, glm4moe, ernie4_5-moe, hunyuan-moe, minimax-m2,
/// deepseek2 with MLA, deepseek32 with its sparse attention, glm-dsa with indexer layers shared, and the hybrid qwen3next/qwen35/qwen35moe with their recurrent state) equals one <see cref="ILanguageModel.Forward"/> per sequence — the truth being the per-sequence path that
/// the llama.cpp oracle tests check — with the dense model's tolerance (1e-4 absolute on the logits, same argmax),
/// and really is batched: each routed expert runs once per layer over the rows of every sequence routed to it.
/// </summary>
public sealed class MoeBatchTests(ITestOutputHelper output)
{
    public static TheoryData<string> Models => new() { "qwen3moe", "glm4", "glm4moe", "glm4moe-Q8_0", "ernie4_5-moe", "hunyuan-moe", "minimax-m2", "deepseek2-v3", "deepseek2-v2lite-Q8_0",
        "qwen3next", "qwen35", "qwen35moe-Q8_0", "deepseek32", "glm-dsa-shared-indexer" };

    private static string PathOf(string model) => model switch
    {
        "qwen3moe" => MoeModelBuilder.Qwen3MoeF32(),
        "glm4" => MoeModelBuilder.Glm4F32(),
        "glm4moe" => MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true),
        "glm4moe-Q8_0" => MoeModelBuilder.Quantized(MoeModelBuilder.Glm4MoeF32(queryKeyNorm: false), TensorType.Q8_0),
        "ernie4_5-moe" => MoeModelBuilder.Ernie4_5MoeF32(),
        "hunyuan-moe" => MoeModelBuilder.HunyuanMoeF32(),
        "minimax-m2" => MoeModelBuilder.MiniMaxM2F32(),
        "deepseek2-v3" => MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV3),
        "deepseek2-v2lite-Q8_0" => MoeModelBuilder.Ours(MoeModelBuilder.DeepSeekV2Lite, TensorType.Q8_0),
        "qwen3next" => MoeModelBuilder.Qwen3NextF32(),
        "deepseek32" => MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV32),
        "glm-dsa-shared-indexer" => MoeModelBuilder.F32(MoeModelBuilder.GlmDsaSharedIndexer),
        "qwen35" => MoeModelBuilder.Qwen35F32(),
        "qwen35moe-Q8_0" => MoeModelBuilder.Quantized(MoeModelBuilder.Qwen35MoeF32(), TensorType.Q8_0),
        _ => throw new ArgumentOutOfRangeException(nameof(model)),
    };

    private static MixtureOfExperts? ExpertsOf(ILanguageModel model) => model switch
    {
        Decoder block => block.Experts,
        _ => null,
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ForwardBatchEqualsOneForwardPerSequence(string name)
    {
        using var file = GgufFile.Open(PathOf(name));
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        int vocab = lm.Info.VocabSize;
        var random = new Random(7);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => random.Next(3, vocab)).ToArray();

        // Histories of different lengths (one longer than a pass of 256 rows, so it is split), then a step where each
        // sequence adds a different number of tokens: one (decoding), several (a prompt chunk), and one whose cache starts empty.
        int[][] history = [Tokens(5), Tokens(300), Tokens(17), []];
        int[][] step = [Tokens(1), Tokens(9), Tokens(1), Tokens(260)];
        var single = history.Select(_ => lm.CreateCache(600)).ToArray();
        var batched = history.Select(_ => lm.CreateCache(600)).ToArray();
        var scratch = new float[vocab];
        for (int i = 0; i < history.Length; i++)
            if (history[i].Length > 0) lm.Forward(history[i], single[i], scratch);
        var withHistory = Enumerable.Range(0, history.Length).Where(i => history[i].Length > 0).ToArray();
        lm.ForwardBatch(withHistory.Select(i => new SequenceTokens(history[i], batched[i])).ToArray(), new float[withHistory.Length * vocab]);

        var expected = new float[history.Length][];
        for (int i = 0; i < history.Length; i++)
        {
            expected[i] = new float[vocab];
            lm.Forward(step[i], single[i], expected[i]);
        }

        // The step's first pass holds 256 rows (a full pass) of all four sequences (1 + 9 + 1 + the first 245 of 260): every expert a
        // layer evaluates runs once over the rows of all of them.
        var visits = new List<ExpertVisit>();
        MixtureOfExperts? experts = ExpertsOf(lm);
        if (experts is not null) experts.Observer = visits.Add;
        var logits = new float[history.Length * vocab];
        lm.ForwardBatch(step.Select((t, i) => new SequenceTokens(t, batched[i])).ToArray(), logits);
        if (experts is not null)
        {
            experts.Observer = null;
            Assert.NotEmpty(visits);
            var firstPass = visits.TakeWhile((v, i) => i == 0 || v.Layer >= visits[i - 1].Layer).GroupBy(v => v.Layer);
            foreach (var layer in firstPass)
            {
                Assert.Equal(layer.Count(), layer.Select(v => v.Expert).Distinct().Count());
                Assert.Equal(256 * UsedExperts(file), layer.Sum(v => v.Tokens));
            }
        }

        float worst = 0;
        for (int i = 0; i < history.Length; i++)
        {
            Assert.Equal(single[i].Count, batched[i].Count);
            var row = logits.AsSpan(i * vocab, vocab);
            float maxDiff = 0;
            for (int v = 0; v < vocab; v++) maxDiff = Math.Max(maxDiff, Math.Abs(row[v] - expected[i][v]));
            worst = Math.Max(worst, maxDiff);
            Assert.True(maxDiff <= 1e-4f, $"{name} sequence {i}: batched logits differ by {maxDiff}");
            Assert.Equal(Sampler.ArgMax(expected[i]), Sampler.ArgMax(row));
        }
        output.WriteLine($"{name}: batched vs per-sequence max |Δlogit| {worst:E2}");
    }

    private static int UsedExperts(GgufFile file) => file.GetInt32(file.Architecture + ".expert_used_count", 0);

    /// <summary>A bad item (a cache of another model's shape) fails the whole step before any cache is touched.</summary>
    [Fact]
    public void ForwardBatchRejectsAForeignCacheWithoutTouchingAnyCache()
    {
        using var glmFile = GgufFile.Open(MoeModelBuilder.Glm4MoeF32(queryKeyNorm: false));
        using var deepSeekFile = GgufFile.Open(MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV3));
        using var glm = ModelLoader.Load(glmFile, new ModelOptions { Threads = 1 });
        using var deepSeek = ModelLoader.Load(deepSeekFile, new ModelOptions { Threads = 1 });
        var own = glm.CreateCache(8);
        var foreign = deepSeek.CreateCache(8);
        var items = new[] { new SequenceTokens(new[] { 1, 2 }, own), new SequenceTokens(new[] { 1, 2 }, foreign) };
        Assert.Throws<ArgumentException>(() => glm.ForwardBatch(items, new float[2 * glm.Info.VocabSize]));
        Assert.Throws<ArgumentException>(() => deepSeek.ForwardBatch([new SequenceTokens(new[] { 1 }, glm.CreateCache(8))], new float[deepSeek.Info.VocabSize]));
        Assert.Equal(0, own.Count);
        Assert.Equal(0, foreign.Count);
    }

    /// <summary>The scheduler (continuous batching over ForwardBatch) produces what the one-sequence generator produces, on an MoE model.</summary>
    [Fact]
    public async Task SchedulerOutputEqualsTheSingleSequenceGenerator()
    {
        using var model = LocalModel.Load(MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true), new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 2, ContextSize = 128 }, Slots = 3 });
        var prompts = new[] { "Once upon a time", "The cat sat", "Lily and Tom went to the park" };
        var options = prompts.Select((_, i) => new GenerationOptions
        {
            MaxTokens = 16,
            Sampling = new SamplingOptions { Temperature = 0.9f, Seed = (ulong)(100 + i) },
            StopAtEndOfGeneration = false,
        }).ToArray();

        var generator = new Generator(model.Model, model.Tokenizer);
        var expected = prompts.Select((p, i) => generator.Generate(model.Tokenizer.Encode(p), options[i]).Where(s => s.Token >= 0).Select(s => s.Token).ToArray()).ToArray();

        var streams = prompts.Select((p, i) => model.Scheduler.Submit(new GenerationRequest(model.Tokenizer.Encode(p), options[i]))).ToArray();
        var actual = await Task.WhenAll(streams.Select(async s =>
        {
            var tokens = new List<int>();
            await foreach (var generated in s)
                if (generated.Token >= 0) tokens.Add(generated.Token);
            return tokens.ToArray();
        }));
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(expected[i], actual[i]);
        Assert.All(streams, s => Assert.Equal(16, s.GeneratedTokens));
    }
}
