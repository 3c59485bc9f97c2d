using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// A pre-norm decoder-only transformer (the Llama family): token embedding, then per block
/// <c>h += Attention(RmsNorm(h)); h += SwiGluMlp(RmsNorm(h))</c>, then a final RmsNorm and the output projection.
/// What varies between architectures (RoPE layout, QKV bias, QK-norm …) is declared in <see cref="DecoderArchitecture"/>.
/// A batch of tokens goes through every matmul together (prompt processing is compute-bound, one weight pass
/// serves all tokens); a single token is the same code with a batch of one.
/// </summary>
internal sealed class Decoder : ILanguageModel
{
    /// <summary>Tokens per pass through the layers; longer inputs are split, which bounds the scratch memory.</summary>
    internal const int MaxBatch = 256;

    private readonly TransformerHyperParameters _h;
    private readonly DecoderArchitecture _architecture;
    private readonly DecoderWeights _weights;
    private readonly Rope _rope;
    private readonly WorkerPool _pool;
    private readonly KvCacheType _cacheType;
    private readonly float _attentionScale;
    private Scratch _scratch = new(0, null!);

    public Decoder(GgufFile file, DecoderArchitecture architecture, ModelOptions options)
    {
        if (file.Architecture != architecture.Name)
            throw new ArgumentException($"The file's architecture is '{file.Architecture}', not '{architecture.Name}'.", nameof(file));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContextSize);

        _architecture = architecture;
        _h = TransformerHyperParameters.Parse(file);
        _weights = DecoderWeights.Load(file, _h, architecture);
        _rope = new Rope(_h.Rope, architecture.RopeStyle, _weights.RopeFrequencyFactors);
        _attentionScale = 1f / MathF.Sqrt(_h.KeyLength);
        _cacheType = options.CacheType;
        _pool = new WorkerPool(options.Threads);

        int contextSize = options.ContextSize > 0 ? options.ContextSize : Math.Min(_h.ContextLength, ModelOptions.DefaultContextCap);
        long bytesPerToken = (long)_h.LayerCount * _h.KvHeadCount * (_h.KeyLength + _h.ValueLength) * (_cacheType == KvCacheType.F16 ? 2 : 4);
        Info = new ModelInfo(architecture.Name, _h, _weights.VocabSize, _h.ContextLength, contextSize, bytesPerToken, _weights.ParameterCount);
    }

    public ModelInfo Info { get; }

    private int QueryWidth => _h.HeadCount * _h.KeyLength;
    private int KeyWidth => _h.KvHeadCount * _h.KeyLength;
    private int ValueWidth => _h.KvHeadCount * _h.ValueLength;

    public KvCache CreateCache(int maxTokens) => new(_h.LayerCount, KeyWidth, ValueWidth, maxTokens, _cacheType);

    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits = false)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.IsEmpty) throw new ArgumentException("No tokens to evaluate.", nameof(tokens));
        if (cache.LayerCount != _h.LayerCount || cache.KeyWidth != KeyWidth || cache.ValueWidth != ValueWidth)
            throw new ArgumentException("The cache was created by a model of another shape.", nameof(cache));
        int vocab = _weights.VocabSize;
        foreach (int token in tokens)
            if ((uint)token >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {token} is outside the vocabulary of {vocab}.");
        long needed = allLogits ? (long)tokens.Length * vocab : vocab;
        if (logits.Length < needed)
            throw new ArgumentException($"The logits buffer holds {logits.Length} floats; {needed} are needed.", nameof(logits));
        cache.EnsureRoom(tokens.Length);

        for (int start = 0; start < tokens.Length; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, tokens.Length - start);
            bool isLast = start + count == tokens.Length;
            int outputRows = allLogits ? count : isLast ? 1 : 0;
            Span<float> batchLogits = allLogits ? logits.Slice(start * vocab, count * vocab) : isLast ? logits[..vocab] : default;
            ForwardBatch(tokens.Slice(start, count), cache, batchLogits, outputRows);
        }
    }

    /// <summary>Runs one batch through every layer, appends it to the cache, and projects the last <paramref name="outputRows"/> rows to logits.</summary>
    private void ForwardBatch(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, int outputRows)
    {
        int n = tokens.Length, embedding = _h.EmbeddingLength;
        Scratch s = ScratchFor(n);
        Span<float> hidden = s.Hidden.AsSpan(0, n * embedding);   // (n, embedding): the residual stream
        Span<float> normed = s.Normed.AsSpan(0, n * embedding);   // (n, embedding)
        Span<float> sublayer = s.Sublayer.AsSpan(0, n * embedding); // (n, embedding): attention or MLP output

        Tensor embeddings = _weights.TokenEmbedding;
        for (int i = 0; i < n; i++)
            Quantization.Dequantize(embeddings.Type, embeddings.Row(tokens[i]), hidden.Slice(i * embedding, embedding));

        for (int layer = 0; layer < _h.LayerCount; layer++)
        {
            DecoderLayerWeights w = _weights.Layers[layer];
            RmsNorm.Apply(hidden, w.AttentionNorm, _h.RmsNormEpsilon, normed);
            SelfAttention(layer, w, normed, n, cache, s, sublayer);
            Add(hidden, sublayer);

            RmsNorm.Apply(hidden, w.FeedForwardNorm, _h.RmsNormEpsilon, normed);
            FeedForward(w, normed, n, s, sublayer);
            Add(hidden, sublayer);
        }
        cache.Advance(n);

        if (outputRows == 0) return;
        Span<float> lastRows = normed.Slice((n - outputRows) * embedding, outputRows * embedding);
        RmsNorm.Apply(hidden.Slice((n - outputRows) * embedding, outputRows * embedding), _weights.OutputNorm, _h.RmsNormEpsilon, lastRows);
        MatMul.Compute(_weights.Output, lastRows, logits[..(outputRows * _weights.VocabSize)], outputRows, _pool);
    }

    private void SelfAttention(int layer, DecoderLayerWeights w, ReadOnlySpan<float> input, int n, KvCache cache, Scratch s, Span<float> output)
    {
        int keyLength = _h.KeyLength, valueLength = _h.ValueLength;
        Span<float> queries = s.Query.AsSpan(0, n * QueryWidth);   // (n, heads · keyLength)
        Span<float> keys = s.Key.AsSpan(0, n * KeyWidth);          // (n, kvHeads · keyLength)
        Span<float> values = s.Value.AsSpan(0, n * ValueWidth);    // (n, kvHeads · valueLength)
        Span<float> mixed = s.Attended.AsSpan(0, n * _h.HeadCount * valueLength); // (n, heads · valueLength)

        MatMul.Compute(w.Query, input, queries, n, _pool);
        MatMul.Compute(w.Key, input, keys, n, _pool);
        MatMul.Compute(w.Value, input, values, n, _pool);
        if (w.QueryBias is not null) AddToRows(queries, w.QueryBias);
        if (w.KeyBias is not null) AddToRows(keys, w.KeyBias);
        if (w.ValueBias is not null) AddToRows(values, w.ValueBias);
        if (w.QueryNorm is not null) RmsNorm.Apply(queries, w.QueryNorm, _h.RmsNormEpsilon, queries); // per head: rows of keyLength
        if (w.KeyNorm is not null) RmsNorm.Apply(keys, w.KeyNorm, _h.RmsNormEpsilon, keys);

        int firstPosition = cache.Count;
        for (int i = 0; i < n; i++)
        {
            _rope.Angles(firstPosition + i, s.CosSin);
            _rope.Apply(queries.Slice(i * QueryWidth, QueryWidth), keyLength, s.CosSin);
            _rope.Apply(keys.Slice(i * KeyWidth, KeyWidth), keyLength, s.CosSin);
        }
        Store(cache, layer, firstPosition, keys, values);

        // Every (token, head) pair is independent: spread them over the pool (decode has heads items, a prompt n × heads).
        var work = new AttentionWork
        {
            Queries = s.Query, Mixed = s.Attended, Cache = cache, Layer = layer, FirstPosition = firstPosition,
            Heads = _h.HeadCount, GroupSize = _h.GroupSize, KeyLength = keyLength, ValueLength = valueLength,
            QueryWidth = QueryWidth, Scale = _attentionScale,
        };
        _pool.For(n * _h.HeadCount, ref work, (long)n * _h.HeadCount * (firstPosition + n) * (keyLength + valueLength));

        MatMul.Compute(w.Output, mixed, output, n, _pool);
    }

    private void FeedForward(DecoderLayerWeights w, ReadOnlySpan<float> input, int n, Scratch s, Span<float> output)
    {
        int width = _h.FeedForwardLength;
        Span<float> gate = s.Gate.AsSpan(0, n * width); // (n, feedForward)
        Span<float> up = s.Up.AsSpan(0, n * width);     // (n, feedForward)
        MatMul.Compute(w.Gate, input, gate, n, _pool);
        MatMul.Compute(w.Up, input, up, n, _pool);
        SwiGlu.Apply(gate, up);
        MatMul.Compute(w.Down, gate, output, n, _pool);
    }

    /// <summary>Attention of a range of (token, head) pairs; scratch is per thread, allocated once and grown with the context.</summary>
    private struct AttentionWork : IParallelWork
    {
        [ThreadStatic] private static float[]? scores;
        [ThreadStatic] private static float[]? queryHalf;

        public float[] Queries, Mixed;
        public KvCache Cache;
        public int Layer, FirstPosition, Heads, GroupSize, KeyLength, ValueLength, QueryWidth;
        public float Scale;

        public readonly void Execute(int start, int end)
        {
            if (scores is null || scores.Length < Cache.Capacity) scores = new float[Cache.Capacity];
            if (queryHalf is null || queryHalf.Length < KeyLength) queryHalf = new float[KeyLength];
            for (int item = start; item < end; item++)
            {
                int token = item / Heads, head = item % Heads;
                int length = FirstPosition + token + 1; // causal: a token sees itself and everything before it
                Attention.Head(
                    Queries.AsSpan(token * QueryWidth + head * KeyLength, KeyLength), Cache, Layer, head / GroupSize, length, Scale,
                    scores, queryHalf, Mixed.AsSpan((token * Heads + head) * ValueLength, ValueLength));
            }
        }
    }

    /// <summary>Writes the batch's keys and values at <paramref name="firstPosition"/> onwards, rounding to the cache's type.</summary>
    private static void Store(KvCache cache, int layer, int firstPosition, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        int keyStart = firstPosition * cache.KeyWidth, valueStart = firstPosition * cache.ValueWidth;
        if (cache.Type == KvCacheType.F16)
        {
            Span<Half> keyCache = cache.KeysF16(layer).Slice(keyStart, keys.Length);
            Span<Half> valueCache = cache.ValuesF16(layer).Slice(valueStart, values.Length);
            VectorOps.SingleToHalf(keys, keyCache);
            VectorOps.SingleToHalf(values, valueCache);
        }
        else
        {
            keys.CopyTo(cache.KeysF32(layer).Slice(keyStart, keys.Length));
            values.CopyTo(cache.ValuesF32(layer).Slice(valueStart, values.Length));
        }
    }

    private static void Add(Span<float> target, ReadOnlySpan<float> addend) => VectorOps.Add(target, addend, target);

    private static void AddToRows(Span<float> rows, ReadOnlySpan<float> bias)
    {
        for (int start = 0; start < rows.Length; start += bias.Length) Add(rows.Slice(start, bias.Length), bias);
    }

    /// <summary>Scratch for a batch of <paramref name="tokens"/>; grows to the largest batch seen (at most <see cref="MaxBatch"/>) and is then reused.</summary>
    private Scratch ScratchFor(int tokens)
    {
        if (_scratch.Tokens < tokens) _scratch = new Scratch(tokens, _h);
        return _scratch;
    }

    /// <summary>Activation buffers for one batch, sized for the largest batch seen.</summary>
    private sealed class Scratch
    {
        public readonly int Tokens;
        public readonly float[] Hidden = [], Normed = [], Sublayer = [], Query = [], Key = [], Value = [], Attended = [], Gate = [], Up = [], CosSin = [];

        public Scratch(int tokens, TransformerHyperParameters h)
        {
            Tokens = tokens;
            if (tokens == 0) return;
            Hidden = new float[tokens * h.EmbeddingLength];
            Normed = new float[tokens * h.EmbeddingLength];
            Sublayer = new float[tokens * h.EmbeddingLength];
            Query = new float[tokens * h.HeadCount * h.KeyLength];
            Key = new float[tokens * h.KvHeadCount * h.KeyLength];
            Value = new float[tokens * h.KvHeadCount * h.ValueLength];
            Attended = new float[tokens * h.HeadCount * h.ValueLength];
            Gate = new float[tokens * h.FeedForwardLength];
            Up = new float[tokens * h.FeedForwardLength];
            CosSin = new float[h.Rope.Dimensions];
        }
    }

    public void Dispose() => _pool.Dispose();
}
