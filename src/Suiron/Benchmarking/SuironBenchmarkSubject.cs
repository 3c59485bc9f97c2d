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

    /// <param name="maxTokens">The longest test (prompt or generation) this subject will run.</param>
    public SuironBenchmarkSubject(ILanguageModel model, int maxTokens)
    {
        _model = model;
        _cache = model.CreateCache(maxTokens);
        _logits = new float[model.Info.VocabSize];
    }

    public string Name => "suiron";

    public double TimePrompt(ReadOnlySpan<int> tokens)
    {
        _cache.Clear();
        long start = Stopwatch.GetTimestamp();
        _model.Forward(tokens, _cache, _logits);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public double TimeGeneration(int firstToken, int count)
    {
        _cache.Clear();
        int token = firstToken;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            _model.Forward([token], _cache, _logits);
            token = BenchmarkTokens.ArgMax(_logits);
        }
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
