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
/// by slices instead: after the generating rows' pass, a slice of (tokens × layers) runs, sized from the learned cost of
/// one token through one layer to what is left of factor × a decode-only step once the step's own decode part (slower
/// beside slices, the caches left cold) is counted. That bound holds however deep the prompt (one token through every
/// layer can cost more than a decode step), and a chunk of many tokens keeps the prefill's matrix products efficient.
/// Every <c>DecodeRemeasureSteps</c> steps one runs without a slice, to measure the decode-only time again.
/// </para>
/// </summary>
internal sealed class PrefillPacer(double latencyFactor)
{
    private const double Smoothing = 0.3;       // weight of the newest measurement in the running averages
    private const int DecodeRemeasureSteps = 64; // paced steps after which the decode-only time is measured again

    private const int ProbeTokens = 16;          // a first chunk, before any cost is known

    private double _decodeSeconds = -1, _secondsPerPromptToken = -1, _secondsPerTokenLayer = -1, _slicedDecodeSeconds = -1;
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
        return (int)Math.Clamp((LatencyFactor - 1) * _decodeSeconds / _secondsPerPromptToken, 1, budget);
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

    /// <summary>
    /// Layers a chunk of <paramref name="tokens"/> runs this step: what fits in the bound (at least one); all
    /// <paramref name="layersLeft"/> when nothing is generating or pacing is off; 0 when this step must be decode-only, to
    /// measure (or measure again) what such a step costs.
    /// </summary>
    public int LayersPerStep(int decodeRows, int tokens, int layersLeft)
    {
        if (LatencyFactor <= 0 || decodeRows == 0) return layersLeft;
        if (!DecodeTimeKnown(decodeRows)) return 0;
        if (_secondsPerTokenLayer <= 0) return 1;
        return (int)Math.Clamp(SliceSeconds / (tokens * _secondsPerTokenLayer), 1, layersLeft);
    }

    /// <summary>
    /// Learns from a step that ran a slice of <paramref name="tokens"/> through <paramref name="layers"/> layers in
    /// <paramref name="sliceSeconds"/> after its decode part (the pass of the generating rows and their sampling) took
    /// <paramref name="decodeSeconds"/>. That decode part can run slower than in a decode-only step (the slice leaves
    /// the caches cold): what it takes beyond the decode-only time comes off the next slices' share.
    /// </summary>
    public void ObserveSlice(int tokens, int layers, double sliceSeconds, double decodeSeconds)
    {
        _stepsSinceDecodeOnly++;
        _secondsPerTokenLayer = Follow(_secondsPerTokenLayer, sliceSeconds / ((double)tokens * layers));
        _slicedDecodeSeconds = Follow(_slicedDecodeSeconds, decodeSeconds);
    }

    /// <summary>The learned cost of one prompt token through one layer (−1 before any slice).</summary>
    internal double SecondsPerTokenLayer => _secondsPerTokenLayer;

    /// <summary>The time a slice may take: the bound (factor × a decode-only step) less what a step's decode part takes
    /// beside slices (at least a decode-only step's time).</summary>
    private double SliceSeconds => LatencyFactor * _decodeSeconds - Math.Max(_decodeSeconds, _slicedDecodeSeconds);

    /// <summary>Whether a recent decode-only step of a similar batch says what a step costs.</summary>
    private bool DecodeTimeKnown(int decodeRows) =>
        _decodeSeconds >= 0 && _stepsSinceDecodeOnly < DecodeRemeasureSteps && decodeRows <= 2 * _decodeRows && 2 * decodeRows >= _decodeRows;

    /// <summary>Learns from a finished step: its generating rows, prompt tokens and wall time.</summary>
    public void Observe(int decodeRows, int promptTokens, double seconds)
    {
        if (promptTokens == 0)
        {
            if (decodeRows == 0) return;
            if (decodeRows != _decodeRows) _slicedDecodeSeconds = -1; // another batch: its decode part beside slices is not known
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
