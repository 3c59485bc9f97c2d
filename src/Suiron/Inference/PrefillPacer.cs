namespace Suiron.Inference;

/// <summary>
/// Bounds the prompt tokens a scheduler step takes while other sequences are generating, so that a long prompt being
/// evaluated slows their token stream by at most <see cref="LatencyFactor"/> (a step with a prompt chunk lasts at most
/// that many decode-only steps). On a CPU prefill is compute-bound, so every prompt token added to a step lengthens it:
/// the pacer learns the time of a decode-only step and the extra time per prompt token (running averages; the latter
/// follows a slower step at once, so the bound holds at the tail, and the prompt as it goes deeper and attention grows) and gives the prompt the tokens that fit in
/// (factor − 1) decode steps. When the decode-only time is unknown or stale it asks for one decode-only step to measure
/// it. With no sequence generating, prompts take the whole budget.
/// </summary>
internal sealed class PrefillPacer(double latencyFactor)
{
    private const double Smoothing = 0.3;       // weight of the newest measurement in the running averages
    private const int DecodeRemeasureSteps = 64; // paced steps after which the decode-only time is measured again

    private double _decodeSeconds = -1, _secondsPerPromptToken = -1;
    private int _decodeRows, _stepsSinceDecodeOnly;

    /// <summary>At most this many decode-only steps' time per step while a prompt is evaluated beside generating sequences; 0 = no pacing.</summary>
    public double LatencyFactor { get; } = latencyFactor;

    /// <summary>Prompt tokens the next step may take: <paramref name="budget"/> when nothing is generating (or pacing is
    /// off), 0 when a decode-only step must be measured first, else what fits in the latency bound, at least one.</summary>
    public int PromptBudget(int decodeRows, int budget)
    {
        if (LatencyFactor <= 0 || decodeRows == 0 || budget <= 0) return budget;
        // A decode-only measurement of a very different batch (or an old one) no longer says what a step costs.
        if (_decodeSeconds < 0 || _stepsSinceDecodeOnly >= DecodeRemeasureSteps || decodeRows > 2 * _decodeRows || 2 * decodeRows < _decodeRows)
            return 0;
        if (_secondsPerPromptToken <= 0) return Math.Min(budget, 16); // a first probe chunk, measured below
        double tokens = (LatencyFactor - 1) * _decodeSeconds / _secondsPerPromptToken;
        return (int)Math.Clamp(tokens, 1, budget);
    }

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
        // Up at once, down slowly: a step that ran long shrinks the next chunk right away, so the bound holds at the tail.
        _secondsPerPromptToken = _secondsPerPromptToken <= 0 || perToken > _secondsPerPromptToken ? perToken : Average(_secondsPerPromptToken, perToken);
    }

    private static double Average(double previous, double latest) => (1 - Smoothing) * previous + Smoothing * latest;
}
