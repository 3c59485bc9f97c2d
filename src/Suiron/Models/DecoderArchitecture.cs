namespace Suiron.Models;

/// <summary>
/// What distinguishes one pre-norm decoder architecture from another. Each architecture file declares one of these;
/// shared code reads the flags and never tests an architecture's name.
/// </summary>
/// <param name="Name">The GGUF <c>general.architecture</c> it serves.</param>
/// <param name="RopeStyle">Which elements of a head rotate together.</param>
/// <param name="QueryKeyValueBias">Q, K and V projections add a bias (<c>attn_{q,k,v}.bias</c>).</param>
/// <param name="QueryKeyNorm">Each query and key head is RMS-normalized (<c>attn_{q,k}_norm</c>) before RoPE.</param>
/// <param name="RopeFrequencyFactors">An optional <c>rope_freqs.weight</c> divides the RoPE frequencies (Llama 3.1+ long context).</param>
internal sealed record DecoderArchitecture(
    string Name,
    RopeStyle RopeStyle,
    bool QueryKeyValueBias = false,
    bool QueryKeyNorm = false,
    bool RopeFrequencyFactors = false);
