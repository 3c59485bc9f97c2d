using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// <see cref="TinyModelOracleTests.Compare"/> for mixture-of-experts models: llama.cpp decodes greedily, we are
/// teacher-forced on its tokens, and each step's logits and argmax are compared. Routing adds one effect a dense model
/// does not have: when two experts score almost alike for a token, the engines' ~1e-3 relative differences (F16
/// rounding at different places, Q8 activation jumps) can send the token to different experts, which moves the
/// logits by O(0.1–1) — a discrete flip, like a near-tie in greedy argmax. Measured on the tiny deepseek2 models,
/// every such step had a routing decision of ours with a relative margin (gap between the last expert kept and the
/// best one left out, over the kept score) of 2e-4..3e-4 with Q8_0 weights and up to 2e-2 with Q4_K, against
/// 1e-3..5e-1 elsewhere. So a step may exceed the tolerance only if our routing at that step or the one before (a
/// flip also reaches the next token through the cache) had a margin below <see cref="FlipMargin"/>: 1e-2 with F32
/// weights (the engines' hidden states differ by ~1e-4 there), 5e-2 with quantized ones (their logits, and so the
/// router's inputs, differ by up to that much without any flip); at most twice per sequence; with F32 weights and
/// F32 caches (nothing rounded) no exception is allowed at all.
/// DeepSeek sparse attention (deepseek32) adds a second such decision, the indexer's top-k selection, whose margin (gap
/// between the last score kept and the best left out, relative to them) counts the same way.
/// Quantized tolerance: the tiny MoE models amplify a Q8 activation jump more than the dense ones (more quantized
/// activations per token: router, k experts, shared expert); our own logits move by up to 7.4e-2 between our F16
/// and F32 caches on the Q4_K model, llama.cpp's by up to 6.2e-2, so 1e-1. For the same reason greedy near-ties
/// (llama.cpp's own margin at most twice the measured difference) are accepted on up to 4 steps for quantized
/// weights, 1 otherwise.
/// </summary>
internal static class MoeOracle
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She";
    private const int Continuation = 32;
    public static double FlipMargin(TensorType type) => type == TensorType.F32 ? 1e-2 : 5e-2;
    private const int MaxFlips = 2;

    public static double Tolerance(TensorType type) => type == TensorType.F32 ? 1e-3 : 1e-1;

    public static void Compare(ITestOutputHelper output, string path, string label, TensorType type,
        Func<ILanguageModel, MixtureOfExperts?> experts, KvCacheType cacheType = KvCacheType.F16, double? tolerance = null,
        string prompt = Prompt, int maxFlips = MaxFlips)
    {
        double limit = tolerance ?? Tolerance(type);
        bool unrounded = type == TensorType.F32 && cacheType == KvCacheType.F32;
        int maxNearTies = unrounded ? 0 : type == TensorType.F32 ? 1 : 4;

        using var oracle = new LlamaCppOracle(path, f32Cache: cacheType == KvCacheType.F32);
        int[] tokens = oracle.Tokenize(prompt);
        var (theirSteps, theirTokens) = oracle.GreedySteps(tokens, Continuation);

        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, CacheType = cacheType });
        float stepMargin = float.PositiveInfinity;
        if (experts(model) is { } observed) observed.MarginObserver = (_, margin) => stepMargin = MathF.Min(stepMargin, margin);
        // Sparse attention's top-k selection is a discrete decision too: a near-tie there counts like one in routing.
        if (model is Decoder { Indexer: { } indexer }) indexer.MarginObserver = margin => stepMargin = MathF.Min(stepMargin, margin);
        var cache = model.CreateCache(tokens.Length + Continuation);
        var ourSteps = new float[Continuation][];
        var margins = new float[Continuation];
        for (int i = 0; i < Continuation; i++)
        {
            stepMargin = float.PositiveInfinity;
            ourSteps[i] = new float[model.Info.VocabSize];
            model.Forward(i == 0 ? tokens : [theirTokens[i - 1]], cache, ourSteps[i]);
            margins[i] = stepMargin;
        }

        string types = string.Join(" ", file.Tensors.Where(t => t.Shape.Length >= 2).GroupBy(t => t.Type).Select(g => $"{g.Key}×{g.Count()}"));
        double worst = 0, worstUnflipped = 0;
        var flips = new List<string>();
        var nearTies = new List<string>();
        for (int i = 0; i < Continuation; i++)
        {
            double relative = ModelAssert.MaxRelativeDifference(ourSteps[i], theirSteps[i]);
            worst = Math.Max(worst, relative);
            float margin = Math.Min(margins[i], i > 0 ? margins[i - 1] : float.PositiveInfinity);
            if (relative > limit)
            {
                string flip = $"step {i}: {relative:E2} with a routing margin of {margin:E1}";
                Assert.True(!unrounded && margin < FlipMargin(type) && relative < 1, $"{label}: {flip} > {limit:E0}");
                flips.Add(flip);
                continue;
            }
            worstUnflipped = Math.Max(worstUnflipped, relative);
            int ours = ModelAssert.ArgMax(ourSteps[i]);
            if (ours == theirTokens[i]) continue;
            double tieMargin = theirSteps[i][theirTokens[i]] - theirSteps[i][ours];
            double measured = ModelAssert.MaxAbsoluteDifference(ourSteps[i], theirSteps[i]);
            string tie = $"step {i}: ours {ours}, llama.cpp {theirTokens[i]}, its margin {tieMargin:G3}, measured difference {measured:G3}";
            Assert.True(tieMargin <= 2 * measured, $"{label}: greedy token differs at {tie}");
            nearTies.Add(tie);
        }
        output.WriteLine($"{label} {cacheType} cache [{types}] ({tokens.Length} tokens): max relative logit difference " +
            $"{ModelAssert.MaxRelativeDifference(ourSteps[0], theirSteps[0]):E2} after the prompt, {worstUnflipped:E2} over {Continuation} steps " +
            $"({worst:E2} with routing flips); routing flips: {(flips.Count == 0 ? "none" : string.Join("; ", flips))}; " +
            $"near-ties: {(nearTies.Count == 0 ? "none" : string.Join("; ", nearTies))}");
        Assert.True(flips.Count <= maxFlips, $"{label}: {flips.Count} routing flips");
        Assert.True(nearTies.Count <= maxNearTies, $"{label}: {nearTies.Count} near-ties");
    }
}
