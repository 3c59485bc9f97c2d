using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// The multi-token-prediction head (<see cref="IMultiTokenPredictor"/>) against llama.cpp's MTP context
/// (<see cref="LlamaCppMtpOracle"/>), driven the way llama.cpp's draft-mtp speculation drives it: the prompt's rows go into
/// the head's cache paired with the target's hidden states shifted by one (zeros for the first), then at each of
/// <see cref="Steps"/> greedy steps the head drafts from the token just chosen and the target's last hidden state (the
/// seed row, which stays: it is the row that token gets anyway), and once more from its own draft and its own output
/// state (a chained row, dropped afterwards); then the target takes the token. Both engines get llama.cpp's greedy tokens;
/// every draft's logits and argmax, and the target's hidden states, are compared.
/// </summary>
public sealed class MultiTokenPredictionOracleTests(ITestOutputHelper output)
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She";
    private const int Steps = 16;

    private static readonly Dictionary<string, Func<string>> F32Files = new()
    {
        ["qwen35"] = MoeModelBuilder.Qwen35MtpF32,
        ["qwen35moe"] = MoeModelBuilder.Qwen35MoeMtpF32,
        ["glm-dsa"] = () => MoeModelBuilder.F32(MoeModelBuilder.GlmDsa),
    };

    public static TheoryData<string, TensorType, KvCacheType> Cases => new()
    {
        { "qwen35", TensorType.F32, KvCacheType.F32 },
        { "qwen35", TensorType.F32, KvCacheType.F16 },
        { "qwen35", TensorType.Q8_0, KvCacheType.F16 },
        { "qwen35moe", TensorType.F32, KvCacheType.F32 },
        { "qwen35moe", TensorType.Q8_0, KvCacheType.F16 },
        { "glm-dsa", TensorType.F32, KvCacheType.F32 },
        { "glm-dsa", TensorType.F32, KvCacheType.F16 },
    };

    /// <summary>
    /// F32 weights and an F32 cache round nothing: only summation order differs, so 1e-5 of the logits' scale, for the drafts
    /// and the hidden states, and the same drafts at every step. With an F16 cache or Q8_0 weights the roundings' discrete
    /// jumps of <see cref="TinyModelOracleTests"/> apply, with their tolerances; a draft may then differ only as a near-tie
    /// (llama.cpp's margin at most twice the measured difference), at most twice in the 32 drafts. With experts, a draft
    /// may also exceed the tolerance as one of <see cref="MoeOracle"/>'s routing flips: only where one of our routing
    /// decisions since the previous draft (target layers or the head's block) had a margin below
    /// <see cref="MoeOracle.FlipMargin"/>, at most twice.
    /// </summary>
    private static double Tolerance(TensorType type, KvCacheType cache) =>
        type == TensorType.F32 && cache == KvCacheType.F32 ? 1e-5 : type == TensorType.F32 ? 1e-3 : 1e-1;

    [Theory]
    [MemberData(nameof(Cases))]
    public void Draft_logits_match_llama_cpp_mtp_context(string family, TensorType type, KvCacheType cacheType)
    {
        string path = type == TensorType.F32 ? F32Files[family]() : MoeModelBuilder.Quantized(F32Files[family](), type);
        double limit = Tolerance(type, cacheType);
        bool exact = type == TensorType.F32 && cacheType == KvCacheType.F32;
        using var oracle = new LlamaCppMtpOracle(path, f32Cache: cacheType == KvCacheType.F32);
        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, CacheType = cacheType });
        var head = (IMultiTokenPredictor)model;
        Assert.True(head.HasPredictionHead);
        double routingMargin = double.PositiveInfinity; // the smallest since the previous draft
        if (((Decoder)model).Experts is { } experts) experts.MarginObserver = (_, margin) => routingMargin = Math.Min(routingMargin, margin);
        var flips = new List<string>();
        int vocab = model.Info.VocabSize, embedding = oracle.Embedding;

        int[] prompt = oracle.Tokenize(Prompt);
        int n = prompt.Length;
        var cache = model.CreateCache(n + Steps + 2);
        var headCache = head.CreatePredictionCache(n + Steps + 2);
        var logits = new float[vocab];
        var hidden = new float[n * embedding];
        var draftLogits = new float[vocab];
        var draftHidden = new float[embedding];

        // The prompt: the target's rows, then the head's rows with the hidden states shifted by one position.
        var (theirPromptLogits, theirPromptHidden) = oracle.EvaluateTarget(prompt);
        head.ForwardWithHidden(prompt, cache, logits, allLogits: false, hidden);
        double hiddenDifference = 0;
        for (int i = 0; i < n; i++) hiddenDifference = Math.Max(hiddenDifference, ModelAssert.MaxRelativeDifference(hidden.AsSpan(i * embedding, embedding), theirPromptHidden[i]));
        var theirShifted = new float[n * embedding];
        var ourShifted = new float[n * embedding];
        for (int i = 1; i < n; i++)
        {
            theirPromptHidden[i - 1].CopyTo(theirShifted, i * embedding);
            hidden.AsSpan((i - 1) * embedding, embedding).CopyTo(ourShifted.AsSpan(i * embedding));
        }
        var (theirPromptDraft, _) = oracle.EvaluateMtp(prompt, theirShifted, 0);
        head.Predict(prompt, ourShifted, headCache, draftLogits, draftHidden);
        double worst = ModelAssert.MaxRelativeDifference(draftLogits, theirPromptDraft);
        Assert.True(worst <= limit, $"{family} {type}: the prompt's last draft row: {worst:E2} > {limit:E0} (n {n}, hidden {hiddenDifference:E2})");

        float[] theirLast = theirPromptLogits[^1], theirHidden = theirPromptHidden[^1];
        float[] ourHidden = hidden.AsSpan((n - 1) * embedding, embedding).ToArray();
        var nearTies = new List<string>();
        int agreed = 0;
        for (int step = 0; step < Steps; step++)
        {
            int position = n + step;
            int token = ModelAssert.ArgMax(theirLast);
            Assert.True(exact ? ModelAssert.ArgMax(logits) == token : true, $"{family}: target token differs at step {step}");

            // The seed row: the token just chosen, with the target's hidden state before it.
            var (theirDraft, theirDraftHidden) = oracle.EvaluateMtp([token], theirHidden, position);
            head.Predict([token], ourHidden, headCache, draftLogits, draftHidden);
            CompareDraft($"step {step} seed", draftLogits, theirDraft, closesWindow: false);
            hiddenDifference = Math.Max(hiddenDifference, ModelAssert.MaxRelativeDifference(draftHidden, theirDraftHidden));

            // A chained row: the head's own draft with its own output state, one position on; then dropped.
            int draft = ModelAssert.ArgMax(theirDraft);
            var (theirChained, _) = oracle.EvaluateMtp([draft], theirDraftHidden, position + 1);
            var chained = new float[vocab];
            head.Predict([draft], draftHidden.ToArray(), headCache, chained, new float[embedding]);
            CompareDraft($"step {step} chained", chained, theirChained, closesWindow: true);
            oracle.TruncateMtp(position + 1);
            headCache.Truncate(position + 1);

            // The target takes the token.
            var (theirStep, theirStepHidden) = oracle.EvaluateTarget([token]);
            (theirLast, theirHidden) = (theirStep[0], theirStepHidden[0]);
            head.ForwardWithHidden([token], cache, logits, allLogits: false, ourHidden);
            hiddenDifference = Math.Max(hiddenDifference, ModelAssert.MaxRelativeDifference(ourHidden, theirHidden));
        }
        Assert.Equal(n + Steps, headCache.Count);
        Assert.Equal(n + Steps - 1, oracle.MtpLastPosition);
        output.WriteLine($"{family} {type} weights, {cacheType} cache ({n}-token prompt, {Steps} steps × 2 drafts): max relative draft-logit difference {worst:E2}, " +
            $"hidden states {hiddenDifference:E2}; drafts equal to llama.cpp's {agreed} of {2 * Steps}; near-ties: {(nearTies.Count == 0 ? "none" : string.Join("; ", nearTies))}; routing flips: {(flips.Count == 0 ? "none" : string.Join("; ", flips))}");
        Assert.True(nearTies.Count <= 2, $"{family} {type}: {nearTies.Count} near-ties");
        Assert.True(flips.Count <= 2, $"{family} {type}: {flips.Count} routing flips: {string.Join("; ", flips)}");
        if (exact) Assert.True(hiddenDifference <= limit, $"{family}: hidden states differ by {hiddenDifference:E2}");

        // The seed's window (the target's step, the seed row) stays open for the chained row, whose input is the seed's output.
        void CompareDraft(string label, float[] ours, float[] theirs, bool closesWindow)
        {
            double relative = ModelAssert.MaxRelativeDifference(ours, theirs);
            double margin = routingMargin;
            if (closesWindow) routingMargin = double.PositiveInfinity;
            if (relative > limit && !exact && margin < MoeOracle.FlipMargin(type))
            {
                flips.Add($"{label}: {relative:E2} after a routing margin of {margin:E1}");
                return;
            }
            worst = Math.Max(worst, relative);
            Assert.True(relative <= limit, $"{family} {type} {label}: max relative draft-logit difference {relative:E2} > {limit:E0} (smallest routing margin since the last draft {margin:E1})");
            int mine = ModelAssert.ArgMax(ours), theirToken = ModelAssert.ArgMax(theirs);
            if (mine == theirToken) { agreed++; return; }
            double gap = theirs[theirToken] - theirs[mine], measured = ModelAssert.MaxAbsoluteDifference(ours, theirs);
            string tie = $"{label}: ours {mine}, llama.cpp {theirToken}, its margin {gap:G3}, measured difference {measured:G3}";
            Assert.True(!exact && gap <= 2 * measured, $"{family} {type}: draft differs at {tie}");
            nearTies.Add(tie);
        }
    }
}
