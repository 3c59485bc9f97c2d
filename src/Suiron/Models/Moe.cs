using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>How a router turns its logits into expert scores (GGUF <c>expert_gating_func</c>: 1 softmax, 2 sigmoid).</summary>
public enum ExpertGating
{
    /// <summary>softmax over all experts (Mixtral, Qwen-MoE, DeepSeek-V2).</summary>
    Softmax = 1,
    /// <summary>An independent σ(logit) per expert (DeepSeek-V3, GLM-4.5).</summary>
    Sigmoid = 2,
}

/// <summary>
/// Routing of a mixture-of-experts layer, as llama.cpp's <c>build_moe_ffn</c> does it: scores = gating(router · x);
/// the selection adds an optional per-expert correction bias (DeepSeek-V3's <c>exp_probs_b</c>, used only to choose,
/// never to weight); with groups, only experts in the <see cref="GroupsUsed"/> groups whose two best selection scores
/// sum highest stay eligible; the top <see cref="UsedCount"/> eligible experts are chosen and weighted by their
/// unbiased scores, optionally renormalized to sum 1 and then multiplied by <see cref="WeightsScale"/>.
/// </summary>
/// <param name="ExpertCount">Routed experts per layer (<c>expert_count</c>).</param>
/// <param name="UsedCount">Experts each token is sent to (<c>expert_used_count</c>).</param>
/// <param name="FeedForwardLength">Hidden width of one routed expert (<c>expert_feed_forward_length</c>).</param>
/// <param name="GroupCount">Expert groups (<c>expert_group_count</c>); 0 or 1 means no group limit.</param>
/// <param name="GroupsUsed">Groups a token may pick experts from (<c>expert_group_used_count</c>).</param>
/// <param name="NormalizeWeights">Divide the chosen weights by their sum (<c>expert_weights_norm</c>).</param>
/// <param name="WeightsScale">Routed scaling factor (<c>expert_weights_scale</c>); 0 and 1 mean none.</param>
/// <param name="Gating">How router logits become scores (softmax or sigmoid).</param>
public sealed record ExpertRouting(
    int ExpertCount,
    int UsedCount,
    int FeedForwardLength,
    ExpertGating Gating,
    int GroupCount,
    int GroupsUsed,
    bool NormalizeWeights,
    float WeightsScale)
{
    /// <summary>Whether routing first picks expert groups (DeepSeek-V3's group-limited routing).</summary>
    public bool GroupLimited => GroupCount > 1;

    /// <summary>Reads the routing keys <c>{arch}.expert_*</c> with llama.cpp's defaults, overridable per architecture.</summary>
    public static ExpertRouting Parse(GgufFile file, ExpertGating defaultGating, bool? normalizeWeights = null, int? fallbackFeedForward = null)
    {
        string arch = file.Architecture;
        string Key(string name) => arch + "." + name;
        int experts = file.GetInt32(Key("expert_count"), 0);
        int used = file.GetInt32(Key("expert_used_count"), 0);
        if (experts <= 0) throw new GgufException($"{Key("expert_count")} must be positive for {arch}", -1, file.Path);
        if (used <= 0 || used > experts) throw new GgufException($"{Key("expert_used_count")} = {used} must be in 1..{experts}", -1, file.Path);
        int feedForward = file.GetInt32(Key("expert_feed_forward_length"), fallbackFeedForward ?? 0);
        if (feedForward <= 0) throw new GgufException($"{Key("expert_feed_forward_length")} must be positive for {arch}", -1, file.Path);

        int gatingCode = file.GetInt32(Key("expert_gating_func"), 0);
        ExpertGating gating = gatingCode switch
        {
            0 => defaultGating, // absent or "none": older DeepSeek-V2 files
            1 => ExpertGating.Softmax,
            2 => ExpertGating.Sigmoid,
            _ => throw new GgufException($"{Key("expert_gating_func")} = {gatingCode} is not supported (1 softmax, 2 sigmoid)", -1, file.Path),
        };

        int groups = file.GetInt32(Key("expert_group_count"), 0);
        int groupsUsed = file.GetInt32(Key("expert_group_used_count"), 0);
        if (groups > 1)
        {
            if (experts % groups != 0 || experts / groups < 2)
                throw new GgufException($"{experts} experts cannot form {groups} groups of at least 2", -1, file.Path);
            if (groupsUsed <= 0 || groupsUsed > groups || groupsUsed * (experts / groups) < used)
                throw new GgufException($"{Key("expert_group_used_count")} = {groupsUsed} cannot hold {used} experts out of {groups} groups", -1, file.Path);
        }

        return new ExpertRouting(
            ExpertCount: experts,
            UsedCount: used,
            FeedForwardLength: feedForward,
            Gating: gating,
            GroupCount: groups,
            GroupsUsed: groupsUsed,
            NormalizeWeights: normalizeWeights ?? file.GetBool(Key("expert_weights_norm"), false),
            WeightsScale: file.GetFloat(Key("expert_weights_scale"), 0f));
    }

    /// <summary>
    /// Chooses the experts of one token from its router <paramref name="logits"/> (overwritten with the scores) and
    /// writes their indices, best first, and their weights.
    /// </summary>
    /// <param name="selectionBias">Optional per-expert correction added for the choice only.</param>
    /// <param name="selection">Scratch of ExpertCount floats.</param>
    /// <returns>
    /// How decisive the choice was: the smallest gap, relative to the kept side, between the last expert kept and the
    /// best one left out (and between the last group kept and the best group left out). Near 0, a tiny change of the
    /// input could swap an expert.
    /// </returns>
    /// <param name="experts">Receives the chosen experts' ids.</param>
    /// <param name="weights">Receives the chosen experts' weights.</param>
    /// <param name="logits">The router's logits (overwritten with the scores).</param>
    public float Route(Span<float> logits, ReadOnlySpan<float> selectionBias, Span<float> selection, Span<int> experts, Span<float> weights)
    {
        float margin = float.PositiveInfinity;
        int n = ExpertCount, k = UsedCount;
        Span<float> scores = logits[..n];
        if (Gating == ExpertGating.Softmax) VectorOps.Softmax(scores);
        else for (int e = 0; e < n; e++) scores[e] = 1f / (1f + MathF.Exp(-scores[e]));

        selection = selection[..n];
        scores.CopyTo(selection);
        if (!selectionBias.IsEmpty) for (int e = 0; e < n; e++) selection[e] += selectionBias[e];

        if (GroupLimited)
        {
            // A group's score is the sum of its two best experts; all but the best GroupsUsed groups are masked out.
            int perGroup = n / GroupCount;
            Span<float> groupScores = stackalloc float[GroupCount];
            for (int g = 0; g < GroupCount; g++)
            {
                float best = float.NegativeInfinity, second = float.NegativeInfinity;
                foreach (float s in selection.Slice(g * perGroup, perGroup))
                {
                    if (s > best) { second = best; best = s; }
                    else if (s > second) second = s;
                }
                groupScores[g] = best + second;
            }
            Span<int> keptGroups = stackalloc int[Math.Min(GroupsUsed + 1, GroupCount)];
            TopK(groupScores, keptGroups);
            if (keptGroups.Length > GroupsUsed)
                margin = RelativeGap(groupScores[keptGroups[GroupsUsed - 1]], groupScores[keptGroups[GroupsUsed]]);
            keptGroups = keptGroups[..GroupsUsed];
            for (int g = 0; g < GroupCount; g++)
                if (!keptGroups.Contains(g)) selection.Slice(g * perGroup, perGroup).Fill(float.NegativeInfinity);
        }

        Span<int> ranked = stackalloc int[Math.Min(k + 1, n)];
        TopK(selection, ranked);
        ranked[..k].CopyTo(experts);
        if (ranked.Length > k) margin = MathF.Min(margin, RelativeGap(selection[ranked[k - 1]], selection[ranked[k]]));
        double sum = 0;
        for (int i = 0; i < k; i++)
        {
            weights[i] = scores[experts[i]];
            sum += weights[i];
        }
        if (NormalizeWeights)
        {
            float divisor = MathF.Max((float)sum, 6.103515625e-5f); // llama.cpp clamps the sum to F16's smallest normal
            for (int i = 0; i < k; i++) weights[i] /= divisor;
        }
        if (WeightsScale != 0f && WeightsScale != 1f)
            for (int i = 0; i < k; i++) weights[i] *= WeightsScale;
        return margin;
    }

    private static float RelativeGap(float kept, float leftOut) =>
        float.IsNegativeInfinity(leftOut) ? float.PositiveInfinity : (kept - leftOut) / MathF.Max(MathF.Abs(kept), 1e-30f);

    /// <summary>Indices of the <c>top.Length</c> largest values, largest first (the earlier index on ties).</summary>
    private static void TopK(ReadOnlySpan<float> values, Span<int> top)
    {
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (count == top.Length && !(v > values[top[count - 1]])) continue;
            int at = Math.Min(count, top.Length - 1);
            while (at > 0 && v > values[top[at - 1]])
            {
                top[at] = top[at - 1];
                at--;
            }
            top[at] = i;
            if (count < top.Length) count++;
        }
    }
}

/// <summary>
/// One MoE layer's routed experts, stacked along the outermost dimension as GGUF stores them: expert e owns rows
/// [e·rowsPerExpert, (e+1)·rowsPerExpert) of each tensor, so one expert is a row slice that
/// <see cref="MatMul.Compute(Tensor, long, int, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> reads alone.
/// </summary>
internal sealed record ExpertWeights(
    Tensor Router,           // (experts, embedding)                 ffn_gate_inp
    float[]? SelectionBias,  // (experts)                            exp_probs_b: added to the scores to choose, not to weight
    Tensor? Gate,            // (experts · expertFeedForward, embedding)  ffn_gate_exps
    Tensor? Up,              // (experts · expertFeedForward, embedding)  ffn_up_exps
    Tensor? GateUp,          // (experts · 2 · expertFeedForward, embedding) ffn_gate_up_exps: gate rows, then up rows
    Tensor Down)             // (experts · embedding, expertFeedForward)  ffn_down_exps
{
    /// <summary>Loads <c>blk.{layer}.ffn_*_exps</c> (fused gate+up when the file has it) and the router.</summary>
    public static ExpertWeights Load(WeightReader reader, int layer, int embedding, ExpertRouting routing)
    {
        string p = $"blk.{layer}.";
        int experts = routing.ExpertCount, width = routing.FeedForwardLength;
        bool fused = reader.Has(p + "ffn_gate_up_exps.weight");
        return new ExpertWeights(
            Router: reader.Matrix(p + "ffn_gate_inp.weight", embedding, experts),
            SelectionBias: reader.Has(p + "exp_probs_b.bias") ? reader.Vector(p + "exp_probs_b.bias", experts) : null,
            Gate: fused ? null : reader.Stacked(p + "ffn_gate_exps.weight", embedding, width, experts),
            Up: fused ? null : reader.Stacked(p + "ffn_up_exps.weight", embedding, width, experts),
            GateUp: fused ? reader.Stacked(p + "ffn_gate_up_exps.weight", embedding, 2 * width, experts) : null,
            Down: reader.Stacked(p + "ffn_down_exps.weight", width, embedding, experts));
    }
}

/// <summary>What the experts of a layer computed, for tests and load statistics: one entry per expert evaluated.</summary>
/// <param name="Layer">Layer index.</param>
/// <param name="Expert">Expert index.</param>
/// <param name="Tokens">Tokens of the batch routed to it.</param>
/// <param name="WeightRows">Weight rows read (gate, up and down of this expert only).</param>
internal readonly record struct ExpertVisit(int Layer, int Expert, int Tokens, long WeightRows);

/// <summary>
/// The sparse feed-forward of a mixture-of-experts layer (Shazeer et al. 2017; DeepSeekMoE, Dai et al. 2024):
/// every token goes through the <see cref="ExpertRouting.UsedCount"/> experts its router picks and the result is
/// their weighted sum, <c>Σᵢ wᵢ · Downᵢ(SiLU(Gateᵢ x) ⊙ Upᵢ x)</c>. Only the chosen experts' rows are read, which
/// is the point of MoE: a token costs its k experts, not all of them. A batch is grouped by expert (the tokens routed
/// to expert e side by side) and each of gate, up and down runs as one grouped matmul over every expert's rows against
/// its own tokens (<c>MatMul.ComputeGroups</c>), so a prompt reads each used expert once in three pool passes.
/// Per token the weighted expert outputs are added in the router's order, as llama.cpp adds them.
/// </summary>
internal sealed class MixtureOfExperts
{
    private readonly ExpertRouting _routing;
    private readonly int _embedding;
    private readonly WorkerPool _pool;

    // Scratch, grown to the largest batch seen.
    private float[] _logits = [], _selection = [], _weights = [], _downRows = [], _gate = [], _up = [], _expertOutput = [];
    private int[] _chosen = [], _expertStarts = [], _groupStarts = [], _groupExpert = [], _rowOfPair = [], _tokenOfRow = [];
    private long[] _segmentRows = [], _groupRows = [];

    public MixtureOfExperts(ExpertRouting routing, int embedding, WorkerPool pool)
    {
        _routing = routing;
        _embedding = embedding;
        _pool = pool;
    }

    /// <summary>When set, receives one <see cref="ExpertVisit"/> per expert evaluated (a test hook; null in normal use).</summary>
    public Action<ExpertVisit>? Observer { get; set; }

    /// <summary>When set, receives each token's routing margin per layer (see <see cref="ExpertRouting.Route"/>).</summary>
    public Action<int, float>? MarginObserver { get; set; }

    /// <summary><paramref name="output"/> (n, embedding) ← the routed experts' weighted sum for each row of <paramref name="input"/>.</summary>
    public void Forward(int layerIndex, ExpertWeights w, ReadOnlySpan<float> input, int n, Span<float> output)
    {
        int experts = _routing.ExpertCount, k = _routing.UsedCount, width = _routing.FeedForwardLength, embedding = _embedding;
        Grow(ref _logits, n * experts);
        Grow(ref _selection, experts);
        Grow(ref _weights, n * k);
        Grow(ref _chosen, n * k);

        // Route every token: (n, experts) logits → k experts and weights per token.
        Span<float> logits = _logits.AsSpan(0, n * experts);
        MatMul.Compute(w.Router, input, logits, n, _pool);
        for (int t = 0; t < n; t++)
        {
            float margin = _routing.Route(logits.Slice(t * experts, experts), w.SelectionBias, _selection,
                _chosen.AsSpan(t * k, k), _weights.AsSpan(t * k, k));
            MarginObserver?.Invoke(layerIndex, margin);
        }

        if (n == 1)
        {
            ForwardOneToken(layerIndex, w, input, output);
            return;
        }

        // Group by expert (a counting sort of the n·k (token, slot) pairs, tokens ascending within an expert), then
        // every expert's gate, up and down rows against its own tokens in one grouped matmul each (MatMul.ComputeGroups,
        // ggml's MUL_MAT_ID) rather than three matmuls per expert; gate and up read the input rows in place, each encoded once.
        int pairs = n * k;
        Grow(ref _expertStarts, experts + 1);
        Grow(ref _groupStarts, experts + 1);
        Grow(ref _groupRows, experts);
        Grow(ref _groupExpert, experts);
        Grow(ref _rowOfPair, pairs);
        Grow(ref _tokenOfRow, pairs);
        Grow(ref _downRows, pairs * embedding);
        Grow(ref _gate, pairs * width);
        Grow(ref _up, pairs * width);
        Span<int> expertStarts = _expertStarts.AsSpan(0, experts + 1);
        expertStarts.Clear();
        ReadOnlySpan<int> chosen = _chosen.AsSpan(0, pairs);
        foreach (int e in chosen) expertStarts[e + 1]++;
        for (int e = 0; e < experts; e++) expertStarts[e + 1] += expertStarts[e];
        for (int pair = 0; pair < pairs; pair++)
        {
            // expertStarts[e] serves as expert e's fill cursor here and ends one expert late (restored below).
            int row = expertStarts[chosen[pair]]++;
            _rowOfPair[pair] = row;
            _tokenOfRow[row] = pair / k;
        }
        for (int e = experts; e > 0; e--) expertStarts[e] = expertStarts[e - 1];
        expertStarts[0] = 0;

        // Only the experts that got tokens become groups.
        int groups = 0;
        _groupStarts[0] = 0;
        for (int e = 0; e < experts; e++)
        {
            int m = expertStarts[e + 1] - expertStarts[e];
            if (m == 0) continue;
            _groupExpert[groups] = e;
            _groupStarts[++groups] = expertStarts[e + 1];
            Observer?.Invoke(new ExpertVisit(layerIndex, e, m, 2L * width + embedding));
        }
        ReadOnlySpan<int> groupStarts = _groupStarts.AsSpan(0, groups + 1);
        Span<long> groupRows = _groupRows.AsSpan(0, groups);
        ReadOnlySpan<int> tokenOfRow = _tokenOfRow.AsSpan(0, pairs);
        ReadOnlySpan<float> x = input[..(n * embedding)];
        Span<float> gate = _gate.AsSpan(0, pairs * width), up = _up.AsSpan(0, pairs * width);
        if (w.GateUp is { } gateUp)
        {
            // Fused: expert e's gate rows, then its up rows.
            for (int g = 0; g < groups; g++) groupRows[g] = (long)_groupExpert[g] * 2 * width;
            MatMul.ComputeGroups(gateUp, groupRows, width, groupStarts, tokenOfRow, x, gate, _pool);
            for (int g = 0; g < groups; g++) groupRows[g] += width;
            MatMul.ComputeGroups(gateUp, groupRows, width, groupStarts, tokenOfRow, x, up, _pool);
        }
        else
        {
            for (int g = 0; g < groups; g++) groupRows[g] = (long)_groupExpert[g] * width;
            MatMul.ComputeGroups(w.Gate!, groupRows, width, groupStarts, tokenOfRow, x, gate, _pool);
            MatMul.ComputeGroups(w.Up!, groupRows, width, groupStarts, tokenOfRow, x, up, _pool);
        }
        SwiGlu.Apply(gate, up, _pool);
        Span<float> down = _downRows.AsSpan(0, pairs * embedding); // (pairs, embedding), in expert order
        for (int g = 0; g < groups; g++) groupRows[g] = (long)_groupExpert[g] * embedding;
        MatMul.ComputeGroups(w.Down, groupRows, embedding, groupStarts, gate, down, _pool);

        // Each token's k outputs, weighted, added in routing order.
        for (int t = 0; t < n; t++)
        {
            Span<float> sum = output.Slice(t * embedding, embedding);
            for (int slot = 0; slot < k; slot++)
            {
                Span<float> weighted = down.Slice(_rowOfPair[t * k + slot] * embedding, embedding);
                VectorOps.Scale(weighted, _weights[t * k + slot]);
                if (slot == 0) weighted.CopyTo(sum);
                else VectorOps.Add(sum, weighted, sum);
            }
        }
    }

    /// <summary>
    /// Decode: one token through its k routed experts in three pool passes — the gate rows of all k experts, their up
    /// rows, then their down rows, each expert's slice against its own input — instead of three small matmuls per
    /// expert, each with its own fork/join and activation encoding. Same kernels per row as the batched path, so the
    /// same bits; the weighted outputs are added in routing order.
    /// </summary>
    private void ForwardOneToken(int layerIndex, ExpertWeights w, ReadOnlySpan<float> input, Span<float> output)
    {
        int k = _routing.UsedCount, width = _routing.FeedForwardLength, embedding = _embedding;
        ReadOnlySpan<int> chosen = _chosen.AsSpan(0, k);
        Grow(ref _gate, k * width);
        Grow(ref _up, k * width);
        Grow(ref _expertOutput, k * embedding);
        Grow(ref _segmentRows, 2 * k);
        Span<long> rows = _segmentRows.AsSpan(0, k);
        Span<float> gate = _gate.AsSpan(0, k * width), up = _up.AsSpan(0, k * width);

        if (w.GateUp is { } gateUp)
        {
            // Fused: expert e's gate rows, then its up rows.
            for (int i = 0; i < k; i++) rows[i] = (long)chosen[i] * 2 * width;
            MatMul.ComputeSegments(gateUp, rows, width, input, sharedInput: true, gate, _pool);
            for (int i = 0; i < k; i++) rows[i] += width;
            MatMul.ComputeSegments(gateUp, rows, width, input, sharedInput: true, up, _pool);
        }
        else
        {
            for (int i = 0; i < k; i++) rows[i] = (long)chosen[i] * width;
            MatMul.ComputeSegments(w.Gate!, rows, width, input, sharedInput: true, gate, _pool);
            MatMul.ComputeSegments(w.Up!, rows, width, input, sharedInput: true, up, _pool);
        }
        for (int i = 0; i < k; i++) SwiGlu.Apply(gate.Slice(i * width, width), up.Slice(i * width, width));

        for (int i = 0; i < k; i++) rows[i] = (long)chosen[i] * embedding;
        Span<float> down = _expertOutput.AsSpan(0, k * embedding);
        MatMul.ComputeSegments(w.Down, rows, embedding, gate, sharedInput: false, down, _pool);

        Span<float> sum = output[..embedding];
        for (int i = 0; i < k; i++)
        {
            Observer?.Invoke(new ExpertVisit(layerIndex, chosen[i], 1, 2L * width + embedding));
            Span<float> weighted = down.Slice(i * embedding, embedding);
            VectorOps.Scale(weighted, _weights[i]);
            if (i == 0) weighted.CopyTo(sum);
            else VectorOps.Add(sum, weighted, sum);
        }
    }

    internal static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
    }
}
