using Suiron.Embeddings;
using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// The hyper-parameters of a BERT encoder, parsed once from the GGUF keys <c>bert.*</c> with llama.cpp's defaults.
/// </summary>
public sealed record BertHyperParameters
{
    /// <summary>Rows of the position embedding: the longest input (<c>context_length</c>).</summary>
    public required int ContextLength { get; init; }
    /// <summary>Width of the hidden states.</summary>
    public required int EmbeddingLength { get; init; }
    /// <summary>Encoder layers.</summary>
    public required int LayerCount { get; init; }
    /// <summary>Hidden width of the feed-forward network.</summary>
    public required int FeedForwardLength { get; init; }
    /// <summary>Attention heads.</summary>
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads (equal to the heads in BERT models).</summary>
    public required int KvHeadCount { get; init; }
    /// <summary>Elements per head: embedding / heads.</summary>
    public required int HeadLength { get; init; }
    /// <summary>ε of every layer norm (<c>attention.layer_norm_epsilon</c>; 1e-12 in most BERT checkpoints).</summary>
    public required float LayerNormEpsilon { get; init; }
    /// <summary>Whether a token sees only the tokens before it (<c>attention.causal</c>; false for BERT).</summary>
    public required bool Causal { get; init; }
    /// <summary>The file's <c>pooling_type</c>; llama.cpp's default when absent is none.</summary>
    public required EmbeddingPooling Pooling { get; init; }

    /// <summary>The hyper-parameters <paramref name="file"/> declares, checked and with llama.cpp's defaults.</summary>
    public static BertHyperParameters Parse(GgufFile file)
    {
        string arch = file.Architecture;
        string Key(string name) => arch + "." + name;
        int embedding = TransformerHyperParameters.Width(file, Key("embedding_length"), file.GetInt32(Key("embedding_length")));
        TransformerHyperParameters.CheckEmbeddingMatchesTokenEmbedding(file, Key("embedding_length"), embedding);
        int heads = TransformerHyperParameters.Ranged(file, Key("attention.head_count"), file.GetInt32(Key("attention.head_count")), TransformerHyperParameters.MaxHeads);
        int kvHeads = TransformerHyperParameters.Ranged(file, Key("attention.head_count_kv"), file.GetInt32(Key("attention.head_count_kv"), heads), TransformerHyperParameters.MaxHeads);
        if (embedding % heads != 0 || heads % kvHeads != 0)
            throw new GgufException($"{Key("embedding_length")} ({embedding}), head_count ({heads}) and head_count_kv ({kvHeads}) do not divide", -1, file.Path);
        int pooling = file.GetInt32(Key("pooling_type"), (int)EmbeddingPooling.None);
        if (pooling is < 0 or > 4) throw new GgufException($"{Key("pooling_type")} = {pooling} is not a pooling type (0..4)", -1, file.Path);
        return new BertHyperParameters
        {
            ContextLength = TransformerHyperParameters.Ranged(file, Key("context_length"), file.GetInt32(Key("context_length")), TransformerHyperParameters.MaxContextLength),
            EmbeddingLength = embedding,
            LayerCount = TransformerHyperParameters.BlockCount(file, Key("block_count")),
            FeedForwardLength = TransformerHyperParameters.Width(file, Key("feed_forward_length"), file.GetInt32(Key("feed_forward_length"))),
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadLength = embedding / heads,
            LayerNormEpsilon = file.GetFloat(Key("attention.layer_norm_epsilon")),
            Causal = file.GetBool(Key("attention.causal"), false),
            Pooling = (EmbeddingPooling)pooling,
        };
    }
}

/// <summary>A linear map y = W x + b over a range of W's rows (a whole matrix, or Q, K or V of a fused QKV matrix).</summary>
internal sealed record Projection(Tensor Weight, long FirstRow, int Rows, float[]? Bias)
{
    public void Apply(ReadOnlySpan<float> input, Span<float> output, int tokens, WorkerPool pool)
    {
        MatMul.Compute(Weight, FirstRow, Rows, input, output, tokens, pool);
        if (Bias is null) return;
        for (int t = 0; t < tokens; t++)
        {
            Span<float> row = output.Slice(t * Rows, Rows);
            for (int i = 0; i < Rows; i++) row[i] += Bias[i];
        }
    }
}

/// <summary>One encoder layer's weights (GGUF names <c>blk.N.*</c>).</summary>
internal sealed record BertLayerWeights(
    Projection Query,               // (heads · head) × embedding
    Projection Key,                 // (kvHeads · head) × embedding
    Projection Value,               // (kvHeads · head) × embedding
    Projection Output,              // embedding × embedding: attn_output (+ bias)
    LayerNormWeights AttentionNorm, // attn_output_norm
    Projection Up,                  // feedForward × embedding: ffn_up (+ bias)
    Projection Down,                // embedding × feedForward: ffn_down (+ bias)
    LayerNormWeights OutputNorm);   // layer_output_norm

/// <summary>
/// BERT (Devlin et al. 2019) as sentence-embedding checkpoints use it (bge, MiniLM, e5, all-MiniLM …), following
/// llama.cpp's <c>bert</c> graph: the input is the sum of token, token-type (type 0, "sentence A") and learned position
/// embeddings, layer-normed; each post-norm layer is
/// <c>h = LayerNorm(h + Attention(h)); h = LayerNorm(h + Down(GELU(Up(h))))</c> with biases everywhere and
/// bidirectional attention over the whole input (no cache: an input is encoded in one pass). The output is the last
/// layer's hidden state per token; pooling (<c>bert.pooling_type</c>) turns it into one vector.
/// </summary>
internal sealed class Bert : IEmbeddingModel
{
    public const string ArchitectureName = "bert";

    private readonly BertHyperParameters _h;
    private readonly Tensor _tokenEmbedding;    // (vocab, embedding)
    private readonly Tensor _positionEmbedding; // (contextLength, embedding)
    private readonly float[]? _tokenType;       // (embedding): row 0 of token_types, the type of every token here
    private readonly LayerNormWeights _embeddingNorm;
    private readonly BertLayerWeights[] _layers;
    private readonly Projection? _classifier;       // (hidden, embedding) + bias, then tanh: a reranker's dense head over [CLS] (cls.*)
    private readonly Projection? _classifierOutput; // (labels, hidden) + bias: its scores (cls.output.*)
    private readonly WorkerPool _pool;
    private readonly float _attentionScale;
    private readonly object _gate = new();

    public Bert(GgufFile file, ModelOptions options, EmbeddingPooling pooling = EmbeddingPooling.Unspecified)
    {
        if (file.Architecture != ArchitectureName)
            throw new ArgumentException($"The file's architecture is '{file.Architecture}', not '{ArchitectureName}'.", nameof(file));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        _h = BertHyperParameters.Parse(file);
        Pooling = pooling == EmbeddingPooling.Unspecified ? _h.Pooling : pooling;

        var reader = new WeightReader(file);
        int e = _h.EmbeddingLength, kv = _h.KvHeadCount * _h.HeadLength, f = _h.FeedForwardLength;
        // A cross-encoder reranker's classification head, as llama.cpp's rank pooling applies it: an optional dense
        // layer with tanh (RoBERTa-style, "cls"), then the projection to the scores ("cls.output").
        if (file.TryGetTensor("cls.weight") is { } dense) _classifier = Linear(reader, "cls", e, checked((int)dense.Rows));
        if (file.TryGetTensor("cls.output.weight") is { } scores)
            _classifierOutput = Linear(reader, "cls.output", _classifier?.Rows ?? e, checked((int)scores.Rows));
        if (Pooling == EmbeddingPooling.Rank && _classifier is null && _classifierOutput is null)
            throw new NotSupportedException("Rank pooling needs a reranker's classification head (cls.weight or cls.output.weight); this file has none.");
        (_tokenEmbedding, VocabSize) = reader.TokenEmbedding(e);
        _positionEmbedding = reader.Matrix("position_embd.weight", e, _h.ContextLength);
        if (file.TryGetTensor("token_types.weight") is { } types)
        {
            if (types.Shape.Length != 2 || types.Columns != e) throw reader.WrongShape(types, $"[{e}, token types]");
            _tokenType = WeightReader.DecodeRows(types, 0, 1);
        }
        _embeddingNorm = Norm(reader, "token_embd_norm", e);

        _layers = new BertLayerWeights[_h.LayerCount];
        for (int i = 0; i < _layers.Length; i++)
        {
            string p = $"blk.{i}.";
            Projection query, key, value;
            if (reader.Has(p + "attn_qkv.weight"))
            {
                Tensor qkv = reader.Matrix(p + "attn_qkv.weight", e, e + 2 * kv); // rows: Q, then K, then V
                float[]? bias = reader.OptionalVector(p + "attn_qkv.bias", e + 2 * kv);
                query = new Projection(qkv, 0, e, bias?[..e]);
                key = new Projection(qkv, e, kv, bias?[e..(e + kv)]);
                value = new Projection(qkv, e + kv, kv, bias?[(e + kv)..]);
            }
            else
            {
                query = Linear(reader, p + "attn_q", e, e);
                key = Linear(reader, p + "attn_k", e, kv);
                value = Linear(reader, p + "attn_v", e, kv);
            }
            _layers[i] = new BertLayerWeights(
                query, key, value,
                Output: Linear(reader, p + "attn_output", e, e),
                AttentionNorm: Norm(reader, p + "attn_output_norm", e),
                Up: Linear(reader, p + "ffn_up", e, f),
                Down: Linear(reader, p + "ffn_down", f, e),
                OutputNorm: Norm(reader, p + "layer_output_norm", e));
        }
        _attentionScale = 1f / MathF.Sqrt(_h.HeadLength);
        _pool = new WorkerPool(options.Threads);
    }

    public BertHyperParameters HyperParameters => _h;
    public string Architecture => ArchitectureName;
    public int Dimensions => _h.EmbeddingLength;
    public int MaxTokens => _h.ContextLength;
    public int VocabSize { get; }
    public EmbeddingPooling Pooling { get; }

    /// <summary>Scores a rank-pooled input yields (the classification head's outputs; 1 for a reranker), 0 without a head.</summary>
    public int RankOutputs => _classifierOutput?.Rows ?? _classifier?.Rows ?? 0;

    /// <summary>
    /// As <see cref="IEmbeddingModel.Embed"/>; with rank pooling, the classification head's scores over the first
    /// token's hidden state (<see cref="RankOutputs"/> of them, never normalized), as llama.cpp's rank pooling.
    /// </summary>
    public float[] Embed(ReadOnlySpan<int> tokens, bool normalize = true)
    {
        if (Pooling != EmbeddingPooling.Rank)
        {
            if (Pooling == EmbeddingPooling.None)
                throw new InvalidOperationException("This model's pooling is 'none': it has one vector per token (EmbedTokens), not one per input.");
            float[] pooled = EmbeddingMath.Pool(EmbedTokens(tokens), tokens.Length, Dimensions, Pooling);
            if (normalize) EmbeddingMath.Normalize(pooled);
            return pooled;
        }
        float[] cls = EmbedTokens(tokens)[..Dimensions];
        if (_classifier is not null)
        {
            var dense = new float[_classifier.Rows];
            lock (_gate) _classifier.Apply(cls, dense, 1, _pool);
            for (int i = 0; i < dense.Length; i++) dense[i] = MathF.Tanh(dense[i]);
            cls = dense;
        }
        if (_classifierOutput is null) return cls;
        var scores = new float[_classifierOutput.Rows];
        lock (_gate) _classifierOutput.Apply(cls, scores, 1, _pool);
        return scores;
    }

    private static Projection Linear(WeightReader reader, string name, int columns, int rows) =>
        new(reader.Matrix(name + ".weight", columns, rows), 0, rows, reader.OptionalVector(name + ".bias", rows));

    private static LayerNormWeights Norm(WeightReader reader, string name, int width) =>
        new(reader.Vector(name + ".weight", width), reader.Vector(name + ".bias", width));

    public float[] EmbedTokens(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("No tokens to embed.", nameof(tokens));
        if (tokens.Length > MaxTokens)
            throw new ArgumentException($"The input has {tokens.Length} tokens; this model takes at most {MaxTokens}.", nameof(tokens));
        foreach (int token in tokens)
            if ((uint)token >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {token} is outside the vocabulary of {VocabSize}.");
        lock (_gate) return Encode(tokens);
    }

    /// <summary>The whole input through the embeddings and every layer; returns (n, embedding) hidden states.</summary>
    private float[] Encode(ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length, e = _h.EmbeddingLength, f = _h.FeedForwardLength;
        int queryWidth = _h.HeadCount * _h.HeadLength, kvWidth = _h.KvHeadCount * _h.HeadLength;
        var hidden = new float[n * e];          // (n, embedding): the stream between layers
        var attended = new float[n * e];        // (n, embedding): after attention + residual + norm (the FFN input)
        var sublayer = new float[n * e];        // (n, embedding): a sublayer's output before its residual
        var queries = new float[n * queryWidth]; // (n, heads · head)
        var keys = new float[n * kvWidth];      // (n, kvHeads · head)
        var values = new float[n * kvWidth];    // (n, kvHeads · head)
        var mixed = new float[n * queryWidth];  // (n, heads · head): attention output per head
        var up = new float[n * f];              // (n, feedForward)

        var position = new float[e];
        for (int t = 0; t < n; t++)
        {
            Span<float> row = hidden.AsSpan(t * e, e);
            Quantization.Dequantize(_tokenEmbedding.Type, _tokenEmbedding.Row(tokens[t]), row);
            if (_tokenType is not null) for (int i = 0; i < e; i++) row[i] += _tokenType[i];
            Quantization.Dequantize(_positionEmbedding.Type, _positionEmbedding.Row(t), position);
            for (int i = 0; i < e; i++) row[i] = position[i] + row[i];
        }
        LayerNorm.Apply(hidden, _embeddingNorm, _h.LayerNormEpsilon, hidden);

        foreach (BertLayerWeights w in _layers)
        {
            w.Query.Apply(hidden, queries, n, _pool);
            w.Key.Apply(hidden, keys, n, _pool);
            w.Value.Apply(hidden, values, n, _pool);
            var work = new AttentionWork
            {
                Queries = queries, Keys = keys, Values = values, Mixed = mixed, Tokens = n, Causal = _h.Causal,
                Heads = _h.HeadCount, GroupSize = _h.HeadCount / _h.KvHeadCount, HeadLength = _h.HeadLength, Scale = _attentionScale,
            };
            _pool.For(n * _h.HeadCount, ref work);
            w.Output.Apply(mixed, sublayer, n, _pool);
            AddInto(sublayer, hidden, attended);
            LayerNorm.Apply(attended, w.AttentionNorm, _h.LayerNormEpsilon, attended);

            w.Up.Apply(attended, up, n, _pool);
            Gelu.Apply(up);
            w.Down.Apply(up, sublayer, n, _pool);
            AddInto(sublayer, attended, hidden);
            LayerNorm.Apply(hidden, w.OutputNorm, _h.LayerNormEpsilon, hidden);
        }
        return hidden;
    }

    private static void AddInto(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> sum)
    {
        for (int i = 0; i < sum.Length; i++) sum[i] = a[i] + b[i];
    }

    /// <summary>
    /// Scaled dot-product attention of a range of (token, head) pairs over every token of the input (over the tokens
    /// up to itself when causal): softmax(q·kᵀ · scale) · V, all in F32 as llama.cpp's cache-less path computes it.
    /// </summary>
    private struct AttentionWork : IParallelWork
    {
        [ThreadStatic] private static float[]? scores;

        public float[] Queries, Keys, Values, Mixed;
        public int Tokens, Heads, GroupSize, HeadLength;
        public bool Causal;
        public float Scale;

        public readonly void Execute(int start, int end)
        {
            if (scores is null || scores.Length < Tokens) scores = new float[Tokens];
            int queryWidth = Heads * HeadLength, kvWidth = Heads / GroupSize * HeadLength;
            for (int item = start; item < end; item++)
            {
                int token = item / Heads, head = item % Heads, kvOffset = head / GroupSize * HeadLength;
                int length = Causal ? token + 1 : Tokens;
                ReadOnlySpan<float> query = Queries.AsSpan(token * queryWidth + head * HeadLength, HeadLength);
                Span<float> s = scores.AsSpan(0, length);
                for (int j = 0; j < length; j++)
                {
                    ReadOnlySpan<float> key = Keys.AsSpan(j * kvWidth + kvOffset, HeadLength);
                    float dot = 0;
                    for (int d = 0; d < HeadLength; d++) dot += query[d] * key[d];
                    s[j] = dot * Scale;
                }
                Attention.Softmax(s);
                Span<float> output = Mixed.AsSpan(token * queryWidth + head * HeadLength, HeadLength);
                output.Clear();
                for (int j = 0; j < length; j++)
                {
                    float weight = s[j];
                    ReadOnlySpan<float> value = Values.AsSpan(j * kvWidth + kvOffset, HeadLength);
                    for (int d = 0; d < HeadLength; d++) output[d] += weight * value[d];
                }
            }
        }
    }

    public void Dispose() => _pool.Dispose();
}
