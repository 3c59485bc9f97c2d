using System.Diagnostics;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;

namespace Suiron.Bench;

/// <summary>
/// What the Hadamard attention rotation of a quantized cache costs Suiron's decode, A/B in one process: the same file
/// loaded twice, rotation on and off, each with a cache filled to the same depth (untimed); timed runs of a few decode
/// steps alternate between the two, and each run truncates its cache back to the depth so all runs read the same
/// context. Medians of tokens/s and of the per-pair ratio — absolute numbers on a shared machine mean little.
/// </summary>
internal static class RotationBench
{
    public static void Run(string path, int threads, int depth, int steps, int repetitions, KvCacheType keyType, KvCacheType valueType, TextWriter output)
    {
        using var file = GgufFile.Open(path);
        int context = depth + steps + 1;
        ModelOptions Options(bool rotation) => new()
        {
            Threads = threads, ContextSize = context, KeyCacheType = keyType, ValueCacheType = valueType, AttentionRotation = rotation,
        };
        using var rotated = ModelLoader.Load(file, Options(true));
        using var plain = ModelLoader.Load(file, Options(false));
        if (rotated.Info.AttentionRotation == "off")
            throw new ArgumentException($"No rotation applies to {Path.GetFileName(path)} with k {KvCacheTypes.Name(keyType)}, v {KvCacheTypes.Name(valueType)} " +
                "(a quantized cache and head lengths that are multiples of 64 are needed).");
        int vocab = rotated.Info.VocabSize;
        var random = new Random(1234);
        int[] filler = Enumerable.Range(0, depth).Select(_ => random.Next(3, vocab)).ToArray();
        var logits = new float[vocab];
        KvCache Fill(ILanguageModel model)
        {
            KvCache cache = model.CreateCache(context);
            if (depth > 0) model.Forward(filler, cache, logits);
            return cache;
        }
        KvCache rotatedCache = Fill(rotated), plainCache = Fill(plain);
        int[] token = [random.Next(3, vocab)];

        double TokensPerSecond(ILanguageModel model, KvCache cache)
        {
            cache.Truncate(depth);
            long start = Stopwatch.GetTimestamp();
            for (int step = 0; step < steps; step++)
            {
                model.Forward(token, cache, logits);
                token[0] = 3 + (token[0] * 7919 + step) % (vocab - 3);
            }
            return steps / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        TokensPerSecond(rotated, rotatedCache); // warm: JIT, pools, scratch
        TokensPerSecond(plain, plainCache);
        var on = new List<double>();
        var off = new List<double>();
        for (int r = 0; r < repetitions; r++)
        {
            // Alternate which goes first, so a drift of the machine's speed within a pair favours neither.
            if (r % 2 == 0) { off.Add(TokensPerSecond(plain, plainCache)); on.Add(TokensPerSecond(rotated, rotatedCache)); }
            else { on.Add(TokensPerSecond(rotated, rotatedCache)); off.Add(TokensPerSecond(plain, plainCache)); }
            output.WriteLine($"  run {r + 1}: rotation off {off[^1]:F2} tok/s, on {on[^1]:F2} tok/s");
        }
        double ratio = Median(on.Zip(off, (a, b) => a / b).ToList());
        double rotationSeconds = RotationSecondsPerToken(rotated.Info.HyperParameters, keyType, valueType);
        output.WriteLine($"{Path.GetFileName(path)} ({rotated.Info.Architecture}), k {KvCacheTypes.Name(keyType)}, v {KvCacheTypes.Name(valueType)}, " +
            $"rotation {rotated.Info.AttentionRotation}; depth {depth}, {steps} decode steps per run, {threads} threads, {repetitions} alternating runs: " +
            $"off median {Median(off):F2} tok/s, on median {Median(on):F2} tok/s, median ratio on/off ×{ratio:F3}");
        output.WriteLine($"the rotations alone, one thread: {rotationSeconds * 1e6:F1} µs per token (median of 21 timings), " +
            $"{rotationSeconds * Median(off) * 100:F3} % of the unrotated decode step");
    }

    /// <summary>
    /// Seconds one decode token spends in the rotations, timed apart from everything else (which a loaded machine makes
    /// too noisy to resolve a cost this small): per layer the query heads and key heads, the value heads, and the
    /// attention output, as the model rotates them.
    /// </summary>
    private static double RotationSecondsPerToken(TransformerHyperParameters h, KvCacheType keyType, KvCacheType valueType)
    {
        var rotation = AttentionRotation.For(h.KeyLength, h.ValueLength, keyType, valueType, enabled: true);
        var queries = new float[h.HeadCount * h.KeyLength];
        var keys = new float[h.KvHeadCount * h.KeyLength];
        var values = new float[h.KvHeadCount * h.ValueLength];
        var attended = new float[h.HeadCount * h.ValueLength];
        var random = new Random(5);
        foreach (var row in new[] { queries, keys, values, attended })
            for (int i = 0; i < row.Length; i++) row[i] = (float)(random.NextDouble() - 0.5);
        const int tokens = 200;
        var timings = new List<double>();
        for (int round = 0; round < 22; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int t = 0; t < tokens; t++)
                for (int layer = 0; layer < h.LayerCount; layer++)
                {
                    rotation.RotateQueriesAndKeys(queries, keys);
                    rotation.RotateValues(values);
                    rotation.RotateOutputBack(attended);
                }
            if (round > 0) timings.Add(Stopwatch.GetElapsedTime(start).TotalSeconds / tokens); // round 0 warms the JIT
        }
        return Median(timings);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
