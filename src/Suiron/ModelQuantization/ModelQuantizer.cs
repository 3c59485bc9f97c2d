using System.Runtime.InteropServices;
using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.ModelQuantization;

/// <summary>How <see cref="ModelQuantizer"/> runs.</summary>
public sealed record QuantizeOptions
{
    /// <summary>Threads that quantize rows in parallel.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Every quantizable tensor gets the file type's default type: no k-quant mixture, no output.weight rule (llama-quantize --pure).</summary>
    public bool Pure { get; init; }

    /// <summary>
    /// Per-column importance of each weight matrix (llama-quantize --imatrix): the types that can use it weigh their
    /// rounding errors by it, and llama.cpp's rules for quantizing with an importance matrix apply.
    /// </summary>
    public ImportanceMatrix? ImportanceMatrix { get; init; }

    /// <summary>The importance matrix's file name as the user gave it: recorded in the output's <c>quantize.imatrix.file</c>.</summary>
    public string? ImportanceMatrixFile { get; init; }
}

/// <summary>What a quantization wrote.</summary>
public sealed record QuantizeResult(IReadOnlyList<PlannedTensor> Tensors, long InputBytes, long OutputBytes)
{
    /// <summary>Tensors whose rows did not fit the chosen block type and got a compatible one instead.</summary>
    public int FallbackCount => Tensors.Count(t => t.FellBack);
}

/// <summary>
/// Rewrites a GGUF model in another file type (Q4_K_M, Q8_0, F16 …), producing the same file llama.cpp's
/// <c>llama-quantize</c> writes from the same input: same tensor order and types (<see cref="TensorTypePlanner"/>), same
/// quantized bytes (ggml's quantizers, with the importance matrix when one is given), same metadata. Already-quantized tensors are
/// decoded to F32 first, as llama.cpp does. Tensors stream one at a time from the input's memory map to the output, so
/// memory use is bounded by a batch of rows, not by the model.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>Quantization format version llama.cpp writes (GGML_QNT_VERSION).</summary>
    public const uint QuantizationVersion = 2;

    // Rows are converted in batches of about this many elements: big enough to keep every thread busy, small enough that
    // the F32 staging buffer stays at 16 MiB whatever the tensor size.
    private const int BatchElements = 4 << 20;
    // A thread's share of a batch is at least this many elements (llama.cpp's min_chunk_size), so tiny tensors stay on one thread.
    private const int MinChunkElements = 32 * 512;

    /// <summary>
    /// Quantizes <paramref name="inputPath"/> to <paramref name="outputPath"/>. The output appears only once complete
    /// (written under a temporary name, then renamed).
    /// </summary>
    /// <param name="progress">Reports each tensor once written: (tensors done, tensor count, tensor name).</param>
    /// <exception cref="FileNotFoundException">The input does not exist.</exception>
    /// <exception cref="GgufException">The input is not a valid GGUF file.</exception>
    /// <exception cref="NotSupportedException">A tensor fits no type (llama.cpp refuses these models too) or has a type that cannot be converted.</exception>
    /// <exception cref="InvalidDataException">A tensor encodes to infinite or NaN values (llama.cpp refuses these too).</exception>
    /// <exception cref="ArgumentException">A tensor's 1-3 bit lattice type needs importance weights that are not given.</exception>
    /// <param name="options">Per-tensor overrides and threads; null for llama-quantize's defaults.</param>
    /// <param name="inputPath">The GGUF model to quantize.</param>
    /// <param name="outputPath">The GGUF file to write (replaced only once complete).</param>
    /// <param name="fileType">The target file type.</param>
    /// <param name="cancellationToken">Stops the quantization; the output is then not written.</param>
    public static QuantizeResult Quantize(string inputPath, string outputPath, ModelFileType fileType, QuantizeOptions? options = null,
        IProgress<(int done, int total, string tensor)>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new QuantizeOptions();
        if (options.Threads < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "Threads must be at least 1.");
        _ = ModelFileTypes.DefaultTensorType(fileType); // rejects values outside the enum before any work
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException("The output must be a different file from the input (the input is read while the output is written).", nameof(outputPath));

        var importance = ImportanceWeights(options.ImportanceMatrix);
        using var input = GgufFile.Open(inputPath);
        var plan = TensorTypePlanner.Plan(input, fileType, options.Pure, hasImportance: importance.Count > 0);
        CheckImportanceCoversLatticeTensors(plan, importance);

        var writer = new GgufWriter { PadAfterLastTensor = true }; // llama-quantize pads the data section after every tensor
        writer.CopyMetadataFrom(input);
        // llama.cpp (re)sets these two at the end of the metadata, in this order, and drops the split markers of sharded inputs.
        writer.Remove("general.quantization_version").Set("general.quantization_version", QuantizationVersion);
        writer.Remove("general.file_type").Set("general.file_type", (uint)fileType);
        writer.Remove("split.no").Remove("split.count").Remove("split.tensors.count");
        if (importance.Count > 0) RecordImportanceMatrix(writer, options, importance.Count);

        int done = 0;
        foreach (var planned in plan)
        {
            // GGUF writers store ggml_n_dims dimensions: a [64, 1] tensor comes out as [64].
            long[] shape = planned.Source.Shape[..TensorTypePlanner.SignificantDimensions(planned.Source.Shape)];
            writer.AddTensor(planned.Name, planned.TargetType, shape, stream =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                var source = input.GetTensor(planned.Source);
                CheckSourceIsFinite(source);
                if (planned.Converts)
                    WriteConverted(source, planned.TargetType, ImportanceFor(planned, importance), stream, options.Threads, cancellationToken);
                else WriteCopy(source, stream);
                progress?.Report((++done, plan.Count, planned.Name));
            });
        }
        writer.WriteTo(outputPath);
        return new QuantizeResult(plan, input.FileLength, new FileInfo(outputPath).Length);
    }

    /// <summary>
    /// Refuses, before anything is written, a plan with a tensor whose 1-3 bit lattice type needs importance weights that
    /// are not given (llama.cpp refuses these too: "this quantization requires an imatrix!", or, with an importance matrix
    /// that lacks the tensor, "Missing importance matrix for tensor … in a very low-bit quantization").
    /// </summary>
    private static void CheckImportanceCoversLatticeTensors(IReadOnlyList<PlannedTensor> plan, Dictionary<string, float[]> importance)
    {
        foreach (var planned in plan)
        {
            // Besides llama.cpp's rule, IQ2_XXS, IQ2_XS and IQ1_S cannot be encoded at all without weights, even where that
            // rule exempts the tensor (token_embd and output under --pure: llama-quantize aborts there).
            bool encoderNeedsWeights = planned.Converts && Kernels.Quantization.RequiresImportance(planned.TargetType);
            if (!encoderNeedsWeights && !TensorTypePlanner.RequiresImportance(planned)) continue;
            if (importance.Count == 0)
                throw new ArgumentException($"This quantization requires an importance matrix (--imatrix): tensor {planned.Name} is {planned.TargetType}, " +
                    "which comes out as noise without one (llama.cpp refuses it too).", "options");
            if (planned.Converts && ImportanceFor(planned, importance) is null)
                throw new ArgumentException($"Missing importance matrix for tensor {planned.Name} in a very low-bit quantization ({planned.TargetType}): " +
                    "the importance matrix has no entry for it.", "options");
        }
    }

    /// <summary>Each entry's column weights as llama-quantize derives them; refuses non-finite values as llama.cpp does.</summary>
    private static Dictionary<string, float[]> ImportanceWeights(ImportanceMatrix? matrix)
    {
        var weights = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (matrix is null) return weights;
        foreach (string name in matrix.Entries.Keys)
        {
            if (matrix.WeightsFor(name) is not { } values) continue;
            foreach (float v in values)
                if (!float.IsFinite(v)) throw new InvalidDataException($"The importance matrix has a non-finite value ({v}) for {name}.");
            weights[name] = values;
        }
        return weights;
    }

    /// <summary>
    /// The importance of a tensor's columns, one run of ne[0] per matrix (per expert for a 3-D tensor); null when the
    /// matrix has no entry for it. A size that does not fit is an error (a model that does not match the importance
    /// matrix), except for token_embd, which llama-quantize lets through because old imatrix files had it wrong.
    /// </summary>
    private static float[]? ImportanceFor(PlannedTensor planned, Dictionary<string, float[]> importance)
    {
        if (!importance.TryGetValue(planned.Name, out var weights)) return null;
        long[] shape = planned.Source.Shape;
        long expected = shape[0] * (shape.Length > 2 ? shape[2] : 1);
        if (weights.Length == expected) return weights;
        if (planned.Name == "token_embd.weight") return null;
        throw new InvalidDataException($"imatrix size {weights.Length} is different from tensor size {expected} for {planned.Name}");
    }

    /// <summary>The keys llama-quantize adds when it uses an importance matrix, after general.file_type, in its order.</summary>
    private static void RecordImportanceMatrix(GgufWriter writer, QuantizeOptions options, int entries)
    {
        var matrix = options.ImportanceMatrix!;
        // llama.cpp passes these as metadata overrides, whose strings hold at most 127 bytes.
        writer.Set("quantize.imatrix.file", Utf8Prefix(options.ImportanceMatrixFile ?? "", 127));
        if (matrix.Datasets.Count > 0) writer.Set("quantize.imatrix.dataset", Utf8Prefix(matrix.Datasets[0], 127));
        writer.Set("quantize.imatrix.entries_count", (uint)entries);
        if (matrix.ChunkCount > 0) writer.Set("quantize.imatrix.chunks_count", (uint)matrix.ChunkCount);
    }

    /// <summary>
    /// The longest whole-character prefix of <paramref name="value"/> that fits in <paramref name="maxBytes"/> UTF-8 bytes.
    /// llama-quantize cuts at the byte even inside a character, which leaves invalid UTF-8 in the file where GGUF strings
    /// are UTF-8 (strict readers refuse it); we stop before that character instead.
    /// </summary>
    internal static string Utf8Prefix(string value, int maxBytes)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(value);
        if (bytes.Length <= maxBytes) return value;
        int cut = maxBytes;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--; // a continuation byte: the character starts before the cut
        return System.Text.Encoding.UTF8.GetString(bytes, 0, cut);
    }

    private static unsafe void CheckSourceIsFinite(Tensor source)
    {
        // Whole blocks per chunk, so a chunk boundary never splits one.
        long chunk = (64L << 20) / TensorTypes.BlockBytes(source.Type) * TensorTypes.BlockBytes(source.Type);
        for (long offset = 0; offset < source.ByteLength; offset += chunk)
            if (!IsFinite(source.Type, new ReadOnlySpan<byte>(source.Data + offset, (int)Math.Min(chunk, source.ByteLength - offset))))
                throw new InvalidDataException($"Tensor '{source.Name}' has invalid data: infinite or NaN values or scales (llama.cpp refuses it too).");
    }

    private static unsafe void WriteCopy(Tensor source, Stream stream)
    {
        const int chunk = 16 << 20;
        for (long offset = 0; offset < source.ByteLength; offset += chunk)
            stream.Write(new ReadOnlySpan<byte>(source.Data + offset, (int)Math.Min(chunk, source.ByteLength - offset)));
    }

    /// <summary>Decodes the source rows to F32 and encodes them in <paramref name="targetType"/>, a batch at a time, rows split over threads.</summary>
    private static unsafe void WriteConverted(Tensor source, TensorType targetType, float[]? importance, Stream stream, int threads,
        CancellationToken cancellationToken)
    {
        if (!CanDecode(source.Type))
            throw new NotSupportedException($"Tensor '{source.Name}' of type {source.Type} cannot be converted to {targetType}.");
        int columns = source.Columns;
        long rows = source.Rows;
        int sourceRowBytes = source.RowByteCount;
        int targetRowBytes = checked((int)TensorTypes.RowBytes(targetType, columns));
        int batchRows = (int)Math.Clamp(BatchElements / columns, 1, rows);
        int chunkRows = Math.Max(1, MinChunkElements / columns);
        long rowsPerMatrix = source.Shape.Length > 1 ? source.Shape[1] : 1; // an expert tensor's rows run expert after expert

        var floats = new float[(long)batchRows * columns];
        var encoded = new byte[(long)batchRows * targetRowBytes];
        byte* sourceData = source.Data;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken };
        for (long first = 0; first < rows; first += batchRows)
        {
            int count = (int)Math.Min(batchRows, rows - first);
            int chunks = (count + chunkRows - 1) / chunkRows;
            long batchFirst = first;
            try
            {
                Parallel.For(0, chunks, parallel, chunk =>
                {
                    int r0 = chunk * chunkRows, r1 = Math.Min(count, r0 + chunkRows);
                    for (int r = r0; r < r1; r++)
                    {
                        var row = new ReadOnlySpan<byte>(sourceData + (batchFirst + r) * sourceRowBytes, sourceRowBytes);
                        var values = floats.AsSpan(r * columns, columns);
                        Kernels.Quantization.Dequantize(source.Type, row, values);
                        var target = encoded.AsSpan(r * targetRowBytes, targetRowBytes);
                        if (importance is null) Kernels.Quantization.Quantize(targetType, values, target);
                        else
                        {
                            long matrix = (batchFirst + r) / rowsPerMatrix;
                            Kernels.Quantization.QuantizeRows(targetType, values, target, importance.AsSpan(checked((int)(matrix * columns)), columns));
                        }
                    }
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // A row that cannot be encoded is the input's problem, not a parallel failure: surface the (first) row's
                // exception, named after its tensor.
                var rowError = e.InnerExceptions[0];
                if (rowError is InvalidDataException)
                    throw new InvalidDataException($"Tensor '{source.Name}' as {targetType}: {rowError.Message}", rowError);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(rowError);
            }
            if (!IsFinite(targetType, encoded.AsSpan(0, count * targetRowBytes)))
                throw new InvalidDataException($"Tensor '{source.Name}' as {targetType} has infinite or NaN values or scales (the input holds non-finite or out-of-range weights); llama.cpp rejects it too (quantized data validation failed).");
            stream.Write(encoded, 0, count * targetRowBytes);
        }
    }

    /// <summary>
    /// llama.cpp validates every tensor it reads and every tensor it encodes (ggml_validate_row_data) and refuses the
    /// model when a value, or a block's scale, is infinite or NaN: a non-finite weight, or an F16 overflow. We refuse the same.
    /// </summary>
    private static bool IsFinite(TensorType type, ReadOnlySpan<byte> encoded)
    {
        switch (type)
        {
            case TensorType.F32:
                foreach (float v in MemoryMarshal.Cast<byte, float>(encoded)) if (!float.IsFinite(v)) return false;
                return true;
            case TensorType.F16:
                foreach (Half v in MemoryMarshal.Cast<byte, Half>(encoded)) if (!Half.IsFinite(v)) return false;
                return true;
            case TensorType.BF16:
                foreach (ushort v in MemoryMarshal.Cast<byte, ushort>(encoded)) if ((v & 0x7F80) == 0x7F80) return false;
                return true;
        }
        if (type == TensorType.IQ1_M) return IQ1MScalesAreFinite(encoded);
        if (ScaleOffsets(type) is not var (scale, secondScale)) return true; // types ggml does not check here
        int blockBytes = TensorTypes.BlockBytes(type);
        for (int block = 0; block < encoded.Length; block += blockBytes)
        {
            if (!Half.IsFinite(MemoryMarshal.Read<Half>(encoded[(block + scale)..]))) return false;
            if (secondScale >= 0 && !Half.IsFinite(MemoryMarshal.Read<Half>(encoded[(block + secondScale)..]))) return false;
        }
        return true;
    }

    /// <summary>Byte offsets of a block's F16 scale and, for the types that have one, its minimum (-1 when absent).</summary>
    private static (int Scale, int Minimum)? ScaleOffsets(TensorType type) => type switch
    {
        TensorType.Q4_0 => (Offset<BlockQ4_0>(nameof(BlockQ4_0.D)), -1),
        TensorType.Q4_1 => (Offset<BlockQ4_1>(nameof(BlockQ4_1.D)), Offset<BlockQ4_1>(nameof(BlockQ4_1.M))),
        TensorType.Q5_0 => (Offset<BlockQ5_0>(nameof(BlockQ5_0.D)), -1),
        TensorType.Q5_1 => (Offset<BlockQ5_1>(nameof(BlockQ5_1.D)), Offset<BlockQ5_1>(nameof(BlockQ5_1.M))),
        TensorType.Q8_0 => (Offset<BlockQ8_0>(nameof(BlockQ8_0.D)), -1),
        TensorType.Q2_K => (Offset<BlockQ2K>(nameof(BlockQ2K.D)), Offset<BlockQ2K>(nameof(BlockQ2K.DMin))),
        TensorType.Q3_K => (Offset<BlockQ3K>(nameof(BlockQ3K.D)), -1),
        TensorType.Q4_K => (Offset<BlockQ4K>(nameof(BlockQ4K.D)), Offset<BlockQ4K>(nameof(BlockQ4K.DMin))),
        TensorType.Q5_K => (Offset<BlockQ5K>(nameof(BlockQ5K.D)), Offset<BlockQ5K>(nameof(BlockQ5K.DMin))),
        TensorType.Q6_K => (Offset<BlockQ6K>(nameof(BlockQ6K.D)), -1),
        TensorType.IQ2_XXS => (Offset<BlockIQ2XXS>(nameof(BlockIQ2XXS.D)), -1),
        TensorType.IQ2_XS => (Offset<BlockIQ2XS>(nameof(BlockIQ2XS.D)), -1),
        TensorType.IQ2_S => (Offset<BlockIQ2S>(nameof(BlockIQ2S.D)), -1),
        TensorType.IQ3_XXS => (Offset<BlockIQ3XXS>(nameof(BlockIQ3XXS.D)), -1),
        TensorType.IQ3_S => (Offset<BlockIQ3S>(nameof(BlockIQ3S.D)), -1),
        TensorType.IQ1_S => (Offset<BlockIQ1S>(nameof(BlockIQ1S.D)), -1),
        _ => null,
    };

    /// <summary>IQ1_M keeps its F16 block scale in the top nibbles of its four 16-bit scale words.</summary>
    private static bool IQ1MScalesAreFinite(ReadOnlySpan<byte> encoded)
    {
        int blockBytes = TensorTypes.BlockBytes(TensorType.IQ1_M);
        int scalesAt = Offset<BlockIQ1M>(nameof(BlockIQ1M.Scales));
        for (int block = 0; block < encoded.Length; block += blockBytes)
        {
            var words = MemoryMarshal.Cast<byte, ushort>(encoded.Slice(block + scalesAt, 8));
            ushort bits = (ushort)(words[0] >> 12 | (words[1] >> 8) & 0x00f0 | (words[2] >> 4) & 0x0f00 | words[3] & 0xf000);
            if (!Half.IsFinite(BitConverter.UInt16BitsToHalf(bits))) return false;
        }
        return true;
    }

    private static int Offset<TBlock>(string field) => (int)Marshal.OffsetOf<TBlock>(field);

    /// <summary>Types llama.cpp can turn back into F32 before re-encoding: plain floats and the block-quantized types.</summary>
    private static bool CanDecode(TensorType type) =>
        type is TensorType.F32 or TensorType.F16 or TensorType.BF16 || (ModelFileTypes.IsBlockQuantized(type) && TensorTypes.IsSupported(type));
}
