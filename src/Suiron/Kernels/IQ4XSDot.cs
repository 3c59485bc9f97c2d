using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The IQ4_XS decode dots against Q8_K, written once over <see cref="ISimdOps{TVector, TLanes}"/> and
/// <see cref="INibbleGridOps{TVector}"/> for the 256-bit width (<see cref="Avx2Ops"/>) and the 512-bit one
/// (<see cref="Avx512Ops"/>, <see cref="Avx512TwinOps"/>).
/// <para>
/// Per 32-element sub-block: the grid values by one vpshufb of the nibbles, |w| times sign(w)·y by vpmaddubsw, and
/// vpmaddwd with the sub-block's multiplier (ls − 32) in place of ones, so a super-block's integers add up exactly
/// before its one float step: acc += (d_x·d_y)·float(lanes), lane k holding elements 4k..4k+3 of every sub-block (a
/// 512-bit vector's two sub-blocks added by <see cref="ISimdOps{TVector, TLanes}.RunLanes"/>). Result: Sum(acc). The
/// GEMM (Gemm.KQuants.cs) repeats these lanes and float steps, so every width, both row counts and the GEMM give the
/// same bits. The eight multipliers are unpacked together and stored (<see cref="Avx2Dot.IQ4XSMultipliers"/>), and each
/// reaches its sub-block by a broadcast load, which takes a load port where a vpermd took a shuffle port the lookups need.
/// </para>
/// The 128-bit path keeps <see cref="Vector128Dot.IQ4XS"/>, which gives the scalar reference's bits.
/// </summary>
internal static unsafe class IQ4XSDot<TOps, TGridOps, TVector, TLanes>
    where TOps : struct, ISimdOps<TVector, TLanes> where TGridOps : struct, INibbleGridOps<TVector>
    where TVector : struct where TLanes : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4XS(byte* w, byte* a, int n)
    {
        var x = (BlockIQ4XS*)w;
        var y = (BlockQ8K*)a;
        TVector grid = TGridOps.Table(Vector128.Create(IQ4Values.Table));
        TLanes acc = default;
        int* multipliers = stackalloc int[8];
        for (int b = 0; b < n / 256; b++)
        {
            Avx2Dot.IQ4XSMultipliers(x + b).Store(multipliers);
            byte* qs = x[b].Qs;
            sbyte* q8 = y[b].Qs;
            TVector sum = TOps.AddInt32(SubBlockPair(qs, q8, grid, multipliers, 0), SubBlockPair(qs, q8, grid, multipliers, 2));
            sum = TOps.AddInt32(sum, TOps.AddInt32(SubBlockPair(qs, q8, grid, multipliers, 4), SubBlockPair(qs, q8, grid, multipliers, 6)));
            acc = TOps.MultiplyAdd(Avx2Dot.Scale(x[b].D) * y[b].D, TOps.RunLanes(sum, default), acc);
        }
        return TOps.Sum(acc);
    }

    /// <summary>
    /// <see cref="IQ4XS"/> of two rows far apart (<paramref name="w"/> and <paramref name="w"/> + <paramref name="rowDistance"/>)
    /// into <paramref name="y"/>[0] and <paramref name="y"/>[<paramref name="outputDistance"/>]: two weight streams in flight and
    /// each activation vector loaded once for both, each row's integers and float steps those of <see cref="IQ4XS"/>, so its
    /// result is bit-identical to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void IQ4XSTwoRows(byte* w, long rowDistance, byte* a, int n, float* y, long outputDistance)
    {
        var x0 = (BlockIQ4XS*)w;
        var x1 = (BlockIQ4XS*)(w + rowDistance);
        var q8 = (BlockQ8K*)a;
        TVector grid = TGridOps.Table(Vector128.Create(IQ4Values.Table));
        TLanes acc0 = default, acc1 = default;
        int* multipliers0 = stackalloc int[16];
        int* multipliers1 = multipliers0 + 8;
        for (int b = 0; b < n / 256; b++)
        {
            Avx2Dot.IQ4XSMultipliers(x0 + b).Store(multipliers0);
            Avx2Dot.IQ4XSMultipliers(x1 + b).Store(multipliers1);
            TVector sum0 = default, sum1 = default;
            byte* qs0 = x0[b].Qs, qs1 = x1[b].Qs;
            sbyte* activations = q8[b].Qs;
            for (int run = 0; run < 8; run += TOps.VectorBytes / 32)
            {
                TVector activation = TOps.Load(activations + 32 * run);
                sum0 = TOps.AddInt32(sum0, Runs(qs0, activation, grid, multipliers0, run));
                sum1 = TOps.AddInt32(sum1, Runs(qs1, activation, grid, multipliers1, run));
            }
            float yd = q8[b].D;
            acc0 = TOps.MultiplyAdd(Avx2Dot.Scale(x0[b].D) * yd, TOps.RunLanes(sum0, default), acc0);
            acc1 = TOps.MultiplyAdd(Avx2Dot.Scale(x1[b].D) * yd, TOps.RunLanes(sum1, default), acc1);
        }
        y[0] = TOps.Sum(acc0);
        y[outputDistance] = TOps.Sum(acc1);
    }

    /// <summary>Sub-blocks <paramref name="run"/> and run + 1 against their 64 activations: the int32 lanes, scaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector SubBlockPair(byte* qs, sbyte* q8, TVector grid, int* multipliers, int run)
    {
        TVector first = Runs(qs, TOps.Load(q8 + 32 * run), grid, multipliers, run);
        return TOps.VectorBytes == 64 ? first : TOps.AddInt32(first, Runs(qs, TOps.Load(q8 + 32 * run + 32), grid, multipliers, run + 1));
    }

    /// <summary>The sub-blocks from <paramref name="run"/> that one vector holds (one, or two on 512 bits) against their activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Runs(byte* qs, TVector activations, TVector grid, int* multipliers, int run)
    {
        TVector weights = TGridOps.LookUp(grid, qs + 16 * run);
        return TOps.ScaledDot(TGridOps.Abs(weights), TGridOps.NegateWhereNegative(activations, weights), TGridOps.RunScales(multipliers, run));
    }
}
