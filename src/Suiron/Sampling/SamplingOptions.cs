namespace Suiron.Sampling;

/// <summary>
/// Sampling settings, with llama.cpp's defaults. <see cref="Temperature"/> ≤ 0 means greedy (argmax).
/// Steps run in llama.cpp's default order: penalties → top-k → top-p → min-p → temperature → draw.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Temperature: 0 is greedy; higher flattens the distribution.</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set of tokens whose probability sums to at least p; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Drop tokens whose probability is below min_p × the top token's; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;
    /// <summary>CTRL-style repetition penalty over the last <see cref="PenaltyLastN"/> tokens; 1 disables.</summary>
    public float RepeatPenalty { get; init; } = 1.0f;
    /// <summary>OpenAI-style: subtract count × frequency_penalty.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>OpenAI-style: subtract presence_penalty once for every token already present.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>How many recent tokens the penalties look at; -1 = the whole history, 0 = none.</summary>
    public int PenaltyLastN { get; init; } = 64;
    /// <summary>Seed for the random draw; the same seed gives the same output.</summary>
    public ulong Seed { get; init; } = 0xC0FFEE;

    /// <summary>Greedy sampling: always the most likely token.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Whether the options always pick the most likely token.</summary>
    public bool IsGreedy => Temperature <= 0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (float.IsNaN(Temperature) || Temperature > 100) throw new ArgumentException($"temperature must be between 0 and 100 (got {Temperature}).");
        if (TopK < 0) throw new ArgumentException($"top_k must be ≥ 0 (got {TopK}).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1] (got {TopP}).");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException($"min_p must be in [0, 1] (got {MinP}).");
        if (!(RepeatPenalty > 0)) throw new ArgumentException($"repeat_penalty must be > 0 (got {RepeatPenalty}).");
        if (!(FrequencyPenalty is >= -2 and <= 2)) throw new ArgumentException($"frequency_penalty must be in [-2, 2] (got {FrequencyPenalty}).");
        if (!(PresencePenalty is >= -2 and <= 2)) throw new ArgumentException($"presence_penalty must be in [-2, 2] (got {PresencePenalty}).");
        if (PenaltyLastN < -1) throw new ArgumentException($"penalty window must be ≥ -1 (got {PenaltyLastN}).");
    }
}
