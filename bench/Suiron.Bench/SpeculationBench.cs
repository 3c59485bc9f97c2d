using System.Diagnostics;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.ModelQuantization;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Bench;

/// <summary>
/// Speculative decoding against plain decoding, same file, same threads, one process: a text-reproduction task (the
/// model re-tells a story already in its ~1,000-token context, the case prompt lookup is for), greedy, the runs of each
/// proposer alternating with plain ones; effective tokens/s (tokens emitted / generation time), passes, acceptance, and
/// for the draft model the cost model: a pass verifying k drafts costs about one decode step of the target when
/// decode is bandwidth-bound, a draft token one decode step of the draft, so the gain is
/// (1 + accepted per pass) / (1 + k · draft step / target step). A file with a multi-token-prediction block (Qwen3.5) gets an
/// MTP row, with the same cost model for one row of its head (a block and the output projection) as the draft step.
/// </summary>
internal static class SpeculationBench
{
    private const string Story =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine with her dog, Max. " +
        "One day, Lily and Max went to the park. They saw a big tree with red apples. Lily wanted an apple, but the tree was too tall. " +
        "She asked her friend Tom to help her. Tom was a kind boy. He found a long stick and gently hit the branch. An apple fell down, " +
        "and Lily caught it. She said, \"Thank you, Tom!\" They shared the apple and laughed. Then it started to rain. " +
        "Lily, Tom and Max ran home quickly. Mom made them warm soup and they sat by the fire. Lily told Mom about the apple tree. " +
        "Mom smiled and said, \"You are a good friend, Lily.\" The next morning the sun was bright again. Lily took her ball and went " +
        "outside. She kicked the ball very high and it landed on the roof of the house. Lily was sad because she could not reach it. " +
        "Her dad came out with a ladder. He climbed up and threw the ball down to her. Lily hugged her dad and said thank you. ";

    public static void Run(string path, string? draftPath, int threads, int generate, int repetitions, TextWriter o)
    {
        using var file = GgufFile.Open(path);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = threads, ContextSize = 2048 });
        // The story twice, then its first sentence again: a model that follows its context re-tells it.
        int[] prompt = tokenizer.Encode(Story + "\n\n" + Story + "\n\n" + Story[..Story.IndexOf('.')]);
        // "none": no draft-model row (a large file's Q4_K_M copy takes long to make).
        bool withDraft = draftPath != "none";
        string draftFile = draftPath is { } given && withDraft ? given : Path.Combine(Path.GetTempPath(), Path.GetFileNameWithoutExtension(path) + "-draft-Q4_K_M.gguf");
        if (withDraft && draftPath is null && !File.Exists(draftFile)) ModelQuantizer.Quantize(path, draftFile, ModelFileType.Q4_K_M);
        using var draftGguf = withDraft ? GgufFile.Open(draftFile) : null;
        if (draftGguf is not null) SpeculationOptions.CheckDraftVocabulary(tokenizer.Vocabulary, Tokenizer.FromGguf(draftGguf).Vocabulary);
        using var draft = draftGguf is null ? null : ModelLoader.Load(draftGguf, new ModelOptions { Threads = threads, ContextSize = 2048 });
        var head = model as IMultiTokenPredictor is { HasPredictionHead: true } h ? h : null;

        var generator = new Generator(model, tokenizer);
        var plain = new GenerationOptions { MaxTokens = generate, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        var runs = new List<(string Name, GenerationOptions Options)> { ("plain", plain), ("ngram", plain with { Speculation = new SpeculationOptions() }) };
        if (draft is not null) runs.Add(("draft", plain with { Speculation = new SpeculationOptions { DraftModel = draft, DraftMax = 8 } }));
        // llama.cpp's draft-mtp default drafts up to 3 tokens: a single head's chained drafts lose accuracy quickly.
        if (head is not null) runs.Add(("mtp", plain with { Speculation = new SpeculationOptions { MultiTokenPrediction = true, DraftMax = 3 } }));
        var rates = runs.ToDictionary(r => r.Name, _ => new List<double>());
        var last = new Dictionary<string, GenerationStats>();
        int[]? reference = null;
        foreach (var (_, options) in runs) generator.Generate(prompt, options with { MaxTokens = 16 }).Count(); // warm-up
        for (int rep = 0; rep < repetitions; rep++)
            foreach (var (name, options) in runs)
            {
                int[] tokens = generator.Generate(prompt, options).Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
                reference ??= tokens;
                if (!tokens.SequenceEqual(reference)) throw new InvalidOperationException($"{name}: the output differs from plain decoding");
                var stats = generator.LastStats!;
                rates[name].Add(stats.TokensPerSecond);
                last[name] = stats;
            }

        // Decode step costs for the cost model: one target token, one draft token.
        double targetStep = 1 / Median(rates["plain"]);
        o.WriteLine($"speculation: {Path.GetFileName(path)}, draft {(draft is null ? "none" : Path.GetFileName(draftFile))}{(head is null ? "" : ", MTP head")}, {threads} threads, context {prompt.Length} tokens, {generate} greedy tokens, median of {repetitions}");
        o.WriteLine("| proposer | tokens/s | × plain | passes | drafted | accepted | accepted per pass |");
        o.WriteLine("|---|--:|--:|--:|--:|--:|--:|");
        double plainRate = Median(rates["plain"]);
        foreach (var (name, _) in runs)
        {
            var s = last[name];
            double rate = Median(rates[name]);
            o.WriteLine($"| {name} | {rate:F1} | {rate / plainRate:F2} | {s.DecodePasses} | {s.DraftTokens} | {s.AcceptedDraftTokens} ({(s.DraftTokens == 0 ? 0 : 100.0 * s.AcceptedDraftTokens / s.DraftTokens):F0} %) | {(double)s.AcceptedDraftTokens / Math.Max(1, s.DecodePasses):F2} |");
        }
        // What a verification pass costs next to a decode step, at this context: one token vs the token and 8 drafts.
        var (single, verify) = VerifyCost(model, prompt, 8);
        var n = last["ngram"];
        double ngramPerPass = (double)n.AcceptedDraftTokens / Math.Max(1, n.DecodePasses);
        o.WriteLine($"verify cost: a pass of 1 + 8 tokens takes {verify * 1e3:F2} ms, one token {single * 1e3:F2} ms (×{verify / single:F2}); " +
                    $"at the n-gram's {ngramPerPass:F2} accepted per pass, a target whose verify pass costs ×{verify / single:F2} of a step gains at most ×{(1 + ngramPerPass) / (verify / single):F2}");
        if (draft is not null) WriteCostModel(o, "draft model", last["draft"], targetStep, DecodeStep(draft, tokenizer, prompt, threads));
        if (head is not null) WriteCostModel(o, "MTP head", last["mtp"], targetStep, HeadStep(model, head, prompt));
    }

    private static void WriteCostModel(TextWriter o, string proposer, GenerationStats s, double targetStep, double draftStep)
    {
        double acceptedPerPass = (double)s.AcceptedDraftTokens / Math.Max(1, s.DecodePasses), draftsPerPass = (double)s.DraftTokens / Math.Max(1, s.DecodePasses);
        o.WriteLine($"{proposer} cost model: target step {targetStep * 1e3:F2} ms, draft step {draftStep * 1e3:F2} ms (ratio {draftStep / targetStep:F2}); " +
                    $"{draftsPerPass:F1} drafted and {acceptedPerPass:F2} accepted per pass → expected ×{(1 + acceptedPerPass) / (1 + draftsPerPass * draftStep / targetStep):F2} " +
                    "if a verify pass costs one target step (bandwidth-bound decode of a large target; a small target like this one pays per token instead)");
    }

    /// <summary>Median time of one row of the multi-token-prediction head after the prompt (its block and the output projection).</summary>
    private static double HeadStep(ILanguageModel model, IMultiTokenPredictor head, int[] prompt)
    {
        int embedding = model.Info.HyperParameters.EmbeddingLength;
        var headCache = head.CreatePredictionCache(prompt.Length + 1);
        var logits = new float[model.Info.VocabSize];
        var hidden = new float[prompt.Length * embedding];
        var next = new float[embedding];
        head.Predict(prompt, hidden, headCache, logits, next);
        var times = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            headCache.Truncate(prompt.Length - 1);
            long start = Stopwatch.GetTimestamp();
            head.Predict(prompt.AsSpan(prompt.Length - 1), next, headCache, logits, next);
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return Median(times);
    }

    /// <summary>Median times of a one-token pass and of a (1 + k)-token pass with every row's logits, after the prompt.</summary>
    private static (double Single, double Verify) VerifyCost(ILanguageModel model, int[] prompt, int k)
    {
        var cache = model.CreateCache(prompt.Length + k + 1);
        var logits = new float[(k + 1) * model.Info.VocabSize];
        model.Forward(prompt, cache, logits.AsSpan(0, model.Info.VocabSize));
        cache.Checkpoint(); // a recurrent state comes back here after each timed pass
        int[] pass = prompt[^(k + 1)..];
        var singles = new List<double>();
        var verifies = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            long start = Stopwatch.GetTimestamp();
            model.Forward(pass.AsSpan(0, 1), cache, logits.AsSpan(0, model.Info.VocabSize));
            singles.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            cache.Truncate(prompt.Length);
            start = Stopwatch.GetTimestamp();
            model.Forward(pass, cache, logits, allLogits: true);
            verifies.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            cache.Truncate(prompt.Length);
        }
        return (Median(singles), Median(verifies));
    }

    private static double DecodeStep(ILanguageModel model, Tokenizer tokenizer, int[] prompt, int threads)
    {
        var generator = new Generator(model, tokenizer);
        var options = new GenerationOptions { MaxTokens = 64, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false };
        generator.Generate(prompt, options).Count();
        var times = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            generator.Generate(prompt, options).Count();
            times.Add(1 / generator.LastStats!.TokensPerSecond);
        }
        return Median(times);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
