using Suiron.Evaluation;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tests.Models;
using Suiron.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Evaluation;

/// <summary>
/// <see cref="Perplexity"/> against the perplexity computed, under llama-perplexity's protocol, from llama.cpp's own
/// logits for the same chunks (BOS first, an empty F32 cache per chunk, the second half scored): equal to 4 significant
/// digits on stories260K (a trained model) and a tiny random qwen2.
/// </summary>
public sealed class PerplexityTests(ITestOutputHelper output)
{
    internal const string Story =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine with her dog, Max. " +
        "One day, Lily and Max went to the park. They saw a big tree with red apples. Lily wanted an apple, but the tree was too tall. " +
        "She asked her friend Tom to help her. Tom was a kind boy. He found a long stick and gently hit the branch. An apple fell down, " +
        "and Lily caught it. She said, \"Thank you, Tom!\" They shared the apple and laughed. Then it started to rain. " +
        "Lily, Tom and Max ran home quickly. Mom made them warm soup and they sat by the fire. Lily told Mom about the apple tree. " +
        "Mom smiled and said, \"You are a good friend, Lily.\" The next morning the sun was bright again. Lily took her ball and went " +
        "outside. She kicked the ball very high and it landed on the roof of the house. Lily was sad because she could not reach it. " +
        "Her dad came out with a ladder. He climbed up and threw the ball down to her. Lily hugged her dad and said thank you. " +
        "In the afternoon, Lily and Max played in the garden. They found a little bird that could not fly. Lily made a soft bed " +
        "for the bird in a box. Every day she gave it water and seeds. After a week, the bird was strong again. It flew up into " +
        "the blue sky and sang a happy song. Lily waved goodbye and felt proud. She learned that being gentle and patient can help " +
        "others. That night, Lily dreamed of flying with the bird over the park, the trees and the river. The end.";

    /// <summary>The perplexity llama-perplexity computes from llama.cpp's logits of each chunk.</summary>
    private static double LlamaCppPerplexity(string path, string text, int context, out int tokenCount)
    {
        using var oracle = new LlamaCppOracle(path, contextSize: context, f32Cache: true);
        int[] tokens = oracle.Tokenize(text, addBos: true);
        tokenCount = tokens.Length;
        using var file = GgufFile.Open(path);
        var vocabulary = Vocabulary.FromGguf(file);
        double nll = 0;
        long count = 0;
        for (int start = 0; start + context <= tokens.Length; start += context)
        {
            int[] chunk = tokens[start..(start + context)];
            if (vocabulary.AddBos) chunk[0] = vocabulary.BosId;
            oracle.Reset();
            float[][] logits = oracle.EvaluateAll(chunk);
            for (int j = context / 2; j < context - 1; j++)
            {
                float[] row = logits[j];
                float max = row.Max();
                double sum = row.Sum(l => (double)MathF.Exp(l - max));
                nll -= row[tokens[start + j + 1]] - max - Math.Log(sum);
                count++;
            }
        }
        return Math.Exp(nll / count);
    }

    public static TheoryData<string> Models => new() { "stories260K", "qwen2-tiny" };

    private static string PathOf(string model) => model == "stories260K"
        ? SharedData.Path("models", "stories260K.gguf")
        : TinyModelBuilder.F32(TinyModelOracleTests.Qwen2Yarn);

    [Theory]
    [MemberData(nameof(Models))]
    public void EqualsLlamaCppToFourDigits(string model)
    {
        const int context = 128;
        string path = PathOf(model);
        double theirs = LlamaCppPerplexity(path, Story, context, out int tokenCount);
        using var file = GgufFile.Open(path);
        var tokenizer = Tokenizer.FromGguf(file);
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = context, CacheType = Suiron.Inference.KvCacheType.F32 });
        var progress = new List<PerplexityProgress>();
        var ours = Perplexity.Evaluate(lm, tokenizer, Story, new PerplexityOptions { ContextSize = context, BatchSize = 48 }, progress.Add);
        output.WriteLine($"{model}: {tokenCount} tokens, {ours.Chunks} chunks of {context}: ours {ours.Value:F6} ± {ours.StandardError:F5}, llama.cpp {theirs:F6}");
        Assert.Equal(tokenCount / context, ours.Chunks);
        Assert.Equal(ours.Chunks * (context / 2 - 1), ours.ScoredTokens);
        Assert.Equal(ours.Chunks, progress.Count);
        Assert.Equal(ours.Value, progress[^1].Perplexity);
        Assert.True(Math.Abs(ours.Value - theirs) / theirs < 5e-5, $"{model}: ours {ours.Value} vs llama.cpp {theirs}");
        Assert.True(ours.StandardError > 0);
    }

    [Fact]
    public void RefusesATextShorterThanTwoChunks()
    {
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 1, ContextSize = 128 });
        var e = Assert.Throws<ArgumentException>(() => Perplexity.Evaluate(lm, tokenizer, "Once upon a time", new PerplexityOptions { ContextSize = 128 }));
        Assert.Contains("needs at least 256", e.Message);
    }

    /// <summary>log softmax of (0, ln 3) at token 1: ln 3 − ln(1 + 3) = ln(3/4).</summary>
    [Fact]
    public void LogSoftmaxByHand() =>
        Assert.Equal(Math.Log(0.75), Perplexity.LogSoftmax([0f, MathF.Log(3f)], 1), 6);
}

/// <summary>
/// KL divergence against a saved base (stories260K, a trained model): the model against its own base file diverges by
/// (almost) nothing and agrees on every top token; its Q4_K_M copy diverges measurably, and its perplexity on the base file's tokens equals the one
/// <see cref="Perplexity.Evaluate"/> gives it directly.
/// </summary>
public sealed class KlDivergenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-kld-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Text => string.Concat(Enumerable.Repeat(
        "Once upon a time, there was a little girl named Lily. She loved to play outside with her dog. One day they found a ball in the park. ", 6));

    [Fact]
    public void ItsOwnBaseDivergesByNothingAndAQuantizedCopyBySomething()
    {
        string f32 = SharedData.Path("models", "stories260K.gguf"), q4 = Path.Combine(_dir, "stories-q4_k_m.gguf");
        Suiron.ModelQuantization.ModelQuantizer.Quantize(f32, q4, Suiron.ModelQuantization.ModelFileType.Q4_K_M);
        string basePath = Path.Combine(_dir, "base.lp");
        var options = new PerplexityOptions { ContextSize = 64, BatchSize = 64 };
        using var baseFile = GgufFile.Open(f32);
        var tokenizer = Tokenizer.FromGguf(baseFile);
        using var baseModel = ModelLoader.Load(baseFile, new ModelOptions { Threads = 2, ContextSize = 64 });
        PerplexityResult saved = Perplexity.SaveBase(baseModel, tokenizer, Text, options, basePath);

        KlDivergenceResult self = KlDivergence.Compare(baseModel, tokenizer, basePath);
        output.WriteLine($"self: KLD {self.MeanKl:E2} (max {self.KlPercentiles[^1]:E2}), same top {self.SameTop:P1}, PPL {self.Perplexity:F4} vs base {self.BasePerplexity:F4}");
        Assert.Equal(saved.ScoredTokens, self.Rows);
        Assert.True(self.MeanKl < 1e-5, $"self KLD {self.MeanKl}");
        Assert.Equal(1.0, self.SameTop);
        Assert.True(Math.Abs(saved.Value - self.Perplexity) / saved.Value < 1e-6, $"{saved.Value} vs {self.Perplexity}");
        Assert.True(Math.Abs(self.BasePerplexity - self.Perplexity) / self.Perplexity < 1e-4, $"base {self.BasePerplexity} vs {self.Perplexity}");

        using var quantizedFile = GgufFile.Open(q4);
        using var quantized = ModelLoader.Load(quantizedFile, new ModelOptions { Threads = 2, ContextSize = 64 });
        KlDivergenceResult q = KlDivergence.Compare(quantized, tokenizer, basePath);
        double direct = Perplexity.Evaluate(quantized, tokenizer, Text, options).Value;
        output.WriteLine($"Q4_K_M: KLD {q.MeanKl:E2} ± {q.MeanKlError:E1} (median {q.KlPercentiles[4]:E2}, max {q.KlPercentiles[^1]:E2}), same top {q.SameTop:P1}, " +
                         $"Δp {q.MeanDeltaP:E2}, RMS {q.RmsDeltaP:E2}, PPL {q.Perplexity:F4} (direct {direct:F4}) vs base {q.BasePerplexity:F4}");
        Assert.True(q.MeanKl > 100 * self.MeanKl && q.MeanKl > 1e-4, $"Q4_K_M KLD {q.MeanKl}");
        Assert.True(Math.Abs(direct - q.Perplexity) / direct < 1e-6, $"{direct} vs {q.Perplexity}");
        Assert.True(q.KlPercentiles.Zip(q.KlPercentiles.Skip(1)).All(p => p.First <= p.Second), "percentiles in order");
    }

    [Fact]
    public void RefusesABaseOfAnotherVocabularyOrNotABaseAtAll()
    {
        string notBase = Path.Combine(_dir, "not-base.lp");
        File.WriteAllText(notBase, "hello");
        using var file = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 1, ContextSize = 64 });
        Assert.Throws<InvalidDataException>(() => KlDivergence.Compare(lm, tokenizer, notBase));
    }
}
