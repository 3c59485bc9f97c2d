using System.Diagnostics;
using Suiron.Inference;
using Suiron.Models;

namespace Suiron.Benchmarking;

/// <summary>Suiron as a benchmark subject: one model, one cache reused (cleared) by every run, one logits buffer.</summary>
public sealed class SuironBenchmarkSubject : IBenchmarkSubject
{
    private readonly ILanguageModel _model;
    private readonly KvCache _cache;
    private readonly float[] _logits;

    /// <param name="maxTokens">The most tokens a test will hold: its depth plus its prompt or generation.</param>
    /// <param name="model">The model to time.</param>
    public SuironBenchmarkSubject(ILanguageModel model, int maxTokens)
    {
        _model = model;
        _cache = model.CreateCache(maxTokens);
        _logits = new float[model.Info.VocabSize];
    }

    /// <summary>The logits of the last run's last token (for tests).</summary>
    internal ReadOnlySpan<float> Logits => _logits;

    /// <summary>The engine's name in the report.</summary>
    public string Name => "suiron";

    /// <summary>Evaluates the prompt into a fresh cache and returns the seconds it took.</summary>
    public double TimePrompt(ReadOnlySpan<int> context, ReadOnlySpan<int> tokens)
    {
        Fill(context);
        long start = Stopwatch.GetTimestamp();
        _model.Forward(tokens, _cache, _logits);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Decodes tokens one at a time after the prompt and returns the seconds the decoding took.</summary>
    public double TimeGeneration(ReadOnlySpan<int> context, int firstToken, int count)
    {
        Fill(context);
        int token = firstToken;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            _model.Forward([token], _cache, _logits);
            token = BenchmarkTokens.ArgMax(_logits);
        }
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>The context the cache was last filled with; its first <c>_filled.Length</c> rows are kept across runs.</summary>
    private int[] _filled = [];

    /// <summary>Leaves exactly <paramref name="context"/> in the cache: cut back to it when the cache already starts with
    /// it (the previous run's tokens dropped), else filled from empty.</summary>
    private void Fill(ReadOnlySpan<int> context)
    {
        if (!context.IsEmpty && context.SequenceEqual(_filled) && _cache.ReusablePrefix(context.Length) == context.Length)
        {
            _cache.Truncate(context.Length);
            return;
        }
        _cache.Clear();
        _filled = [];
        if (context.IsEmpty) return;
        _model.Forward(context, _cache, _logits);
        _cache.Checkpoint(); // a recurrent state can come back here
        _filled = context.ToArray();
    }
}
