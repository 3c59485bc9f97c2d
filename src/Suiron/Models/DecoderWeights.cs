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
        var reader = new Reader(file);
        int embedding = h.EmbeddingLength;
        int queryWidth = h.HeadCount * h.KeyLength, keyWidth = h.KvHeadCount * h.KeyLength, valueWidth = h.KvHeadCount * h.ValueLength;

        Tensor tokenEmbedding = file.GetTensor("token_embd.weight");
        if (tokenEmbedding.Shape.Length != 2 || tokenEmbedding.Shape[0] != embedding)
            throw reader.WrongShape(tokenEmbedding, $"[{embedding}, vocab]");
        int vocab = checked((int)tokenEmbedding.Shape[1]);

        var layers = new DecoderLayerWeights[h.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"blk.{i}.";
            bool bias = architecture.QueryKeyValueBias, qkNorm = architecture.QueryKeyNorm;
            layers[i] = new DecoderLayerWeights(
                AttentionNorm: reader.Vector(p + "attn_norm.weight", embedding),
                Query: reader.Matrix(p + "attn_q.weight", embedding, queryWidth),
                Key: reader.Matrix(p + "attn_k.weight", embedding, keyWidth),
                Value: reader.Matrix(p + "attn_v.weight", embedding, valueWidth),
                Output: reader.Matrix(p + "attn_output.weight", h.HeadCount * h.ValueLength, embedding),
                QueryBias: bias ? reader.Vector(p + "attn_q.bias", queryWidth) : null,
                KeyBias: bias ? reader.Vector(p + "attn_k.bias", keyWidth) : null,
                ValueBias: bias ? reader.Vector(p + "attn_v.bias", valueWidth) : null,
                QueryNorm: qkNorm ? reader.Vector(p + "attn_q_norm.weight", h.KeyLength) : null,
                KeyNorm: qkNorm ? reader.Vector(p + "attn_k_norm.weight", h.KeyLength) : null,
                FeedForwardNorm: reader.Vector(p + "ffn_norm.weight", embedding),
                Gate: reader.Matrix(p + "ffn_gate.weight", embedding, h.FeedForwardLength),
                Up: reader.Matrix(p + "ffn_up.weight", embedding, h.FeedForwardLength),
                Down: reader.Matrix(p + "ffn_down.weight", h.FeedForwardLength, embedding));
        }

        // No output.weight means the output projection is tied to the token embedding.
        Tensor output = file.HasTensor("output.weight") ? reader.Matrix("output.weight", embedding, vocab) : tokenEmbedding;
        float[]? frequencyFactors = architecture.RopeFrequencyFactors && file.HasTensor("rope_freqs.weight")
            ? reader.Vector("rope_freqs.weight", h.Rope.Dimensions / 2)
            : null;

        return new DecoderWeights(tokenEmbedding, reader.Vector("output_norm.weight", embedding), output, frequencyFactors, layers)
        {
            ParameterCount = file.Tensors.Sum(t => t.ElementCount),
        };
    }

    private readonly struct Reader(GgufFile file)
    {
        /// <summary>A 2-D weight of <paramref name="rows"/> rows of <paramref name="columns"/> (ggml shape [columns, rows]).</summary>
        public Tensor Matrix(string name, int columns, int rows)
        {
            Tensor t = file.GetTensor(name);
            if (t.Shape.Length != 2 || t.Shape[0] != columns || t.Shape[1] != rows)
                throw WrongShape(t, $"[{columns}, {rows}]");
            return t;
        }

        /// <summary>A 1-D tensor decoded to F32.</summary>
        public float[] Vector(string name, int length)
        {
            Tensor t = file.GetTensor(name);
            if (t.Shape.Length != 1 || t.Shape[0] != length)
                throw WrongShape(t, $"[{length}]");
            var values = new float[length];
            unsafe { Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)), values); }
            return values;
        }

        public GgufException WrongShape(Tensor t, string expected) =>
            new($"Tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], expected {expected} for this model's hyper-parameters", -1, file.Path);
    }
}
