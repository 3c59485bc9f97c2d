using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>Which feed-forward a block has.</summary>
internal enum FeedForwardKind
{
    /// <summary>SwiGLU MLP with <c>ffn_gate</c>, <c>ffn_up</c>, <c>ffn_down</c>.</summary>
    Gated,
    /// <summary>SwiGLU MLP whose <c>ffn_up</c> carries gate and up rows (GLM-4).</summary>
    FusedGateUp,
    /// <summary>Routed experts (after <c>leading_dense_block_count</c> dense layers), plus shared experts when the file has them.</summary>
    Experts,
}

/// <summary>
/// What distinguishes one grouped-query-attention decoder architecture from another (Llama, Qwen2/3, Qwen3-MoE, GLM-4,
/// GLM-4.5); declared by each architecture file, read by <see cref="Decoder"/>, never tested by name.
/// </summary>
/// <param name="Name">The GGUF <c>general.architecture</c>.</param>
/// <param name="RopeStyle">Which elements of a head rotate together.</param>
/// <param name="QueryKeyNorm">RMS-normalize each query and key head before RoPE (<c>attn_q_norm</c>, <c>attn_k_norm</c>).</param>
/// <param name="QueryKeyValueBias">Q, K and V projections require a bias (<c>attn_{q,k,v}.bias</c>); otherwise a bias is taken
/// when the file has one, as llama.cpp does.</param>
/// <param name="RopeFrequencyFactors">An optional <c>rope_freqs.weight</c> divides the RoPE frequencies (Llama 3.1+ long context).</param>
/// <param name="QueryKeyNormAfterRope">The QK-norm comes after RoPE instead of before it (Hunyuan).</param>
/// <param name="QueryKeyNormOverAllHeads">The QK-norm is one RMS norm over a token's whole query and whole key projection
/// (MiniMax-M2), not one per head.</param>
/// <param name="LatentAttention">The token mixer is DeepSeek-V2's multi-head latent attention with its compressed cache
/// (<see cref="MultiHeadLatentAttention"/>, hyper-parameters as <see cref="DeepSeek2HyperParameters"/> reads them)
/// instead of grouped-query attention.</param>
/// <param name="SharedExpertAlways">Every MoE layer has a shared-expert MLP (<c>ffn_*_shexp</c>), <c>feed_forward_length</c> wide
/// unless <c>expert_shared_feed_forward_length</c> says otherwise (Hunyuan-MoE).</param>
/// <param name="PostNorms">RMS-normalize each sublayer's output before the residual add (<c>post_attention_norm</c>, <c>post_ffw_norm</c>).</param>
/// <param name="FeedForward">The feed-forward of each block.</param>
/// <param name="DefaultGating">Expert gating when the file does not say (<c>expert_gating_func</c>).</param>
/// <param name="NormalizeExpertWeights">Renormalize the chosen experts' weights regardless of the file (Qwen3-MoE), or null to read <c>expert_weights_norm</c>.</param>
/// <param name="OptionalQueryKeyNorm">QK-norm when the file has <c>attn_q_norm</c>/<c>attn_k_norm</c> (GLM-4.5 has them, GLM-4.5-Air not).</param>
/// <param name="FeedForwardNormName">The tensor of the norm before the feed-forward: <c>ffn_norm</c>, or GLM-4.5's <c>post_attention_norm</c>
/// (Hugging Face's <c>post_attention_layernorm</c> under llama.cpp's name; a pre-norm, not a sandwich norm).</param>
/// <param name="NextNLayers">The last <c>nextn_predict_layers</c> blocks are multi-token-prediction heads: loaded (so real files load)
/// and skipped by the forward pass, as llama.cpp does.</param>
/// <param name="MultiTokenPrediction">The first of those blocks runs as a draft head (<see cref="IMultiTokenPredictor"/>), as
/// llama.cpp's MTP graph for the architecture does: a block of the model's own kind (full attention; latent attention over
/// every position, the lightning indexer's selection not applied) over <c>nextn.eh_proj</c>(enorm(embedding of the next
/// token) ‖ hnorm(the model's normed hidden state)).</param>
/// <param name="HybridDeltaNet">Layers are gated DeltaNet (<see cref="GatedDeltaNet"/>, recurrent state) except every
/// <c>full_attention_interval</c>-th (or those <c>attention.recurrent_layers</c> marks false), which attend (Qwen3-Next, Qwen3.5).</param>
/// <param name="AttentionOutputGate">The query projection carries a gate per head; σ(gate) scales the attention output.</param>
/// <param name="InterleavedRopeSections">Multi-section RoPE over <c>rope.dimension_sections</c>, interleaved (Qwen3.5's I-MRoPE);
/// text tokens rotate as NeoX except the pairs of the fourth section.</param>
/// <param name="SharedExpertGate">The shared expert's output is scaled per token by σ(<c>ffn_gate_inp_shexp</c> · x) (Qwen2-MoE's heirs).</param>
/// <param name="TiledDeltaNetKeyHeads">Value head h of a DeltaNet layer reads key head h mod keyHeads (Qwen3.5's conversions
/// reorder the value heads for it) instead of h / (valueHeads / keyHeads) (Qwen3-Next).</param>
/// <param name="LightningIndexer">Latent attention is sparse: each token attends to the <c>attention.indexer.top_k</c> positions its
/// lightning indexer scores best (<see cref="Models.LightningIndexer"/>, DeepSeek-V3.2).</param>
/// <param name="IndexerRopeStyle">How the indexer rotates its heads: NeoX halves (deepseek32) or adjacent pairs (glm-dsa).</param>
/// <param name="SharedIndexerLayers">Layers that <c>attention.indexer.types</c> marks 0 have no indexer of their own and reuse the
/// selection of the last layer that has one (GLM-5.2; <see cref="LightningIndexerShape.FullLayers"/>).</param>
/// <param name="YarnLogMultiplier">The loader reads <c>rope.scaling.yarn_log_multiplier</c> (DeepSeek's mscale_all_dim); llama.cpp's
/// glm-dsa loader does not, so its YaRN temperature ignores the key.</param>
internal sealed record DecoderArchitecture(
    string Name,
    RopeStyle RopeStyle,
    bool QueryKeyNorm = false,
    bool PostNorms = false,
    FeedForwardKind FeedForward = FeedForwardKind.Gated,
    ExpertGating DefaultGating = ExpertGating.Softmax,
    bool? NormalizeExpertWeights = null,
    bool OptionalQueryKeyNorm = false,
    string FeedForwardNormName = "ffn_norm",
    bool NextNLayers = false,
    bool MultiTokenPrediction = false,
    bool QueryKeyValueBias = false,
    bool RopeFrequencyFactors = false,
    bool QueryKeyNormAfterRope = false,
    bool SharedExpertAlways = false,
    bool QueryKeyNormOverAllHeads = false,
    bool LatentAttention = false,
    bool HybridDeltaNet = false,
    bool AttentionOutputGate = false,
    bool InterleavedRopeSections = false,
    bool SharedExpertGate = false,
    bool TiledDeltaNetKeyHeads = false,
    bool LightningIndexer = false,
    RopeStyle IndexerRopeStyle = RopeStyle.NeoX,
    bool SharedIndexerLayers = false,
    bool YarnLogMultiplier = true);

/// <summary>One block: a token mixer (grouped-query or latent attention, or gated DeltaNet), then a dense MLP or experts
/// (+ shared experts), with optional post-norms.</summary>
internal sealed record BlockWeights(
    float[] AttentionNorm,                 // (embedding)  attn_norm
    GroupedQueryAttentionWeights? Attention,
    LatentAttentionWeights? Latent,
    GatedDeltaNetWeights? DeltaNet,
    float[]? AttentionPostNorm,            // (embedding)  post_attention_norm
    float[] FeedForwardNorm,               // (embedding)  ffn_norm
    GatedFeedForwardWeights? Dense,
    ExpertWeights? Experts,
    GatedFeedForwardWeights? SharedExpert, // ffn_*_shexp
    float[]? SharedExpertGate,             // (embedding)  ffn_gate_inp_shexp
    float[]? FeedForwardPostNorm);         // (embedding)  post_ffw_norm

/// <summary>The multi-token-prediction (NextN) head: its projection of the next token's embedding beside the model's hidden
/// state, its block, and the head's own embedding, norm and output where the file has them (else the model's).</summary>
internal sealed record NextNWeights(
    BlockWeights Block,
    Tensor Projection,             // (embedding, 2·embedding)  nextn.eh_proj: [enorm(embedding) ‖ hnorm(hidden)] → embedding
    float[] EmbeddingNorm,         // (embedding)  nextn.enorm
    float[] HiddenNorm,            // (embedding)  nextn.hnorm
    Tensor? TokenEmbedding,        // (vocab, embedding)  nextn.embed_tokens
    float[]? HeadNorm,             // (embedding)  nextn.shared_head_norm
    Tensor? Head);                 // (vocab, embedding)  nextn.shared_head_head

/// <summary>
/// A pre-norm decoder of attention — grouped-query (<see cref="GroupedQueryAttention"/>, K/V cache) or multi-head
/// latent (<see cref="MultiHeadLatentAttention"/>, compressed cache) — and dense or mixture-of-experts feed-forwards,
/// batched over the tokens of one sequence (<see cref="Forward"/>) or of several (<see cref="ForwardBatch"/>):
/// <code>
///   h = Embedding(tokens)
///   h += PostNorm?(Attention(RmsNorm(h)))
///   h += PostNorm?(FeedForward(RmsNorm(h)))      FeedForward = MLP | Experts (+ SharedExpert)
///   logits = Output(RmsNorm(h))
/// </code>
/// A batch of tokens goes through every matmul together (prompt processing is compute-bound, one weight pass serves
/// all tokens); a single token is the same code with a batch of one.
/// </summary>
internal sealed class Decoder : ILanguageModel, IHiddenStateModel, IMultiTokenPredictor, ILayeredPromptModel
{
    internal const int MaxBatch = 256;

    private readonly DecoderArchitecture _architecture;
    private readonly TransformerHyperParameters _h;
    private readonly ExpertRouting? _routing;
    private readonly int _leadingDense, _moeStep = 1;
    private readonly BlockWeights[] _layers;
    private readonly Tensor _tokenEmbedding, _output;
    private readonly float[] _outputNorm;
    private readonly WorkerPool _pool;
    private readonly KvCacheType _keyCacheType, _valueCacheType;
    private readonly GroupedQueryAttention? _attention;
    private readonly MultiHeadLatentAttention? _latent;
    private readonly int _keyWidth, _valueWidth; // of a cache row per layer (latent attention: the latent, no value part)
    private readonly IReadOnlyList<float[]> _derived; // weights re-laid-out at load (legacy attn_kv_b), kept alive here
    private readonly GatedFeedForward _feedForward;
    private readonly GatedDeltaNet? _deltaNet;
    // Each layer's index among the cache's attention layers or among its recurrent layers (−1: not of that kind).
    private readonly int[] _attentionSlot, _recurrentSlot;
    private readonly int _attentionLayers, _recurrentLayers, _recurrentSnapshots;
    private float[] _hidden = [], _normed = [], _sublayer = [], _shared = [], _joined = [], _captured = [];
    private readonly NextNWeights? _nextN;
    // While ForwardWithHidden runs: every row's normed hidden state is kept in _captured, _capturedRows of them so far.
    private bool _capturing;
    private int _capturedRows;

    public Decoder(GgufFile file, DecoderArchitecture architecture, ModelOptions options)
    {
        if (file.Architecture != architecture.Name)
            throw new ArgumentException($"The file's architecture is '{file.Architecture}', not '{architecture.Name}'.", nameof(file));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContextSize);
        _architecture = architecture;
        DeepSeek2HyperParameters? latent = architecture.LatentAttention ? DeepSeek2HyperParameters.Parse(file, architecture.YarnLogMultiplier) : null;
        _h = latent?.Transformer ?? TransformerHyperParameters.Parse(file);
        string Key(string name) => architecture.Name + "." + name;
        int blockCount = _h.LayerCount, nextN = 0;
        if (architecture.NextNLayers)
        {
            nextN = file.GetInt32(Key("nextn_predict_layers"), 0);
            if (nextN < 0 || nextN >= blockCount)
                throw new GgufException($"{Key("nextn_predict_layers")} = {nextN} must be in 0..{blockCount - 1} ({Key("block_count")} = {blockCount})", -1, file.Path);
            _h = _h with { LayerCount = blockCount - nextN }; // the layers the forward pass runs, and the cache holds
        }
        LightningIndexerShape? indexer = null;
        if (architecture.LightningIndexer)
        {
            indexer = LightningIndexerShape.Parse(file, _h.Rope.Dimensions, architecture.SharedIndexerLayers ? _h.LayerCount : 0);
            if (latent!.Attention.QueryLoraRank == 0)
                throw new GgufException($"{file.Architecture}'s lightning indexer reads the query latent: {file.Architecture}.attention.q_lora_rank must be set", -1, file.Path);
        }
        GatedDeltaNetShape? deltaNet = architecture.HybridDeltaNet ? GatedDeltaNetShape.Parse(file) : null;
        _attentionSlot = new int[_h.LayerCount];
        _recurrentSlot = new int[_h.LayerCount];
        bool[] recurrent = deltaNet is null ? new bool[_h.LayerCount] : RecurrentLayers(file, _h.LayerCount);
        for (int i = 0; i < _h.LayerCount; i++)
        {
            _attentionSlot[i] = recurrent[i] ? -1 : _attentionLayers++;
            _recurrentSlot[i] = recurrent[i] ? _recurrentLayers++ : -1;
        }
        bool experts = architecture.FeedForward == FeedForwardKind.Experts;
        if (experts)
        {
            _routing = ExpertRouting.Parse(file, architecture.DefaultGating, architecture.NormalizeExpertWeights,
                fallbackFeedForward: _h.FeedForwardLength / Math.Max(1, file.GetInt32(Key("expert_used_count"), 1)));
            _leadingDense = Math.Min(file.GetInt32(Key("leading_dense_block_count"), 0), _h.LayerCount);
            _moeStep = file.GetInt32(Key("interleave_moe_layer_step"), 1);
            if (_moeStep < 1 || _moeStep > _h.LayerCount)
                throw new GgufException($"{Key("interleave_moe_layer_step")} = {_moeStep} must be in 1..{_h.LayerCount}", -1, file.Path);
        }

        var reader = new WeightReader(file);
        int embedding = _h.EmbeddingLength;
        (_tokenEmbedding, int vocab) = reader.TokenEmbedding(embedding);
        // Shared experts: one MLP of expert_shared_feed_forward_length where the file says it (ERNIE 4.5, Qwen2-MoE),
        // else expert_shared_count experts of the routed width side by side (DeepSeek, GLM-4.5).
        int sharedWidth = !experts ? 0 : file.GetInt32(Key("expert_shared_feed_forward_length"), 0) is int width and > 0 ? width
            : architecture.SharedExpertAlways ? _h.FeedForwardLength
            : _routing!.FeedForwardLength * file.GetInt32(Key("expert_shared_count"), 0);
        BlockWeights LoadBlock(int i, bool recurrentLayer)
        {
            string p = $"blk.{i}.";
            bool moe = experts && IsMoeLayer(i);
            return new BlockWeights(
                AttentionNorm: reader.Vector(p + "attn_norm.weight", embedding),
                Attention: latent is not null || recurrentLayer ? null : GroupedQueryAttentionWeights.Load(reader, i, _h, architecture.QueryKeyNorm,
                    architecture.OptionalQueryKeyNorm, requireBias: architecture.QueryKeyValueBias, normOverAllHeads: architecture.QueryKeyNormOverAllHeads,
                    outputGate: architecture.AttentionOutputGate),
                Latent: latent is null ? null : LatentAttentionWeights.Load(reader, i, embedding, latent.Attention, latent.SplitKeyValue, indexer),
                DeltaNet: recurrentLayer ? GatedDeltaNetWeights.Load(reader, i, embedding, deltaNet!) : null,
                AttentionPostNorm: architecture.PostNorms ? reader.Vector(p + "post_attention_norm.weight", embedding) : null,
                FeedForwardNorm: reader.Vector(p + architecture.FeedForwardNormName + ".weight", embedding),
                Dense: moe ? null : architecture.FeedForward == FeedForwardKind.FusedGateUp
                    ? GatedFeedForwardWeights.LoadFused(reader, p, embedding, _h.FeedForwardLength)
                    : GatedFeedForwardWeights.Load(reader, p, "", embedding, _h.FeedForwardLength),
                Experts: moe ? ExpertWeights.Load(reader, i, embedding, _routing!) : null,
                SharedExpert: moe && sharedWidth > 0 ? GatedFeedForwardWeights.Load(reader, p, "_shexp", embedding, sharedWidth) : null,
                SharedExpertGate: moe && sharedWidth > 0 && architecture.SharedExpertGate ? reader.Vector(p + "ffn_gate_inp_shexp.weight", embedding) : null,
                FeedForwardPostNorm: architecture.PostNorms ? reader.Vector(p + "post_ffw_norm.weight", embedding) : null);
        }
        _layers = new BlockWeights[_h.LayerCount];
        for (int i = 0; i < _layers.Length; i++) _layers[i] = LoadBlock(i, recurrent[i]);
        long nextNParameters = 0;
        for (int i = _h.LayerCount; i < blockCount; i++)
        {
            if (i == _h.LayerCount && architecture.MultiTokenPrediction)
            {
                // The draft head: a full-attention block of the model's kind, with its own cache layer.
                string p = $"blk.{i}.";
                nextNParameters += file.Tensors.Where(t => t.Name.StartsWith(p, StringComparison.Ordinal)).Sum(t => t.ElementCount);
                _nextN = new NextNWeights(
                    Block: LoadBlock(i, recurrentLayer: false),
                    Projection: reader.Matrix(p + "nextn.eh_proj.weight", 2 * embedding, embedding),
                    EmbeddingNorm: reader.Vector(p + "nextn.enorm.weight", embedding),
                    HiddenNorm: reader.Vector(p + "nextn.hnorm.weight", embedding),
                    TokenEmbedding: reader.Has(p + "nextn.embed_tokens.weight") ? reader.Matrix(p + "nextn.embed_tokens.weight", embedding, vocab) : null,
                    HeadNorm: reader.OptionalVector(p + "nextn.shared_head_norm.weight", embedding),
                    Head: reader.Has(p + "nextn.shared_head_head.weight") ? reader.Matrix(p + "nextn.shared_head_head.weight", embedding, vocab) : null);
                continue;
            }
            nextNParameters += SkipNextNLayer(reader, i, embedding);
        }
        _outputNorm = reader.Vector("output_norm.weight", embedding);
        _output = reader.OutputProjection(embedding, vocab, _tokenEmbedding);
        float[]? frequencyFactors = architecture.RopeFrequencyFactors ? reader.OptionalVector("rope_freqs.weight", _h.Rope.Dimensions / 2) : null;
        bool[]? stillPairs = null;
        if (architecture.InterleavedRopeSections)
        {
            int[] sections = file.TryGetValue(Key("rope.dimension_sections"), out var value) && value.IsArray ? value.AsInt32Array() : [];
            if (sections.Length != 4 || sections.Any(x => x < 0))
                throw new GgufException($"{Key("rope.dimension_sections")} must hold 4 section sizes (time, height, width, extra)", -1, file.Path);
            stillPairs = Rope.SectionStillPairs(_h.Rope.Dimensions, sections, interleaved: true);
        }
        // A reranker's head (Qwen3-Reranker's cls.output: the "yes"/"no" rows) is the embedder's to read, not the forward pass's.
        if (file.GetInt32(Key("pooling_type"), -1) == 4) reader.SkipPrefix("cls.");
        reader.EnsureAllUsed(file.Architecture);
        _derived = reader.OwnedArrays;

        if (latent is not null)
        {
            // The latent cache holds one shared row per token that serves as both key and value; a Q8_0 latent would
            // need its own attention kernels (llama.cpp's MLA path quantizes it through the K cache type), not built yet.
            if (options.KeyCacheType == KvCacheType.Q8_0 || options.ValueCacheType == KvCacheType.Q8_0)
                throw new NotSupportedException(
                    $"{architecture.Name} (multi-head latent attention) caches a compressed latent that does not support q8_0 yet: use --cache-type-k/--cache-type-v f16 or f32.");
            if (options.KeyCacheType != options.ValueCacheType)
                throw new NotSupportedException(
                    $"{architecture.Name} (multi-head latent attention) caches one latent row that serves as both key and value: give --cache-type-k and --cache-type-v the same type.");
        }
        else
        {
            options.CheckCacheTypes(_h.KeyLength, _h.ValueLength);
        }
        _keyCacheType = options.KeyCacheType;
        _valueCacheType = options.ValueCacheType;
        _pool = new WorkerPool(options.Threads);
        if (latent is not null)
        {
            // The indexer rotates its heads in its own layout, whatever the attention's.
            LightningIndexer? sparse = indexer is null ? null
                : new LightningIndexer(indexer, new Rope(_h.Rope with { Dimensions = indexer.RopeLength }, architecture.IndexerRopeStyle, null), _pool);
            _latent = new MultiHeadLatentAttention(latent.Attention, new Rope(_h.Rope, architecture.RopeStyle, null), latent.AttentionScale, _h.RmsNormEpsilon, _pool, sparse);
            // A sparse model caches each token's indexer key in the value part of its rows.
            (_keyWidth, _valueWidth) = (latent.Attention.CacheWidth, indexer?.HeadLength ?? 0);
        }
        else
        {
            _attention = new GroupedQueryAttention(_h, new Rope(_h.Rope, architecture.RopeStyle, frequencyFactors, stillPairs), architecture.QueryKeyNormAfterRope, _pool,
                AttentionRotation.For(_h.KeyLength, _h.ValueLength, _keyCacheType, _valueCacheType, options.AttentionRotation, options.KeyRotationBlock));
            (_keyWidth, _valueWidth) = (_attention.KeyWidth, _attention.ValueWidth);
        }
        _feedForward = new GatedFeedForward(_pool);
        if (deltaNet is not null) _deltaNet = new GatedDeltaNet(deltaNet, _h.RmsNormEpsilon, architecture.TiledDeltaNetKeyHeads, _pool);
        _recurrentSnapshots = options.RecurrentSnapshots;
        Experts = experts ? new MixtureOfExperts(_routing!, embedding, _pool) : null;

        int contextSize = options.ContextSize > 0 ? options.ContextSize : Math.Min(_h.ContextLength, ModelOptions.DefaultContextCap);
        long bytesPerToken = _attentionLayers * (KvCacheTypes.Bytes(_keyCacheType, _keyWidth) + (_valueWidth > 0 ? KvCacheTypes.Bytes(_valueCacheType, _valueWidth) : 0));
        long total = file.Tensors.Sum(t => t.ElementCount);
        long? active = null;
        if (experts)
        {
            // A token passes through k of the routed experts of each MoE layer it runs, and never through a NextN layer.
            int moeLayers = Enumerable.Range(0, _h.LayerCount).Count(IsMoeLayer);
            long idle = (long)moeLayers * (_routing!.ExpertCount - _routing.UsedCount) * 3L * embedding * _routing.FeedForwardLength;
            active = total - idle - nextNParameters;
        }
        Info = new ModelInfo(architecture.Name, _h, vocab, _h.ContextLength, contextSize, bytesPerToken, total) {
            ActiveParameterCount = active, KeyCacheType = _keyCacheType, ValueCacheType = _valueCacheType,
            AttentionRotation = _attention?.Rotation.ToString() ?? "off",
            RecurrentLayerCount = _recurrentLayers,
            RecurrentBytesPerSequence = deltaNet is null ? 0 : (long)_recurrentLayers * (deltaNet.ConvolutionLength + deltaNet.MatrixLength) * sizeof(float),
            // What an uncompressed cache would hold (every head's key and value), beside the latent one.
            FullKvBytesPerToken = latent is null ? null
                : (long)_h.LayerCount * latent.Attention.HeadCount * (latent.Attention.QueryKeyLength + latent.Attention.ValueLength) * (_keyCacheType == KvCacheType.F16 ? 2 : 4),
        };
    }

    /// <summary>
    /// Marks the tensors of a multi-token-prediction (NextN/MTP) block as read without loading them, after checking the
    /// ones llama.cpp requires of it (<c>nextn.eh_proj</c>, <c>nextn.enorm</c>, <c>nextn.hnorm</c>); returns their elements.
    /// </summary>
    private static long SkipNextNLayer(WeightReader reader, int layer, int embedding)
    {
        string p = $"blk.{layer}.";
        reader.Matrix(p + "nextn.eh_proj.weight", 2 * embedding, embedding);
        reader.Vector(p + "nextn.enorm.weight", embedding);
        reader.Vector(p + "nextn.hnorm.weight", embedding);
        return reader.SkipPrefix(p);
    }

    public ModelInfo Info { get; }

    /// <summary>
    /// Whether layer <paramref name="layer"/> has routed experts: after the <c>leading_dense_block_count</c> dense layers,
    /// every <c>interleave_moe_layer_step</c>-th layer (1: all of them; ERNIE 4.5 counts from one: layers step − 1, 2·step − 1 …).
    /// </summary>
    private bool IsMoeLayer(int layer) => layer >= _leadingDense && (layer + 1) % _moeStep == 0;

    /// <summary>DeepSeek sparse attention's indexer, or null (exposed so tests can observe its selections).</summary>
    internal LightningIndexer? Indexer => _latent?.Indexer;

    /// <summary>The routed experts, or null for a dense model (exposed so tests can observe routing).</summary>
    internal MixtureOfExperts? Experts { get; }

    public KvCache CreateCache(int maxTokens) => _latent is not null
        ? new(_attentionLayers, _keyWidth, _valueWidth, maxTokens, _keyCacheType)
        : new(_attentionLayers, _keyWidth, _valueWidth, maxTokens, _keyCacheType, _valueCacheType,
            _deltaNet is { Shape: var s } ? new RecurrentState(_recurrentLayers, s.ConvolutionLength, s.MatrixLength, _recurrentSnapshots) : null);

    /// <summary>
    /// Which of the <paramref name="layers"/> layers are recurrent: <c>attention.recurrent_layers</c> where the file has it,
    /// else all but every <c>full_attention_interval</c>-th (default 4), as llama.cpp reads them.
    /// </summary>
    private static bool[] RecurrentLayers(GgufFile file, int layers)
    {
        string Key(string name) => file.Architecture + "." + name;
        var recurrent = new bool[layers];
        if (file.TryGetValue(Key("attention.recurrent_layers"), out var marks) && marks.IsArray)
        {
            if (marks.ArrayLength < layers)
                throw new GgufException($"{Key("attention.recurrent_layers")} has {marks.ArrayLength} entries for {layers} layers", -1, file.Path);
            var values = (Array)marks.Value;
            for (int i = 0; i < layers; i++) recurrent[i] = Convert.ToBoolean(values.GetValue(i));
            return recurrent;
        }
        int interval = file.GetInt32(Key("full_attention_interval"), 4);
        if (interval < 1) throw new GgufException($"{Key("full_attention_interval")} = {interval} must be at least 1", -1, file.Path);
        for (int i = 0; i < layers; i++) recurrent[i] = (i + 1) % interval != 0;
        return recurrent;
    }

    private int RecurrentLayersOf(KvCache cache) => cache.Recurrent?.LayerCount ?? 0;

    private void CheckCache(KvCache cache)
    {
        if (cache is not null && RecurrentLayersOf(cache) != _recurrentLayers)
            throw new ArgumentException("The cache was created by a model of another shape.", nameof(cache));
    }

    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits = false)
    {
        CheckCache(cache);
        ForwardPasses.Run(tokens, cache, logits, allLogits, Info.VocabSize, _attentionLayers, _keyWidth, _valueWidth, MaxBatch, _pass ??= ForwardPass);
    }

    /// <summary>
    /// Several sequences per step: their tokens are laid end to end into passes of up to <see cref="MaxBatch"/> rows;
    /// every dense matmul runs once per pass over all rows, attention reads each row's own cache at its own position,
    /// and the experts see the rows of every sequence together (each expert runs once over all rows routed to it).
    /// Row for row the arithmetic is that of <see cref="Forward"/>.
    /// </summary>
    public void ForwardBatch(ReadOnlySpan<SequenceTokens> items, Span<float> logits)
    {
        int vocab = Info.VocabSize;
        foreach (var item in items) CheckCache(item.Cache);
        SequenceBatches.Validate(items, logits.Length, vocab, _attentionLayers, _keyWidth, _valueWidth);
        SequenceBatches.Run(items, logits, vocab, MaxBatch, _passTokens ??= new int[MaxBatch], _segments ??= new SequenceSegment[MaxBatch],
            _outputRows ??= new OutputRow[MaxBatch], _batchPass ??= RunPass);
    }

    /// <inheritdoc />
    public void ForwardBatchWithHidden(ReadOnlySpan<SequenceTokens> items, Span<float> logits, ReadOnlySpan<Memory<float>> hidden)
    {
        int vocab = Info.VocabSize, embedding = _h.EmbeddingLength;
        if (hidden.Length != items.Length)
            throw new ArgumentException($"{items.Length} items need {items.Length} hidden buffers (empty where none is wanted); {hidden.Length} were given.", nameof(hidden));
        for (int i = 0; i < items.Length; i++)
            if (!hidden[i].IsEmpty && hidden[i].Length < (long)items[i].Tokens.Length * embedding)
                throw new ArgumentException($"Item {i}'s hidden buffer holds {hidden[i].Length} floats; {(long)items[i].Tokens.Length * embedding} are needed.", nameof(hidden));
        foreach (var item in items) CheckCache(item.Cache);
        SequenceBatches.Validate(items, logits.Length, vocab, _attentionLayers, _keyWidth, _valueWidth);
        SequenceBatches.Run(items, logits, vocab, MaxBatch, _passTokens ??= new int[MaxBatch], _segments ??= new SequenceSegment[MaxBatch],
            _outputRows ??= new OutputRow[MaxBatch], _batchPass ??= RunPass, hidden, embedding);
    }

    // Cached: a method-group delegate per call would allocate on every decode step.
    private ForwardPasses.Pass? _pass;
    private SequenceBatches.Pass? _batchPass;
    private int[]? _passTokens;
    private SequenceSegment[]? _segments;
    private OutputRow[]? _outputRows;
    private float[] _scatter = [];
    private readonly SequenceSegment[] _singleSegment = new SequenceSegment[1];

    /// <summary>One sequence's pass: its rows through every layer, then the logits of the last <paramref name="outputRows"/> rows.</summary>
    private void ForwardPass(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, int outputRows)
    {
        int n = tokens.Length, embedding = _h.EmbeddingLength;
        _singleSegment[0] = new SequenceSegment(cache, 0, n, cache.Count);
        RunLayers(tokens, _singleSegment);
        if (_capturing)
        {
            // Every row's normed state (llama.cpp's h_nextn), not only those that get logits: the MTP head reads them all.
            RmsNorm.Apply(_hidden.AsSpan(0, n * embedding), _outputNorm, _h.RmsNormEpsilon, _normed.AsSpan(0, n * embedding));
            MixtureOfExperts.Grow(ref _captured, (_capturedRows + n) * embedding);
            _normed.AsSpan(0, n * embedding).CopyTo(_captured.AsSpan(_capturedRows * embedding));
            _capturedRows += n;
        }
        if (outputRows == 0) return;
        Span<float> lastRows = _normed.AsSpan((n - outputRows) * embedding, outputRows * embedding);
        if (!_capturing) RmsNorm.Apply(_hidden.AsSpan((n - outputRows) * embedding, outputRows * embedding), _outputNorm, _h.RmsNormEpsilon, lastRows);
        MatMul.Compute(_output, lastRows, logits[..(outputRows * Info.VocabSize)], outputRows, _pool);
    }

    /// <inheritdoc />
    public int LayerCount => _h.LayerCount;

    /// <inheritdoc />
    public LayeredPromptChunk BeginChunk(ReadOnlySpan<int> tokens, KvCache cache)
    {
        CheckCache(cache);
        ForwardPasses.Check(tokens, cache, Info.VocabSize, allLogits: false, Info.VocabSize, _attentionLayers, _keyWidth, _valueWidth);
        if (tokens.Length > MaxBatch)
            throw new ArgumentException($"A layered chunk holds at most {MaxBatch} tokens (one pass); {tokens.Length} were given.", nameof(tokens));
        int embedding = _h.EmbeddingLength;
        var chunk = new LayeredPromptChunk(cache, tokens.Length, _h.LayerCount, embedding);
        Embed(tokens, chunk.Residual(embedding));
        return chunk;
    }

    /// <inheritdoc />
    public bool ContinueChunk(LayeredPromptChunk chunk, int layers, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), $"A chunk goes at least one layer further (got {layers}).");
        if (chunk.LayersLeft == 0) throw new InvalidOperationException("The chunk has been through every layer.");
        if (chunk.Cache.Count != chunk.FirstPosition)
            throw new InvalidOperationException($"The chunk's cache moved from position {chunk.FirstPosition} to {chunk.Cache.Count} while the chunk was part-way.");
        if (logits.Length < Info.VocabSize)
            throw new ArgumentException($"The logits buffer holds {logits.Length} floats; {Info.VocabSize} are needed.", nameof(logits));
        int n = chunk.Tokens, embedding = _h.EmbeddingLength;
        GrowPassBuffers(n);
        Span<float> residual = chunk.Residual(embedding);
        residual.CopyTo(_hidden);
        _singleSegment[0] = new SequenceSegment(chunk.Cache, 0, n, chunk.FirstPosition);
        int end = Math.Min(_h.LayerCount, chunk.NextLayer + layers);
        for (int layerIndex = chunk.NextLayer; layerIndex < end; layerIndex++)
        {
            RunBlock(layerIndex, _layers[layerIndex], _attentionSlot[layerIndex], _recurrentSlot[layerIndex], n, _singleSegment);
            chunk.NextLayer = layerIndex + 1; // a recurrent layer's state has moved on even if a later layer throws
        }
        if (end < _h.LayerCount)
        {
            _hidden.AsSpan(0, n * embedding).CopyTo(residual);
            return false;
        }
        chunk.Cache.Advance(n);
        Span<float> lastRow = _normed.AsSpan(0, embedding);
        RmsNorm.Apply(_hidden.AsSpan((n - 1) * embedding, embedding), _outputNorm, _h.RmsNormEpsilon, lastRow);
        MatMul.Compute(_output, lastRow, logits[..Info.VocabSize], 1, _pool);
        return true;
    }

    /// <inheritdoc />
    public bool HasPredictionHead => _nextN is not null;

    /// <inheritdoc />
    public KvCache CreatePredictionCache(int maxTokens)
    {
        if (_nextN is null) throw new InvalidOperationException($"This {_architecture.Name} model has no multi-token-prediction block.");
        return new KvCache(1, _keyWidth, _valueWidth, maxTokens, _keyCacheType, _valueCacheType, null);
    }

    /// <inheritdoc />
    public void ForwardWithHidden(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allLogits, Span<float> hidden)
    {
        int embedding = _h.EmbeddingLength;
        if (hidden.Length < (long)tokens.Length * embedding)
            throw new ArgumentException($"The hidden buffer holds {hidden.Length} floats; {(long)tokens.Length * embedding} are needed.", nameof(hidden));
        _capturing = true;
        _capturedRows = 0;
        try
        {
            Forward(tokens, cache, logits, allLogits);
        }
        finally
        {
            _capturing = false;
        }
        _captured.AsSpan(0, tokens.Length * embedding).CopyTo(hidden);
    }

    /// <inheritdoc />
    public void Predict(ReadOnlySpan<int> tokens, ReadOnlySpan<float> hidden, KvCache cache, Span<float> logits, Span<float> nextHidden)
    {
        NextNWeights head = _nextN ?? throw new InvalidOperationException($"This {_architecture.Name} model has no multi-token-prediction block.");
        ArgumentNullException.ThrowIfNull(cache);
        int n = tokens.Length, embedding = _h.EmbeddingLength, vocab = Info.VocabSize;
        if (n == 0) throw new ArgumentException("No tokens to evaluate.", nameof(tokens));
        if (cache.LayerCount != 1 || cache.KeyWidth != _keyWidth || cache.ValueWidth != _valueWidth || cache.Recurrent is not null)
            throw new ArgumentException("The cache was not created by CreatePredictionCache.", nameof(cache));
        if (hidden.Length != (long)n * embedding)
            throw new ArgumentException($"{n} tokens need {(long)n * embedding} hidden values; {hidden.Length} were given.", nameof(hidden));
        bool output = !logits.IsEmpty;
        if (output && logits.Length < vocab) throw new ArgumentException($"The logits buffer holds {logits.Length} floats; {vocab} are needed.", nameof(logits));
        if (output && nextHidden.Length < embedding) throw new ArgumentException($"The next hidden buffer holds {nextHidden.Length} floats; {embedding} are needed.", nameof(nextHidden));
        foreach (int token in tokens)
            if ((uint)token >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {token} is outside the vocabulary of {vocab}.");
        cache.EnsureRoom(n);
        float epsilon = _h.RmsNormEpsilon;
        Tensor tokenEmbedding = head.TokenEmbedding ?? _tokenEmbedding;
        for (int start = 0; start < n; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, n - start);
            MixtureOfExperts.Grow(ref _hidden, count * embedding);
            MixtureOfExperts.Grow(ref _normed, count * embedding);
            MixtureOfExperts.Grow(ref _sublayer, count * embedding);
            MixtureOfExperts.Grow(ref _joined, count * 2 * embedding);
            Span<float> joined = _joined.AsSpan(0, count * 2 * embedding); // (count, 2·embedding): enorm(embedding) ‖ hnorm(hidden)
            Span<float> embedded = _sublayer.AsSpan(0, embedding);
            for (int i = 0; i < count; i++)
            {
                Quantization.Dequantize(tokenEmbedding.Type, tokenEmbedding.Row(tokens[start + i]), embedded);
                RmsNorm.Apply(embedded, head.EmbeddingNorm, epsilon, joined.Slice(2 * i * embedding, embedding));
                RmsNorm.Apply(hidden.Slice((start + i) * embedding, embedding), head.HiddenNorm, epsilon, joined.Slice((2 * i + 1) * embedding, embedding));
            }
            MatMul.Compute(head.Projection, joined, _hidden.AsSpan(0, count * embedding), count, _pool);
            _singleSegment[0] = new SequenceSegment(cache, 0, count, cache.Count);
            RunBlock(_h.LayerCount, head.Block, attentionSlot: 0, recurrentSlot: -1, count, _singleSegment, denseAttention: true);
            cache.Advance(count);
        }
        if (!output) return;
        int last = (n - 1) % MaxBatch;
        Span<float> normed = _normed.AsSpan(0, embedding);
        RmsNorm.Apply(_hidden.AsSpan(last * embedding, embedding), head.HeadNorm ?? _outputNorm, epsilon, normed);
        normed.CopyTo(nextHidden);
        MatMul.Compute(head.Head ?? _output, normed, logits[..vocab], 1, _pool);
    }

    /// <inheritdoc />
    public void PredictBatch(ReadOnlySpan<HeadRows> items, Span<float> logits, Span<float> nextHidden)
    {
        NextNWeights head = _nextN ?? throw new InvalidOperationException($"This {_architecture.Name} model has no multi-token-prediction block.");
        int embedding = _h.EmbeddingLength, vocab = Info.VocabSize;
        if (logits.Length < (long)items.Length * vocab)
            throw new ArgumentException($"The logits buffer holds {logits.Length} floats; {(long)items.Length * vocab} are needed.", nameof(logits));
        if (nextHidden.Length < (long)items.Length * embedding)
            throw new ArgumentException($"The next hidden buffer holds {nextHidden.Length} floats; {(long)items.Length * embedding} are needed.", nameof(nextHidden));
        for (int i = 0; i < items.Length; i++)
        {
            KvCache cache = items[i].Cache;
            ArgumentNullException.ThrowIfNull(cache);
            int n = items[i].Tokens.Length;
            if (n == 0) throw new ArgumentException($"Head item {i} has no tokens to evaluate.", nameof(items));
            if (cache.LayerCount != 1 || cache.KeyWidth != _keyWidth || cache.ValueWidth != _valueWidth || cache.Recurrent is not null)
                throw new ArgumentException($"Head item {i}'s cache was not created by CreatePredictionCache.", nameof(items));
            if (items[i].Hidden.Length != (long)n * embedding)
                throw new ArgumentException($"Head item {i}: {n} tokens need {(long)n * embedding} hidden values; {items[i].Hidden.Length} were given.", nameof(items));
            foreach (int token in items[i].Tokens.Span)
                if ((uint)token >= (uint)vocab)
                    throw new ArgumentOutOfRangeException(nameof(items), $"Token id {token} is outside the vocabulary of {vocab}.");
            for (int j = 0; j < i; j++)
                if (ReferenceEquals(items[j].Cache, cache))
                    throw new ArgumentException($"Head items {j} and {i} share a cache; each sequence needs its own.", nameof(items));
            cache.EnsureRoom(n);
        }
        // Passes of whole items up to MaxBatch rows; an item longer than that alone goes through Predict.
        for (int first = 0; first < items.Length;)
        {
            int end = first, rows = 0;
            while (end < items.Length && (end == first || rows + items[end].Tokens.Length <= MaxBatch)) rows += items[end++].Tokens.Length;
            if (rows > MaxBatch)
                Predict(items[first].Tokens.Span, items[first].Hidden.Span, items[first].Cache, logits.Slice(first * vocab, vocab), nextHidden.Slice(first * embedding, embedding));
            else
                PredictPass(head, items[first..end], rows, logits.Slice(first * vocab, (end - first) * vocab), nextHidden.Slice(first * embedding, (end - first) * embedding));
            first = end;
        }
    }

    private SequenceSegment[] _headSegments = [];

    /// <summary>One pass of the head over whole items' rows (at most <see cref="MaxBatch"/>): each item's last row gives its outputs.</summary>
    private void PredictPass(NextNWeights head, ReadOnlySpan<HeadRows> items, int rows, Span<float> logits, Span<float> nextHidden)
    {
        int embedding = _h.EmbeddingLength, vocab = Info.VocabSize, k = items.Length;
        float epsilon = _h.RmsNormEpsilon;
        Tensor tokenEmbedding = head.TokenEmbedding ?? _tokenEmbedding;
        MixtureOfExperts.Grow(ref _hidden, rows * embedding);
        MixtureOfExperts.Grow(ref _normed, rows * embedding);
        MixtureOfExperts.Grow(ref _sublayer, rows * embedding);
        MixtureOfExperts.Grow(ref _joined, rows * 2 * embedding);
        MixtureOfExperts.Grow(ref _headSegments, k);
        Span<float> joined = _joined.AsSpan(0, rows * 2 * embedding); // (rows, 2·embedding): enorm(embedding) ‖ hnorm(hidden)
        Span<float> embedded = _sublayer.AsSpan(0, embedding);
        int row = 0;
        for (int i = 0; i < k; i++)
        {
            ReadOnlySpan<int> tokens = items[i].Tokens.Span;
            ReadOnlySpan<float> hidden = items[i].Hidden.Span;
            _headSegments[i] = new SequenceSegment(items[i].Cache, row, tokens.Length, items[i].Cache.Count);
            for (int t = 0; t < tokens.Length; t++, row++)
            {
                Quantization.Dequantize(tokenEmbedding.Type, tokenEmbedding.Row(tokens[t]), embedded);
                RmsNorm.Apply(embedded, head.EmbeddingNorm, epsilon, joined.Slice(2 * row * embedding, embedding));
                RmsNorm.Apply(hidden.Slice(t * embedding, embedding), head.HiddenNorm, epsilon, joined.Slice((2 * row + 1) * embedding, embedding));
            }
        }
        MatMul.Compute(head.Projection, joined, _hidden.AsSpan(0, rows * embedding), rows, _pool);
        RunBlock(_h.LayerCount, head.Block, attentionSlot: 0, recurrentSlot: -1, rows, _headSegments.AsSpan(0, k), denseAttention: true);
        for (int i = 0; i < k; i++) items[i].Cache.Advance(items[i].Tokens.Length);
        // Each item's last row: the head's norm, then the output projection over all of them together.
        Span<float> normed = _normed.AsSpan(0, k * embedding);
        for (int i = 0; i < k; i++)
        {
            var segment = _headSegments[i];
            RmsNorm.Apply(_hidden.AsSpan((segment.Start + segment.Count - 1) * embedding, embedding), head.HeadNorm ?? _outputNorm, epsilon,
                normed.Slice(i * embedding, embedding));
        }
        normed.CopyTo(nextHidden);
        MatMul.Compute(head.Head ?? _output, normed, logits[..(k * vocab)], k, _pool);
    }

    /// <summary>
    /// Like <see cref="Forward"/>, but writes every token's final hidden state (after the output norm, before the output
    /// projection: llama.cpp's <c>t_embd</c>, what its embeddings pool) into <paramref name="hidden"/>
    /// (tokens.Length × embedding) instead of logits. Used by decoder models as embedders.
    /// </summary>
    public void ForwardHidden(ReadOnlySpan<int> tokens, KvCache cache, Span<float> hidden)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.IsEmpty) throw new ArgumentException("No tokens to evaluate.", nameof(tokens));
        if (cache.LayerCount != _attentionLayers || cache.KeyWidth != _keyWidth || cache.ValueWidth != _valueWidth)
            throw new ArgumentException("The cache was created by a model of another shape.", nameof(cache));
        CheckCache(cache);
        foreach (int token in tokens)
            if ((uint)token >= (uint)Info.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {token} is outside the vocabulary of {Info.VocabSize}.");
        int embedding = _h.EmbeddingLength;
        if (hidden.Length < (long)tokens.Length * embedding)
            throw new ArgumentException($"The hidden buffer holds {hidden.Length} floats; {(long)tokens.Length * embedding} are needed.", nameof(hidden));
        cache.EnsureRoom(tokens.Length);
        for (int start = 0; start < tokens.Length; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, tokens.Length - start);
            _singleSegment[0] = new SequenceSegment(cache, 0, count, cache.Count);
            RunLayers(tokens.Slice(start, count), _singleSegment);
            RmsNorm.Apply(_hidden.AsSpan(0, count * embedding), _outputNorm, _h.RmsNormEpsilon, hidden.Slice(start * embedding, count * embedding));
        }
    }

    /// <summary>One pass of several sequences' rows; the logits of the <paramref name="outputs"/> rows, each into its row of <paramref name="logits"/>.</summary>
    private void RunPass(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments, ReadOnlySpan<OutputRow> outputs, Span<float> logits)
    {
        int embedding = _h.EmbeddingLength, vocab = Info.VocabSize, count = outputs.Length;
        RunLayers(tokens, segments);
        // Every row's normed state where a segment wants it (llama.cpp's h_nextn), not only the rows that get logits.
        foreach (var segment in segments)
            if (!segment.Hidden.IsEmpty)
                RmsNorm.Apply(_hidden.AsSpan(segment.Start * embedding, segment.Count * embedding), _outputNorm, _h.RmsNormEpsilon, segment.Hidden.Span);
        if (count == 0) return;
        bool consecutive = true;
        for (int i = 0; i < count; i++)
        {
            int row = outputs[i].PassRow;
            RmsNorm.Apply(_hidden.AsSpan(row * embedding, embedding), _outputNorm, _h.RmsNormEpsilon, _normed.AsSpan(i * embedding, embedding));
            consecutive &= outputs[i].Destination == outputs[0].Destination + i;
        }
        if (consecutive)
        {
            MatMul.Compute(_output, _normed.AsSpan(0, count * embedding), logits.Slice(outputs[0].Destination * vocab, count * vocab), count, _pool);
            return;
        }
        MixtureOfExperts.Grow(ref _scatter, count * vocab);
        MatMul.Compute(_output, _normed.AsSpan(0, count * embedding), _scatter.AsSpan(0, count * vocab), count, _pool);
        for (int i = 0; i < count; i++) _scatter.AsSpan(i * vocab, vocab).CopyTo(logits.Slice(outputs[i].Destination * vocab, vocab));
    }

    /// <summary>Embeds the rows and runs them through every layer, appending each segment to its cache; leaves the residual stream in <c>_hidden</c>.</summary>
    private void RunLayers(ReadOnlySpan<int> tokens, ReadOnlySpan<SequenceSegment> segments)
    {
        int n = tokens.Length, embedding = _h.EmbeddingLength;
        GrowPassBuffers(n);
        Embed(tokens, _hidden.AsSpan(0, n * embedding));
        for (int layerIndex = 0; layerIndex < _h.LayerCount; layerIndex++)
            RunBlock(layerIndex, _layers[layerIndex], _attentionSlot[layerIndex], _recurrentSlot[layerIndex], n, segments);
        foreach (var segment in segments) segment.Cache.Advance(segment.Count);
    }

    private void GrowPassBuffers(int rows)
    {
        int embedding = _h.EmbeddingLength;
        MixtureOfExperts.Grow(ref _hidden, rows * embedding);
        MixtureOfExperts.Grow(ref _normed, rows * embedding);
        MixtureOfExperts.Grow(ref _sublayer, rows * embedding);
    }

    /// <summary>The tokens' embedding rows: the residual stream a pass starts from (tokens × embedding).</summary>
    private void Embed(ReadOnlySpan<int> tokens, Span<float> hidden)
    {
        int embedding = _h.EmbeddingLength;
        for (int i = 0; i < tokens.Length; i++)
            Quantization.Dequantize(_tokenEmbedding.Type, _tokenEmbedding.Row(tokens[i]), hidden.Slice(i * embedding, embedding));
    }

    /// <summary>One block over the <paramref name="n"/> rows of the residual stream in <c>_hidden</c>: norm → token mixer → residual
    /// → norm → channel mixer → residual; the mixer's cache rows go to the segments' caches (not yet advanced).</summary>
    private void RunBlock(int layerIndex, BlockWeights w, int attentionSlot, int recurrentSlot, int n, ReadOnlySpan<SequenceSegment> segments,
        bool denseAttention = false)
    {
        int embedding = _h.EmbeddingLength;
        float epsilon = _h.RmsNormEpsilon;
        Span<float> hidden = _hidden.AsSpan(0, n * embedding);     // (n, embedding): the residual stream
        Span<float> normed = _normed.AsSpan(0, n * embedding);     // (n, embedding)
        Span<float> sublayer = _sublayer.AsSpan(0, n * embedding); // (n, embedding)
        RmsNorm.Apply(hidden, w.AttentionNorm, epsilon, normed, _pool);
        if (w.Latent is { } latentWeights) _latent!.Forward(attentionSlot, latentWeights, normed, n, segments, sublayer, denseAttention);
        else if (w.DeltaNet is { } deltaNet) _deltaNet!.Forward(recurrentSlot, deltaNet, normed, n, segments, sublayer);
        else _attention!.Forward(attentionSlot, w.Attention!, normed, n, segments, sublayer);
        if (w.AttentionPostNorm is not null) RmsNorm.Apply(sublayer, w.AttentionPostNorm, epsilon, sublayer, _pool);
        ParallelVectorOps.Add(_pool, hidden, sublayer, hidden);

        RmsNorm.Apply(hidden, w.FeedForwardNorm, epsilon, normed, _pool);
        if (w.Dense is { } dense)
        {
            _feedForward.Forward(dense, normed, n, sublayer);
        }
        else
        {
            Experts!.Forward(layerIndex, w.Experts!, normed, n, sublayer);
            if (w.SharedExpert is { } sharedExpert)
            {
                MixtureOfExperts.Grow(ref _shared, n * embedding);
                Span<float> shared = _shared.AsSpan(0, n * embedding);
                _feedForward.Forward(sharedExpert, normed, n, shared);
                if (w.SharedExpertGate is { } gate)
                    for (int t = 0; t < n; t++)
                    {
                        Span<float> row = shared.Slice(t * embedding, embedding);
                        float scale = 1f / (1f + MathF.Exp(-VectorOps.Dot(gate, normed.Slice(t * embedding, embedding))));
                        VectorOps.Scale(row, scale);
                    }
                ParallelVectorOps.Add(_pool, sublayer, shared, sublayer);
            }
        }
        if (w.FeedForwardPostNorm is not null) RmsNorm.Apply(sublayer, w.FeedForwardPostNorm, epsilon, sublayer, _pool);
        ParallelVectorOps.Add(_pool, hidden, sublayer, hidden);
    }

    public void Dispose() => _pool.Dispose();
}
