namespace Suiron.Models;

/// <summary>
/// The gated feed-forward activation of Llama-family MLPs (Shazeer 2020): h = SiLU(x·W_gate) ⊙ (x·W_up),
/// with SiLU(g) = g·σ(g). The surrounding projections are matmuls; this is the elementwise middle.
/// </summary>
internal static class SwiGlu
{
    /// <summary><paramref name="gate"/> ← SiLU(gate) ⊙ up, in place.</summary>
    public static void Apply(Span<float> gate, ReadOnlySpan<float> up) => Kernels.VectorOps.SiluMul(gate, up, gate);

    /// <summary>The same over the pool's threads (a prompt's rows; the same bits).</summary>
    public static void Apply(Span<float> gate, ReadOnlySpan<float> up, Kernels.WorkerPool pool) => Kernels.ParallelVectorOps.SiluMul(pool, gate, up, gate);
}
