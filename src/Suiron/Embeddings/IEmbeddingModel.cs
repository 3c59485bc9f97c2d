namespace Suiron.Embeddings;

/// <summary>
/// How the per-token hidden states of an input become one vector: the GGUF key <c>{arch}.pooling_type</c>, with
/// llama.cpp's numbering (<c>enum llama_pooling_type</c>).
/// </summary>
public enum EmbeddingPooling
{
    /// <summary>Not chosen: take the file's <c>{arch}.pooling_type</c> (or the model's default).</summary>
    Unspecified = -1,
    /// <summary>No pooling: one vector per token (<see cref="IEmbeddingModel.EmbedTokens"/>).</summary>
    None = 0,
    /// <summary>The average of every token's hidden state (sentence-transformers' mean pooling).</summary>
    Mean = 1,
    /// <summary>The hidden state of the first token ([CLS] for BERT; bge models).</summary>
    Cls = 2,
    /// <summary>The hidden state of the last token (decoder embedders such as Qwen3-Embedding, whose last token is causal-complete).</summary>
    Last = 3,
    /// <summary>A reranker's relevance score: a classification head over [CLS] (bert cross-encoders; see <see cref="SuironReranker"/>).</summary>
    Rank = 4,
}

/// <summary>
/// A model that turns tokens into an embedding vector: BERT-style encoders and decoder LLMs used as embedders.
/// <see cref="Embed"/> returns the pooled vector L2-normalized by default, as llama.cpp's embedding example and server
/// do (<c>embd_normalize = 2</c>); llama.cpp's own <c>llama_get_embeddings_seq</c> is the unnormalized vector
/// (<c>normalize: false</c>). One call at a time runs; concurrent callers wait for each other.
/// </summary>
public interface IEmbeddingModel : IDisposable
{
    /// <summary>The GGUF <c>general.architecture</c>.</summary>
    string Architecture { get; }

    /// <summary>Length of an embedding vector (the model's hidden width).</summary>
    int Dimensions { get; }

    /// <summary>The longest input in tokens (BERT: its position embeddings; decoders: the context size).</summary>
    int MaxTokens { get; }

    /// <summary>How <see cref="Embed"/> pools; never <see cref="EmbeddingPooling.Unspecified"/>.</summary>
    EmbeddingPooling Pooling { get; }

    /// <summary>
    /// The final hidden state of every token, row-major (<c>tokens.Length × Dimensions</c>), unnormalized: what
    /// llama.cpp returns per token with pooling none.
    /// </summary>
    float[] EmbedTokens(ReadOnlySpan<int> tokens);

    /// <summary>
    /// The embedding of <paramref name="tokens"/>: the hidden states pooled by <see cref="Pooling"/>, then divided by
    /// their Euclidean norm unless <paramref name="normalize"/> is false. Throws <see cref="InvalidOperationException"/>
    /// when the pooling is <see cref="EmbeddingPooling.None"/> (use <see cref="EmbedTokens"/>) and
    /// <see cref="ArgumentException"/> for an empty or too long input.
    /// </summary>
    float[] Embed(ReadOnlySpan<int> tokens, bool normalize = true)
    {
        if (Pooling == EmbeddingPooling.None)
            throw new InvalidOperationException("This model's pooling is 'none': it has one vector per token (EmbedTokens), not one per input.");
        float[] pooled = EmbeddingMath.Pool(EmbedTokens(tokens), tokens.Length, Dimensions, Pooling);
        if (normalize) EmbeddingMath.Normalize(pooled);
        return pooled;
    }
}
