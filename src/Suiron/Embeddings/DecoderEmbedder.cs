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

    private readonly float[]? _rankHead; // (labels, embedding): a reranker's output rows ("yes", "no"), cls.output.weight
    private readonly float[]? _rankBias; // (labels)

    /// <param name="model">The decoder whose hidden states are pooled.</param>
    /// <param name="pooling">How a sequence's hidden states become one vector.</param>
    /// <param name="ownsModel">Whether disposing this disposes <paramref name="model"/>.</param>
    /// <param name="rankHead">With rank pooling: the reranker's head over the last token, row-major (labels × embedding).</param>
    /// <param name="rankBias">The head's bias (labels), or null.</param>
    public DecoderEmbedder(ILanguageModel model, EmbeddingPooling pooling, bool ownsModel, float[]? rankHead = null, float[]? rankBias = null)
    {
        _model = model;
        _hidden = model as IHiddenStateModel
            ?? throw new NotSupportedException($"Architecture '{model.Info.Architecture}' cannot be used for embeddings (supported: bert and the dense decoders llama, qwen2, qwen3).");
        if (pooling == EmbeddingPooling.Unspecified || pooling == EmbeddingPooling.Rank && rankHead is null)
            throw new ArgumentException($"Pooling '{pooling}' cannot be used for a decoder embedder{(pooling == EmbeddingPooling.Rank ? " without a reranker's head (cls.output.weight)" : "")}.", nameof(pooling));
        Pooling = pooling;
        _ownsModel = ownsModel;
        _rankHead = rankHead;
        _rankBias = rankBias;
    }

    /// <summary>
    /// As <see cref="IEmbeddingModel.Embed"/>; with rank pooling, the reranker's scores: its head over the last token's
    /// hidden state (the one that has read the whole prompt), softmaxed over the labels as llama.cpp does for
    /// Qwen3-Reranker, whose first label is "yes" — so the first score is the probability that the document fits.
    /// </summary>
    public float[] Embed(ReadOnlySpan<int> tokens, bool normalize = true)
    {
        if (Pooling != EmbeddingPooling.Rank)
        {
            float[] pooled = EmbeddingMath.Pool(EmbedTokens(tokens), tokens.Length, Dimensions, Pooling);
            if (normalize) EmbeddingMath.Normalize(pooled);
            return pooled;
        }
        int e = Dimensions, labels = _rankHead!.Length / e;
        ReadOnlySpan<float> last = EmbedTokens(tokens).AsSpan((tokens.Length - 1) * e, e);
        var scores = new float[labels];
        float max = float.NegativeInfinity;
        for (int l = 0; l < labels; l++)
        {
            ReadOnlySpan<float> row = _rankHead.AsSpan(l * e, e);
            float dot = _rankBias?[l] ?? 0;
            for (int i = 0; i < e; i++) dot += row[i] * last[i];
            scores[l] = dot;
            max = Math.Max(max, dot);
        }
        float sum = 0;
        for (int l = 0; l < labels; l++) sum += scores[l] = MathF.Exp(scores[l] - max);
        for (int l = 0; l < labels; l++) scores[l] /= sum;
        return scores;
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
