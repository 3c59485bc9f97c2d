using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// Shapes of multi-head latent attention (DeepSeek-V2, §2.1). Each query/key head has <see cref="NopeLength"/>
/// content dimensions and <see cref="RopeLength"/> rotary ones; keys and values are decompressed per head from a
/// shared <see cref="KvLoraRank"/>-dimensional latent, and all heads share one rotary key.
/// </summary>
/// <param name="HeadCount">Query heads.</param>
/// <param name="QueryLoraRank">Rank of the query's low-rank bottleneck (<c>attention.q_lora_rank</c>); 0 = a full query projection (V2-Lite).</param>
/// <param name="KvLoraRank">Width of the compressed key/value latent (<c>attention.kv_lora_rank</c>).</param>
/// <param name="NopeLength">Content (non-rotary) dimensions per query/key head.</param>
/// <param name="RopeLength">Rotary dimensions per head, shared key (<c>rope.dimension_count</c>).</param>
/// <param name="ValueLength">Value dimensions per head.</param>
public sealed record LatentAttentionShape(int HeadCount, int QueryLoraRank, int KvLoraRank, int NopeLength, int RopeLength, int ValueLength)
{
    /// <summary>Query/key head size of the equivalent multi-head attention: nope + rope (192 in DeepSeek-V2/V3).</summary>
    public int QueryKeyLength => NopeLength + RopeLength;

    /// <summary>Cached elements per token and layer: the rotary key, then the latent.</summary>
    public int CacheWidth => RopeLength + KvLoraRank;
}

/// <summary>
/// One layer's MLA weights. The key up-projection is kept in its absorbed form, W_UKᵀ per head (rows of
/// nope elements producing the latent), so that a query can be folded into latent space:
/// qᵀ·(W_UK c) = (W_UKᵀ q)ᵀ·c. New GGUF conversions store exactly that (<c>attn_k_b</c>); older ones store
/// the joint <c>attn_kv_b</c>, whose key rows are transposed once at load.
/// </summary>
internal sealed record LatentAttentionWeights(
    Tensor? QueryDown,          // (qLoraRank, embedding)             attn_q_a
    float[]? QueryDownNorm,     // (qLoraRank)                        attn_q_a_norm
    Tensor? QueryUp,            // (heads · (nope + rope), qLoraRank) attn_q_b
    Tensor? Query,              // (heads · (nope + rope), embedding) attn_q, without the query bottleneck
    Tensor KeyValueDown,        // (kvLoraRank + rope, embedding)     attn_kv_a_mqa: latent, then the shared rotary key
    float[] KeyValueDownNorm,   // (kvLoraRank)                       attn_kv_a_norm
    Tensor KeyAbsorb,           // (heads · kvLoraRank, nope)         attn_k_b: W_UKᵀ of head h at rows h·kvLoraRank
    Tensor ValueUp,             // head h's W_UV: valueLength rows of kvLoraRank, from ValueRowOffset + h · ValueRowStride
    long ValueRowOffset,
    long ValueRowStride,
    Tensor Output)              // (embedding, heads · valueLength)   attn_output
{
    /// <summary>
    /// Reads <c>blk.{layer}.attn_*</c>: the query through its bottleneck (<c>attn_q_a</c>, <c>attn_q_a_norm</c>,
    /// <c>attn_q_b</c>) or directly (<c>attn_q</c>); the split <c>attn_k_b</c>/<c>attn_v_b</c> when
    /// <paramref name="splitKeyValue"/>, else the legacy joint <c>attn_kv_b</c>.
    /// </summary>
    public static LatentAttentionWeights Load(WeightReader reader, int layer, int embedding, LatentAttentionShape s, bool splitKeyValue)
    {
        string p = $"blk.{layer}.";
        int heads = s.HeadCount, rank = s.KvLoraRank, queryWidth = heads * s.QueryKeyLength;
        bool bottleneck = s.QueryLoraRank > 0;

        Tensor keyAbsorb, valueUp;
        long valueOffset, valueStride;
        if (splitKeyValue)
        {
            keyAbsorb = reader.Stacked(p + "attn_k_b.weight", s.NopeLength, rank, heads);
            valueUp = reader.Stacked(p + "attn_v_b.weight", rank, s.ValueLength, heads);
            valueOffset = 0;
            valueStride = s.ValueLength;
        }
        else
        {
            // attn_kv_b: per head, nope key rows then valueLength value rows, each of kvLoraRank. The value rows are
            // used in place; the key rows are transposed to (kvLoraRank, nope) per head, in F32.
            int perHead = s.NopeLength + s.ValueLength;
            Tensor joint = reader.Matrix(p + "attn_kv_b.weight", rank, heads * perHead);
            var transposed = new float[(long)heads * rank * s.NopeLength];
            for (int h = 0; h < heads; h++)
            {
                float[] keyRows = WeightReader.DecodeRows(joint, (long)h * perHead, s.NopeLength); // (nope, rank)
                int head = h * rank * s.NopeLength;
                for (int i = 0; i < s.NopeLength; i++)
                    for (int j = 0; j < rank; j++)
                        transposed[head + j * s.NopeLength + i] = keyRows[i * rank + j];
            }
            keyAbsorb = reader.Owned(p + "attn_k_b.weight (from attn_kv_b)", [s.NopeLength, rank, heads], transposed);
            valueUp = joint;
            valueOffset = s.NopeLength;
            valueStride = perHead;
        }

        return new LatentAttentionWeights(
            QueryDown: bottleneck ? reader.Matrix(p + "attn_q_a.weight", embedding, s.QueryLoraRank) : null,
            QueryDownNorm: bottleneck ? reader.Vector(p + "attn_q_a_norm.weight", s.QueryLoraRank) : null,
            QueryUp: bottleneck ? reader.Matrix(p + "attn_q_b.weight", s.QueryLoraRank, queryWidth) : null,
            Query: bottleneck ? null : reader.Matrix(p + "attn_q.weight", embedding, queryWidth),
            KeyValueDown: reader.Matrix(p + "attn_kv_a_mqa.weight", embedding, rank + s.RopeLength),
            KeyValueDownNorm: reader.Vector(p + "attn_kv_a_norm.weight", rank),
            KeyAbsorb: keyAbsorb,
            ValueUp: valueUp,
            ValueRowOffset: valueOffset,
            ValueRowStride: valueStride,
            Output: reader.Matrix(p + "attn_output.weight", heads * s.ValueLength, embedding));
    }
}

/// <summary>
/// Multi-head latent attention (DeepSeek-AI 2024, "DeepSeek-V2", §2.1) with a compressed cache: per token and layer
/// only the normalized latent c (kvLoraRank) and the rotated shared key k_rope (ropeLength) are stored — 576 values
/// in DeepSeek-V2/V3 instead of 2 · 128 heads · 192 for full keys and values. Keys and values are never
/// decompressed; each head works in latent space (the "absorbed" form):
/// <code>
///   q_h = [q_nope_h, RoPE(q_rope_h)]                      from x (through the query bottleneck when present)
///   [c, k_rope] = [RmsNorm(W_DKV x), RoPE(W_KR x)]        → cache
///   score_h(t) = ((W_UK_hᵀ q_nope_h)·c_t + q_rope_h·k_rope_t) · scale
///   out_h = W_UV_h (Σ_t softmax(score_h)_t c_t)
///   y = W_O [out_1 … out_H]
/// </code>
/// which equals standard attention over the decompressed keys k_h = [W_UK_h c, k_rope] and values v_h = W_UV_h c.
/// Prompts use the same absorbed form, batched: one matmul per head for the absorption and for W_UV.
/// With an F16 cache, queries and attention weights are rounded to F16 before their products, as llama.cpp does.
/// </summary>
internal sealed class MultiHeadLatentAttention
{
    private readonly LatentAttentionShape _shape;
    private readonly Rope _rope;
    private readonly float _scale, _epsilon;
    private readonly WorkerPool _pool;

    // Scratch, grown to the largest batch seen.
    private float[] _queryDown = [], _query = [], _keyValue = [], _fullQuery = [], _gathered = [], _absorbed = [], _latentOut = [], _mixed = [], _cosSin = [];

    /// <param name="scale">Multiplier of q·k (1/√(nope + rope), times YaRN's mscale² for DeepSeek).</param>
    public MultiHeadLatentAttention(LatentAttentionShape shape, Rope rope, float scale, float rmsEpsilon, WorkerPool pool)
    {
        _shape = shape;
        _rope = rope;
        _scale = scale;
        _epsilon = rmsEpsilon;
        _pool = pool;
        _cosSin = new float[shape.RopeLength];
    }

    public LatentAttentionShape Shape => _shape;

    /// <summary>
    /// Attention of the <paramref name="n"/> rows of <paramref name="input"/> (positions cache.Count onwards) into
    /// <paramref name="output"/> (n, embedding); appends their latents and rotary keys to layer
    /// <paramref name="layerIndex"/> of the cache (the caller advances the cache after the last layer).
    /// </summary>
    public void Forward(int layerIndex, LatentAttentionWeights w, ReadOnlySpan<float> input, int n, KvCache cache, Span<float> output)
    {
        var s = _shape;
        int heads = s.HeadCount, rank = s.KvLoraRank, rope = s.RopeLength, nope = s.NopeLength, headLength = s.QueryKeyLength;
        int queryWidth = heads * headLength, rowWidth = s.CacheWidth;

        // Queries: (n, heads · (nope + rope)).
        MixtureOfExperts.Grow(ref _query, n * queryWidth);
        Span<float> query = _query.AsSpan(0, n * queryWidth);
        if (w.QueryDown is { } queryDown)
        {
            MixtureOfExperts.Grow(ref _queryDown, n * s.QueryLoraRank);
            Span<float> compressed = _queryDown.AsSpan(0, n * s.QueryLoraRank); // (n, qLoraRank)
            MatMul.Compute(queryDown, input, compressed, n, _pool);
            RmsNorm.Apply(compressed, w.QueryDownNorm!, _epsilon, compressed);
            MatMul.Compute(w.QueryUp!, compressed, query, n, _pool);
        }
        else
        {
            MatMul.Compute(w.Query!, input, query, n, _pool);
        }

        // Latent and shared rotary key: (n, kvLoraRank + rope).
        MixtureOfExperts.Grow(ref _keyValue, n * (rank + rope));
        Span<float> keyValue = _keyValue.AsSpan(0, n * (rank + rope));
        MatMul.Compute(w.KeyValueDown, input, keyValue, n, _pool);

        // Full queries in latent space, (n, heads, rope + kvLoraRank): rotary part first, like the cache rows.
        MixtureOfExperts.Grow(ref _fullQuery, n * heads * rowWidth);
        Span<float> fullQuery = _fullQuery.AsSpan(0, n * heads * rowWidth);
        int firstPosition = cache.Count;
        for (int t = 0; t < n; t++)
        {
            _rope.Angles(firstPosition + t, _cosSin);
            Span<float> latentAndKey = keyValue.Slice(t * (rank + rope), rank + rope);
            Span<float> ropeKey = latentAndKey.Slice(rank, rope);
            _rope.Apply(ropeKey, rope, _cosSin);
            Span<float> latent = latentAndKey[..rank];
            RmsNorm.Apply(latent, w.KeyValueDownNorm, _epsilon, latent);
            StoreRow(cache, layerIndex, firstPosition + t, ropeKey, latent);

            for (int h = 0; h < heads; h++)
            {
                Span<float> target = fullQuery.Slice((t * heads + h) * rowWidth, rope);
                query.Slice(t * queryWidth + h * headLength + nope, rope).CopyTo(target);
                _rope.Apply(target, rope, _cosSin);
            }
        }

        // Absorb W_UK into the content part of each head: (n, nope) → (n, kvLoraRank), one matmul per head.
        MixtureOfExperts.Grow(ref _gathered, n * Math.Max(nope, rank));
        MixtureOfExperts.Grow(ref _absorbed, n * Math.Max(rank, s.ValueLength));
        for (int h = 0; h < heads; h++)
        {
            Span<float> gathered = _gathered.AsSpan(0, n * nope);
            for (int t = 0; t < n; t++) query.Slice(t * queryWidth + h * headLength, nope).CopyTo(gathered.Slice(t * nope, nope));
            Span<float> absorbed = _absorbed.AsSpan(0, n * rank);
            MatMul.Compute(w.KeyAbsorb, (long)h * rank, rank, gathered, absorbed, n, _pool);
            for (int t = 0; t < n; t++) absorbed.Slice(t * rank, rank).CopyTo(fullQuery.Slice((t * heads + h) * rowWidth + rope, rank));
        }

        // Attention in latent space, every (token, head) pair independent: (n, heads, kvLoraRank).
        MixtureOfExperts.Grow(ref _latentOut, n * heads * rank);
        var work = new LatentAttentionWork
        {
            Queries = _fullQuery, Output = _latentOut, Cache = cache, Layer = layerIndex, FirstPosition = firstPosition,
            Heads = heads, RowWidth = rowWidth, Rope = rope, Rank = rank, Scale = _scale,
        };
        _pool.For(n * heads, ref work);

        // Decompress each head's output with W_UV: (n, kvLoraRank) → (n, valueLength), into (n, heads · valueLength).
        int valueLength = s.ValueLength, mixedWidth = heads * valueLength;
        MixtureOfExperts.Grow(ref _mixed, n * mixedWidth);
        Span<float> mixed = _mixed.AsSpan(0, n * mixedWidth);
        for (int h = 0; h < heads; h++)
        {
            Span<float> gathered = _gathered.AsSpan(0, n * rank);
            for (int t = 0; t < n; t++) _latentOut.AsSpan((t * heads + h) * rank, rank).CopyTo(gathered.Slice(t * rank, rank));
            Span<float> values = _absorbed.AsSpan(0, n * valueLength);
            MatMul.Compute(w.ValueUp, w.ValueRowOffset + h * w.ValueRowStride, valueLength, gathered, values, n, _pool);
            for (int t = 0; t < n; t++) values.Slice(t * valueLength, valueLength).CopyTo(mixed.Slice(t * mixedWidth + h * valueLength, valueLength));
        }

        MatMul.Compute(w.Output, mixed, output, n, _pool);
    }

    /// <summary>Writes one token's cache row [k_rope | c] at <paramref name="position"/>, rounding to the cache's type.</summary>
    private static void StoreRow(KvCache cache, int layer, int position, ReadOnlySpan<float> ropeKey, ReadOnlySpan<float> latent)
    {
        int width = cache.KeyWidth, rope = ropeKey.Length;
        if (cache.KeyType == KvCacheType.F16)
        {
            Span<Half> row = cache.KeysF16(layer).Slice(position * width, width);
            for (int i = 0; i < rope; i++) row[i] = (Half)ropeKey[i];
            for (int i = 0; i < latent.Length; i++) row[rope + i] = (Half)latent[i];
        }
        else
        {
            Span<float> row = cache.KeysF32(layer).Slice(position * width, width);
            ropeKey.CopyTo(row);
            latent.CopyTo(row[rope..]);
        }
    }

    /// <summary>A range of (token, head) pairs: scores against every cached row, softmax, weighted sum of latents.</summary>
    private struct LatentAttentionWork : IParallelWork
    {
        [ThreadStatic] private static float[]? scores;
        [ThreadStatic] private static Half[]? queryHalf;

        public float[] Queries, Output;
        public KvCache Cache;
        public int Layer, FirstPosition, Heads, RowWidth, Rope, Rank;
        public float Scale;

        public readonly void Execute(int start, int end)
        {
            if (scores is null || scores.Length < Cache.Capacity) scores = new float[Cache.Capacity];
            if (queryHalf is null || queryHalf.Length < RowWidth) queryHalf = new Half[RowWidth];
            for (int item = start; item < end; item++)
            {
                int token = item / Heads;
                int length = FirstPosition + token + 1; // causal: a token sees itself and everything before it
                Head(Queries.AsSpan(item * RowWidth, RowWidth), length, scores.AsSpan(0, length), queryHalf,
                    Output.AsSpan(item * Rank, Rank));
            }
        }

        private readonly void Head(ReadOnlySpan<float> query, int length, Span<float> weights, Span<Half> half, Span<float> output)
        {
            int width = RowWidth, rope = Rope;
            if (Cache.KeyType == KvCacheType.F16)
            {
                ReadOnlySpan<Half> rows = Cache.KeysF16(Layer);
                Span<Half> q = half[..width];
                for (int i = 0; i < width; i++) q[i] = (Half)query[i];
                for (int t = 0; t < length; t++) weights[t] = Dot(q, rows.Slice(t * width, width)) * Scale;
                VectorOps.Softmax(weights);
                output.Clear();
                for (int t = 0; t < length; t++)
                {
                    float weight = (float)(Half)weights[t];
                    ReadOnlySpan<Half> latent = rows.Slice(t * width + rope, Rank);
                    for (int d = 0; d < latent.Length; d++) output[d] += weight * (float)latent[d];
                }
            }
            else
            {
                ReadOnlySpan<float> rows = Cache.KeysF32(Layer);
                for (int t = 0; t < length; t++) weights[t] = Dot(query, rows.Slice(t * width, width)) * Scale;
                VectorOps.Softmax(weights);
                output.Clear();
                for (int t = 0; t < length; t++)
                {
                    float weight = weights[t];
                    ReadOnlySpan<float> latent = rows.Slice(t * width + rope, Rank);
                    for (int d = 0; d < latent.Length; d++) output[d] += weight * latent[d];
                }
            }
        }

        private static float Dot(ReadOnlySpan<Half> a, ReadOnlySpan<Half> b)
        {
            float sum = 0;
            for (int i = 0; i < a.Length; i++) sum += (float)a[i] * (float)b[i];
            return sum;
        }

        private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        {
            float sum = 0;
            for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
            return sum;
        }
    }
}
