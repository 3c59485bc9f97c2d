namespace Suiron.Embeddings;

/// <summary>Pooling and normalization with llama.cpp's arithmetic (llama-graph's build_pooling, common_embd_normalize).</summary>
public static class EmbeddingMath
{
    /// <summary>
    /// One vector from <paramref name="tokens"/> rows of <paramref name="dimensions"/> hidden states. Mean pooling
    /// multiplies each row by 1/n and sums, as llama.cpp's matmul with its averaging matrix does.
    /// </summary>
    public static float[] Pool(ReadOnlySpan<float> hidden, int tokens, int dimensions, EmbeddingPooling pooling)
    {
        if (tokens <= 0) throw new ArgumentOutOfRangeException(nameof(tokens), "No tokens to pool.");
        if (hidden.Length < (long)tokens * dimensions) throw new ArgumentException($"hidden needs {tokens} × {dimensions} floats.", nameof(hidden));
        var pooled = new float[dimensions];
        switch (pooling)
        {
            case EmbeddingPooling.Mean:
                float weight = 1f / tokens;
                for (int t = 0; t < tokens; t++)
                {
                    ReadOnlySpan<float> row = hidden.Slice(t * dimensions, dimensions);
                    for (int d = 0; d < dimensions; d++) pooled[d] += row[d] * weight;
                }
                break;
            case EmbeddingPooling.Cls:
                hidden[..dimensions].CopyTo(pooled);
                break;
            case EmbeddingPooling.Last:
                hidden.Slice((tokens - 1) * dimensions, dimensions).CopyTo(pooled);
                break;
            default:
                throw new NotSupportedException($"Pooling '{pooling}' does not give one vector per input (supported: mean, cls, last).");
        }
        return pooled;
    }

    /// <summary>Divides <paramref name="vector"/> by its Euclidean norm (summed in double); a zero vector stays zero.</summary>
    public static void Normalize(Span<float> vector)
    {
        double sum = 0;
        foreach (float v in vector) sum += v * v;
        double norm = Math.Sqrt(sum);
        float scale = norm > 0 ? (float)(1.0 / norm) : 0f;
        for (int i = 0; i < vector.Length; i++) vector[i] *= scale;
    }

    /// <summary>Cosine similarity of two vectors of the same length (in double).</summary>
    public static double CosineSimilarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("The vectors differ in length.");
        double dot = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        return aa == 0 || bb == 0 ? 0 : dot / Math.Sqrt(aa * bb);
    }
}
