using System.Runtime.CompilerServices;
using System.Buffers;
using Suiron.Tensors;
using Avx2KQuantDot = Suiron.Kernels.KQuantDot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx2Block32Dot = Suiron.Kernels.Block32Dot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Vector128Block32Dot = Suiron.Kernels.Block32Dot<Suiron.Kernels.Vector128Ops, System.Runtime.Intrinsics.Vector128<byte>, Suiron.Kernels.Vector128Pair>;
using Avx512KQuantDot = Suiron.Kernels.KQuantDot<Suiron.Kernels.Avx512Ops, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx512TwinKQuantDot = Suiron.Kernels.KQuantDot<Suiron.Kernels.Avx512TwinOps, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx2IQ4XSDot = Suiron.Kernels.IQ4XSDot<Suiron.Kernels.Avx2Ops, Suiron.Kernels.Avx2GridOps, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx512IQ4XSDot = Suiron.Kernels.IQ4XSDot<Suiron.Kernels.Avx512Ops, Suiron.Kernels.Avx512GridOps, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx512TwinIQ4XSDot = Suiron.Kernels.IQ4XSDot<Suiron.Kernels.Avx512TwinOps, Suiron.Kernels.Avx512TwinGridOps, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx512TernaryDot = Suiron.Kernels.TernaryDot<Suiron.Kernels.Avx512Ops, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx512TwinTernaryDot = Suiron.Kernels.TernaryDot<Suiron.Kernels.Avx512TwinOps, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx2FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Avx2FloatOps, Suiron.Kernels.Vector256x2, System.Runtime.Intrinsics.Vector256<ushort>>;
using Avx512FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Avx512FloatOps, System.Runtime.Intrinsics.Vector512<float>, System.Runtime.Intrinsics.Vector256<ushort>>;
using Avx512TwinFloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Avx512TwinFloatOps, System.Runtime.Intrinsics.Vector512<float>, System.Runtime.Intrinsics.Vector256<ushort>>;
using Vector128FloatDot = Suiron.Kernels.FloatDot<Suiron.Kernels.Vector128FloatOps, Suiron.Kernels.Vector128x4, System.Runtime.Intrinsics.Vector128<ushort>>;
using Avx512LatticeDot = Suiron.Kernels.LatticeDot<Suiron.Kernels.Avx512Ops, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;
using Avx512TwinLatticeDot = Suiron.Kernels.LatticeDot<Suiron.Kernels.Avx512TwinOps, System.Runtime.Intrinsics.Vector512<byte>, System.Runtime.Intrinsics.Vector256<byte>>;

namespace Suiron.Kernels;

/// <summary>
/// y = W x for a batch of activation rows, with ggml's numerics: activations are encoded once per call into
/// the weight type's activation encoding, then each output is one <see cref="Quantization.Dot"/> of a weight row
/// with an encoded activation row. Most of a forward pass is spent here.
/// One token (decode) streams every weight row once through the per-row dot kernels: memory-bound, and on one core
/// bound by how many independent weight streams are in flight, so most weight types go through kernels that take
/// several rows far apart per call (<see cref="RowsTimesBatch"/>), each row still bit-identical to its one-row dot.
/// Several tokens (a prompt) go through <see cref="Gemm"/>, which unpacks groups of weight rows once and reuses
/// each loaded weight vector across several tokens: compute-bound. Both give bit-identical results.
/// Rows are split across the pool; calls too small to gain from a second thread run on the caller.
/// </summary>
public static unsafe partial class MatMul
{
    /// <summary>
    /// <c>y[b*rows + r] = dot(W row r, x[b*cols .. (b+1)*cols])</c> for b in [0, <paramref name="batch"/>), where W is
    /// <paramref name="w"/> seen as rows x cols (cols = Shape[0]).
    /// </summary>
    public static void Compute(Tensor w, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool)
        => Compute(w, 0, checked((int)w.Rows), x, y, batch, pool);

    /// <summary>
    /// Like <see cref="Compute(Tensor, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> over the rows
    /// [<paramref name="firstRow"/>, firstRow + rowCount) of <paramref name="w"/> only (one expert of a stacked MoE
    /// tensor, a slice of a fused QKV): <c>y[b*rowCount + r] = dot(W row firstRow + r, x_b)</c>.
    /// </summary>
    public static void Compute(Tensor w, long firstRow, int rowCount, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool)
        => Compute(w, firstRow, rowCount, x, y, batch, pool, allowGemm: true);

    internal static void Compute(Tensor w, long firstRow, int rowCount, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool, bool allowGemm)
        => Compute(w, firstRow, rowCount, x, y, batch, pool, allowGemm, WideKernelChoice.PathFor(w.Type, allowGemm && batch > SmallBatch));

    /// <summary>With the dot-kernel family forced (tests run the 128-bit and scalar paths on an AVX2 machine this way).</summary>
    /// <summary>
    /// Largest batch that runs the per-row kernels rather than the GEMM: the panel unpacks every weight row once per call,
    /// which costs about as much as reading the weights, so for a few tokens (a decode step that also carries one prompt
    /// token, a short draft) each row's dot per token, the row still in L1, is cheaper. Both give the same bits.
    /// </summary>
    internal const int SmallBatch = 3;

    internal static void Compute(Tensor w, long firstRow, int rowCount, ReadOnlySpan<float> x, Span<float> y, int batch, WorkerPool pool, bool allowGemm,
        DotPath path)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(pool);
        int cols = w.Columns;
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > w.Rows) throw new ArgumentOutOfRangeException(nameof(rowCount));
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch));
        if (!DotKernels.CanRun(path)) throw new ArgumentException($"This CPU cannot run the {path} kernels (best: {DotKernels.Best}).", nameof(path));
        if (x.Length < (long)batch * cols) throw new ArgumentException($"x needs {batch} x {cols} floats.", nameof(x));
        if (y.Length < (long)batch * rowCount) throw new ArgumentException($"y needs {batch} x {rowCount} floats.", nameof(y));
        if (batch == 0 || rowCount == 0) return;
        MatMulInputObserver.Current?.ReportCompute(w, firstRow, x, batch);

        bool gemm = allowGemm && batch > SmallBatch && DotKernels.IsAvx2OrWider(path) && Gemm.Supports(w.Type);
        RowKernels rowKernels = gemm ? default : RowKernels.For(w.Type, path);
        long cost = (long)rowCount * cols * batch;
        fixed (float* input = x)
        fixed (float* output = y)
        {
            using var encoded = EncodedActivations.Encode(pool, w.Type, input, cols, batch, gemm || rowKernels.NeedsExtra, rowKernels.F16Rebiased);
            if (gemm)
            {
                var work = new GemmRows
                {
                    Type = w.Type, Weights = w.Data + firstRow * w.RowByteCount, WeightRowBytes = w.RowByteCount,
                    Activations = encoded.Rows, ActivationRowBytes = encoded.RowBytes, Extra = encoded.Extra, ExtraRowBytes = encoded.ExtraRowBytes,
                    Output = output, Rows = rowCount, Columns = cols, Batch = batch, Path = path,
                };
                pool.For((rowCount + Gemm.RowGroup - 1) / Gemm.RowGroup, ref work, cost);
            }
            else
            {
                var work = new RowsTimesBatch
                {
                    Kernels = rowKernels,
                    MultiRow = batch == 1 && rowKernels.HasMultiRow,
                    Scales = encoded.Extra,
                    ScalesRowBytes = encoded.ExtraRowBytes,
                    Weights = w.Data + firstRow * w.RowByteCount,
                    WeightRowBytes = w.RowByteCount,
                    Activations = rowKernels.ReadsWidened ? encoded.Extra : encoded.Rows,
                    ActivationRowBytes = rowKernels.ReadsWidened ? encoded.ExtraRowBytes : encoded.RowBytes,
                    Output = output,
                    Rows = rowCount,
                    Columns = cols,
                    Batch = batch,
                };
                pool.For(rowCount, ref work, cost);
            }
        }
    }

    /// <summary>
    /// How the per-row (decode) path runs a weight type on a kernel family — one choice for <see cref="Compute(Tensor, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/>
    /// and <see cref="ComputeSegments"/>, so both give the same bits. F16 weights read the activations from the
    /// per-token extras: rounded to F16 (ggml's numerics) and widened to F32 once — times 2^112 on AVX2, so each row's dot
    /// converts only the weight side in three integer operations (FloatDot.F16xRebiasedF32); the 128-bit path (ARM64)
    /// widens them without the rebias and its kernel converts the weights exactly. Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4 weights on AVX2
    /// and the 128-bit path use activation block scales converted to float once (the extras), not once per row, and run
    /// four rows per kernel call, as Q4_1 and Q5_1 do (<see cref="Block32Dot{TOps, TVector, TLanes}"/>). On AVX2, single-token calls run F16
    /// four rows and Q4_K and Q6_K two rows per kernel call (<see cref="MultiRowKernel"/>,
    /// <see cref="MultiRowScaledKernel"/>; measured per tensor on Llama-3.2-1B, weights from DRAM, loaded box: F16 ~10 → ~16 GB/s
    /// on one thread, Q4_K +6-15%, Q8_0 +40-50% on two threads; Q6_K +1-7%, quiet box). ComputeSegments (a token's
    /// experts, MLA heads) uses the same kernels within each slice.
    /// </summary>
    private readonly struct RowKernels
    {
        public readonly delegate*<byte*, byte*, int, float> Kernel;
        public readonly delegate*<byte*, byte*, float*, int, float> ScaledKernel; // when set, used instead of Kernel
        public readonly delegate*<byte*, long, byte*, int, float*, long, void> MultiRowKernel; // decode: RowsPerCall rows per call, or null
        public readonly delegate*<byte*, long, byte*, float*, int, float*, long, void> MultiRowScaledKernel; // the same for ScaledKernel
        public readonly int RowsPerCall;
        public readonly bool F16Rebiased, ReadsWidened;

        private RowKernels(delegate*<byte*, byte*, int, float> kernel, delegate*<byte*, byte*, float*, int, float> scaledKernel,
            bool f16Rebiased, bool readsWidened, delegate*<byte*, long, byte*, int, float*, long, void> multiRowKernel = null, int rowsPerCall = 1,
            delegate*<byte*, long, byte*, float*, int, float*, long, void> multiRowScaledKernel = null)
        {
            MultiRowScaledKernel = multiRowScaledKernel;
            Kernel = kernel;
            ScaledKernel = scaledKernel;
            F16Rebiased = f16Rebiased;
            ReadsWidened = readsWidened;
            MultiRowKernel = multiRowKernel;
            RowsPerCall = rowsPerCall;
        }

        /// <summary>Whether the kernels read per-token extras (widened F16 activations or float block scales).</summary>
        public bool NeedsExtra => ReadsWidened || ScaledKernel != null;

        /// <summary>Whether single-token calls take several rows per kernel call.</summary>
        public bool HasMultiRow => MultiRowKernel != null || MultiRowScaledKernel != null;

        /// <summary>One row's dot: <see cref="ScaledKernel"/> with the activation block scales when set, else <see cref="Kernel"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Dot(byte* row, byte* activation, float* scales, int cols) =>
            ScaledKernel != null ? ScaledKernel(row, activation, scales, cols) : Kernel(row, activation, cols);

        /// <summary>
        /// <paramref name="count"/> adjacent weight rows against one activation row through the multi-row kernel (requires
        /// <see cref="HasMultiRow"/>): the run as <see cref="RowsPerCall"/> equal parts walked in step, so each call's weight
        /// streams are a part apart, and the leftover rows one per call. Adjacent rows as streams ran slower than one row at
        /// a time (F16 at 2048 columns, 4 KB rows, measured ~25% slower); rows far apart ran faster. Each output equals
        /// <see cref="Dot"/> of its row bit for bit.
        /// </summary>
        public void MultiRowRun(byte* rows, long rowBytes, int count, byte* activation, float* scales, int cols, float* output)
        {
            int part = count / RowsPerCall;
            for (int r = 0; r < part; r++)
            {
                if (MultiRowScaledKernel != null)
                    MultiRowScaledKernel(rows + r * rowBytes, part * rowBytes, activation, scales, cols, output + r, part);
                else
                    MultiRowKernel(rows + r * rowBytes, part * rowBytes, activation, cols, output + r, part);
            }
            for (int r = RowsPerCall * part; r < count; r++) output[r] = Dot(rows + r * rowBytes, activation, scales, cols);
        }

        public static RowKernels For(TensorType type, DotPath path)
        {
            if (type == TensorType.F16 && path == DotPath.Avx512) return new(&Avx512FloatDot.F16xRebiasedF32, null, true, true, &Avx512FloatDot.F16xRebiasedF32FourRows, 4);
            if (type == TensorType.F16 && path == DotPath.Avx512Twin) return new(&Avx512TwinFloatDot.F16xRebiasedF32, null, true, true, &Avx512TwinFloatDot.F16xRebiasedF32FourRows, 4);
            if (type == TensorType.F32 && path == DotPath.Avx512) return new(&Avx512FloatDot.F32, null, false, false);
            if (type == TensorType.F32 && path == DotPath.Avx512Twin) return new(&Avx512TwinFloatDot.F32, null, false, false);
            if (type == TensorType.BF16 && path == DotPath.Avx512) return new(&Avx512FloatDot.BF16, null, false, false);
            if (type == TensorType.BF16 && path == DotPath.Avx512Twin) return new(&Avx512TwinFloatDot.BF16, null, false, false);
            if (type == TensorType.IQ4_XS && path == DotPath.Avx512) return new(&Avx2IQ4XSDot.IQ4XS, null, false, false, &Avx512IQ4XSDot.IQ4XSTwoRows, 2);
            if (type == TensorType.IQ4_XS && path == DotPath.Avx512Twin) return new(&Avx2IQ4XSDot.IQ4XS, null, false, false, &Avx512TwinIQ4XSDot.IQ4XSTwoRows, 2);
            if (type == TensorType.Q4_K && path == DotPath.Avx512) return new(&Avx2KQuantDot.Q4K, null, false, false, &Avx512KQuantDot.Q4KTwoRows, 2);
            if (type == TensorType.Q4_K && path == DotPath.Avx512Twin) return new(&Avx2KQuantDot.Q4K, null, false, false, &Avx512TwinKQuantDot.Q4KTwoRows, 2);
            if (type == TensorType.Q6_K && path == DotPath.Avx512) return new(&Avx2KQuantDot.Q6K, null, false, false, &Avx512KQuantDot.Q6KTwoRows, 2);
            if (type == TensorType.Q6_K && path == DotPath.Avx512Twin) return new(&Avx2KQuantDot.Q6K, null, false, false, &Avx512TwinKQuantDot.Q6KTwoRows, 2);
            if (type == TensorType.TQ1_0 && path == DotPath.Avx512) return new(&Avx512TernaryDot.TQ1_0, null, false, false);
            if (type == TensorType.TQ1_0 && path == DotPath.Avx512Twin) return new(&Avx512TwinTernaryDot.TQ1_0, null, false, false);
            if (type == TensorType.TQ2_0 && path == DotPath.Avx512) return new(&Avx512TernaryDot.TQ2_0, null, false, false);
            if (type == TensorType.TQ2_0 && path == DotPath.Avx512Twin) return new(&Avx512TwinTernaryDot.TQ2_0, null, false, false);
            if (path == DotPath.Avx512 && Avx512LatticeDot.For(type) != null) return new(Avx512LatticeDot.For(type), null, false, false);
            if (path == DotPath.Avx512Twin && Avx512TwinLatticeDot.For(type) != null) return new(Avx512TwinLatticeDot.For(type), null, false, false);
            bool avx2 = DotKernels.IsAvx2OrWider(path); // the AVX-512 families take the AVX2 kernels where they have no wide one
            if (type == TensorType.F16 && avx2) return new(&Avx2FloatDot.F16xRebiasedF32, null, true, true, &Avx2FloatDot.F16xRebiasedF32FourRows, 4);
            if (type == TensorType.Q4_K && avx2) return new(&Avx2KQuantDot.Q4K, null, false, false, &Avx2KQuantDot.Q4KTwoRows, 2);
            if (type == TensorType.Q6_K && avx2) return new(&Avx2KQuantDot.Q6K, null, false, false, &Avx2KQuantDot.Q6KTwoRows, 2);
            if (type == TensorType.Q8_0 && avx2) return new(&Avx2Block32Dot.Q8_0, &Avx2Block32Dot.Q8_0Scaled, false, false, null, 4, &Avx2Block32Dot.Q8_0ScaledFourRows);
            if (type == TensorType.Q4_0 && avx2) return new(&Avx2Block32Dot.Q4_0, &Avx2Block32Dot.Q4_0Scaled, false, false, null, 4, &Avx2Block32Dot.Q4_0ScaledFourRows);
            if (type == TensorType.Q5_0 && avx2) return new(&Avx2Block32Dot.Q5_0, &Avx2Block32Dot.Q5_0Scaled, false, false, null, 4, &Avx2Block32Dot.Q5_0ScaledFourRows);
            if (type == TensorType.IQ4_NL && avx2) return new(&Avx2Block32Dot.IQ4NL, &Avx2Block32Dot.IQ4NLScaled, false, false, null, 4, &Avx2Block32Dot.IQ4NLScaledFourRows);
            if (type == TensorType.MXFP4 && avx2) return new(&Avx2Block32Dot.MXFP4, &Avx2Block32Dot.MXFP4Scaled, false, false, null, 4, &Avx2Block32Dot.MXFP4ScaledFourRows);
            if (type == TensorType.Q4_1 && avx2) return new(&Avx2Block32Dot.Q4_1, null, false, false, &Avx2Block32Dot.Q4_1FourRows, 4);
            if (type == TensorType.Q5_1 && avx2) return new(&Avx2Block32Dot.Q5_1, null, false, false, &Avx2Block32Dot.Q5_1FourRows, 4);
            if (type == TensorType.IQ4_XS && avx2) return new(&Avx2IQ4XSDot.IQ4XS, null, false, false, &Avx2IQ4XSDot.IQ4XSTwoRows, 2);
            if (type == TensorType.F16 && path == DotPath.Vector128) return new(&Vector128FloatDot.F16xF32, null, false, true);
            bool vector128 = path == DotPath.Vector128;
            if (type == TensorType.Q8_0 && vector128) return new(&Vector128Block32Dot.Q8_0, &Vector128Block32Dot.Q8_0Scaled, false, false, null, 4, &Vector128Block32Dot.Q8_0ScaledFourRows);
            if (type == TensorType.Q4_0 && vector128) return new(&Vector128Block32Dot.Q4_0, &Vector128Block32Dot.Q4_0Scaled, false, false, null, 4, &Vector128Block32Dot.Q4_0ScaledFourRows);
            if (type == TensorType.Q5_0 && vector128) return new(&Vector128Block32Dot.Q5_0, &Vector128Block32Dot.Q5_0Scaled, false, false, null, 4, &Vector128Block32Dot.Q5_0ScaledFourRows);
            if (type == TensorType.IQ4_NL && vector128) return new(&Vector128Block32Dot.IQ4NL, &Vector128Block32Dot.IQ4NLScaled, false, false, null, 4, &Vector128Block32Dot.IQ4NLScaledFourRows);
            if (type == TensorType.MXFP4 && vector128) return new(&Vector128Block32Dot.MXFP4, &Vector128Block32Dot.MXFP4Scaled, false, false, null, 4, &Vector128Block32Dot.MXFP4ScaledFourRows);
            if (type == TensorType.Q4_1 && vector128) return new(&Vector128Block32Dot.Q4_1, null, false, false, &Vector128Block32Dot.Q4_1FourRows, 4);
            if (type == TensorType.Q5_1 && vector128) return new(&Vector128Block32Dot.Q5_1, null, false, false, &Vector128Block32Dot.Q5_1FourRows, 4);
            return new(DotKernels.For(type, path), null, false, false);
        }
    }

    /// <summary>
    /// The prologue of <see cref="Compute(Tensor, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/>,
    /// <see cref="ComputeSegments"/> and <see cref="ComputeGroups(Tensor, ReadOnlySpan{long}, int, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, WorkerPool)"/>:
    /// a call's activation rows encoded once, across the pool, into the weight type's activation encoding, with the
    /// per-token extras the kernels read (<see cref="Gemm.ExtraBytesPerToken"/>), in one pinned ArrayPool buffer.
    /// </summary>
    private ref struct EncodedActivations
    {
        private byte[]? _rented;
        private System.Buffers.MemoryHandle _pin;

        /// <summary>Row r's encoding at <c>Rows + r·RowBytes</c>; for F32 weights the input floats themselves.</summary>
        public byte* Rows;
        public int RowBytes;

        /// <summary>Row r's extras at <c>Extra + r·ExtraRowBytes</c> (none when ExtraRowBytes is 0).</summary>
        public byte* Extra;
        public int ExtraRowBytes;

        /// <summary><c>spareRows</c> more rows of encoding and extras, for the caller's own copies (ComputeGroups' gather).</summary>
        public byte* Spare;

        /// <param name="extras">Whether the kernels read per-token extras (the GEMM's, or the per-row kernels' <see cref="RowKernels.NeedsExtra"/>).</param>
        /// <param name="rebiasHalves">F16 extras widened times 2^112 for the per-row kernel (<see cref="RowKernels.F16Rebiased"/>).</param>
        /// <param name="cols">Elements per input row.</param>
        /// <param name="rows">Input rows.</param>
        /// <param name="pool">Threads for the encoding.</param>
        /// <param name="weightType">The weight type the activations are encoded for.</param>
        /// <param name="input">The activations, row after row.</param>
        /// <param name="spareRows">Extra rows to allocate room for.</param>
        public static EncodedActivations Encode(WorkerPool pool, TensorType weightType, float* input, int cols, int rows, bool extras,
            bool rebiasHalves, int spareRows = 0)
        {
            TensorType activationType = Quantization.ActivationType(weightType);
            var encoded = new EncodedActivations
            {
                RowBytes = checked((int)TensorTypes.RowBytes(activationType, cols)),
                ExtraRowBytes = extras ? Gemm.ExtraBytesPerToken(weightType, cols) : 0,
            };
            int encodedBytes = activationType == TensorType.F32 ? 0 : checked(encoded.RowBytes * rows);
            int totalBytes = checked(encodedBytes + encoded.ExtraRowBytes * rows + (encoded.RowBytes + encoded.ExtraRowBytes) * spareRows);
            byte* buffer = null;
            if (totalBytes > 0)
            {
                encoded._rented = ArrayPool<byte>.Shared.Rent(totalBytes);
                encoded._pin = encoded._rented.AsMemory().Pin();
                buffer = (byte*)encoded._pin.Pointer;
            }
            encoded.Rows = activationType == TensorType.F32 ? (byte*)input : buffer;
            encoded.Extra = buffer + encodedBytes;
            encoded.Spare = encoded.Extra + (long)encoded.ExtraRowBytes * rows;
            if (activationType != TensorType.F32 || encoded.ExtraRowBytes > 0)
            {
                var encode = new EncodeRows
                {
                    ActivationType = activationType, WeightType = weightType, Input = input, Columns = cols,
                    Encoded = encoded.Rows, EncodedRowBytes = encoded.RowBytes, Extra = encoded.Extra, ExtraRowBytes = encoded.ExtraRowBytes,
                    Encode = activationType != TensorType.F32, RebiasHalves = rebiasHalves,
                };
                try
                {
                    pool.For(rows, ref encode, (long)rows * cols * 4);
                }
                catch
                {
                    encoded.Dispose(); // the caller's `using` has not started: unpin and return the buffer here
                    throw;
                }
            }
            return encoded;
        }

        public void Dispose()
        {
            _pin.Dispose();
            if (_rented != null) ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }

    /// <summary>Encodes a range of activation rows (and the GEMM's per-token extras).</summary>
    private struct EncodeRows : IParallelWork
    {
        public TensorType ActivationType, WeightType;
        public float* Input;
        public int Columns, EncodedRowBytes, ExtraRowBytes;
        public byte* Encoded, Extra;
        public bool Encode, RebiasHalves;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            for (int b = start; b < end; b++)
            {
                byte* encoded = Encoded + (long)b * EncodedRowBytes;
                if (Encode)
                    Quantization.QuantizeActivations(ActivationType, new ReadOnlySpan<float>(Input + (long)b * Columns, Columns),
                        new Span<byte>(encoded, EncodedRowBytes));
                if (ExtraRowBytes > 0) Gemm.PrepareToken(WeightType, encoded, Extra + (long)b * ExtraRowBytes, Columns, RebiasHalves);
            }
        }
    }

    /// <summary>A range of row groups through the GEMM.</summary>
    private struct GemmRows : IParallelWork
    {
        public TensorType Type;
        public byte* Weights, Activations, Extra;
        public long WeightRowBytes;
        public int ActivationRowBytes, ExtraRowBytes, Rows, Columns, Batch;
        public float* Output;
        public DotPath Path;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            int first = start * Gemm.RowGroup, last = Math.Min(end * Gemm.RowGroup, Rows);
            Gemm.Rows(Type, Weights, WeightRowBytes, first, last, Columns, Activations, ActivationRowBytes,
                Extra, ExtraRowBytes, Batch, Output, Rows, Path);
        }
    }

    /// <summary>A range of weight rows against every activation row: each weight row is read once per call.</summary>
    private struct RowsTimesBatch : IParallelWork
    {
        public RowKernels Kernels;
        public bool MultiRow; // batch 1 with a multi-row kernel: the range through RowKernels.MultiRowRun
        public byte* Scales;
        public int ScalesRowBytes;
        public byte* Weights;
        public long WeightRowBytes;
        public byte* Activations;
        public int ActivationRowBytes;
        public float* Output;
        public int Rows;
        public int Columns;
        public int Batch;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            if (MultiRow)
            {
                Kernels.MultiRowRun(Weights + start * WeightRowBytes, WeightRowBytes, end - start, Activations, (float*)Scales, Columns, Output + start);
                return;
            }
            for (int r = start; r < end; r++)
            {
                byte* row = Weights + r * WeightRowBytes;
                for (int b = 0; b < Batch; b++)
                    Output[(long)b * Rows + r] = Kernels.Dot(row, Activations + (long)b * ActivationRowBytes,
                        (float*)(Scales + (long)b * ScalesRowBytes), Columns);
            }
        }
    }
}
