using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// A dense SwiGLU MLP, <c>Down(SiLU(Gate x) ⊙ Up x)</c>: the dense layers of DeepSeek, the shared experts of
/// DeepSeekMoE, GLM-4's MLP. Gate and up are either two matrices or one fused matrix whose first half of rows is the
/// gate and second half the up projection (GLM-4's <c>ffn_up</c> of 2 × width rows).
/// </summary>
internal sealed record GatedFeedForwardWeights(
    Tensor? Gate,   // (width, embedding); null when fused
    Tensor Up,      // (width, embedding), or (2 · width, embedding) fused: gate rows then up rows
    Tensor Down,    // (embedding, width)
    int Width)
{
    public bool Fused => Gate is null;

    /// <summary><c>{prefix}ffn_gate{suffix}</c>, <c>ffn_up</c>, <c>ffn_down</c> (e.g. suffix <c>_shexp</c> for DeepSeek's shared expert).</summary>
    public static GatedFeedForwardWeights Load(WeightReader reader, string prefix, string suffix, int embedding, int width) => new(
        Gate: reader.Matrix($"{prefix}ffn_gate{suffix}.weight", embedding, width),
        Up: reader.Matrix($"{prefix}ffn_up{suffix}.weight", embedding, width),
        Down: reader.Matrix($"{prefix}ffn_down{suffix}.weight", width, embedding),
        Width: width);

    /// <summary>GLM-4's layout: <c>ffn_up</c> carries gate and up (2 × width rows), no <c>ffn_gate</c>.</summary>
    public static GatedFeedForwardWeights LoadFused(WeightReader reader, string prefix, int embedding, int width) => new(
        Gate: null,
        Up: reader.Matrix($"{prefix}ffn_up.weight", embedding, 2 * width),
        Down: reader.Matrix($"{prefix}ffn_down.weight", width, embedding),
        Width: width);

    public long ParameterCount => Up.ElementCount + (Gate?.ElementCount ?? 0) + Down.ElementCount;
}

/// <summary>Runs <see cref="GatedFeedForwardWeights"/> over a batch, with scratch that grows to the largest batch seen.</summary>
internal sealed class GatedFeedForward(WorkerPool pool)
{
    private float[] _gate = [], _up = [];

    /// <summary><paramref name="output"/> (n, embedding) ← Down(SiLU(Gate x) ⊙ Up x) for the n rows of <paramref name="input"/>.</summary>
    public void Forward(GatedFeedForwardWeights w, ReadOnlySpan<float> input, int n, Span<float> output)
    {
        int width = w.Width;
        MixtureOfExperts.Grow(ref _gate, n * width);
        MixtureOfExperts.Grow(ref _up, n * width);
        Span<float> gate = _gate.AsSpan(0, n * width), up = _up.AsSpan(0, n * width); // (n, width) each
        if (w.Gate is { } gateWeights)
        {
            MatMul.Compute(gateWeights, input, gate, n, pool);
            MatMul.Compute(w.Up, input, up, n, pool);
        }
        else
        {
            MatMul.Compute(w.Up, 0, width, input, gate, n, pool);
            MatMul.Compute(w.Up, width, width, input, up, n, pool);
        }
        SwiGlu.Apply(gate, up, pool);
        MatMul.Compute(w.Down, gate, output, n, pool);
    }
}
