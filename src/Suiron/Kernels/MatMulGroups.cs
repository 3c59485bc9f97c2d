using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

public static unsafe partial class MatMul
{
    /// <summary>
    /// Several row slices of one weight tensor, each against its own block of activation rows, in one pass over the
    /// pool (ggml's <c>MUL_MAT_ID</c>): for group g, the rows [<paramref name="firstRows"/>[g], +<paramref name="rowCount"/>)
    /// meet the activation rows j in [<paramref name="groupStarts"/>[g], groupStarts[g + 1]) of <paramref name="x"/>:
    /// <c>y[j * rowCount + r] = dot(W row firstRows[g] + r, x_j)</c>. Empty groups are allowed.
    /// <para>
    /// The prompt of an MoE layer: each routed expert gets a handful of the batch's tokens, and one
    /// <see cref="Compute(Tensor, long, int, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> per expert would pay
    /// an encoding pass and a GEMM pass (two fork/joins, and their load imbalance) for a few microseconds of work each —
    /// 64 experts × 3 matrices per layer. Here the activations of all groups are encoded in one pass and every expert's
    /// row groups against its tokens run in a second. Bit for bit what one Compute per group gives.
    /// </para>
    /// </summary>
    /// <param name="groupStarts">groups + 1 ascending offsets into the activation rows of <paramref name="x"/>.</param>
    /// <param name="w">The weight matrix.</param>
    /// <param name="firstRows">First weight row of each group.</param>
    /// <param name="rowCount">Rows per group.</param>
    /// <param name="x">The input vectors.</param>
    /// <param name="y">The outputs, group after group.</param>
    /// <param name="pool">Threads for the product.</param>
    public static void ComputeGroups(Tensor w, ReadOnlySpan<long> firstRows, int rowCount, ReadOnlySpan<int> groupStarts,
        ReadOnlySpan<float> x, Span<float> y, WorkerPool pool)
        => ComputeGroups(w, firstRows, rowCount, groupStarts, default, x, y, pool, WideKernelChoice.PathFor(w.Type, gemm: true));

    /// <summary>
    /// Like <see cref="ComputeGroups(Tensor, ReadOnlySpan{long}, int, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, WorkerPool)"/>,
    /// but activation row j of the groups is row <paramref name="sourceRows"/>[j] of <paramref name="x"/>: the rows of
    /// x are encoded once each and their encodings gathered, where a caller-side gather of the floats would have every
    /// row encoded as often as it is routed (k times per token for the experts of an MoE layer).
    /// </summary>
    /// <param name="sourceRows">groupStarts[^1] indices into the rows of <paramref name="x"/>.</param>
    /// <param name="groupStarts">First input vector of each group.</param>
    /// <param name="w">The weight matrix.</param>
    /// <param name="firstRows">First weight row of each group.</param>
    /// <param name="rowCount">Rows per group.</param>
    /// <param name="x">The input vectors.</param>
    /// <param name="y">The outputs, group after group.</param>
    /// <param name="pool">Threads for the product.</param>
    public static void ComputeGroups(Tensor w, ReadOnlySpan<long> firstRows, int rowCount, ReadOnlySpan<int> groupStarts,
        ReadOnlySpan<int> sourceRows, ReadOnlySpan<float> x, Span<float> y, WorkerPool pool)
        => ComputeGroups(w, firstRows, rowCount, groupStarts, sourceRows, x, y, pool, WideKernelChoice.PathFor(w.Type, gemm: true));

    /// <summary>With the dot-kernel family forced (tests run the per-row fallback on an AVX2 machine this way).
    /// An empty <paramref name="sourceRows"/> means activation row j is row j of x.</summary>
    internal static void ComputeGroups(Tensor w, ReadOnlySpan<long> firstRows, int rowCount, ReadOnlySpan<int> groupStarts,
        ReadOnlySpan<int> sourceRows, ReadOnlySpan<float> x, Span<float> y, WorkerPool pool, DotPath path)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(pool);
        int groups = firstRows.Length, cols = w.Columns;
        if (rowCount < 0) throw new ArgumentOutOfRangeException(nameof(rowCount));
        if (!DotKernels.CanRun(path)) throw new ArgumentException($"This CPU cannot run the {path} kernels (best: {DotKernels.Best}).", nameof(path));
        if (groupStarts.Length != groups + 1)
            throw new ArgumentException($"groupStarts needs {groups + 1} offsets (one per group and the end), not {groupStarts.Length}.", nameof(groupStarts));
        if (groupStarts[0] != 0) throw new ArgumentException("groupStarts must begin at 0.", nameof(groupStarts));
        for (int g = 0; g < groups; g++)
        {
            if (groupStarts[g + 1] < groupStarts[g]) throw new ArgumentException("groupStarts must not decrease.", nameof(groupStarts));
            if (firstRows[g] < 0 || firstRows[g] + rowCount > w.Rows)
                throw new ArgumentOutOfRangeException(nameof(firstRows), $"Rows {firstRows[g]}..{firstRows[g] + rowCount} are outside the tensor's {w.Rows}.");
        }
        int inputRows = groupStarts[groups];
        bool gatherRows = !sourceRows.IsEmpty;
        int sourceCount = gatherRows ? x.Length / cols : inputRows; // rows of x to encode
        if (gatherRows)
        {
            if (sourceRows.Length != inputRows)
                throw new ArgumentException($"sourceRows needs one index per activation row ({inputRows}), not {sourceRows.Length}.", nameof(sourceRows));
            foreach (int source in sourceRows)
                if ((uint)source >= (uint)sourceCount) throw new ArgumentOutOfRangeException(nameof(sourceRows), $"Row {source} is outside x's {sourceCount} rows.");
        }
        if (x.Length < (long)sourceCount * cols) throw new ArgumentException($"x needs {sourceCount} x {cols} floats.", nameof(x));
        if (y.Length < (long)inputRows * rowCount) throw new ArgumentException($"y needs {inputRows} x {rowCount} floats.", nameof(y));
        if (inputRows == 0 || rowCount == 0) return;
        MatMulInputObserver.Current?.ReportGroups(w, firstRows, groupStarts, sourceRows, x);

        // The same choices as Compute makes for a batch of more than one row, so the bits agree; the GEMM also gives a
        // one-row group the per-row kernels' bits (the matmul tests hold both to the scalar Dot).
        bool gemm = DotKernels.IsAvx2OrWider(path) && Gemm.Supports(w.Type);
        RowKernels rowKernels = gemm ? default : RowKernels.For(w.Type, path);
        // Few-token groups may go to the per-row kernels instead (same bits); F16's per-row kernel reads rebiased
        // activations, which the GEMM's widened copies are not, so F16 and F32 stay on the GEMM.
        (float unpack, float step) = gemm ? GroupCosts(w.Type) : (0f, 0f);
        RowKernels tailKernels = unpack > 0 ? RowKernels.For(w.Type, path) : default;
        fixed (float* input = x)
        fixed (float* output = y)
        fixed (long* firsts = firstRows)
        fixed (int* starts = groupStarts)
        fixed (int* sources = sourceRows)
        {
            // The encodings of x's rows, then (gathering) the group-ordered copies: each encoded row with its extras.
            using var encoded = EncodedActivations.Encode(pool, w.Type, input, cols, sourceCount, gemm || rowKernels.NeedsExtra,
                rowKernels.F16Rebiased, spareRows: gatherRows ? inputRows : 0);
            byte* activations = encoded.Rows, extra = encoded.Extra;
            int activationRowBytes = encoded.RowBytes, extraRowBytes = encoded.ExtraRowBytes;
            if (gatherRows)
            {
                var gather = new GatherRows
                {
                    Sources = sources, Activations = activations, ActivationRowBytes = activationRowBytes, Extra = extra, ExtraRowBytes = extraRowBytes,
                    GatheredActivations = encoded.Spare, GatheredExtra = encoded.Spare + (long)activationRowBytes * inputRows,
                };
                pool.For(inputRows, ref gather, (long)inputRows * (activationRowBytes + extraRowBytes) / 4);
                activations = gather.GatheredActivations;
                extra = gather.GatheredExtra;
            }

            int blocksPerGroup = (rowCount + Gemm.RowGroup - 1) / Gemm.RowGroup;
            var work = new GroupRows
            {
                Gemm = gemm,
                Path = path,
                Type = w.Type,
                UnpackCost = unpack,
                StepCost = step,
                PerRow = gemm ? tailKernels : rowKernels,
                Weights = w.Data,
                WeightRowBytes = w.RowByteCount,
                FirstRows = firsts,
                GroupStarts = starts,
                Activations = !gemm && rowKernels.ReadsWidened ? extra : activations,
                ActivationRowBytes = !gemm && rowKernels.ReadsWidened ? extraRowBytes : activationRowBytes,
                Extra = extra,
                ExtraRowBytes = extraRowBytes,
                Output = output,
                RowsPerGroup = rowCount,
                BlocksPerGroup = blocksPerGroup,
                Columns = cols,
            };
            pool.For(checked(groups * blocksPerGroup), ref work, (long)inputRows * rowCount * cols);
        }
    }

    /// <summary>
    /// What the GEMM costs for a group of a few tokens, in units of one per-row kernel dot (one weight row with one
    /// token): <c>Unpack</c> per weight row (its panel), <c>Step</c> per weight row and step of <see cref="Gemm.Tokens"/>
    /// tokens (a short last step costs a full one). (0, 0): no per-row alternative. Measured on AVX2 (2-core EPYC, one
    /// thread, CPU time of GEMM-only vs per-row-only passes over 32 cold 1024 × 2048 slices at 4 and 8 tokens; the
    /// choices it implies matched A/B runs on DeepSeek-V2-Lite's expert tensors for 1 to 8 tokens). So Q8_0's one- to
    /// three-token groups go through the decode kernels (and a one- or two-token tail past whole steps); Q4_0's, Q5_0's
    /// and Q4_K's one- and two-token groups (Q4_K's three too), Q6_K's up to two, Q5_K's single tokens.
    /// Q4_0, Q5_0, Q4_K and Q5_K re-measured after their per-row kernels got faster (Q4_0/Q5_0's unsigned forms) and
    /// Q4_K/Q5_K's panel unpack lost a per-group mask built from scalars (it had cost five dots per row), the same way
    /// but with the dot taken from a four-token per-row pass over the same slices. Only speed depends on these numbers,
    /// never the result; they will drift as the kernels change.
    /// </summary>
    private static (float Unpack, float Step) GroupCosts(TensorType type) => type switch
    {
        TensorType.Q8_0 => (1.19f, 2.21f),
        TensorType.Q4_0 => (1.00f, 1.94f),
        TensorType.Q5_0 => (0.81f, 1.28f),
        TensorType.Q2_K => (1.39f, 2.07f),
        TensorType.Q3_K => (1.64f, 1.43f),
        TensorType.Q4_K => (1.35f, 1.75f),
        TensorType.Q5_K => (1.07f, 0.65f),
        TensorType.Q6_K => (1.19f, 1.07f),
        _ => (0f, 0f),
    };

    /// <summary>
    /// How many of a group's <paramref name="tokens"/> go through the GEMM — all, the whole steps only (the rest through
    /// the per-row kernels), or none — whichever <see cref="GroupCosts"/> says is cheapest.
    /// </summary>
    internal static int GemmTokens(int tokens, float unpack, float step)
    {
        if (unpack <= 0f) return tokens;
        int steps = (tokens + Gemm.Tokens - 1) / Gemm.Tokens, whole = tokens / Gemm.Tokens * Gemm.Tokens;
        float allGemm = unpack + step * steps;
        float split = whole > 0 ? unpack + step * (whole / Gemm.Tokens) + (tokens - whole) : float.PositiveInfinity;
        if (tokens <= allGemm && tokens <= split) return 0;
        return split < allGemm ? whole : tokens;
    }

    /// <summary>Copies encoded activation rows (and their extras) into group order.</summary>
    private struct GatherRows : IParallelWork
    {
        public int* Sources;
        public byte* Activations, Extra, GatheredActivations, GatheredExtra;
        public int ActivationRowBytes, ExtraRowBytes;

        public readonly void Execute(int start, int end)
        {
            for (int j = start; j < end; j++)
            {
                long source = Sources[j];
                Buffer.MemoryCopy(Activations + source * ActivationRowBytes, GatheredActivations + (long)j * ActivationRowBytes, ActivationRowBytes, ActivationRowBytes);
                if (ExtraRowBytes > 0)
                    Buffer.MemoryCopy(Extra + source * ExtraRowBytes, GatheredExtra + (long)j * ExtraRowBytes, ExtraRowBytes, ExtraRowBytes);
            }
        }
    }

    /// <summary>
    /// A range of (group, block of <see cref="Gemm.RowGroup"/> rows) items, group-major: a thread takes consecutive
    /// blocks of one expert, whose few activation rows stay in L1 while its weight rows stream past.
    /// </summary>
    private struct GroupRows : IParallelWork
    {
        public bool Gemm;
        public DotPath Path;
        public float UnpackCost, StepCost;
        public TensorType Type;
        public RowKernels PerRow; // the per-row kernels: every token without the GEMM, its few-token tail with it
        public byte* Weights, Activations, Extra;
        public long WeightRowBytes;
        public long* FirstRows;
        public int* GroupStarts;
        public int ActivationRowBytes, ExtraRowBytes, RowsPerGroup, BlocksPerGroup, Columns;
        public float* Output;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            int item = start;
            while (item < end)
            {
                int group = item / BlocksPerGroup, firstBlock = item - group * BlocksPerGroup;
                int lastBlock = Math.Min(BlocksPerGroup, firstBlock + (end - item)); // this range's blocks of this group
                item += lastBlock - firstBlock;
                int tokenStart = GroupStarts[group], tokens = GroupStarts[group + 1] - tokenStart;
                if (tokens == 0) continue;
                int firstRow = firstBlock * Kernels.Gemm.RowGroup, endRow = Math.Min(lastBlock * Kernels.Gemm.RowGroup, RowsPerGroup);
                byte* weights = Weights + FirstRows[group] * WeightRowBytes;
                byte* activations = Activations + (long)tokenStart * ActivationRowBytes;
                byte* extra = Extra + (long)tokenStart * ExtraRowBytes;
                float* output = Output + (long)tokenStart * RowsPerGroup;
                int perRowFrom = 0; // the first token the per-row kernels take
                if (Gemm)
                {
                    perRowFrom = GemmTokens(tokens, UnpackCost, StepCost);
                    if (perRowFrom > 0)
                        Kernels.Gemm.Rows(Type, weights, WeightRowBytes, firstRow, endRow, Columns, activations, ActivationRowBytes,
                            extra, ExtraRowBytes, perRowFrom, output, RowsPerGroup, Path);
                    if (perRowFrom == tokens) continue;
                }
                for (int r = firstRow; r < endRow; r++)
                {
                    byte* row = weights + r * WeightRowBytes;
                    for (int t = perRowFrom; t < tokens; t++)
                        output[(long)t * RowsPerGroup + r] = PerRow.Dot(row, activations + (long)t * ActivationRowBytes,
                            (float*)(extra + (long)t * ExtraRowBytes), Columns);
                }
            }
        }
    }
}
