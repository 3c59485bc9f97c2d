namespace Suiron.Models;

/// <summary>Which elements of a head RoPE rotates together.</summary>
internal enum RopeStyle
{
    /// <summary>Adjacent pairs (x₀,x₁), (x₂,x₃) … — the original Llama layout (GGML_ROPE_TYPE_NORM).</summary>
    Normal,
    /// <summary>Halves: (xᵢ, xᵢ₊d/2) — the GPT-NeoX layout used by Qwen and most Hugging Face exports (GGML_ROPE_TYPE_NEOX).</summary>
    NeoX,
}

/// <summary>
/// Rotary position embedding (Su et al. 2021) with linear and YaRN (Peng et al. 2023) context extension and
/// Llama-3 per-frequency factors. Angles follow ggml exactly: θᵢ = p·base^(−2i/d), built by repeated
/// multiplication in single precision, because that is what the reference computes and the logits must match it.
/// </summary>
internal sealed class Rope
{
    private readonly RopeParameters _parameters;
    private readonly RopeStyle _style;
    private readonly float[]? _frequencyFactors;
    private readonly bool[]? _stillPairs;
    private readonly float _thetaScale;
    private readonly float _correctionLow, _correctionHigh;

    /// <param name="frequencyFactors">Optional divisors of each frequency (<c>rope_freqs.weight</c>, Dimensions/2 values).</param>
    /// <param name="stillPairs">Pairs that keep angle 0 (Dimensions/2 flags): under multi-section RoPE, the pairs of the
    /// section whose position a text token leaves at 0 (see <see cref="SectionStillPairs"/>).</param>
    /// <param name="parameters">Frequencies and context-extension settings.</param>
    /// <param name="style">Which element pairs rotate (adjacent or half a head apart).</param>
    public Rope(RopeParameters parameters, RopeStyle style, float[]? frequencyFactors, bool[]? stillPairs = null)
    {
        _stillPairs = stillPairs;
        _parameters = parameters;
        _style = style;
        _frequencyFactors = frequencyFactors;
        int dims = parameters.Dimensions;
        _thetaScale = MathF.Pow(parameters.FrequencyBase, -2f / dims);
        // YaRN: dimensions rotating faster than BetaFast turns over the original context keep their angle
        // (extrapolation), slower than BetaSlow are interpolated, and a linear ramp blends those in between.
        float low = MathF.Floor(CorrectionDimension(dims, parameters.OriginalContextLength, parameters.BetaFast, parameters.FrequencyBase));
        float high = MathF.Ceiling(CorrectionDimension(dims, parameters.OriginalContextLength, parameters.BetaSlow, parameters.FrequencyBase));
        _correctionLow = MathF.Max(0, low);
        _correctionHigh = MathF.Min(dims - 1, high);
    }

    public int Dimensions => _parameters.Dimensions;

    /// <summary>The dimension index whose wavelength makes <paramref name="rotations"/> turns over the original context.</summary>
    private static float CorrectionDimension(int dims, int originalContext, float rotations, float frequencyBase) =>
        dims * MathF.Log(originalContext / (rotations * 2 * MathF.PI)) / (2 * MathF.Log(frequencyBase));

    /// <summary>Fills <paramref name="cosSin"/> (length Dimensions) with interleaved cos, sin of each frequency at <paramref name="position"/>.</summary>
    public void Angles(int position, Span<float> cosSin)
    {
        var p = _parameters;
        float theta = position;
        for (int i = 0; i < p.Dimensions; i += 2)
        {
            float factor = _frequencyFactors is null ? 1f : _frequencyFactors[i / 2];
            float extrapolated = (_stillPairs is not null && _stillPairs[i / 2] ? 0f : theta) / factor;
            float interpolated = p.FrequencyScale * extrapolated;
            float angle = interpolated;
            float magnitude = p.AttentionFactor;
            if (p.ExtrapolationFactor != 0f)
            {
                float ramp = (i / 2 - _correctionLow) / MathF.Max(0.001f, _correctionHigh - _correctionLow);
                float mix = (1 - MathF.Min(1, MathF.Max(0, ramp))) * p.ExtrapolationFactor;
                angle = interpolated * (1 - mix) + extrapolated * mix;
                magnitude *= 1f + 0.1f * MathF.Log(1f / p.FrequencyScale);
            }
            cosSin[i] = MathF.Cos(angle) * magnitude;
            cosSin[i + 1] = MathF.Sin(angle) * magnitude;
            theta *= _thetaScale;
        }
    }

    /// <summary>
    /// Multi-section RoPE (Qwen2-VL's M-RoPE, Qwen3-VL's and Qwen3.5's interleaved I-MRoPE) with ggml's rule for which
    /// position each rotated pair takes: sections (time, height, width, extra) of <paramref name="sections"/> pairs, laid
    /// out one after another or, <paramref name="interleaved"/>, round-robin (t, h, w, t, h, w …) each up to its count.
    /// A text token gives time, height and width its position and the extra section 0, so every pair the first three
    /// cover rotates as plain NeoX RoPE and the rest stay still; returns those still pairs (null when there are none).
    /// </summary>
    public static bool[]? SectionStillPairs(int dimensions, ReadOnlySpan<int> sections, bool interleaved)
    {
        int pairs = dimensions / 2, sectionPairs = 0;
        foreach (int s in sections) sectionPairs += s;
        if (sectionPairs <= 0) return null;
        var still = new bool[pairs];
        bool any = false;
        for (int i = 0; i < pairs; i++)
        {
            int sector = i % sectionPairs;
            bool positioned = interleaved
                ? sector % 3 == 0 && sector < 3 * sections[0] || sector % 3 == 1 && sector < 3 * sections[1] || sector % 3 == 2 && sector < 3 * sections[2]
                : sector < sections[0] + sections[1] + sections[2];
            still[i] = !positioned;
            any |= still[i];
        }
        return any ? still : null;
    }

    /// <summary>Rotates the first Dimensions elements of every head in <paramref name="heads"/> (heads of <paramref name="headLength"/>).</summary>
    public void Apply(Span<float> heads, int headLength, ReadOnlySpan<float> cosSin)
    {
        int dims = _parameters.Dimensions, half = dims / 2;
        for (int start = 0; start < heads.Length; start += headLength)
        {
            Span<float> x = heads.Slice(start, dims);
            if (_style == RopeStyle.NeoX)
            {
                for (int i = 0; i < half; i++)
                {
                    float cos = cosSin[2 * i], sin = cosSin[2 * i + 1];
                    float x0 = x[i], x1 = x[i + half];
                    x[i] = x0 * cos - x1 * sin;
                    x[i + half] = x0 * sin + x1 * cos;
                }
            }
            else
            {
                for (int i = 0; i < dims; i += 2)
                {
                    float cos = cosSin[i], sin = cosSin[i + 1];
                    float x0 = x[i], x1 = x[i + 1];
                    x[i] = x0 * cos - x1 * sin;
                    x[i + 1] = x0 * sin + x1 * cos;
                }
            }
        }
    }
}
