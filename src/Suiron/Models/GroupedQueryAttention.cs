using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// One layer's grouped-query attention weights, in either GGUF layout llama.cpp accepts: a fused
/// <c>attn_qkv</c> (query rows, then key rows, then value rows) or separate <c>attn_q</c>/<c>attn_k</c>/<c>attn_v</c>,
/// each with an optional bias; optional QK-norm, per head or over all heads.
/// </summary>
internal sealed record GroupedQueryAttentionWeights(
    Tensor? QueryKeyValue,  // (heads·keyLength + 2·kvHeads·keyLength, embedding)  attn_qkv, fused
    float[]? QueryKeyValueBias,
    Tensor? Query,          // (heads · keyLength, embedding)
    Tensor? Key,            // (kvHeads · keyLength, embedding)
    Tensor? Value,          // (kvHeads · valueLength, embedding)
    float[]? QueryBias,     // (heads · keyLength)
    float[]? KeyBias,       // (kvHeads · keyLength)
    float[]? ValueBias,     // (kvHeads · valueLength)
    float[]? QueryNorm,     // (keyLength), shared by all heads; or (heads · keyLength), one norm over them all
    float[]? KeyNorm,       // (keyLength); or (kvHeads · keyLength)
    Tensor Output,          // (embedding, heads · valueLength)
    bool OutputGate = false)// the query projection is twice as wide: per head its query, then a gate of the head's output
{
    /// <param name="optionalQueryKeyNorm">Take QK-norm weights when the file has them (otherwise only when <paramref name="queryKeyNorm"/> requires them).</param>
    /// <param name="requireBias">The Q, K and V biases must be there (Qwen2); otherwise they are taken when the file has them.</param>
    /// <param name="normOverAllHeads">The QK-norm weights span all heads of a token (MiniMax-M2: one RMS norm over the whole
    /// query and the whole key projection) instead of one head, shared by every head.</param>
    /// <param name="outputGate">Each query head comes with a gate row block, σ(gate) scaling the head's output (Qwen3-Next, Qwen3.5).</param>
    /// <param name="h">The model's hyper-parameters.</param>
    /// <param name="queryKeyNorm">Whether the layer has query and key norms.</param>
    /// <param name="reader">Reads the layer's tensors from the file.</param>
    /// <param name="layer">The layer index.</param>
    public static GroupedQueryAttentionWeights Load(WeightReader reader, int layer, TransformerHyperParameters h, bool queryKeyNorm,
        bool optionalQueryKeyNorm = false, bool requireBias = false, bool normOverAllHeads = false, bool outputGate = false)
    {
        string p = $"blk.{layer}.";
        int embedding = h.EmbeddingLength;
        if (outputGate && h.KeyLength != h.ValueLength)
            throw new Gguf.GgufException($"A gated attention output needs equal key and value head lengths (here {h.KeyLength} and {h.ValueLength})", -1, reader.File.Path);
        int queryWidth = (outputGate ? 2 : 1) * h.HeadCount * h.KeyLength, keyWidth = h.KvHeadCount * h.KeyLength, valueWidth = h.KvHeadCount * h.ValueLength;
        bool fused = reader.Has(p + "attn_qkv.weight");
        float[]? Bias(string name, int width) => requireBias ? reader.Vector(name, width) : reader.OptionalVector(name, width);
        // RmsNorm.Apply normalizes rows as long as its weight: one head, or a token's whole projection.
        int queryNormWidth = normOverAllHeads ? queryWidth : h.KeyLength, keyNormWidth = normOverAllHeads ? keyWidth : h.KeyLength;
        return new GroupedQueryAttentionWeights(
            QueryKeyValue: fused ? reader.Matrix(p + "attn_qkv.weight", embedding, queryWidth + keyWidth + valueWidth) : null,
            QueryKeyValueBias: fused ? Bias(p + "attn_qkv.bias", queryWidth + keyWidth + valueWidth) : null,
            Query: fused ? null : reader.Matrix(p + "attn_q.weight", embedding, queryWidth),
            Key: fused ? null : reader.Matrix(p + "attn_k.weight", embedding, keyWidth),
            Value: fused ? null : reader.Matrix(p + "attn_v.weight", embedding, valueWidth),
            QueryBias: fused ? null : Bias(p + "attn_q.bias", queryWidth),
            KeyBias: fused ? null : Bias(p + "attn_k.bias", keyWidth),
            ValueBias: fused ? null : Bias(p + "attn_v.bias", valueWidth),
            QueryNorm: queryKeyNorm ? reader.Vector(p + "attn_q_norm.weight", queryNormWidth)
                : optionalQueryKeyNorm ? reader.OptionalVector(p + "attn_q_norm.weight", queryNormWidth) : null,
            KeyNorm: queryKeyNorm ? reader.Vector(p + "attn_k_norm.weight", keyNormWidth)
                : optionalQueryKeyNorm ? reader.OptionalVector(p + "attn_k_norm.weight", keyNormWidth) : null,
            Output: reader.Matrix(p + "attn_output.weight", h.HeadCount * h.ValueLength, embedding),
            OutputGate: outputGate);
    }
}

/// <summary>
/// Causal grouped-query self-attention (Ainslie et al. 2023) over a <see cref="KvCache"/>: project, add biases,
/// QK-norm and RoPE (in that order, or the reverse), append keys and values, attend (each query head reads the
/// key/value head of its group) and project
/// back. The per-head attention is the shared <see cref="Attention.Head"/>; (token, head) pairs run in parallel.
/// A pass may hold several sequences (continuous batching): the projections run over all rows together, and each
/// row attends within its own sequence's cache at its own position.
/// </summary>
internal sealed unsafe class GroupedQueryAttention
{
    private readonly TransformerHyperParameters _h;
    private readonly Rope _rope;
    private readonly WorkerPool _pool;
    private readonly float _scale;
    private readonly bool _normAfterRope;
    private float[] _splitScores = [], _splitPartials = [], _fused = [], _query = [], _key = [], _value = [], _mixed = [], _gatedQuery = [], _gate = [];
    private KvCache[] _rowCache = [];
    private int[] _rowPosition = [], _blockFirstRow = [], _blockRows = [];

    /// <param name="normAfterRope">Apply the QK-norm to the rotated queries and keys (Hunyuan) instead of before RoPE.</param>
    /// <param name="pool">Threads for the forward pass.</param>
    /// <param name="rotation">Which Hadamard rotations a quantized cache gets.</param>
    /// <param name="h">The model's hyper-parameters.</param>
    /// <param name="rope">The rotary position embedding.</param>
    public GroupedQueryAttention(TransformerHyperParameters h, Rope rope, bool normAfterRope, WorkerPool pool, AttentionRotation rotation)
    {
        _h = h;
        _normAfterRope = normAfterRope;
        Rotation = rotation;
        _rope = rope;
        _pool = pool;
        _scale = 1f / MathF.Sqrt(h.KeyLength);
    }

    /// <summary>The Hadamard rotation of queries, keys and values for a quantized cache (llama.cpp's default), or none.</summary>
    public AttentionRotation Rotation { get; }

    public int KeyWidth => _h.KvHeadCount * _h.KeyLength;
    public int ValueWidth => _h.KvHeadCount * _h.ValueLength;
    private int QueryWidth => _h.HeadCount * _h.KeyLength;

    /// <summary>
    /// Attention of the <paramref name="n"/> rows of <paramref name="input"/> into <paramref name="output"/> (n, embedding);
    /// each segment's rows go at its positions of its cache, whose layer <paramref name="layerIndex"/> receives their
    /// keys and values (the caller advances the caches after the last layer).
    /// </summary>
    public void Forward(int layerIndex, GroupedQueryAttentionWeights w, ReadOnlySpan<float> input, int n, ReadOnlySpan<SequenceSegment> segments, Span<float> output)
    {
        int keyLength = _h.KeyLength, valueLength = _h.ValueLength;
        int queryWidth = QueryWidth, keyWidth = KeyWidth, valueWidth = ValueWidth;
        MixtureOfExperts.Grow(ref _query, n * queryWidth);
        MixtureOfExperts.Grow(ref _key, n * keyWidth);
        MixtureOfExperts.Grow(ref _value, n * valueWidth);
        Span<float> queries = _query.AsSpan(0, n * queryWidth); // (n, heads · keyLength)
        Span<float> keys = _key.AsSpan(0, n * keyWidth);         // (n, kvHeads · keyLength)
        Span<float> values = _value.AsSpan(0, n * valueWidth);   // (n, kvHeads · valueLength)

        // A gated layer projects (query, gate) pairs per head: project into a scratch of twice the width, split below.
        int projectedWidth = w.OutputGate ? 2 * queryWidth : queryWidth;
        Span<float> projected = queries;
        if (w.OutputGate)
        {
            MixtureOfExperts.Grow(ref _gatedQuery, n * projectedWidth);
            projected = _gatedQuery.AsSpan(0, n * projectedWidth);
        }
        if (w.QueryKeyValue is { } qkv)
        {
            int width = projectedWidth + keyWidth + valueWidth;
            MixtureOfExperts.Grow(ref _fused, n * width);
            Span<float> fused = _fused.AsSpan(0, n * width);
            MatMul.Compute(qkv, input, fused, n, _pool);
            if (w.QueryKeyValueBias is { } bias) ParallelVectorOps.AddToRows(_pool, fused, bias);
            for (int t = 0; t < n; t++)
            {
                Span<float> row = fused.Slice(t * width, width);
                row[..projectedWidth].CopyTo(projected.Slice(t * projectedWidth, projectedWidth));
                row.Slice(projectedWidth, keyWidth).CopyTo(keys.Slice(t * keyWidth, keyWidth));
                row.Slice(projectedWidth + keyWidth, valueWidth).CopyTo(values.Slice(t * valueWidth, valueWidth));
            }
        }
        else
        {
            MatMul.Compute(w.Query!, input, projected, n, _pool);
            MatMul.Compute(w.Key!, input, keys, n, _pool);
            MatMul.Compute(w.Value!, input, values, n, _pool);
            if (w.QueryBias is not null) ParallelVectorOps.AddToRows(_pool, projected, w.QueryBias);
            if (w.KeyBias is not null) ParallelVectorOps.AddToRows(_pool, keys, w.KeyBias);
            if (w.ValueBias is not null) ParallelVectorOps.AddToRows(_pool, values, w.ValueBias);
        }
        if (w.OutputGate)
        {
            MixtureOfExperts.Grow(ref _gate, n * queryWidth);
            for (int t = 0; t < n; t++)
                for (int h = 0; h < _h.HeadCount; h++)
                {
                    ReadOnlySpan<float> pair = projected.Slice(t * projectedWidth + 2 * h * keyLength, 2 * keyLength);
                    pair[..keyLength].CopyTo(queries.Slice(t * queryWidth + h * keyLength, keyLength));
                    pair[keyLength..].CopyTo(_gate.AsSpan(t * queryWidth + h * keyLength, keyLength));
                }
        }
        if (!_normAfterRope) NormalizeHeads(w, queries, keys);

        MixtureOfExperts.Grow(ref _rowCache, n);
        MixtureOfExperts.Grow(ref _rowPosition, n);
        foreach (var segment in segments)
            for (int t = segment.Start; t < segment.Start + segment.Count; t++)
            {
                _rowCache[t] = segment.Cache;
                _rowPosition[t] = segment.FirstPosition + t - segment.Start;
            }
        fixed (float* q = queries) fixed (float* k = keys)
        {
            var rotate = new RotaryRows { Rope = _rope, Positions = _rowPosition, Queries = q, Keys = k, QueryWidth = queryWidth, KeyWidth = keyWidth, HeadLength = keyLength };
            _pool.For(n, ref rotate, (long)n * (queryWidth + keyWidth) * 4);
        }
        if (_normAfterRope) NormalizeHeads(w, queries, keys);

        long attendedPositions = 0; // Σ over rows of the positions each row attends to: the work estimate the pool sizes its split by
        foreach (var segment in segments)
        {
            // A quantized cache stores rotated keys/values (llama.cpp's default): rotate after RoPE, before the write.
            Rotation.RotateQueriesAndKeys(queries.Slice(segment.Start * queryWidth, segment.Count * queryWidth), keys.Slice(segment.Start * keyWidth, segment.Count * keyWidth));
            Rotation.RotateValues(values.Slice(segment.Start * valueWidth, segment.Count * valueWidth));
            segment.Cache.Write(layerIndex, segment.FirstPosition,
                keys.Slice(segment.Start * keyWidth, segment.Count * keyWidth), values.Slice(segment.Start * valueWidth, segment.Count * valueWidth));
            attendedPositions += segment.AttendedPositions;
        }

        int mixedWidth = _h.HeadCount * valueLength;
        MixtureOfExperts.Grow(ref _mixed, n * mixedWidth);
        var work = new AttentionHeadsWork
        {
            Queries = _query, Mixed = _mixed, RowCache = _rowCache, RowPosition = _rowPosition, Layer = layerIndex,
            Heads = _h.HeadCount, GroupSize = _h.GroupSize, KeyLength = keyLength, ValueLength = valueLength,
            QueryWidth = queryWidth, Scale = _scale,
        };
        work.Run(n, segments, _pool, attendedPositions, ref _blockFirstRow, ref _blockRows, ref _splitScores, ref _splitPartials);
        Rotation.RotateOutputBack(_mixed.AsSpan(0, n * mixedWidth));
        if (w.OutputGate) VectorOps.SigmoidMul(_gate.AsSpan(0, n * mixedWidth), _mixed.AsSpan(0, n * mixedWidth), _mixed.AsSpan(0, n * mixedWidth));
        MatMul.Compute(w.Output, _mixed.AsSpan(0, n * mixedWidth), output, n, _pool);
    }

    /// <summary>The per-head RMS norm of queries and keys (each row of keyLength), where the layer has one.</summary>
    private void NormalizeHeads(GroupedQueryAttentionWeights w, Span<float> queries, Span<float> keys)
    {
        if (w.QueryNorm is not null) RmsNorm.Apply(queries, w.QueryNorm, _h.RmsNormEpsilon, queries, _pool);
        if (w.KeyNorm is not null) RmsNorm.Apply(keys, w.KeyNorm, _h.RmsNormEpsilon, keys, _pool);
    }

    /// <summary>RoPE of a range of rows' query and key heads at the rows' positions, the angles computed per row.</summary>
    private unsafe struct RotaryRows : IParallelWork
    {
        public Rope Rope;
        public int[] Positions;
        public float* Queries, Keys;
        public int QueryWidth, KeyWidth, HeadLength;

        public readonly void Execute(int start, int end)
        {
            Span<float> cosSin = stackalloc float[Rope.Dimensions];
            for (int t = start; t < end; t++)
            {
                Rope.Angles(Positions[t], cosSin);
                Rope.Apply(new Span<float>(Queries + (long)t * QueryWidth, QueryWidth), HeadLength, cosSin);
                Rope.Apply(new Span<float>(Keys + (long)t * KeyWidth, KeyWidth), HeadLength, cosSin);
            }
        }
    }

}
