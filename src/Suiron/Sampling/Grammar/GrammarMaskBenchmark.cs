using System.Diagnostics;
using System.Text;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// Times full token masks (for the bench; tests never assert timing). Walks <paramref name="document"/> through the
/// grammar a few bytes per step, computing the whole mask at each step without the per-state mask cache:
/// once on a fresh constraint (every automaton state is new: the worst case) and once more on the same one (states
/// cached: the steady state of a long generation). Also times a mask served from the cache.
/// </summary>
internal static class GrammarMaskBenchmark
{
    public readonly record struct Result(int Steps, double ColdMillisecondsPerMask, double WarmMillisecondsPerMask,
        double CachedMillisecondsPerMask, double AllowedTokensPerMask, int AutomatonStates);

    public static Result Measure(Grammar grammar, GrammarVocabulary vocabulary, string document, int bytesPerStep = 3)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(document);
        var constraint = new GrammarConstraint(grammar, vocabulary);
        var mask = new ulong[(vocabulary.Count + 63) / 64];
        var logits = new float[vocabulary.Count];

        double Pass(out int steps, out long allowed)
        {
            constraint.Reset();
            steps = 0;
            allowed = 0;
            var clock = new Stopwatch();
            for (int at = 0; at < bytes.Length; at += bytesPerStep, steps++)
            {
                Array.Clear(mask);
                clock.Start();
                constraint.FillMaskUncached(mask);
                clock.Stop();
                foreach (ulong word in mask) allowed += (long)ulong.PopCount(word);
                if (!constraint.TryAcceptBytes(bytes.AsSpan(at, Math.Min(bytesPerStep, bytes.Length - at))))
                    throw new ArgumentException($"The document does not match the grammar at byte {at}.");
            }
            return clock.Elapsed.TotalMilliseconds / Math.Max(steps, 1);
        }

        double cold = Pass(out int n, out long allowedTotal);
        double warm = Pass(out _, out _);

        constraint.Reset();
        constraint.Apply(logits);
        var cachedClock = Stopwatch.StartNew();
        for (int i = 0; i < 100; i++) constraint.Apply(logits);
        double cached = cachedClock.Elapsed.TotalMilliseconds / 100;
        return new Result(n, cold, warm, cached, (double)allowedTotal / Math.Max(n, 1), constraint.AutomatonStateCount);
    }
}
