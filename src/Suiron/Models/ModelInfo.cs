using Suiron.Inference;

namespace Suiron.Models;

/// <summary>What a loaded model is: printable, for `suiron info` and logs.</summary>
/// <param name="Architecture">The GGUF <c>general.architecture</c>, e.g. <c>llama</c>.</param>
/// <param name="HyperParameters">The architecture's hyper-parameter record as parsed from the file.</param>
/// <param name="VocabSize">Rows of the output projection: the length of one logits vector.</param>
/// <param name="ContextLength">The context the model was trained with.</param>
/// <param name="ContextSize">The context this instance runs with (from <see cref="ModelOptions"/>).</param>
/// <param name="KvCacheBytesPerToken">Exact cache bytes per token for the chosen cache type, all layers, keys and values.</param>
/// <param name="ParameterCount">Elements of all weight tensors.</param>
public sealed record ModelInfo(
    string Architecture,
    TransformerHyperParameters HyperParameters,
    int VocabSize,
    int ContextLength,
    int ContextSize,
    long KvCacheBytesPerToken,
    long ParameterCount)
{
    /// <summary>Parameters one token passes through: the total less the routed experts it does not use (MoE models);
    /// null for dense models, where it equals <see cref="ParameterCount"/>.</summary>
    public long? ActiveParameterCount { get; init; }

    /// <summary>What keys and values per head would take per token if the cache were not compressed (multi-head latent
    /// attention caches a shared latent instead); null where <see cref="KvCacheBytesPerToken"/> is already that.</summary>
    public long? FullKvBytesPerToken { get; init; }

    /// <summary>Element type of the cached keys this instance uses (<see cref="ModelOptions.KeyCacheType"/>).</summary>
    public KvCacheType KeyCacheType { get; init; } = KvCacheType.F16;

    /// <summary>Element type of the cached values this instance uses (<see cref="ModelOptions.ValueCacheType"/>).</summary>
    public KvCacheType ValueCacheType { get; init; } = KvCacheType.F16;

    /// <summary>The Hadamard rotation applied for a quantized cache (llama.cpp's attention rotation), e.g.
    /// <c>q,k Hadamard 128, v 64</c>, or <c>off</c> (F16/F32 caches, head lengths not a multiple of 64, or turned off).</summary>
    public string AttentionRotation { get; init; } = "off";

    /// <summary>Layers whose token mixer is recurrent (gated DeltaNet) and so keep a fixed-size state instead of keys and values.</summary>
    public int RecurrentLayerCount { get; init; }

    /// <summary>Bytes of recurrent state one sequence holds whatever its length (and each prefix-reuse snapshot costs), 0 without recurrent layers.</summary>
    public long RecurrentBytesPerSequence { get; init; }
}
