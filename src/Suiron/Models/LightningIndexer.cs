using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// DeepSeek sparse attention's lightning indexer sizes (<c>{arch}.attention.indexer.*</c>): <c>head_count</c> heads of
/// <c>key_length</c>, the first <c>rope.dimension_count</c> of each rotated, and the <c>top_k</c> positions each
/// token attends to. <see cref="FullLayers"/> marks the layers with an indexer of their own; null when all have one.
/// </summary>
internal sealed record LightningIndexerShape(int HeadCount, int HeadLength, int RopeLength, int TopK, float NormEpsilon, bool[]? FullLayers = null)
{
    /// <summary>Context length from which a glm-dsa file without <c>attention.indexer.types</c> is taken to be GLM-5.2, whose
    /// layers share indexers, rather than GLM-5/5.1, whose layers all have one (llama.cpp's rule).</summary>
    private const int SharedIndexerContext = 1 << 20;

    /// <summary>Whether layer <paramref name="layer"/> scores positions itself, or reuses the last full layer's selection.
    /// A multi-token-prediction block (past the listed layers) has its own; its head attends densely all the same (llama.cpp's
    /// MTP graph), so those tensors are loaded and not run.</summary>
    public bool IsFull(int layer) => FullLayers is null || layer >= FullLayers.Length || FullLayers[layer];

    /// <param name="file">The GGUF file.</param>
    /// <param name="ropeLength">Rotated dimensions of each indexer head (the attention's <c>rope.dimension_count</c>).</param>
    /// <param name="sharedLayers">0 when every layer has its indexer (deepseek32); else the layer count, whose
    /// <c>attention.indexer.types</c> (1 full, 0 shared) are read, with GLM-5.2's pattern as the default for a context of
    /// 2^20 tokens or more (layers 0, 1, 2, 6, 10 … full) and all full below it.</param>
    public static LightningIndexerShape Parse(GgufFile file, int ropeLength, int sharedLayers = 0)
    {
        string Key(string name) => file.Architecture + ".attention." + name;
        int Read(string name)
        {
            int value = file.GetInt32(Key(name));
            if (value <= 0 || value > 1 << 20) throw new GgufException($"{Key(name)} = {value} must be in 1..{1 << 20}", -1, file.Path);
            return value;
        }
        int heads = Read("indexer.head_count"), length = Read("indexer.key_length"), topK = Read("indexer.top_k");
        if (length < ropeLength || ropeLength % 2 != 0)
            throw new GgufException($"{Key("indexer.key_length")} = {length} must hold the {ropeLength} rotated dimensions", -1, file.Path);
        bool[]? full = sharedLayers > 0 ? FullIndexerLayers(file, sharedLayers) : null;
        return new LightningIndexerShape(heads, length, ropeLength, topK, file.GetFloat(Key("layer_norm_epsilon"), 1e-6f), full);
    }

    private static bool[]? FullIndexerLayers(GgufFile file, int layers)
    {
        string key = file.Architecture + ".attention.indexer.types";
        var full = new bool[layers];
        if (file.TryGetValue(key, out var types) && types.IsArray)
        {
            // One entry per layer that runs (the multi-token-prediction blocks not counted), as llama.cpp requires.
            if (types.ArrayLength != layers)
                throw new GgufException($"{key} has {types.ArrayLength} entries for {layers} layers", -1, file.Path);
            var values = (Array)types.Value;
            for (int i = 0; i < layers; i++)
                full[i] = values.GetValue(i) switch
                {
                    bool b => b,
                    IConvertible c when c is not string => c.ToDouble(null) != 0,
                    var other => throw new GgufException($"{key} holds {other?.GetType().Name ?? "null"} entries, not 0/1 flags", -1, file.Path),
                };
        }
        else if (file.GetInt64(file.Architecture + ".context_length", 0) >= SharedIndexerContext)
        {
            for (int i = 0; i < layers; i++) full[i] = i < 2 || (i - 2) % 4 == 0;
        }
        else
        {
            return null;
        }
        if (!full[0]) throw new GgufException($"{key}: layer 0 must have its own indexer (1), for the layers after it to share", -1, file.Path);
        return full.All(f => f) ? null : full;
    }
}

/// <summary>One layer's indexer weights (<c>blk.{i}.indexer.*</c>).</summary>
internal sealed record LightningIndexerWeights(
    Tensor QueryUp,          // (heads · headLength, qLoraRank)   indexer.attn_q_b, from the normalized query latent
    Tensor Key,              // (headLength, embedding)           indexer.attn_k: one key per token, shared by the heads
    LayerNormWeights KeyNorm,//                                   indexer.k_norm (weight and bias)
    Tensor HeadWeights)      // (heads, embedding)                indexer.proj: each head's weight for the token
{
    public static LightningIndexerWeights Load(WeightReader reader, int layer, int embedding, int queryLoraRank, LightningIndexerShape s)
    {
        string p = $"blk.{layer}.indexer.";
        return new LightningIndexerWeights(
            QueryUp: reader.Matrix(p + "attn_q_b.weight", queryLoraRank, s.HeadCount * s.HeadLength),
            Key: reader.Matrix(p + "attn_k.weight", embedding, s.HeadLength),
            KeyNorm: new LayerNormWeights(reader.Vector(p + "k_norm.weight", s.HeadLength), reader.Vector(p + "k_norm.bias", s.HeadLength)),
            HeadWeights: reader.Matrix(p + "proj.weight", embedding, s.HeadCount));
    }
}

/// <summary>
/// The lightning indexer of DeepSeek sparse attention (DeepSeek-V3.2, "DSA"): a cheap score of every earlier token for
/// each query token, of which only the <c>top_k</c> best are attended to:
/// <code>
///   I(t, s) = Σ_h w_{t,h} · ReLU(q_{t,h} · k_s) / √(heads · headLength)     q from the query latent, k from x (LayerNorm, RoPE)
/// </code>
/// Each token's indexer key is cached beside its latent (the cache's value part). A token with no more than
/// <c>top_k</c> positions to see attends to all of them, which is plain MLA.
/// </summary>
internal sealed class LightningIndexer(LightningIndexerShape shape, Rope rope, WorkerPool pool)
{
    private float[] _queries = [], _keys = [], _weights = [], _cosSin = new float[shape.RopeLength];
    // llama.cpp rotates indexer queries and keys by a Walsh-Hadamard matrix before the keys are cached, whatever the
    // cache type (its indexer cache always rotates keys): scores are unchanged in exact arithmetic, but an F16 cache
    // rounds the rotated key, so the rounding only agrees when the same basis is rounded.
    private readonly int _rotationBlock = shape.HeadLength % AttentionRotation.MinimumBlock == 0
        ? AttentionRotation.LargestPowerOfTwoBlock(shape.HeadLength) : 0;
    private byte[] _selected = [];
    private float[] _margins = [];
    private byte[]? _lastSelection;
    private int _lastStride;

    public LightningIndexerShape Shape => shape;

    /// <summary>Tests: receives, for each row that selects, how close the selection was — the gap between the last score
    /// kept and the best one left out, relative to the larger of the two (a near-tie makes engines pick differently).</summary>
    public Action<float>? MarginObserver { get; set; }

    /// <summary>
    /// Computes the rows' indexer queries, keys and head weights, caches the keys, and marks for each row that sees more
    /// than <c>top_k</c> positions which of them it attends to: <paramref name="stride"/> bytes per row in the returned
    /// array (1 = attended), or null when every row attends to all it sees.
    /// </summary>
    public byte[]? Select(LightningIndexerWeights w, ReadOnlySpan<float> input, ReadOnlySpan<float> queryLatent, int n,
        KvCache[] rowCache, int[] rowPosition, int layer, out int stride)
    {
        byte[]? selected = Score(w, input, queryLatent, n, rowCache, rowPosition, layer, out stride);
        (_lastSelection, _lastStride) = (selected, stride);
        return selected;
    }

    /// <summary>
    /// The selection of the last <see cref="Select"/>, for a layer without an indexer of its own (GLM-5.2's shared layers):
    /// the layers of a pass run in order over the same rows, so it is the last full layer's choice for these rows.
    /// </summary>
    public byte[]? Reuse(out int stride)
    {
        stride = _lastStride;
        return _lastSelection;
    }

    private byte[]? Score(LightningIndexerWeights w, ReadOnlySpan<float> input, ReadOnlySpan<float> queryLatent, int n,
        KvCache[] rowCache, int[] rowPosition, int layer, out int stride)
    {
        int heads = shape.HeadCount, length = shape.HeadLength, ropeLength = shape.RopeLength;
        MixtureOfExperts.Grow(ref _queries, n * heads * length);
        MixtureOfExperts.Grow(ref _keys, n * length);
        MixtureOfExperts.Grow(ref _weights, n * heads);
        Span<float> queries = _queries.AsSpan(0, n * heads * length), keys = _keys.AsSpan(0, n * length), weights = _weights.AsSpan(0, n * heads);
        MatMul.Compute(w.QueryUp, queryLatent, queries, n, pool);
        MatMul.Compute(w.Key, input, keys, n, pool);
        LayerNorm.Apply(keys, w.KeyNorm, shape.NormEpsilon, keys);
        MatMul.Compute(w.HeadWeights, input, weights, n, pool);

        int longest = 0;
        for (int t = 0; t < n; t++)
        {
            rope.Angles(rowPosition[t], _cosSin);
            for (int h = 0; h < heads; h++) rope.Apply(queries.Slice((t * heads + h) * length, ropeLength), ropeLength, _cosSin);
            Span<float> key = keys.Slice(t * length, length);
            rope.Apply(key[..ropeLength], ropeLength, _cosSin);
            if (_rotationBlock > 0)
            {
                Hadamard.Rotate(queries.Slice(t * heads * length, heads * length), _rotationBlock);
                Hadamard.Rotate(key, _rotationBlock);
            }
            StoreKey(rowCache[t], layer, rowPosition[t], key);
            longest = Math.Max(longest, rowPosition[t] + 1);
        }
        stride = longest;
        if (longest <= shape.TopK) return null;

        MixtureOfExperts.Grow(ref _selected, n * stride);
        MixtureOfExperts.Grow(ref _margins, n);
        var work = new IndexerWork
        {
            Queries = _queries, Weights = _weights, Selected = _selected, Margins = _margins, RowCache = rowCache, RowPosition = rowPosition,
            Layer = layer, Heads = heads, HeadLength = length, TopK = shape.TopK, Stride = stride,
            Scale = 1f / MathF.Sqrt((float)heads * length),
        };
        long cost = 0;
        for (int t = 0; t < n; t++) cost += (long)(rowPosition[t] + 1) * heads * length;
        pool.For(n, ref work, cost);
        if (MarginObserver is { } observer)
            for (int t = 0; t < n; t++)
                if (rowPosition[t] + 1 > shape.TopK) observer(_margins[t]);
        return _selected;
    }

    /// <summary>The token's indexer key into the cache's value part at <paramref name="position"/>, rounded to its type.</summary>
    private static void StoreKey(KvCache cache, int layer, int position, ReadOnlySpan<float> key)
    {
        int width = cache.ValueWidth;
        if (cache.ValueType == KvCacheType.F16)
        {
            Span<Half> row = cache.ValuesF16(layer).Slice(position * width, width);
            for (int i = 0; i < width; i++) row[i] = (Half)key[i];
        }
        else
        {
            key.CopyTo(cache.ValuesF32(layer).Slice(position * width, width));
        }
    }

    /// <summary>Rows of the pass: index scores against every position the row sees, then the top k of them.</summary>
    private struct IndexerWork : IParallelWork
    {
        [ThreadStatic] private static float[]? scores, key;
        [ThreadStatic] private static int[]? order;

        public float[] Queries, Weights, Margins;
        public byte[] Selected;
        public KvCache[] RowCache;
        public int[] RowPosition;
        public int Layer, Heads, HeadLength, TopK, Stride;
        public float Scale;

        public readonly void Execute(int start, int end)
        {
            if (key is null || key.Length < HeadLength) key = new float[HeadLength];
            for (int t = start; t < end; t++)
            {
                int length = RowPosition[t] + 1;
                Span<byte> selected = Selected.AsSpan(t * Stride, Stride);
                selected.Clear();
                if (length <= TopK)
                {
                    selected[..length].Fill(1);
                    continue;
                }
                if (scores is null || scores.Length < length) scores = new float[Math.Max(length, 256)];
                if (order is null || order.Length < length) order = new int[Math.Max(length, 256)];
                KvCache cache = RowCache[t];
                ReadOnlySpan<float> queries = Queries.AsSpan(t * Heads * HeadLength, Heads * HeadLength);
                ReadOnlySpan<float> weights = Weights.AsSpan(t * Heads, Heads);
                for (int s = 0; s < length; s++)
                {
                    ReadOnlySpan<float> k = Key(cache, s);
                    float score = 0;
                    for (int h = 0; h < Heads; h++)
                        score += weights[h] * MathF.Max(0f, VectorOps.Dot(queries.Slice(h * HeadLength, HeadLength), k));
                    scores[s] = -score * Scale; // negated: an ascending sort puts the best first
                    order[s] = s;
                }
                Array.Sort(scores, order, 0, length);
                for (int i = 0; i < TopK; i++) selected[order[i]] = 1;
                float kept = -scores[TopK - 1], left = -scores[TopK];
                Margins[t] = (kept - left) / MathF.Max(MathF.Max(MathF.Abs(kept), MathF.Abs(left)), 1e-30f);
            }
        }

        private readonly ReadOnlySpan<float> Key(KvCache cache, int position)
        {
            int width = cache.ValueWidth;
            if (cache.ValueType == KvCacheType.F32) return cache.ValuesF32(Layer).Slice(position * width, width);
            ReadOnlySpan<Half> row = cache.ValuesF16(Layer).Slice(position * width, width);
            for (int i = 0; i < width; i++) key![i] = (float)row[i];
            return key.AsSpan(0, width);
        }
    }
}
