using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;
using Avx2FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Avx2FloatOps, Suiron.Kernels.Vector256x2, System.Runtime.Intrinsics.Vector256<ushort>>;

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
    Tensor Output,              // (embedding, heads · valueLength)   attn_output
    LightningIndexerWeights? Indexer = null) // DeepSeek sparse attention's indexer (deepseek32)
{
    /// <summary>
    /// Reads <c>blk.{layer}.attn_*</c>: the query through its bottleneck (<c>attn_q_a</c>, <c>attn_q_a_norm</c>,
    /// <c>attn_q_b</c>) or directly (<c>attn_q</c>); the split <c>attn_k_b</c>/<c>attn_v_b</c> when
    /// <paramref name="splitKeyValue"/>, else the legacy joint <c>attn_kv_b</c>.
    /// </summary>
    public static LatentAttentionWeights Load(WeightReader reader, int layer, int embedding, LatentAttentionShape s, bool splitKeyValue,
        LightningIndexerShape? indexer = null)
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
            Output: reader.Matrix(p + "attn_output.weight", heads * s.ValueLength, embedding),
            Indexer: indexer is null ? null : indexer.IsFull(layer) ? LightningIndexerWeights.Load(reader, layer, embedding, s.QueryLoraRank, indexer)
                : SkipIndexer(reader, p));
    }

    /// <summary>A layer that shares the previous indexer's selection runs no indexer: its tensors, where a conversion
    /// kept them (llama.cpp loads them as optional), are marked read without being loaded.</summary>
    private static LightningIndexerWeights? SkipIndexer(WeightReader reader, string layerPrefix)
    {
        reader.SkipPrefix(layerPrefix + "indexer.");
        return null;
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
/// Prompts use the same absorbed form, batched: one grouped matmul over all heads for the absorption and one for W_UV.
/// With an F16 cache, queries and attention weights are rounded to F16 before their products, as llama.cpp does.
/// </summary>
internal sealed unsafe class MultiHeadLatentAttention
{
    private readonly LatentAttentionShape _shape;
    private readonly Rope _rope;
    private readonly float _scale, _epsilon;
    private readonly WorkerPool _pool;
    private readonly LightningIndexer? _indexer;

    // Scratch, grown to the largest batch seen.
    private long[] _headRows = [];
    private float[] _queryDown = [], _query = [], _keyValue = [], _fullQuery = [], _gathered = [], _absorbed = [], _latentOut = [], _mixed = [];
    private KvCache[] _rowCache = [];
    private int[] _rowPosition = [], _headStarts = [], _blockFirstRow = [], _blockRows = [];

    /// <param name="scale">Multiplier of q·k (1/√(nope + rope), times YaRN's mscale² for DeepSeek).</param>
    /// <param name="pool">Threads for the forward pass.</param>
    /// <param name="indexer">DeepSeek-V3.2's lightning indexer (sparse attention); null for dense attention.</param>
    /// <param name="shape">Ranks and head lengths of the latent attention.</param>
    /// <param name="rope">The rotary position embedding.</param>
    /// <param name="rmsEpsilon">The RMS norms' epsilon.</param>
    public MultiHeadLatentAttention(LatentAttentionShape shape, Rope rope, float scale, float rmsEpsilon, WorkerPool pool, LightningIndexer? indexer = null)
    {
        _indexer = indexer;
        _shape = shape;
        _rope = rope;
        _scale = scale;
        _epsilon = rmsEpsilon;
        _pool = pool;
    }

    public LatentAttentionShape Shape => _shape;

    /// <summary>The sparse-attention indexer (deepseek32), or null (exposed so tests can observe its selections).</summary>
    internal LightningIndexer? Indexer => _indexer;

    /// <summary>
    /// Attention of the <paramref name="n"/> rows of <paramref name="input"/> into <paramref name="output"/> (n, embedding);
    /// each segment's rows go at its positions of its own cache (several sequences share a pass under continuous
    /// batching), whose layer <paramref name="layerIndex"/> receives their latents and rotary keys (the caller advances
    /// the caches after the last layer). <paramref name="dense"/>: every row attends to all it sees, whatever the lightning
    /// indexer would select (a multi-token-prediction block, as llama.cpp's MTP graph runs it).
    /// </summary>
    public void Forward(int layerIndex, LatentAttentionWeights w, ReadOnlySpan<float> input, int n, ReadOnlySpan<SequenceSegment> segments, Span<float> output,
        bool dense = false)
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
            RmsNorm.Apply(compressed, w.QueryDownNorm!, _epsilon, compressed, _pool);
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
        MixtureOfExperts.Grow(ref _rowCache, n);
        MixtureOfExperts.Grow(ref _rowPosition, n);
        long attendedPositions = 0; // Σ over rows of the positions each row attends to: the work estimate the pool sizes its split by
        foreach (var segment in segments)
        {
            for (int t = segment.Start; t < segment.Start + segment.Count; t++)
            {
                _rowCache[t] = segment.Cache;
                _rowPosition[t] = segment.FirstPosition + t - segment.Start;
            }
            attendedPositions += segment.AttendedPositions;
        }
        // DeepSeek sparse attention: which positions each row attends to (null: all it sees).
        int selectedStride = 0;
        byte[]? selected = _indexer is null || dense ? null
            : w.Indexer is null ? _indexer.Reuse(out selectedStride)
            : _indexer.Select(w.Indexer, input, _queryDown.AsSpan(0, n * s.QueryLoraRank), n, _rowCache, _rowPosition, layerIndex, out selectedStride);
        fixed (float* keyValueRows = keyValue) fixed (float* queryRows = query) fixed (float* fullQueryRows = fullQuery)
        {
            var rows = new RotaryLatentRows
            {
                Rope = _rope, Norm = w.KeyValueDownNorm, Epsilon = _epsilon, RowCache = _rowCache, Positions = _rowPosition, Layer = layerIndex,
                KeyValue = keyValueRows, Query = queryRows, FullQuery = fullQueryRows,
                Rank = rank, RopeLength = rope, Heads = heads, RowWidth = rowWidth, QueryWidth = queryWidth, HeadLength = headLength, Nope = nope,
            };
            _pool.For(n, ref rows, (long)n * (rank + rope + heads * rope) * 4);
        }

        // Absorb W_UK into the content part of each head: (n, nope) → (n, kvLoraRank) per head — all heads in one pass
        // (head h's rows against head h's queries): for one token a segment per head, for a prompt a group per head of
        // its n queries, gathered head-major; per-head matmuls would be too small to be worth a fork/join each.
        MixtureOfExperts.Grow(ref _gathered, heads * n * Math.Max(nope, rank));
        MixtureOfExperts.Grow(ref _absorbed, heads * n * Math.Max(rank, s.ValueLength));
        MixtureOfExperts.Grow(ref _headRows, heads);
        MixtureOfExperts.Grow(ref _headStarts, heads + 1);
        for (int h = 0; h <= heads; h++) _headStarts[h] = h * n;
        ReadOnlySpan<int> headStarts = _headStarts.AsSpan(0, heads + 1);
        for (int h = 0; h < heads; h++) _headRows[h] = (long)h * rank;
        if (n == 1)
        {
            Span<float> gathered = _gathered.AsSpan(0, heads * nope);
            for (int h = 0; h < heads; h++) query.Slice(h * headLength, nope).CopyTo(gathered.Slice(h * nope, nope));
            Span<float> absorbed = _absorbed.AsSpan(0, heads * rank);
            MatMul.ComputeSegments(w.KeyAbsorb, _headRows.AsSpan(0, heads), rank, gathered, sharedInput: false, absorbed, _pool);
            for (int h = 0; h < heads; h++) absorbed.Slice(h * rank, rank).CopyTo(fullQuery.Slice(h * rowWidth + rope, rank));
        }
        else
        {
            Span<float> gathered = _gathered.AsSpan(0, heads * n * nope); // (heads, n, nope)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++) query.Slice(t * queryWidth + h * headLength, nope).CopyTo(gathered.Slice((h * n + t) * nope, nope));
            Span<float> absorbed = _absorbed.AsSpan(0, heads * n * rank); // (heads, n, kvLoraRank)
            MatMul.ComputeGroups(w.KeyAbsorb, _headRows.AsSpan(0, heads), rank, headStarts, gathered, absorbed, _pool);
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++) absorbed.Slice((h * n + t) * rank, rank).CopyTo(fullQuery.Slice((t * heads + h) * rowWidth + rope, rank));
        }

        // Attention in latent space, every (token, head) pair independent: (n, heads, kvLoraRank).
        MixtureOfExperts.Grow(ref _latentOut, n * heads * rank);
        var work = new LatentAttentionWork
        {
            Queries = _fullQuery, Output = _latentOut, RowCache = _rowCache, RowPosition = _rowPosition, Layer = layerIndex,
            Heads = heads, RowWidth = rowWidth, Rope = rope, Rank = rank, Scale = _scale, Selected = selected, SelectedStride = selectedStride,
        };
        long cost = attendedPositions * heads * (rowWidth + rank);
        if (TiledAttention.IsAccelerated && _rowCache[0].KeyType is KvCacheType.F16 or KvCacheType.F32)
        {
            // Every head reads the one latent row per position: the tiled form with one key/value head of all the heads.
            work.Blocks = TiledAttention.CutBlocks(segments, heads, ref _blockFirstRow, ref _blockRows);
            (work.BlockFirstRow, work.BlockRows) = (_blockFirstRow, _blockRows);
            work.HeadSplit = TiledAttention.HeadSplit(work.Blocks, heads, _pool.Threads);
            _pool.For(work.Blocks * work.HeadSplit, ref work, cost);
        }
        else
        {
            _pool.For(n * heads, ref work, cost);
        }

        // Decompress each head's output with W_UV: (n, kvLoraRank) → (n, valueLength), into (n, heads · valueLength).
        int valueLength = s.ValueLength, mixedWidth = heads * valueLength;
        MixtureOfExperts.Grow(ref _mixed, n * mixedWidth);
        Span<float> mixed = _mixed.AsSpan(0, n * mixedWidth);
        for (int h = 0; h < heads; h++) _headRows[h] = w.ValueRowOffset + h * w.ValueRowStride;
        if (n == 1)
        {
            // (heads, kvLoraRank) → (heads, valueLength) = the mixed row, all heads in one pass.
            MatMul.ComputeSegments(w.ValueUp, _headRows.AsSpan(0, heads), valueLength, _latentOut.AsSpan(0, heads * rank), sharedInput: false, mixed, _pool);
        }
        else
        {
            // Head-major (heads, n, kvLoraRank) → (heads, n, valueLength), one group per head, into (n, heads · valueLength).
            Span<float> gathered = _gathered.AsSpan(0, heads * n * rank);
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++) _latentOut.AsSpan((t * heads + h) * rank, rank).CopyTo(gathered.Slice((h * n + t) * rank, rank));
            Span<float> values = _absorbed.AsSpan(0, heads * n * valueLength);
            MatMul.ComputeGroups(w.ValueUp, _headRows.AsSpan(0, heads), valueLength, headStarts, gathered, values, _pool);
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++) values.Slice((h * n + t) * valueLength, valueLength).CopyTo(mixed.Slice(t * mixedWidth + h * valueLength, valueLength));
        }

        MatMul.Compute(w.Output, mixed, output, n, _pool);
    }

    /// <summary>
    /// A range of rows: the rotary key rotated and the latent normalised, both stored in the cache, and each head's rotary
    /// query part rotated into the full query (the angles computed per row, on each thread's stack).
    /// </summary>
    private unsafe struct RotaryLatentRows : IParallelWork
    {
        public Rope Rope;
        public float[] Norm;
        public float Epsilon;
        public KvCache[] RowCache;
        public int[] Positions;
        public int Layer;
        public float* KeyValue, Query, FullQuery;
        public int Rank, RopeLength, Heads, RowWidth, QueryWidth, HeadLength, Nope;

        public readonly void Execute(int start, int end)
        {
            Span<float> cosSin = stackalloc float[Rope.Dimensions];
            for (int t = start; t < end; t++)
            {
                Rope.Angles(Positions[t], cosSin);
                var latentAndKey = new Span<float>(KeyValue + (long)t * (Rank + RopeLength), Rank + RopeLength);
                Span<float> ropeKey = latentAndKey.Slice(Rank, RopeLength);
                Rope.Apply(ropeKey, RopeLength, cosSin);
                Span<float> latent = latentAndKey[..Rank];
                RmsNorm.Apply(latent, Norm, Epsilon, latent);
                StoreRow(RowCache[t], Layer, Positions[t], ropeKey, latent);

                for (int h = 0; h < Heads; h++)
                {
                    var target = new Span<float>(FullQuery + ((long)t * Heads + h) * RowWidth, RopeLength);
                    new ReadOnlySpan<float>(Query + (long)t * QueryWidth + h * HeadLength + Nope, RopeLength).CopyTo(target);
                    Rope.Apply(target, RopeLength, cosSin);
                }
            }
        }
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

    /// <summary>Positions sparse attention leaves out get a score of −∞ (weight 0 after the softmax).</summary>
    private static void Mask(Span<float> scores, ReadOnlySpan<byte> keep)
    {
        if (keep.IsEmpty) return;
        for (int t = 0; t < scores.Length; t++)
            if (keep[t] == 0) scores[t] = float.NegativeInfinity;
    }

    /// <summary>A range of (token, head) pairs: scores against every cached row, softmax, weighted sum of latents.</summary>
    private struct LatentAttentionWork : IParallelWork
    {
        [ThreadStatic] private static float[]? scores;
        [ThreadStatic] private static float[]? queryHalf;

        public float[] Queries, Output;
        public KvCache[] RowCache; // the cache of each row's sequence
        public int[] RowPosition;  // each row's position in its sequence
        public int Layer, Heads, RowWidth, Rope, Rank;
        public float Scale;
        public byte[]? Selected; // per row, SelectedStride flags: the positions sparse attention keeps (null: all)
        public int SelectedStride;
        public int[] BlockFirstRow, BlockRows; // tiled form (Blocks > 0): row blocks, each with all heads or a part of them
        public int Blocks, HeadSplit;

        public readonly void Execute(int start, int end)
        {
            if (Blocks > 0)
            {
                ExecuteTiled(start, end);
                return;
            }
            if (queryHalf is null || queryHalf.Length < RowWidth) queryHalf = new float[RowWidth];
            for (int item = start; item < end; item++)
            {
                int token = item / Heads;
                KvCache cache = RowCache[token];
                if (scores is null || scores.Length < cache.Capacity) scores = new float[cache.Capacity];
                int length = RowPosition[token] + 1; // causal: a token sees itself and everything before it
                ReadOnlySpan<byte> keep = Selected is null ? default : Selected.AsSpan(token * SelectedStride, length);
                Head(cache, Queries.AsSpan(item * RowWidth, RowWidth), length, scores.AsSpan(0, length), queryHalf,
                    Output.AsSpan(item * Rank, Rank), keep);
            }
        }

        [ThreadStatic] private static float[]? tileScratch;

        private readonly unsafe void ExecuteTiled(int start, int end)
        {
            int count = Blocks * HeadSplit;
            for (int item = start; item < end; item++)
            {
                int reversed = count - 1 - item, block = reversed / HeadSplit, part = reversed % HeadSplit; // the longest rows first
                int firstHead = part * Heads / HeadSplit, heads = (part + 1) * Heads / HeadSplit - firstHead;
                int firstRow = BlockFirstRow[block], rows = BlockRows[block], firstPosition = RowPosition[firstRow];
                KvCache cache = RowCache[firstRow];
                long needed = TiledAttention.ScratchFloats(rows * heads, firstPosition + rows, RowWidth, Rank);
                if (tileScratch is null || tileScratch.Length < needed) tileScratch = new float[Math.Max(needed, 2 * (tileScratch?.Length ?? 0))];
                bool half = cache.KeyType == KvCacheType.F16;
                fixed (Half* rowsF16 = half ? cache.KeysF16(Layer) : default)
                fixed (float* rowsF32 = half ? default : cache.KeysF32(Layer))
                fixed (float* queries = Queries)
                fixed (float* output = Output)
                fixed (float* scratch = tileScratch)
                fixed (byte* selected = Selected)
                {
                    // Keys are the whole rows [k_rope | c], values their latent part c.
                    var source = new TileSource(
                        half ? (ushort*)rowsF16 : null, half ? null : rowsF32, RowWidth,
                        half ? (ushort*)rowsF16 + Rope : null, half ? null : rowsF32 + Rope, RowWidth);
                    TiledAttention.Rows(
                        queries + ((long)firstRow * Heads + firstHead) * RowWidth, Heads * RowWidth, rows, heads, source, firstPosition, Scale,
                        output + ((long)firstRow * Heads + firstHead) * Rank, Heads * Rank, scratch, RowWidth, Rank,
                        selected == null ? null : selected + (long)firstRow * SelectedStride, SelectedStride);
                }
            }
        }

        /// <summary>
        /// One head against the cache rows [k_rope | c]: scores over the whole row, softmax, then the weighted sum of
        /// the latents — with <see cref="Attention"/>'s vectorized dot and accumulate kernels (F16 rows widened 8 at a
        /// time), the query and the weights rounded to F16 first when the cache is F16.
        /// </summary>
        private readonly unsafe void Head(KvCache cache, ReadOnlySpan<float> query, int length, Span<float> weights, Span<float> half, Span<float> output,
            ReadOnlySpan<byte> keep)
        {
            int width = RowWidth, rope = Rope, rank = Rank;
            output.Clear();
            fixed (float* q = query)
            fixed (float* qh = half)
            fixed (float* s = weights)
            fixed (float* o = output)
            {
                if (cache.KeyType == KvCacheType.F16)
                {
                    Attention.RoundToHalf(q, qh, width);
                    fixed (Half* cached = cache.KeysF16(Layer))
                    {
                        ushort* rows = (ushort*)cached;
                        if (Avx2Dot.IsSupported)
                        {
                            // Same products as DotHalf/AccumulateHalf, cheaper F16 widening (see Attention.AccumulateHalfRebiased).
                            Attention.Scale(qh, Avx2Dot.HalfRebias, width);
                            for (int t = 0; t < length; t++) s[t] = Avx2FloatDot.F16xRebiasedF32((byte*)(rows + (long)t * width), (byte*)qh, width) * Scale;
                            Mask(weights, keep);
                            VectorOps.Softmax(weights);
                            Attention.RoundToHalf(s, s, length);
                            for (int t = 0; t < length; t++) Attention.AccumulateHalfRebiased(s[t], rows + (long)t * width + rope, o, rank);
                        }
                        else
                        {
                            for (int t = 0; t < length; t++) s[t] = Attention.DotHalf(qh, rows + (long)t * width, width) * Scale;
                            Mask(weights, keep);
                            VectorOps.Softmax(weights);
                            Attention.RoundToHalf(s, s, length);
                            for (int t = 0; t < length; t++) Attention.AccumulateHalf(s[t], rows + (long)t * width + rope, o, rank);
                        }
                    }
                }
                else
                {
                    fixed (float* rows = cache.KeysF32(Layer))
                    {
                        for (int t = 0; t < length; t++) s[t] = Attention.Dot(q, rows + (long)t * width, width) * Scale;
                        Mask(weights, keep);
                        VectorOps.Softmax(weights);
                        for (int t = 0; t < length; t++) Attention.Accumulate(s[t], rows + (long)t * width + rope, o, rank);
                    }
                }
            }
        }
    }
}
