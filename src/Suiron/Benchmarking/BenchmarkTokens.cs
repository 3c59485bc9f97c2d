namespace Suiron.Benchmarking;

/// <summary>
/// Seeded random token ids, as llama-bench feeds random tokens: the content of the prompt does not change the work a
/// dense model does, and a fixed seed gives both engines the very same ids.
/// </summary>
public static class BenchmarkTokens
{
    /// <summary><paramref name="count"/> token ids drawn uniformly from the vocabulary with <paramref name="seed"/>.</summary>
    public static int[] Random(int count, int vocabSize, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        var random = new Random(seed);
        var tokens = new int[count];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = random.Next(vocabSize);
        return tokens;
    }

    /// <summary>The index of the largest logit (the first one on ties), as greedy decoding picks it.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
