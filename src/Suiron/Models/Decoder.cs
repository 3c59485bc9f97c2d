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
internal sealed class Decoder : ILanguageModel, IHiddenStateModel
{
    /// <summary>Tokens per pass through the layers; longer inputs are split, which bounds the scratch memory.</summary>
    internal const int MaxBatch = 256;

    private readonly TransformerHyperParameters _h;
    private readonly DecoderArchitecture _architecture;
    private readonly DecoderWeights _weights;
    private readonly Rope _rope;
    private readonly WorkerPool _pool;
    private readonly KvCacheType _keyCacheType, _valueCacheType;
    private readonly float _attentionScale;
    private readonly AttentionRotation _rotation;
    private Scratch _scratch = new(0, null!);
    private int[]? _passTokens;
    private SequenceSegment[]? _segments, _singleSegment;

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
        options.CheckCacheTypes(_h.KeyLength, _h.ValueLength);
        _keyCacheType = options.KeyCacheType;
        _valueCacheType = options.ValueCacheType;
        _rotation = AttentionRotation.For(_h.KeyLength, _h.ValueLength, _keyCacheType, _valueCacheType, options.AttentionRotation, options.KeyRotationBlock);
        _pool = new WorkerPool(options.Threads);

        int contextSize = options.ContextSize > 0 ? options.ContextSize : Math.Min(_h.ContextLength, ModelOptions.DefaultContextCap);
        long bytesPerToken = _h.LayerCount * (KvCacheTypes.Bytes(_keyCacheType, KeyWidth) + KvCacheTypes.Bytes(_valueCacheType, ValueWidth));
        Info = new ModelInfo(architecture.Name, _h, _weights.VocabSize, _h.ContextLength, contextSize, bytesPerToken, _weights.ParameterCount)
        {
            KeyCacheType = _keyCacheType, ValueCacheType = _valueCacheType, AttentionRotation = _rotation.ToString(),
        };
    }

    public ModelInfo Info { get; }

    private int QueryWidth => _h.HeadCount * _h.KeyLength;
    private int KeyWidth => _h.KvHeadCount * _h.KeyLength;
    private int ValueWidth => _h.KvHeadCount * _h.ValueLength;

    public KvCache CreateCache(int maxTokens) => new(_h.LayerCount, KeyWidth, ValueWidth, maxTokens, _keyCacheType, _valueCacheType);

    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits = false) =>
        ForwardPasses.Run(tokens, cache, logits, allLogits, _weights.VocabSize, _h.LayerCount, KeyWidth, ValueWidth, MaxBatch, _pass ??= ForwardPass);

    private ForwardPasses.Pass? _pass; // cached: a method-group delegate per call would allocate on every decode step

    /// <summary>
    /// Like <see cref="Forward"/>, but writes every token's final hidden state (after the output norm, before the output
    /// projection: llama.cpp's <c>t_embd</c>, what its embeddings pool) into <paramref name="hidden"/>
    /// (tokens.Length × embedding) instead of logits. Used by decoder models as embedders.
    /// </summary>
    public void ForwardHidden(ReadOnlySpan<int> tokens, KvCache cache, Span<float> hidden)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.IsEmpty) throw new ArgumentException("No tokens to evaluate.", nameof(tokens));
        CheckShape(cache);
        foreach (int token in tokens)
            if ((uint)token >= (uint)_weights.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {token} is outside the vocabulary of {_weights.VocabSize}.");
        int embedding = _h.EmbeddingLength;
        if (hidden.Length < (long)tokens.Length * embedding)
            throw new ArgumentException($"The hidden buffer holds {hidden.Length} floats; {(long)tokens.Length * embedding} are needed.", nameof(hidden));
        cache.EnsureRoom(tokens.Length);

        SequenceSegment[] one = _singleSegment ??= new SequenceSegment[1];
        for (int start = 0; start < tokens.Length; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, tokens.Length - start);
            Scratch s = ScratchFor(count);
            one[0] = new SequenceSegment(cache, 0, count, cache.Count);
            RunLayers(tokens.Slice(start, count), one, s);
            RmsNorm.Apply(s.Hidden.AsSpan(0, count * embedding), _weights.OutputNorm, _h.RmsNormEpsilon, hidden.Slice(start * embedding, count * embedding));
        }
    }

    /// <summary>
    /// Several sequences per step: their tokens are laid end to end into passes of up to <see cref="MaxBatch"/> rows,
    /// every matmul runs once per pass over all rows, and attention reads each row's own cache at its own position.
    /// Row for row the arithmetic is that of <see cref="Forward"/>, so the logits are the same.
    /// </summary>
    public void ForwardBatch(ReadOnlySpan<SequenceTokens> items, Span<float> logits)
    {
        int vocab = _weights.VocabSize;
        SequenceBatches.Validate(items, logits.Length, vocab, _h.LayerCount, KeyWidth, ValueWidth);
        SequenceBatches.Run(items, logits, vocab, MaxBatch, _passTokens ??= new int[MaxBatch], _segments ??= new SequenceSegment[MaxBatch],
            _batchPass ??= RunPass);
    }

    private SequenceBatches.Pass? _batchPass; // cached, as _pass

    /// <summary>One pass of several sequences' rows; the logits of the last row of each of the first <paramref name="finished"/> segments.</summary>
    private void RunPass(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments, int finished, Span<float> logits)
    {
        int embedding = _h.EmbeddingLength;
        Scratch s = ScratchFor(tokens.Length);
        RunLayers(tokens, segments, s);
        if (finished == 0) return;
        Span<float> hidden = s.Hidden, normed = s.Normed;
        for (int i = 0; i < finished; i++)
        {
            int row = segments[i].Start + segments[i].Count - 1;
            RmsNorm.Apply(hidden.Slice(row * embedding, embedding), _weights.OutputNorm, _h.RmsNormEpsilon, normed.Slice(i * embedding, embedding));
        }
        MatMul.Compute(_weights.Output, normed[..(finished * embedding)], logits[..(finished * _weights.VocabSize)], finished, _pool);
    }

    private void CheckShape(KvCache cache)
    {
        if (cache.LayerCount != _h.LayerCount || cache.KeyWidth != KeyWidth || cache.ValueWidth != ValueWidth)
            throw new ArgumentException("The cache was created by a model of another shape.", nameof(cache));
    }

    /// <summary>Runs one batch through every layer, appends it to the cache, and projects the last <paramref name="outputRows"/> rows to logits.</summary>
    private void ForwardPass(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, int outputRows)
    {
        int n = tokens.Length, embedding = _h.EmbeddingLength;
        Scratch s = ScratchFor(n);
        SequenceSegment[] one = _singleSegment ??= new SequenceSegment[1];
        one[0] = new SequenceSegment(cache, 0, n, cache.Count);
        RunLayers(tokens, one, s);
        Span<float> hidden = s.Hidden.AsSpan(0, n * embedding);
        Span<float> normed = s.Normed.AsSpan(0, n * embedding);

        if (outputRows == 0) return;
        Span<float> lastRows = normed.Slice((n - outputRows) * embedding, outputRows * embedding);
        RmsNorm.Apply(hidden.Slice((n - outputRows) * embedding, outputRows * embedding), _weights.OutputNorm, _h.RmsNormEpsilon, lastRows);
        MatMul.Compute(_weights.Output, lastRows, logits[..(outputRows * _weights.VocabSize)], outputRows, _pool);
    }

    /// <summary>Embeds the rows and runs them through every layer, appending each segment to its cache; leaves the residual stream in the scratch.</summary>
    private void RunLayers(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments, Scratch s)
    {
        int n = tokens.Length, embedding = _h.EmbeddingLength;
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
            SelfAttention(layer, w, normed, n, segments, s, sublayer);
            Add(hidden, sublayer);

            RmsNorm.Apply(hidden, w.FeedForwardNorm, _h.RmsNormEpsilon, normed);
            FeedForward(w, normed, n, s, sublayer);
            Add(hidden, sublayer);
        }
        foreach (var segment in segments) segment.Cache.Advance(segment.Count);
    }

    private void SelfAttention(int layer, DecoderLayerWeights w, ReadOnlySpan<float> input, int n, ReadOnlySpan<SequenceSegment> segments, Scratch s, Span<float> output)
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

        foreach (var segment in segments)
        {
            for (int i = segment.Start; i < segment.Start + segment.Count; i++)
            {
                s.RowCache[i] = segment.Cache;
                s.RowPosition[i] = segment.FirstPosition + i - segment.Start;
                _rope.Angles(s.RowPosition[i], s.CosSin);
                _rope.Apply(queries.Slice(i * QueryWidth, QueryWidth), keyLength, s.CosSin);
                _rope.Apply(keys.Slice(i * KeyWidth, KeyWidth), keyLength, s.CosSin);
            }
            // A quantized cache stores rotated keys/values (llama.cpp's default): rotate after RoPE, before the write.
            _rotation.RotateQueriesAndKeys(queries.Slice(segment.Start * QueryWidth, segment.Count * QueryWidth), keys.Slice(segment.Start * KeyWidth, segment.Count * KeyWidth));
            _rotation.RotateValues(values.Slice(segment.Start * ValueWidth, segment.Count * ValueWidth));
            segment.Cache.Write(layer, segment.FirstPosition,
                keys.Slice(segment.Start * KeyWidth, segment.Count * KeyWidth), values.Slice(segment.Start * ValueWidth, segment.Count * ValueWidth));
        }

        // Every (token, head) pair is independent: spread them over the pool (decode has heads items, a prompt n × heads).
        var work = new AttentionHeadsWork
        {
            Queries = s.Query, Mixed = s.Attended, RowCache = s.RowCache, RowPosition = s.RowPosition, Layer = layer,
            Heads = _h.HeadCount, GroupSize = _h.GroupSize, KeyLength = keyLength, ValueLength = valueLength,
            QueryWidth = QueryWidth, Scale = _attentionScale,
        };
        long attendedPositions = 0; // Σ over rows of the positions each row attends to: the work estimate the pool sizes its split by
        foreach (var segment in segments) attendedPositions += (long)segment.Count * (segment.FirstPosition + segment.Count);
        work.Run(n, _pool, attendedPositions);
        _rotation.RotateOutputBack(mixed);

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
        public readonly KvCache[] RowCache = [];
        public readonly int[] RowPosition = [];

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
            RowCache = new KvCache[tokens];
            RowPosition = new int[tokens];
        }
    }

    public void Dispose() => _pool.Dispose();
}
