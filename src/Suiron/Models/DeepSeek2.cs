using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// The hyper-parameters of a <c>deepseek2</c> GGUF (DeepSeek-V2, V2-Lite, V2.5, V3, R1, and their distillations into
/// the same architecture), read from the keys llama.cpp reads, with its defaults.
/// </summary>
public sealed record DeepSeek2HyperParameters
{
    /// <summary>Sizes shared with every decoder (embedding, layers, heads, dense feed-forward width, RoPE).</summary>
    public required TransformerHyperParameters Transformer { get; init; }
    public required LatentAttentionShape Attention { get; init; }
    /// <summary>The file stores W_UK and W_UV apart (<c>attn_k_b</c>/<c>attn_v_b</c>, with <c>attention.key_length_mla</c>);
    /// otherwise the legacy joint <c>attn_kv_b</c>.</summary>
    public required bool SplitKeyValue { get; init; }
    /// <summary>First layers with a dense MLP instead of experts (<c>leading_dense_block_count</c>, default 0).</summary>
    public required int LeadingDenseBlockCount { get; init; }
    public required ExpertRouting Experts { get; init; }
    /// <summary>Always-on experts per MoE layer (<c>expert_shared_count</c>); one MLP of that many experts' width.</summary>
    public required int SharedExpertCount { get; init; }
    /// <summary>YaRN's <c>mscale_all_dim</c> (GGUF <c>rope.scaling.yarn_log_multiplier</c> is 0.1 × it); 0 when absent.</summary>
    public required float YarnLogMultiplier { get; init; }
    /// <summary>Multiplier of q·k: mscale² / √(nope + rope), mscale being YaRN's attention temperature.</summary>
    public required float AttentionScale { get; init; }

    public static DeepSeek2HyperParameters Parse(GgufFile file)
    {
        string arch = file.Architecture;
        string Key(string name) => arch + "." + name;
        TransformerHyperParameters t = TransformerHyperParameters.Parse(file);

        int rope = t.Rope.Dimensions;
        int keyLengthMla = file.GetInt32(Key("attention.key_length_mla"), 0);
        int valueLengthMla = file.GetInt32(Key("attention.value_length_mla"), 0);
        bool split = keyLengthMla > 0 && valueLengthMla > 0;
        // With the split tensors, key_length/value_length describe llama.cpp's cache rows (latent + rope, latent),
        // and the per-head sizes move to the _mla keys.
        int queryKeyLength = split ? keyLengthMla : t.KeyLength;
        int valueLength = split ? valueLengthMla : t.ValueLength;
        if (queryKeyLength <= rope)
            throw new GgufException($"The query/key head ({queryKeyLength}) must be longer than {Key("rope.dimension_count")} ({rope})", -1, file.Path);
        int kvLoraRank = file.GetInt32(Key("attention.kv_lora_rank"));
        if (kvLoraRank <= 0) throw new GgufException($"{Key("attention.kv_lora_rank")} must be positive", -1, file.Path);

        int leadingDense = file.GetInt32(Key("leading_dense_block_count"), 0);
        ExpertRouting experts = ExpertRouting.Parse(file, defaultGating: ExpertGating.Softmax);
        int shared = file.GetInt32(Key("expert_shared_count"));

        // YaRN, as llama.cpp does it for deepseek2: the converter writes 0.1 × mscale_all_dim. The rotation's own
        // magnitude correction (1 + 0.1·ln s) is cancelled (the ratio mscale(s, m)/mscale(s, m) is 1 here), and the
        // temperature moves into the score scale instead: kq_scale = mscale² / √d_qk with
        // mscale = attn_factor · (1 + 0.1·ln s) · (1 + 0.1·m·ln s).
        float logMultiplier = file.GetFloat(Key("rope.scaling.yarn_log_multiplier"), 0f) / 0.1f;
        RopeParameters r = t.Rope;
        float ropeAttentionFactor = file.GetFloat(Key("rope.scaling.attn_factor"), 1f);
        float attentionFactor = ropeAttentionFactor;
        float stretch = 1f / r.FrequencyScale;
        if (r.ExtrapolationFactor != 0f)
        {
            float magnitude = logMultiplier != 0f ? 1f : Mscale(stretch, 1f);
            attentionFactor = magnitude / (1f + 0.1f * MathF.Log(stretch)) * ropeAttentionFactor;
        }
        float original = attentionFactor * (1f + 0.1f * MathF.Log(stretch));
        float mscale = original * (1f + 0.1f * logMultiplier * MathF.Log(stretch));

        return new DeepSeek2HyperParameters
        {
            Transformer = t with { Rope = r with { AttentionFactor = attentionFactor } },
            Attention = new LatentAttentionShape(
                HeadCount: t.HeadCount,
                QueryLoraRank: file.GetInt32(Key("attention.q_lora_rank"), 0),
                KvLoraRank: kvLoraRank,
                NopeLength: queryKeyLength - rope,
                RopeLength: rope,
                ValueLength: valueLength),
            SplitKeyValue = split,
            LeadingDenseBlockCount = Math.Min(leadingDense, t.LayerCount),
            Experts = experts,
            SharedExpertCount = shared,
            YarnLogMultiplier = logMultiplier,
            AttentionScale = mscale * mscale / MathF.Sqrt(queryKeyLength),
        };

        static float Mscale(float scale, float multiplier) => scale <= 1f ? 1f : 0.1f * multiplier * MathF.Log(scale) + 1f;
    }
}

/// <summary>One DeepSeek block: MLA, then either a dense MLP (the leading layers) or routed experts plus shared experts.</summary>
internal sealed record DeepSeek2LayerWeights(
    float[] AttentionNorm,                  // (embedding)  attn_norm
    LatentAttentionWeights Attention,
    float[] FeedForwardNorm,                // (embedding)  ffn_norm
    GatedFeedForwardWeights? Dense,         // ffn_gate/up/down, leading layers
    ExpertWeights? Experts,                 // ffn_*_exps, MoE layers
    GatedFeedForwardWeights? SharedExpert); // ffn_*_shexp, MoE layers

internal sealed record DeepSeek2Weights(
    Tensor TokenEmbedding,    // (vocab, embedding)
    DeepSeek2LayerWeights[] Layers,
    float[] OutputNorm,       // (embedding)
    Tensor Output,            // (vocab, embedding); the token embedding when tied
    IReadOnlyList<float[]> Derived) // arrays behind weights re-laid-out at load (legacy attn_kv_b)
{
    public int VocabSize => checked((int)TokenEmbedding.Rows);

    public static DeepSeek2Weights Load(GgufFile file, DeepSeek2HyperParameters h)
    {
        var reader = new WeightReader(file);
        int embedding = h.Transformer.EmbeddingLength;
        var (tokenEmbedding, vocab) = reader.TokenEmbedding(embedding);

        var layers = new DeepSeek2LayerWeights[h.Transformer.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"blk.{i}.";
            bool dense = i < h.LeadingDenseBlockCount;
            int sharedWidth = h.Experts.FeedForwardLength * h.SharedExpertCount;
            layers[i] = new DeepSeek2LayerWeights(
                AttentionNorm: reader.Vector(p + "attn_norm.weight", embedding),
                Attention: LatentAttentionWeights.Load(reader, i, embedding, h.Attention, h.SplitKeyValue),
                FeedForwardNorm: reader.Vector(p + "ffn_norm.weight", embedding),
                Dense: dense ? GatedFeedForwardWeights.Load(reader, p, "", embedding, h.Transformer.FeedForwardLength) : null,
                Experts: dense ? null : ExpertWeights.Load(reader, i, embedding, h.Experts),
                SharedExpert: dense || sharedWidth == 0 ? null : GatedFeedForwardWeights.Load(reader, p, "_shexp", embedding, sharedWidth));
        }
        Tensor output = reader.OutputProjection(embedding, vocab, tokenEmbedding);
        float[] outputNorm = reader.Vector("output_norm.weight", embedding);
        reader.EnsureAllUsed("deepseek2");
        return new DeepSeek2Weights(tokenEmbedding, layers, outputNorm, output, reader.OwnedArrays);
    }
}

/// <summary>
/// DeepSeek-V2/V3 (DeepSeek-AI 2024): pre-norm blocks of multi-head latent attention with a compressed KV cache
/// (<see cref="MultiHeadLatentAttention"/>) and DeepSeekMoE feed-forwards — fine-grained routed experts plus
/// always-on shared experts (<see cref="MixtureOfExperts"/>), after a few dense leading layers:
/// <code>
///   h += MLA(RmsNorm(h))
///   h += layer &lt; leading ? MLP(RmsNorm(h)) : Experts(RmsNorm(h)) + SharedExpert(RmsNorm(h))
/// </code>
/// V2 routes by softmax; V3 by sigmoid scores with a selection bias, group-limited, renormalized and scaled —
/// all read from the file (<see cref="ExpertRouting"/>). RoPE rotates adjacent pairs of the decoupled rotary
/// dimensions only; YaRN's temperature goes into the score scale.
/// </summary>
internal sealed class DeepSeek2 : ILanguageModel
{
    public const string ArchitectureName = "deepseek2";

    /// <summary>Tokens per pass through the layers; longer inputs are split, which bounds the scratch memory.</summary>
    internal const int MaxBatch = 256;

    private readonly DeepSeek2HyperParameters _h;
    private readonly DeepSeek2Weights _weights;
    private readonly WorkerPool _pool;
    private readonly KvCacheType _cacheType;
    private readonly MultiHeadLatentAttention _attention;
    private readonly GatedFeedForward _feedForward;
    private float[] _hidden = [], _normed = [], _sublayer = [], _shared = [];

    public static ILanguageModel Load(GgufFile file, ModelOptions options) => new DeepSeek2(file, options);

    public DeepSeek2(GgufFile file, ModelOptions options)
    {
        if (file.Architecture != ArchitectureName)
            throw new ArgumentException($"The file's architecture is '{file.Architecture}', not '{ArchitectureName}'.", nameof(file));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContextSize);

        _h = DeepSeek2HyperParameters.Parse(file);
        _weights = DeepSeek2Weights.Load(file, _h);
        // The latent cache holds one shared row per token that serves as both key and value; a Q8_0 latent would
        // need its own attention kernels (llama.cpp's MLA path quantizes it through the K cache type), not built yet.
        if (options.KeyCacheType == KvCacheType.Q8_0 || options.ValueCacheType == KvCacheType.Q8_0)
            throw new NotSupportedException(
                "deepseek2 (multi-head latent attention) caches a compressed latent that does not support q8_0 yet: use --cache-type-k/--cache-type-v f16 or f32.");
        if (options.KeyCacheType != options.ValueCacheType)
            throw new NotSupportedException(
                "deepseek2 (multi-head latent attention) caches one latent row that serves as both key and value: give --cache-type-k and --cache-type-v the same type.");
        _cacheType = options.KeyCacheType;
        _pool = new WorkerPool(options.Threads);
        TransformerHyperParameters t = _h.Transformer;
        var rope = new Rope(t.Rope, RopeStyle.Normal, null);
        _attention = new MultiHeadLatentAttention(_h.Attention, rope, _h.AttentionScale, t.RmsNormEpsilon, _pool);
        _feedForward = new GatedFeedForward(_pool);
        Experts = new MixtureOfExperts(_h.Experts, t.EmbeddingLength, _pool);

        int contextSize = options.ContextSize > 0 ? options.ContextSize : Math.Min(t.ContextLength, ModelOptions.DefaultContextCap);
        int elementSize = _cacheType == KvCacheType.F16 ? 2 : 4;
        LatentAttentionShape a = _h.Attention;
        long total = file.Tensors.Sum(info => info.ElementCount);
        int moeLayers = t.LayerCount - _h.LeadingDenseBlockCount;
        long idleExperts = (long)moeLayers * (_h.Experts.ExpertCount - _h.Experts.UsedCount) * 3L * t.EmbeddingLength * _h.Experts.FeedForwardLength;
        Info = new ModelInfo(ArchitectureName, t, _weights.VocabSize, t.ContextLength, contextSize,
            KvCacheBytesPerToken: (long)t.LayerCount * a.CacheWidth * elementSize, ParameterCount: total)
        {
            ActiveParameterCount = total - idleExperts,
            KeyCacheType = _cacheType, ValueCacheType = _cacheType,
            FullKvBytesPerToken = (long)t.LayerCount * a.HeadCount * (a.QueryKeyLength + a.ValueLength) * elementSize,
        };
    }

    public ModelInfo Info { get; }

    public DeepSeek2HyperParameters HyperParameters => _h;

    /// <summary>The routed experts (exposed so tests can observe which experts a forward pass evaluates).</summary>
    internal MixtureOfExperts Experts { get; }

    /// <summary>A compressed cache: per token and layer, the rotary key and the latent, nothing per head.</summary>
    public KvCache CreateCache(int maxTokens) => new(_h.Transformer.LayerCount, _h.Attention.CacheWidth, 0, maxTokens, _cacheType);

    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits = false) =>
        ForwardPasses.Run(tokens, cache, logits, allLogits, _weights.VocabSize, _h.Transformer.LayerCount, _h.Attention.CacheWidth, 0, MaxBatch, _pass ??= ForwardPass);

    /// <summary>
    /// Several sequences per step: their tokens are laid end to end into passes of up to <see cref="MaxBatch"/> rows;
    /// every dense matmul (MLA projections, dense and shared MLPs, routers, output) runs once per pass over all rows,
    /// attention reads each row's own latent cache at its own position, and each routed expert runs once over the
    /// rows of every sequence routed to it. Row for row the arithmetic is that of <see cref="Forward"/>.
    /// </summary>
    public void ForwardBatch(ReadOnlySpan<SequenceTokens> items, Span<float> logits)
    {
        int vocab = _weights.VocabSize;
        SequenceBatches.Validate(items, logits.Length, vocab, _h.Transformer.LayerCount, _h.Attention.CacheWidth, 0);
        SequenceBatches.Run(items, logits, vocab, MaxBatch, _passTokens ??= new int[MaxBatch], _segments ??= new SequenceSegment[MaxBatch],
            _batchPass ??= RunPass);
    }

    // Cached: a method-group delegate per call would allocate on every decode step.
    private ForwardPasses.Pass? _pass;
    private SequenceBatches.Pass? _batchPass;
    private int[]? _passTokens;
    private SequenceSegment[]? _segments;
    private readonly SequenceSegment[] _singleSegment = new SequenceSegment[1];

    /// <summary>One sequence's pass: its rows through every layer, then the logits of the last <paramref name="outputRows"/> rows.</summary>
    private void ForwardPass(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, int outputRows)
    {
        int n = tokens.Length, embedding = _h.Transformer.EmbeddingLength;
        _singleSegment[0] = new SequenceSegment(cache, 0, n, cache.Count);
        RunLayers(tokens, _singleSegment);
        if (outputRows == 0) return;
        Span<float> lastRows = _normed.AsSpan((n - outputRows) * embedding, outputRows * embedding);
        RmsNorm.Apply(_hidden.AsSpan((n - outputRows) * embedding, outputRows * embedding), _weights.OutputNorm, _h.Transformer.RmsNormEpsilon, lastRows);
        MatMul.Compute(_weights.Output, lastRows, logits[..(outputRows * _weights.VocabSize)], outputRows, _pool);
    }

    /// <summary>One pass of several sequences' rows; the logits of the last row of each of the first <paramref name="finished"/> segments.</summary>
    private void RunPass(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments, int finished, Span<float> logits)
    {
        int embedding = _h.Transformer.EmbeddingLength;
        RunLayers(tokens, segments);
        if (finished == 0) return;
        for (int i = 0; i < finished; i++)
        {
            int row = segments[i].Start + segments[i].Count - 1;
            RmsNorm.Apply(_hidden.AsSpan(row * embedding, embedding), _weights.OutputNorm, _h.Transformer.RmsNormEpsilon, _normed.AsSpan(i * embedding, embedding));
        }
        MatMul.Compute(_weights.Output, _normed.AsSpan(0, finished * embedding), logits[..(finished * _weights.VocabSize)], finished, _pool);
    }

    /// <summary>Embeds the rows and runs them through every layer, appending each segment to its cache; leaves the residual stream in <c>_hidden</c>.</summary>
    private void RunLayers(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments)
    {
        TransformerHyperParameters t = _h.Transformer;
        int n = tokens.Length, embedding = t.EmbeddingLength;
        float epsilon = t.RmsNormEpsilon;
        MixtureOfExperts.Grow(ref _hidden, n * embedding);
        MixtureOfExperts.Grow(ref _normed, n * embedding);
        MixtureOfExperts.Grow(ref _sublayer, n * embedding);
        Span<float> hidden = _hidden.AsSpan(0, n * embedding);     // (n, embedding): the residual stream
        Span<float> normed = _normed.AsSpan(0, n * embedding);     // (n, embedding)
        Span<float> sublayer = _sublayer.AsSpan(0, n * embedding); // (n, embedding)

        Tensor embeddings = _weights.TokenEmbedding;
        for (int i = 0; i < n; i++)
            Quantization.Dequantize(embeddings.Type, embeddings.Row(tokens[i]), hidden.Slice(i * embedding, embedding));

        for (int layerIndex = 0; layerIndex < t.LayerCount; layerIndex++)
        {
            DeepSeek2LayerWeights w = _weights.Layers[layerIndex];
            RmsNorm.Apply(hidden, w.AttentionNorm, epsilon, normed);
            _attention.Forward(layerIndex, w.Attention, normed, n, segments, sublayer);
            Add(hidden, sublayer);

            RmsNorm.Apply(hidden, w.FeedForwardNorm, epsilon, normed);
            if (w.Dense is { } dense)
            {
                _feedForward.Forward(dense, normed, n, sublayer);
            }
            else
            {
                Experts.Forward(layerIndex, w.Experts!, normed, n, sublayer);
                if (w.SharedExpert is { } sharedExpert)
                {
                    MixtureOfExperts.Grow(ref _shared, n * embedding);
                    Span<float> shared = _shared.AsSpan(0, n * embedding);
                    _feedForward.Forward(sharedExpert, normed, n, shared);
                    Add(sublayer, shared);
                }
            }
            Add(hidden, sublayer);
        }
        foreach (var segment in segments) segment.Cache.Advance(segment.Count);
    }

    private static void Add(Span<float> target, ReadOnlySpan<float> addend) => VectorOps.Add(target, addend, target);

    public void Dispose() => _pool.Dispose();
}
