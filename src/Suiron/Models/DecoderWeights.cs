using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// One transformer block's weights. Matrices stay views into the GGUF map in their stored type (shapes in
/// rows × columns, i.e. output × input); norms and biases are small and decoded to F32 once.
/// </summary>
internal sealed record DecoderLayerWeights(
    float[] AttentionNorm,   // (embedding)
    Tensor Query,            // (heads · keyLength, embedding)
    Tensor Key,              // (kvHeads · keyLength, embedding)
    Tensor Value,            // (kvHeads · valueLength, embedding)
    Tensor Output,           // (embedding, heads · valueLength)
    float[]? QueryBias,      // (heads · keyLength)
    float[]? KeyBias,        // (kvHeads · keyLength)
    float[]? ValueBias,      // (kvHeads · valueLength)
    float[]? QueryNorm,      // (keyLength), shared by all heads
    float[]? KeyNorm,        // (keyLength)
    float[] FeedForwardNorm, // (embedding)
    Tensor Gate,             // (feedForward, embedding)
    Tensor Up,               // (feedForward, embedding)
    Tensor Down);            // (embedding, feedForward)

/// <summary>All weights of a decoder, with the tensor names of llama.cpp's GGUF convention in one place.</summary>
internal sealed record DecoderWeights(
    Tensor TokenEmbedding,   // (vocab, embedding)
    float[] OutputNorm,      // (embedding)
    Tensor Output,           // (vocab, embedding); the token embedding itself when tied
    float[]? RopeFrequencyFactors, // (ropeDimensions / 2)
    DecoderLayerWeights[] Layers)
{
    public int VocabSize => checked((int)TokenEmbedding.Rows);

    /// <summary>Every tensor element, counted once (a tied output is not counted twice).</summary>
    public long ParameterCount { get; init; }

    public static DecoderWeights Load(GgufFile file, TransformerHyperParameters h, DecoderArchitecture architecture)
    {
        var reader = new WeightReader(file);
        int embedding = h.EmbeddingLength;
        int queryWidth = h.HeadCount * h.KeyLength, keyWidth = h.KvHeadCount * h.KeyLength, valueWidth = h.KvHeadCount * h.ValueLength;

        var (tokenEmbedding, vocab) = reader.TokenEmbedding(embedding);

        var layers = new DecoderLayerWeights[h.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"blk.{i}.";
            bool qkNorm = architecture.QueryKeyNorm;
            // Architectures that declare Q/K/V biases require them; the others (llama) take them when a file has them, as llama.cpp does.
            float[]? Bias(string name, int width) =>
                architecture.QueryKeyValueBias ? reader.Vector(name, width) : reader.OptionalVector(name, width);
            layers[i] = new DecoderLayerWeights(
                AttentionNorm: reader.Vector(p + "attn_norm.weight", embedding),
                Query: reader.Matrix(p + "attn_q.weight", embedding, queryWidth),
                Key: reader.Matrix(p + "attn_k.weight", embedding, keyWidth),
                Value: reader.Matrix(p + "attn_v.weight", embedding, valueWidth),
                Output: reader.Matrix(p + "attn_output.weight", h.HeadCount * h.ValueLength, embedding),
                QueryBias: Bias(p + "attn_q.bias", queryWidth),
                KeyBias: Bias(p + "attn_k.bias", keyWidth),
                ValueBias: Bias(p + "attn_v.bias", valueWidth),
                QueryNorm: qkNorm ? reader.Vector(p + "attn_q_norm.weight", h.KeyLength) : null,
                KeyNorm: qkNorm ? reader.Vector(p + "attn_k_norm.weight", h.KeyLength) : null,
                FeedForwardNorm: reader.Vector(p + "ffn_norm.weight", embedding),
                Gate: reader.Matrix(p + "ffn_gate.weight", embedding, h.FeedForwardLength),
                Up: reader.Matrix(p + "ffn_up.weight", embedding, h.FeedForwardLength),
                Down: reader.Matrix(p + "ffn_down.weight", h.FeedForwardLength, embedding));
        }

        Tensor output = reader.OutputProjection(embedding, vocab, tokenEmbedding);
        float[]? frequencyFactors = architecture.RopeFrequencyFactors ? reader.OptionalVector("rope_freqs.weight", h.Rope.Dimensions / 2) : null;
        float[] outputNorm = reader.Vector("output_norm.weight", embedding);
        reader.EnsureAllUsed(architecture.Name);

        return new DecoderWeights(tokenEmbedding, outputNorm, output, frequencyFactors, layers)
        {
            ParameterCount = file.Tensors.Sum(t => t.ElementCount),
        };
    }
}
