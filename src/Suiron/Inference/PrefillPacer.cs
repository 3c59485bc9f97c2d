namespace Suiron.Inference;

/// <summary>
/// Bounds the prompt tokens a scheduler step takes while other sequences are generating, so that a long prompt being
/// evaluated slows their token stream by at most <see cref="LatencyFactor"/> (a step with a prompt chunk lasts at most
/// that many decode-only steps). On a CPU prefill is compute-bound, so every prompt token added to a step lengthens it:
/// the pacer learns the time of a decode-only step and the extra time per prompt token (running averages; the latter
/// follows a slower step at once, so the bound holds at the tail, and the prompt as it goes deeper and attention grows) and gives the prompt the tokens that fit in
/// (factor − 1) decode steps. When the decode-only time is unknown or stale it asks for one decode-only step to measure
/// it. With no sequence generating, prompts take the whole budget.
/// <para>
/// A model that can take a chunk through its layers a few at a time (<see cref="Models.ILayeredPromptModel"/>) is paced
/// by slices instead: after each decode-only step, a slice of (tokens × layers) runs that fits in the same
/// (factor − 1) decode steps, from the learned cost of one token through one layer. That bound holds however deep the
/// prompt (one token through every layer can cost more than a decode step), and a chunk of many tokens keeps the
/// prefill's matrix products efficient.
/// </para>
/// </summary>
internal sealed class PrefillPacer(double latencyFactor)
{
    private const double Smoothing = 0.3;       // weight of the newest measurement in the running averages
    private const int DecodeRemeasureSteps = 64; // paced steps after which the decode-only time is measured again

    private const int ProbeTokens = 16;          // a first chunk, before any cost is known

    private double _decodeSeconds = -1, _secondsPerPromptToken = -1, _secondsPerTokenLayer = -1;
    private int _decodeRows, _stepsSinceDecodeOnly;

    /// <summary>At most this many decode-only steps' time per step while a prompt is evaluated beside generating sequences; 0 = no pacing.</summary>
    public double LatencyFactor { get; } = latencyFactor;

    /// <summary>Prompt tokens the next step may take: <paramref name="budget"/> when nothing is generating (or pacing is
    /// off), 0 when a decode-only step must be measured first, else what fits in the latency bound, at least one.</summary>
    public int PromptBudget(int decodeRows, int budget)
    {
        if (LatencyFactor <= 0 || decodeRows == 0 || budget <= 0) return budget;
        if (!DecodeTimeKnown(decodeRows)) return 0;
        if (_secondsPerPromptToken <= 0) return Math.Min(budget, ProbeTokens);
        return (int)Math.Clamp(SliceSeconds / _secondsPerPromptToken, 1, budget);
    }

    /// <summary>
    /// Tokens of a prompt chunk to take through the layers a few at a time beside <paramref name="decodeRows"/> generating
    /// rows: as many as go through one layer within the bound (at least one, at most <paramref name="budget"/>); 0 when a
    /// decode-only step must be measured first.
    /// </summary>
    public int LayeredChunkTokens(int decodeRows, int budget)
    {
        if (LatencyFactor <= 0 || decodeRows == 0 || budget <= 0) return budget;
        if (!DecodeTimeKnown(decodeRows)) return 0;
        if (_secondsPerTokenLayer <= 0) return Math.Min(budget, ProbeTokens);
        return (int)Math.Clamp(SliceSeconds / _secondsPerTokenLayer, 1, budget);
    }

    /// <summary>Layers a chunk of <paramref name="tokens"/> runs this step: what fits in the bound (at least one), or all
    /// <paramref name="layersLeft"/> when nothing is generating or pacing is off.</summary>
    public int LayersPerStep(int decodeRows, int tokens, int layersLeft)
    {
        if (LatencyFactor <= 0 || decodeRows == 0) return layersLeft;
        if (_secondsPerTokenLayer <= 0 || _decodeSeconds <= 0) return 1;
        return (int)Math.Clamp(SliceSeconds / (tokens * _secondsPerTokenLayer), 1, layersLeft);
    }

    /// <summary>Learns from a slice that took <paramref name="tokens"/> through <paramref name="layers"/> layers (run on its own, beside no other rows).</summary>
    public void ObserveSlice(int tokens, int layers, double seconds)
    {
        double perTokenLayer = seconds / ((double)tokens * layers);
        _secondsPerTokenLayer = Follow(_secondsPerTokenLayer, perTokenLayer);
    }

    /// <summary>The time a step may add to a decode-only step.</summary>
    private double SliceSeconds => (LatencyFactor - 1) * _decodeSeconds;

    /// <summary>Whether a recent decode-only step of a similar batch says what a step costs.</summary>
    private bool DecodeTimeKnown(int decodeRows) =>
        _decodeSeconds >= 0 && _stepsSinceDecodeOnly < DecodeRemeasureSteps && decodeRows <= 2 * _decodeRows && 2 * decodeRows >= _decodeRows;

    /// <summary>Learns from a finished step: its generating rows, prompt tokens and wall time.</summary>
    public void Observe(int decodeRows, int promptTokens, double seconds)
    {
        if (promptTokens == 0)
        {
            if (decodeRows == 0) return;
            _decodeSeconds = _decodeSeconds < 0 || decodeRows != _decodeRows ? seconds : Average(_decodeSeconds, seconds);
            _decodeRows = decodeRows;
            _stepsSinceDecodeOnly = 0;
            return;
        }
        _stepsSinceDecodeOnly++;
        // Beside generating rows, the prompt's share is what the step took beyond a decode-only step.
        double promptSeconds = decodeRows > 0 && _decodeSeconds > 0 ? Math.Max(seconds - _decodeSeconds, seconds * 0.1) : seconds;
        double perToken = promptSeconds / promptTokens;
        _secondsPerPromptToken = Follow(_secondsPerPromptToken, perToken);
    }

    /// <summary>A cost estimate after a new measurement: up at once, down slowly. A step that ran long shrinks the next
    /// chunk right away, so the bound holds at the tail (and as the prompt goes deeper and attention grows).</summary>
    private static double Follow(double estimate, double latest) => estimate <= 0 || latest > estimate ? latest : Average(estimate, latest);

    private static double Average(double previous, double latest) => (1 - Smoothing) * previous + Smoothing * latest;
}
