using System.Runtime.InteropServices;
using System.Text;
using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.ModelQuantization;

/// <summary>
/// One weight matrix's statistics: per input column, the sum of squared activations it multiplied, per matrix (one for a
/// dense weight, one per expert for a 3-D expert tensor), and how many activation rows (tokens) each matrix saw.
/// </summary>
/// <param name="SumsOfSquares">Layout [matrix][column]: <c>Counts.Length</c> runs of <see cref="Columns"/> values.</param>
/// <param name="Counts">Tokens per matrix (the legacy format stores one call count for all).</param>
public sealed record ImportanceEntry(float[] SumsOfSquares, float[] Counts)
{
    /// <summary>Input columns per matrix.</summary>
    public int Columns => Counts.Length == 0 ? 0 : SumsOfSquares.Length / Counts.Length;
}

/// <summary>
/// An importance matrix as llama.cpp's llama-imatrix writes it and llama-quantize reads it, in either format:
/// <list type="bullet">
/// <item>GGUF (the default since 2025): <c>general.type</c> = "imatrix", <c>imatrix.datasets</c> (string array),
/// <c>imatrix.chunk_count</c> and <c>imatrix.chunk_size</c> (u32), and per weight matrix NAME, sorted by name, the F32
/// tensors <c>NAME.in_sum2</c> [columns, matrices] (sums of squared activations) and <c>NAME.counts</c> [1, matrices].</item>
/// <item>legacy <c>.dat</c>: int32 entry count; per entry int32 name length, name, int32 call count, int32 value count,
/// float values (mean squares times the call count); then int32 chunk count, int32 length and the dataset name.</item>
/// </list>
/// </summary>
public sealed class ImportanceMatrix
{
    private static readonly byte[] GgufMagic = "GGUF"u8.ToArray();

    /// <summary>The entries by weight name (<c>blk.0.attn_q.weight</c> …).</summary>
    public SortedDictionary<string, ImportanceEntry> Entries { get; } = new(StringComparer.Ordinal);

    /// <summary>The calibration texts it was computed on.</summary>
    public List<string> Datasets { get; } = [];

    /// <summary>Chunks of <see cref="ChunkSize"/> tokens it was computed over.</summary>
    public int ChunkCount { get; set; }

    /// <summary>Tokens per chunk (0 when the file does not say: the legacy format).</summary>
    public int ChunkSize { get; set; }

    /// <summary>Read from the legacy format, whose values are already means times the call count.</summary>
    public bool IsLegacy { get; private init; }

    /// <summary>
    /// The importance of each column of <paramref name="weightName"/>'s matrices as llama-quantize derives it: sums of
    /// squares over the token count per matrix (1 for a matrix that saw no token), or for the legacy format the stored
    /// values over the call count. Null when the file has no such entry.
    /// </summary>
    public float[]? WeightsFor(string weightName)
    {
        if (!Entries.TryGetValue(weightName, out var entry) || entry.Counts.Length == 0 || entry.SumsOfSquares.Length == 0) return null;
        var values = new float[entry.SumsOfSquares.Length];
        int columns = entry.Columns;
        if (IsLegacy)
        {
            float calls = entry.Counts[0];
            for (int i = 0; i < values.Length; i++) values[i] = calls > 0 ? entry.SumsOfSquares[i] / calls : entry.SumsOfSquares[i];
            return values;
        }
        for (int m = 0; m < entry.Counts.Length; m++)
        {
            float count = entry.Counts[m];
            for (int i = 0; i < columns; i++)
                values[m * columns + i] = count > 0 ? entry.SumsOfSquares[m * columns + i] / count : 1f;
        }
        return values;
    }

    /// <summary>Reads either format (a GGUF file is recognised by its magic).</summary>
    /// <exception cref="InvalidDataException">The file is neither a valid imatrix GGUF nor a valid legacy file.</exception>
    public static ImportanceMatrix Load(string path)
    {
        var head = new byte[4];
        using (var probe = File.OpenRead(path)) probe.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return head.AsSpan().SequenceEqual(GgufMagic) ? LoadGguf(path) : LoadLegacy(path);
    }

    private static ImportanceMatrix LoadGguf(string path)
    {
        using var file = GgufFile.Open(path);
        var matrix = new ImportanceMatrix
        {
            ChunkCount = file.GetInt32("imatrix.chunk_count", 0),
            ChunkSize = file.GetInt32("imatrix.chunk_size", 0),
        };
        if (file.TryGetValue("imatrix.datasets", out var datasets) && datasets.IsArray && datasets.ElementType == GgufValueType.String)
            matrix.Datasets.AddRange((string[])datasets.Value);

        var sums = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        var counts = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        foreach (var info in file.Tensors)
        {
            if (info.Name.EndsWith(".in_sum2", StringComparison.Ordinal)) sums[info.Name[..^".in_sum2".Length]] = info;
            else if (info.Name.EndsWith(".counts", StringComparison.Ordinal)) counts[info.Name[..^".counts".Length]] = info;
        }
        if (sums.Count == 0) throw new InvalidDataException($"{path}: no '<tensor>.in_sum2' tensors: not an importance matrix.");
        foreach (string name in sums.Keys.Union(counts.Keys))
        {
            if (!sums.TryGetValue(name, out var sumInfo) || !counts.TryGetValue(name, out var countInfo))
                throw new InvalidDataException($"{path}: mismatched sums and counts for {name}.");
            float[] sumValues = ReadF32(file, sumInfo, path), countValues = ReadF32(file, countInfo, path);
            if (countValues.Length == 0 || sumValues.Length % countValues.Length != 0)
                throw new InvalidDataException($"{path}: {name} has {sumValues.Length} sums for {countValues.Length} matrices.");
            matrix.Entries[name] = new ImportanceEntry(sumValues, countValues);
        }
        return matrix;
    }

    private static unsafe float[] ReadF32(GgufFile file, GgufTensorInfo info, string path)
    {
        if (info.Type != TensorType.F32) throw new InvalidDataException($"{path}: tensor {info.Name} is {info.Type}, not F32.");
        var tensor = file.GetTensor(info);
        return new ReadOnlySpan<float>(tensor.Data, checked((int)(tensor.ByteLength / 4))).ToArray();
    }

    private static ImportanceMatrix LoadLegacy(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        long length = reader.BaseStream.Length;
        var matrix = new ImportanceMatrix { IsLegacy = true };
        try
        {
            int entries = reader.ReadInt32();
            if (entries < 1) throw new InvalidDataException($"{path}: no data (entry count {entries}).");
            for (int i = 0; i < entries; i++)
            {
                int nameLength = reader.ReadInt32();
                if (nameLength <= 0 || nameLength > 4096) throw new InvalidDataException($"{path}: entry {i + 1} has a name of {nameLength} bytes.");
                string name = Encoding.UTF8.GetString(reader.ReadBytes(nameLength));
                int calls = reader.ReadInt32();
                int count = reader.ReadInt32();
                if (count < 1 || (long)count * 4 > length - reader.BaseStream.Position)
                    throw new InvalidDataException($"{path}: entry '{name}' claims {count} values.");
                var values = MemoryMarshal.Cast<byte, float>(reader.ReadBytes(count * 4)).ToArray();
                matrix.Entries[name] = new ImportanceEntry(values, [calls]);
            }
            // Older files end here; newer ones add the chunk count and the dataset name.
            if (reader.BaseStream.Position + 4 <= length) matrix.ChunkCount = reader.ReadInt32();
            if (reader.BaseStream.Position + 4 <= length)
            {
                int datasetLength = reader.ReadInt32();
                if (datasetLength > 0 && datasetLength <= length - reader.BaseStream.Position)
                    matrix.Datasets.Add(Encoding.UTF8.GetString(reader.ReadBytes(datasetLength)));
            }
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: truncated: neither an imatrix GGUF nor a complete legacy imatrix file.");
        }
        return matrix;
    }

    /// <summary>Writes the GGUF format, as llama-imatrix does (entries sorted by name; llama-quantize reads it).</summary>
    public void Save(string path)
    {
        if (IsLegacy) throw new InvalidOperationException("A legacy importance matrix holds means, not sums and counts; save it with SaveLegacy.");
        var writer = new GgufWriter { PadAfterLastTensor = true };
        writer.Set("general.type", "imatrix");
        writer.Set("imatrix.datasets", Datasets.ToArray());
        writer.Set("imatrix.chunk_count", (uint)ChunkCount);
        writer.Set("imatrix.chunk_size", (uint)ChunkSize);
        foreach (var (name, entry) in Entries)
        {
            if (entry.Counts.Length == 0 || entry.SumsOfSquares.Length == 0) continue;
            // gguf stores ggml_n_dims dimensions: a single matrix is written as a vector.
            int matrices = entry.Counts.Length;
            writer.AddTensor(name + ".in_sum2", matrices > 1 ? [entry.Columns, matrices] : [entry.Columns], entry.SumsOfSquares);
            writer.AddTensor(name + ".counts", matrices > 1 ? [1, matrices] : [1], entry.Counts);
        }
        writer.WriteTo(path);
    }

    /// <summary>
    /// Writes the legacy format as llama-imatrix <c>--output-format dat</c> does: per entry the mean squares times the
    /// call count (chunks, rounded up), a matrix that saw no token stored as 1.
    /// </summary>
    public void SaveLegacy(string path)
    {
        using var writer = new BinaryWriter(File.Create(path), Encoding.UTF8);
        // A matrix computed here skips entries that saw no token, as llama-imatrix does; a legacy one is written back as read.
        var stored = Entries.Where(e => IsLegacy || e.Value.Counts.Any(c => c != 0)).ToList();
        writer.Write(stored.Count);
        int chunkSize = Math.Max(1, ChunkSize);
        foreach (var (name, entry) in stored)
        {
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            writer.Write(nameBytes.Length);
            writer.Write(nameBytes);
            int calls = IsLegacy ? (int)entry.Counts[0] : (int)((entry.Counts.Max() + (chunkSize - 1)) / chunkSize);
            writer.Write(calls);
            writer.Write(entry.SumsOfSquares.Length);
            int columns = entry.Columns;
            for (int i = 0; i < entry.SumsOfSquares.Length; i++)
            {
                float value = entry.SumsOfSquares[i];
                if (IsLegacy)
                {
                    writer.Write(value);
                    continue;
                }
                float count = entry.Counts[i / columns];
                if (count == 0) (value, count) = (1f, 1f);
                writer.Write(value / count * calls);
            }
        }
        writer.Write(ChunkCount);
        byte[] dataset = Encoding.UTF8.GetBytes(Datasets.Count > 0 ? Datasets[^1] : "");
        writer.Write(dataset.Length);
        writer.Write(dataset);
    }
}
