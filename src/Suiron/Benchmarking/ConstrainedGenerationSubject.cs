using System.Diagnostics;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Sampling.Grammar;

namespace Suiron.Benchmarking;

/// <summary>
/// The <c>tg</c> test under a grammar, to price constrained decoding against <see cref="SuironBenchmarkSubject"/>'s
/// free decoding of the same model: each token is chosen greedily by a <see cref="Sampler"/> holding a
/// <see cref="GrammarConstraint"/>, exactly as a request with <c>response_format</c> or <c>grammar</c> is served (the
/// free argmax first; the full vocabulary mask only when the grammar rejects it). Each run builds a new constraint, as
/// each request does, so the automaton and mask caches start cold. A grammar that completes and takes end-of-generation
/// starts over, so every run decodes the full count.
/// </summary>
public sealed class ConstrainedGenerationSubject : IBenchmarkSubject
{
    private readonly ILanguageModel _model;
    private readonly KvCache _cache;
    private readonly float[] _logits;
    private readonly Grammar _grammar;
    private readonly GrammarVocabulary _vocabulary;

    /// <param name="name">What the grammar is, for the table: <c>json-schema</c>, <c>json-object</c>, <c>grammar</c>.</param>
    /// <param name="vocabulary">The grammar's view of the model's vocabulary.</param>
    /// <param name="model">The model to time.</param>
    /// <param name="maxTokens">Context the cache is sized for.</param>
    /// <param name="grammar">The grammar generation is constrained to.</param>
    public ConstrainedGenerationSubject(string name, ILanguageModel model, int maxTokens, Grammar grammar, GrammarVocabulary vocabulary)
    {
        if (vocabulary.Count != model.Info.VocabSize)
            throw new ArgumentException($"The grammar vocabulary has {vocabulary.Count} tokens; the model {model.Info.VocabSize}.", nameof(vocabulary));
        Name = name;
        _model = model;
        _grammar = grammar;
        _vocabulary = vocabulary;
        _cache = model.CreateCache(maxTokens);
        _logits = new float[model.Info.VocabSize];
    }

    /// <summary>The row's name in the report.</summary>
    public string Name { get; }

    /// <summary>Tokens decoded over all runs so far (warm-up included).</summary>
    public long Tokens { get; private set; }

    /// <summary>Full masks computed (the grammar rejected the free choice) over all runs so far, and the seconds they took.</summary>
    public long Masks { get; private set; }
    /// <summary>Seconds spent computing grammar masks over the timed generations.</summary>
    public double MaskSeconds { get; private set; }

    /// <summary>
    /// Seconds spent choosing tokens under the grammar over all runs so far: building the constraint, the free argmax,
    /// the checks, the masks and the second draw — everything the constrained step adds over the free one (plus the
    /// free argmax itself, so an upper bound), timed directly rather than as a difference of two noisy decode timings.
    /// </summary>
    public double SamplingSeconds { get; private set; }

    /// <summary>Evaluates the prompt into a fresh cache and returns the seconds it took.</summary>
    public double TimePrompt(ReadOnlySpan<int> context, ReadOnlySpan<int> tokens) =>
        throw new NotSupportedException("The constrained subject measures generation only.");

    /// <summary>Decodes tokens one at a time under the grammar after the prompt and returns the seconds the decoding took.</summary>
    public double TimeGeneration(ReadOnlySpan<int> context, int firstToken, int count)
    {
        _cache.Clear();
        if (!context.IsEmpty) _model.Forward(context, _cache, _logits); // the depth, untimed
        int token = firstToken;
        long start = Stopwatch.GetTimestamp();
        var constraint = new GrammarConstraint(_grammar, _vocabulary);
        var counter = new CountingConstraint(constraint);
        var sampler = new Sampler(_logits.Length, SamplingOptions.Greedy, counter);
        long sampling = Stopwatch.GetTimestamp() - start;
        for (int i = 0; i < count; i++)
        {
            _model.Forward([token], _cache, _logits);
            long choose = Stopwatch.GetTimestamp();
            token = sampler.Sample(_logits, []);
            if (constraint.IsFinished) constraint.Reset();
            sampling += Stopwatch.GetTimestamp() - choose;
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        SamplingSeconds += (double)sampling / Stopwatch.Frequency;
        Tokens += count;
        Masks += counter.Masks;
        MaskSeconds += counter.Seconds;
        return seconds;
    }

    /// <summary>Counts and times the full masks the sampler asks for (outside the hot loop of the mask itself).</summary>
    private sealed class CountingConstraint(GrammarConstraint inner) : IGrammarConstraint
    {
        public long Masks;
        public double Seconds;

        public void Apply(Span<float> logits)
        {
            long start = Stopwatch.GetTimestamp();
            inner.Apply(logits);
            Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            Masks++;
        }

        public bool IsAllowed(int token) => inner.IsAllowed(token);
        public void Accept(int token) => inner.Accept(token);
    }
}
