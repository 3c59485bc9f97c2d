using Suiron.Models;

namespace Suiron.Embeddings;

/// <summary>
/// A decoder LLM (llama, qwen2, qwen3) as an embedder, as llama.cpp runs Qwen3-Embedding and similar models: the final
/// hidden state after the output norm, before the output head, pooled. With causal attention only the last token has
/// seen the whole input, so the default pooling is <see cref="EmbeddingPooling.Last"/> unless the file's
/// <c>{arch}.pooling_type</c> or the caller says otherwise. Each input runs in a fresh cache of its own length.
/// </summary>
internal sealed class DecoderEmbedder : IEmbeddingModel
{
    private readonly ILanguageModel _model;
    private readonly IHiddenStateModel _hidden;
    private readonly bool _ownsModel;
    private readonly object _gate = new();

    public DecoderEmbedder(ILanguageModel model, EmbeddingPooling pooling, bool ownsModel)
    {
        _model = model;
        _hidden = model as IHiddenStateModel
            ?? throw new NotSupportedException($"Architecture '{model.Info.Architecture}' cannot be used for embeddings (supported: bert and the dense decoders llama, qwen2, qwen3).");
        if (pooling is EmbeddingPooling.Unspecified or EmbeddingPooling.Rank)
            throw new ArgumentException($"Pooling '{pooling}' cannot be used for a decoder embedder.", nameof(pooling));
        Pooling = pooling;
        _ownsModel = ownsModel;
    }

    public string Architecture => _model.Info.Architecture;
    public int Dimensions => _model.Info.HyperParameters.EmbeddingLength;
    public int MaxTokens => _model.Info.ContextSize;
    public EmbeddingPooling Pooling { get; }

    public float[] EmbedTokens(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("No tokens to embed.", nameof(tokens));
        if (tokens.Length > MaxTokens)
            throw new ArgumentException($"The input has {tokens.Length} tokens; this model takes at most {MaxTokens}.", nameof(tokens));
        var hidden = new float[tokens.Length * Dimensions];
        lock (_gate)
        {
            var cache = _model.CreateCache(tokens.Length);
            _hidden.ForwardHidden(tokens, cache, hidden);
        }
        return hidden;
    }

    public void Dispose()
    {
        if (_ownsModel) _model.Dispose();
    }
}
