using System.Runtime.InteropServices;

namespace Suiron.Sampling;

/// <summary>
/// Picks the next token from a row of logits. One instance per sequence: it owns its random state and
/// its scratch buffers (sized to the vocabulary once), so sampling a token allocates nothing.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly int _vocabSize;
    private readonly int[] _candidates;      // token ids, sorted by descending logit after top-k
    private readonly float[] _values;        // logits, then probabilities, of _candidates
    private readonly float[] _penalized;     // logits after penalties
    private readonly Dictionary<int, int> _counts = new();
    private readonly IGrammarConstraint? _grammar;
    private readonly float[]? _masked;       // logits with the grammar's mask applied (only with a grammar)
    private ulong _rngState;

    /// <param name="grammar">
    /// Optional constraint (e.g. a <see cref="Grammar.GrammarConstraint"/>): every token drawn is one it allows, and it is
    /// told each token drawn. Without one, sampling is unchanged.
    /// </param>
    /// <param name="vocabSize">Logits per token.</param>
    /// <param name="options">The sampling settings.</param>
    public Sampler(int vocabSize, SamplingOptions options, IGrammarConstraint? grammar = null)
    {
        options.Validate();
        _options = options;
        _vocabSize = vocabSize;
        _candidates = new int[vocabSize];
        _values = new float[vocabSize];
        _penalized = new float[vocabSize];
        _rngState = options.Seed;
        _grammar = grammar;
        if (grammar is not null) _masked = new float[vocabSize];
    }

    /// <summary>How many of <paramref name="tokens"/> the grammar allows next, in order (all of them without a grammar).</summary>
    internal int GrammarAllowedPrefix(ReadOnlySpan<int> tokens) => _grammar?.AllowedPrefix(tokens) ?? tokens.Length;

    /// <summary>The sampling options this sampler applies.</summary>
    public SamplingOptions Options => _options;

    /// <summary>Chooses a token. <paramref name="history"/> is the sequence so far (prompt and generated), for the penalties.</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        if (logits.Length != _vocabSize) throw new ArgumentException($"Expected {_vocabSize} logits, got {logits.Length}.");
        if (_grammar is null) return SampleUnconstrained(logits, history);

        // As llama.cpp: sample freely first, and pay for the full mask only when the grammar rejects that token.
        int token = SampleUnconstrained(logits, history);
        if (!_grammar.IsAllowed(token))
        {
            logits.CopyTo(_masked);
            _grammar.Apply(_masked);
            token = SampleUnconstrained(_masked, history);
            if (!_grammar.IsAllowed(token)) throw new InvalidOperationException("The grammar allows no token of this vocabulary here.");
        }
        _grammar.Accept(token);
        return token;
    }

    private int SampleUnconstrained(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        ReadOnlySpan<float> scores = ApplyPenalties(logits, history);
        if (_options.IsGreedy) return ArgMax(scores);

        int n = SelectTopK(scores, _options.TopK > 0 ? Math.Min(_options.TopK, _vocabSize) : _vocabSize);
        Softmax(n, 1f);
        n = TopP(n, _options.TopP);
        n = MinP(n, _options.MinP);
        // Temperature applies to the surviving candidates' logits; renormalise over them.
        for (int i = 0; i < n; i++) _values[i] = scores[_candidates[i]];
        Softmax(n, _options.Temperature);
        return Draw(n);
    }

    /// <summary>Index of the largest value (first one on ties, as llama.cpp's greedy sampler).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] > bestValue)
            {
                bestValue = values[i];
                best = i;
            }
        }
        return best;
    }

    private ReadOnlySpan<float> ApplyPenalties(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        bool penalize = _options.RepeatPenalty != 1f || _options.FrequencyPenalty != 0f || _options.PresencePenalty != 0f;
        int window = _options.PenaltyLastN < 0 ? history.Length : Math.Min(_options.PenaltyLastN, history.Length);
        if (!penalize || window == 0) return logits;

        logits.CopyTo(_penalized);
        _counts.Clear();
        foreach (int token in history[^window..])
            if ((uint)token < (uint)_vocabSize)
                CollectionsMarshal.GetValueRefOrAddDefault(_counts, token, out _)++;
        foreach (var (token, count) in _counts)
        {
            ref float v = ref _penalized[token];
            // As llama.cpp: the repetition penalty pushes a logit towards "less likely" whatever its sign.
            v = v <= 0 ? v * _options.RepeatPenalty : v / _options.RepeatPenalty;
            v -= count * _options.FrequencyPenalty + _options.PresencePenalty;
        }
        return _penalized;
    }

    /// <summary>Fills _candidates/_values with the k highest logits in descending order; returns k.</summary>
    private int SelectTopK(ReadOnlySpan<float> scores, int k)
    {
        // Keep a sorted buffer of the best k seen so far; for the usual k (≤ 100) an insertion pass beats sorting the vocabulary.
        if (k * 4 >= _vocabSize)
        {
            for (int i = 0; i < _vocabSize; i++) { _candidates[i] = i; _values[i] = scores[i]; }
            SortDescending(_vocabSize);
            return k;
        }
        int count = 0;
        for (int token = 0; token < scores.Length; token++)
        {
            float v = scores[token];
            if (count == k && !(v > _values[k - 1])) continue;
            int pos = count < k ? count++ : k - 1;
            while (pos > 0 && v > _values[pos - 1])
            {
                _values[pos] = _values[pos - 1];
                _candidates[pos] = _candidates[pos - 1];
                pos--;
            }
            _values[pos] = v;
            _candidates[pos] = token;
        }
        return count;
    }

    private void SortDescending(int n)
    {
        // Sort by value descending, ties by token id ascending (stable, deterministic).
        var keys = _values.AsSpan(0, n);
        var items = _candidates.AsSpan(0, n);
        for (int i = 0; i < n; i++) keys[i] = -keys[i];
        keys.Sort(items);
        for (int i = 0; i < n; i++) keys[i] = -keys[i];
        int start = 0;
        for (int i = 1; i <= n; i++)
        {
            if (i == n || keys[i] != keys[start])
            {
                if (i - start > 1) items[start..i].Sort();
                start = i;
            }
        }
    }

    /// <summary>In place over _values[0..n): values/temperature → probabilities.</summary>
    private void Softmax(int n, float temperature)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, _values[i]);
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            float p = MathF.Exp((_values[i] - max) / temperature);
            _values[i] = p;
            sum += p;
        }
        for (int i = 0; i < n; i++) _values[i] = (float)(_values[i] / sum);
    }

    private int TopP(int n, float p)
    {
        if (p >= 1f) return n;
        double cumulative = 0;
        for (int i = 0; i < n; i++)
        {
            cumulative += _values[i];
            if (cumulative >= p) return i + 1;
        }
        return n;
    }

    private int MinP(int n, float minP)
    {
        if (minP <= 0f || n == 0) return n;
        float threshold = _values[0] * minP;
        int kept = 1;
        while (kept < n && _values[kept] >= threshold) kept++;
        return kept;
    }

    private int Draw(int n)
    {
        double r = NextDouble();
        double cumulative = 0;
        int lastPossible = 0;
        for (int i = 0; i < n; i++)
        {
            cumulative += _values[i];
            if (r < cumulative) return _candidates[i];
            if (_values[i] > 0) lastPossible = i;
        }
        // Rounding left r above the total: take the last candidate that had a chance (never a masked, -inf one).
        return _candidates[lastPossible];
    }

    /// <summary>SplitMix64: tiny, fast, and the same sequence for the same seed on every platform and .NET version.</summary>
    private double NextDouble()
    {
        ulong z = _rngState += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
