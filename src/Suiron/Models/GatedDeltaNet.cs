using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// The shape of a gated DeltaNet layer as llama.cpp reads it (<c>{arch}.ssm.*</c>): <c>group_count</c> key heads and
/// <c>time_step_rank</c> value heads of <c>state_size</c> elements each (<c>inner_size</c> = value heads × state size),
/// a causal convolution of <c>conv_kernel</c> taps over the q, k and v channels.
/// </summary>
internal sealed record GatedDeltaNetShape(int ConvKernel, int KeyHeads, int ValueHeads, int HeadLength)
{
    public int KeyWidth => KeyHeads * HeadLength;
    public int ValueWidth => ValueHeads * HeadLength;
    /// <summary>Channels of the convolution: q, k (key width each) and v (value width).</summary>
    public int ConvWidth => 2 * KeyWidth + ValueWidth;
    /// <summary>Floats of one layer's convolution history per sequence.</summary>
    public int ConvolutionLength => (ConvKernel - 1) * ConvWidth;
    /// <summary>Floats of one layer's state matrices per sequence.</summary>
    public int MatrixLength => ValueHeads * HeadLength * HeadLength;

    public static GatedDeltaNetShape Parse(GgufFile file)
    {
        string Key(string name) => file.Architecture + ".ssm." + name;
        int Read(string name, int max)
        {
            int value = file.GetInt32(Key(name));
            if (value <= 0 || value > max) throw new GgufException($"{Key(name)} = {value} must be in 1..{max}", -1, file.Path);
            return value;
        }
        int kernel = Read("conv_kernel", 64), keyHeads = Read("group_count", 4096), valueHeads = Read("time_step_rank", 4096);
        int headLength = Read("state_size", 4096), inner = Read("inner_size", 1 << 20);
        if (valueHeads % keyHeads != 0)
            throw new GgufException($"{Key("time_step_rank")} ({valueHeads} value heads) must be a multiple of {Key("group_count")} ({keyHeads} key heads)", -1, file.Path);
        if (inner != valueHeads * headLength)
            throw new GgufException($"{Key("inner_size")} = {inner} must be {Key("time_step_rank")} × {Key("state_size")} = {valueHeads * headLength}", -1, file.Path);
        return new GatedDeltaNetShape(kernel, keyHeads, valueHeads, headLength);
    }
}

/// <summary>
/// One gated DeltaNet layer's weights, in either GGUF layout llama.cpp loads: current conversions' <c>attn_qkv</c>
/// (q, k and v channels), <c>attn_gate</c> (z) and <c>ssm_beta</c>/<c>ssm_alpha</c>, or the 2025 Qwen3-Next layout's
/// <c>ssm_in</c> and <c>ssm_ba</c>, whose rows are grouped per key head (q, k, v, z of the head's value heads; β then α).
/// </summary>
internal sealed record GatedDeltaNetWeights(
    Tensor? QueryKeyValue,   // (convWidth, embedding)                      attn_qkv
    Tensor? Gate,            // (valueWidth, embedding)                     attn_gate: z
    Tensor? Beta,            // (valueHeads, embedding)                     ssm_beta
    Tensor? Alpha,           // (valueHeads, embedding)                     ssm_alpha
    Tensor? GroupedInput,    // (2·keyWidth + 2·valueWidth, embedding)      ssm_in, per key head: q, k, v, z
    Tensor? GroupedBetaAlpha,// (2·valueHeads, embedding)                   ssm_ba, per key head: β, α
    float[] Convolution,     // (convWidth, kernel)                         ssm_conv1d: each channel's taps, oldest first
    float[] TimeStepBias,    // (valueHeads)                                ssm_dt.bias
    float[] Decay,           // (valueHeads)                                ssm_a = −exp(A_log)
    float[] Norm,            // (headLength)                                ssm_norm, shared by the heads
    Tensor Output)           // (embedding, valueWidth)                     ssm_out
{
    public static GatedDeltaNetWeights Load(WeightReader reader, int layer, int embedding, GatedDeltaNetShape s)
    {
        string p = $"blk.{layer}.";
        bool grouped = reader.Has(p + "ssm_in.weight");
        Tensor convolution = reader.Matrix(p + "ssm_conv1d.weight", s.ConvKernel, s.ConvWidth);
        return new GatedDeltaNetWeights(
            QueryKeyValue: grouped ? null : reader.Matrix(p + "attn_qkv.weight", embedding, s.ConvWidth),
            Gate: grouped ? null : reader.Matrix(p + "attn_gate.weight", embedding, s.ValueWidth),
            Beta: grouped ? null : reader.Matrix(p + "ssm_beta.weight", embedding, s.ValueHeads),
            Alpha: grouped ? null : reader.Matrix(p + "ssm_alpha.weight", embedding, s.ValueHeads),
            GroupedInput: grouped ? reader.Matrix(p + "ssm_in.weight", embedding, 2 * s.KeyWidth + 2 * s.ValueWidth) : null,
            GroupedBetaAlpha: grouped ? reader.Matrix(p + "ssm_ba.weight", embedding, 2 * s.ValueHeads) : null,
            Convolution: WeightReader.DecodeRows(convolution, 0, s.ConvWidth),
            TimeStepBias: reader.Vector(p + "ssm_dt.bias", s.ValueHeads),
            Decay: reader.Vector(p + "ssm_a", s.ValueHeads),
            Norm: reader.Vector(p + "ssm_norm.weight", s.HeadLength),
            Output: reader.Matrix(p + "ssm_out.weight", s.ValueWidth, embedding));
    }
}

/// <summary>
/// Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5), the token mixer of their recurrent layers, over the
/// <see cref="RecurrentState"/> of each sequence's cache:
/// <code>
///   q, k, v = SiLU(CausalConv(Wqkv x))          k and q L2-normalized per head
///   β = σ(Wβ x),  g = softplus(Wα x + dt_bias) · A      per value head
///   o = DeltaRule(q, k, v, g, β)                  <see cref="GatedDeltaRule"/>
///   y = Wout (RmsNorm(o) ⊙ SiLU(Wz x))            per head
/// </code>
/// The projections run over every row of the pass together; the recurrence walks each sequence's rows in order,
/// its value heads in parallel.
/// </summary>
internal sealed class GatedDeltaNet(GatedDeltaNetShape shape, float epsilon, bool tiledKeyHeads, WorkerPool pool)
{
    private float[] _mixed = [], _z = [], _beta = [], _alpha = [], _grouped = [], _groupedBetaAlpha = [], _convolved = [], _gates = [], _heads = [];
    private KvCache[] _segmentCache = [];
    private int[] _segmentStart = [], _segmentCount = [];

    public GatedDeltaNetShape Shape => shape;

    /// <summary>
    /// The layer's output for the <paramref name="n"/> rows of <paramref name="input"/> into <paramref name="output"/>
    /// (n, embedding); each segment's rows read and advance the recurrent state of its cache's layer <paramref name="layer"/>.
    /// </summary>
    public void Forward(int layer, GatedDeltaNetWeights w, ReadOnlySpan<float> input, int n, ReadOnlySpan<SequenceSegment> segments, Span<float> output)
    {
        int convWidth = shape.ConvWidth, valueWidth = shape.ValueWidth, valueHeads = shape.ValueHeads, headLength = shape.HeadLength;
        MixtureOfExperts.Grow(ref _mixed, n * convWidth);
        MixtureOfExperts.Grow(ref _z, n * valueWidth);
        MixtureOfExperts.Grow(ref _beta, n * valueHeads);
        MixtureOfExperts.Grow(ref _alpha, n * valueHeads);
        Span<float> mixed = _mixed.AsSpan(0, n * convWidth), z = _z.AsSpan(0, n * valueWidth);
        Span<float> beta = _beta.AsSpan(0, n * valueHeads), alpha = _alpha.AsSpan(0, n * valueHeads);
        if (w.GroupedInput is { } groupedInput) ProjectGrouped(w, groupedInput, input, n, mixed, z, beta, alpha);
        else
        {
            MatMul.Compute(w.QueryKeyValue!, input, mixed, n, pool);
            MatMul.Compute(w.Gate!, input, z, n, pool);
            MatMul.Compute(w.Beta!, input, beta, n, pool);
            MatMul.Compute(w.Alpha!, input, alpha, n, pool);
        }

        // Per row: the convolution (in each sequence's order), SiLU, L2 norms and the per-head gates.
        MixtureOfExperts.Grow(ref _convolved, n * convWidth);
        MixtureOfExperts.Grow(ref _gates, n * 2 * valueHeads);
        int keyWidth = shape.KeyWidth;
        float queryScale = 1f / MathF.Sqrt(headLength);
        foreach (var segment in segments)
        {
            Span<float> history = segment.Cache.Recurrent!.Convolution(layer);
            for (int t = segment.Start; t < segment.Start + segment.Count; t++)
            {
                Span<float> x = _convolved.AsSpan(t * convWidth, convWidth);
                GatedDeltaRule.Convolve(history, mixed.Slice(t * convWidth, convWidth), w.Convolution, shape.ConvKernel, x);
                VectorOps.Silu(x, x);
                GatedDeltaRule.L2Normalize(x[..keyWidth], headLength, epsilon, queryScale);
                GatedDeltaRule.L2Normalize(x.Slice(keyWidth, keyWidth), headLength, epsilon);
                Span<float> gates = _gates.AsSpan(t * 2 * valueHeads, 2 * valueHeads);
                for (int h = 0; h < valueHeads; h++)
                {
                    gates[h] = MathF.Exp(GatedDeltaRule.Softplus(alpha[t * valueHeads + h] + w.TimeStepBias[h]) * w.Decay[h]);
                    gates[valueHeads + h] = GatedDeltaRule.Sigmoid(beta[t * valueHeads + h]);
                }
            }
        }

        MixtureOfExperts.Grow(ref _heads, n * valueWidth);
        MixtureOfExperts.Grow(ref _segmentCache, segments.Length);
        MixtureOfExperts.Grow(ref _segmentStart, segments.Length);
        MixtureOfExperts.Grow(ref _segmentCount, segments.Length);
        for (int i = 0; i < segments.Length; i++)
            (_segmentCache[i], _segmentStart[i], _segmentCount[i]) = (segments[i].Cache, segments[i].Start, segments[i].Count);
        var work = new DeltaNetHeadsWork
        {
            Convolved = _convolved, Gates = _gates, Output = _heads, SegmentCache = _segmentCache, SegmentStart = _segmentStart,
            SegmentCount = _segmentCount, Layer = layer, ValueHeads = valueHeads, KeyHeads = shape.KeyHeads, HeadLength = headLength,
            ConvWidth = convWidth, TiledKeyHeads = tiledKeyHeads,
        };
        pool.For(segments.Length * valueHeads, ref work, (long)n * valueHeads * headLength * headLength * 4);

        Span<float> heads = _heads.AsSpan(0, n * valueWidth);
        RmsNorm.Apply(heads, w.Norm, epsilon, heads);
        VectorOps.SiluMul(z, heads, heads);
        MatMul.Compute(w.Output, heads, output, n, pool);
    }

    /// <summary>The 2025 layout: one projection whose rows are grouped per key head, reordered into q | k | v and z, β, α.</summary>
    private void ProjectGrouped(GatedDeltaNetWeights w, Tensor groupedInput, ReadOnlySpan<float> input, int n,
        Span<float> mixed, Span<float> z, Span<float> beta, Span<float> alpha)
    {
        int keyHeads = shape.KeyHeads, valueHeads = shape.ValueHeads, headLength = shape.HeadLength, ratio = valueHeads / keyHeads;
        int groupWidth = 2 * headLength + 2 * ratio * headLength, width = keyHeads * groupWidth;
        int keyWidth = shape.KeyWidth, convWidth = shape.ConvWidth, valueWidth = shape.ValueWidth, valuesPerGroup = ratio * headLength;
        MixtureOfExperts.Grow(ref _grouped, n * width);
        MixtureOfExperts.Grow(ref _groupedBetaAlpha, n * 2 * valueHeads);
        Span<float> grouped = _grouped.AsSpan(0, n * width), groupedBetaAlpha = _groupedBetaAlpha.AsSpan(0, n * 2 * valueHeads);
        MatMul.Compute(groupedInput, input, grouped, n, pool);
        MatMul.Compute(w.GroupedBetaAlpha!, input, groupedBetaAlpha, n, pool);
        for (int t = 0; t < n; t++)
            for (int g = 0; g < keyHeads; g++)
            {
                ReadOnlySpan<float> group = grouped.Slice(t * width + g * groupWidth, groupWidth);
                Span<float> row = mixed.Slice(t * convWidth, convWidth);
                group[..headLength].CopyTo(row.Slice(g * headLength, headLength));
                group.Slice(headLength, headLength).CopyTo(row.Slice(keyWidth + g * headLength, headLength));
                group.Slice(2 * headLength, valuesPerGroup).CopyTo(row.Slice(2 * keyWidth + g * valuesPerGroup, valuesPerGroup));
                group.Slice(2 * headLength + valuesPerGroup, valuesPerGroup).CopyTo(z.Slice(t * valueWidth + g * valuesPerGroup, valuesPerGroup));
                ReadOnlySpan<float> betaAlpha = groupedBetaAlpha.Slice(t * 2 * valueHeads + g * 2 * ratio, 2 * ratio);
                betaAlpha[..ratio].CopyTo(beta.Slice(t * valueHeads + g * ratio, ratio));
                betaAlpha.Slice(ratio, ratio).CopyTo(alpha.Slice(t * valueHeads + g * ratio, ratio));
            }
    }
}
