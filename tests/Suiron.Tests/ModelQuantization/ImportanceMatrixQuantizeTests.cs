using System.Text;
using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Tensors;
using Suiron.Tests.Kernels;
using Xunit;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// <c>suiron quantize --imatrix</c> against llama.cpp. LLamaSharp cannot hand llama_model_quantize an importance matrix
/// (in the llama.cpp it ships, <c>params.imatrix</c> points to a C++ <c>std::unordered_map</c>, which P/Invoke cannot
/// build), so the whole-file check is split in two independent halves: the file's layout, metadata and tensor types are
/// llama.cpp's own quantization of the same model (without the matrix) plus llama-quantize's documented imatrix rules
/// and keys, and every tensor's bytes are ggml's <c>ggml_quantize_chunk</c> of its F32 source with that tensor's (per
/// expert) importance weights, derived from the sums and counts as llama-quantize derives them.
/// </summary>
public sealed unsafe class ImportanceMatrixQuantizeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-imatrix-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("qwen3moe", 2, ModelFileType.Q4_K_M)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ4_XS)]
    [InlineData("llama", 16, ModelFileType.Q4_0)]
    [InlineData("llama", 16, ModelFileType.Q5_0)]
    [InlineData("llama", 16, ModelFileType.IQ4_XS)]
    [InlineData("llama", 16, ModelFileType.Q2_K)]
    [InlineData("llama", 16, ModelFileType.Q3_K_M)]
    [InlineData("llama", 16, ModelFileType.Q5_K_M)]
    [InlineData("llama", 16, ModelFileType.Q4_1)]
    [InlineData("qwen2", 4, ModelFileType.Q6_K)]
    [InlineData("qwen2", 4, ModelFileType.IQ4_NL)]
    public void Every_tensor_is_ggml_quantize_chunk_with_its_importance(string architecture, int layers, ModelFileType fileType)
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, architecture, layers);
        var matrix = RandomImatrixFor(input, seed: layers);
        string imatrixPath = Path.Combine(_dir, "imatrix.gguf");
        matrix.Save(imatrixPath);

        string theirs = Path.Combine(_dir, "llama.cpp-plain.gguf");
        Assert.True(LlamaCppQuantizer.Quantize(input, theirs, fileType));
        string ours = Path.Combine(_dir, "ours.gguf");
        ModelQuantizer.Quantize(input, ours, fileType,
            new QuantizeOptions { Threads = 2, ImportanceMatrix = ImportanceMatrix.Load(imatrixPath), ImportanceMatrixFile = imatrixPath });

        using var source = GgufFile.Open(input);
        using var plain = GgufFile.Open(theirs);
        using var weighted = GgufFile.Open(ours);

        // Metadata: llama.cpp's, then the four keys llama-quantize adds for an importance matrix.
        Assert.Equal(plain.MetadataKeys.Concat(["quantize.imatrix.file", "quantize.imatrix.dataset", "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"]),
            weighted.MetadataKeys);
        Assert.Equal(imatrixPath, weighted.GetString("quantize.imatrix.file"));
        Assert.Equal("calibration.txt", weighted.GetString("quantize.imatrix.dataset"));
        Assert.Equal(GgufValueType.UInt32, weighted.Metadata["quantize.imatrix.entries_count"].Type);
        Assert.Equal(matrix.Entries.Count, weighted.GetInt32("quantize.imatrix.entries_count"));
        Assert.Equal(7, weighted.GetInt32("quantize.imatrix.chunks_count"));

        Assert.Equal(plain.Tensors.Select(t => t.Name), weighted.Tensors.Select(t => t.Name));
        int firstEighth = layers / 8;
        foreach (var (p, w) in plain.Tensors.Zip(weighted.Tensors))
        {
            Assert.Equal(p.Shape, w.Shape);
            Assert.Equal(ExpectedTypeWithImatrix(p, fileType, firstEighth), w.Type);
            var sourceInfo = source.FindTensorInfo(w.Name)!;
            byte[] expected = sourceInfo.Type == w.Type
                ? Bytes(source, sourceInfo)
                : GgmlQuantize(w.Type, Floats(source, sourceInfo), sourceInfo.Shape, matrix.WeightsFor(w.Name));
            byte[] actual = Bytes(weighted, w);
            int at = expected.AsSpan().CommonPrefixLength(actual);
            Assert.True(at == expected.Length && actual.Length == expected.Length, $"{w.Name} ({w.Type}): differs from ggml_quantize_chunk at byte {at} of {expected.Length}");
        }
    }

    /// <summary>llama.cpp's type for the tensor without an importance matrix, changed by the two rules that depend on one.</summary>
    private static TensorType ExpectedTypeWithImatrix(GgufTensorInfo plain, ModelFileType fileType, int firstEighth)
    {
        bool earlyFfnDown = plain.Name.Contains("ffn_down", StringComparison.Ordinal) && LayerOf(plain.Name) < firstEighth;
        if (!earlyFfnDown) return plain.Type;
        return fileType switch
        {
            ModelFileType.Q4_0 => TensorType.Q4_1, // Q4_0/Q5_0 guard their first ffn_down layers only with an imatrix
            ModelFileType.Q5_0 => TensorType.Q5_1,
            ModelFileType.IQ4_XS or ModelFileType.IQ4_NL => fileType == ModelFileType.IQ4_XS ? TensorType.IQ4_XS : TensorType.IQ4_NL, // Q5_K only without
            _ => plain.Type,
        };
    }

    private static int LayerOf(string name) => int.Parse(name.Split('.')[1]);

    /// <summary>Sums and counts for every matrix llama-imatrix records (blk.* matmul weights), expert 3 of every expert tensor unrouted.</summary>
    internal static ImportanceMatrix RandomImatrixFor(string modelPath, int seed)
    {
        using var model = GgufFile.Open(modelPath);
        var random = new Random(seed);
        var matrix = new ImportanceMatrix { ChunkCount = 7, ChunkSize = 512 };
        matrix.Datasets.Add("calibration.txt");
        foreach (var t in model.Tensors.Where(t => t.Name.StartsWith("blk.", StringComparison.Ordinal) && t.Shape.Length >= 2))
        {
            int columns = (int)t.Shape[0], matrices = t.Shape.Length > 2 ? (int)t.Shape[2] : 1;
            var counts = new float[matrices];
            var sums = new float[columns * matrices];
            for (int m = 0; m < matrices; m++)
            {
                counts[m] = matrices > 1 && m == 3 ? 0 : random.Next(1, 4000);
                for (int j = 0; j < columns; j++) sums[m * columns + j] = counts[m] == 0 ? 0 : counts[m] * (float)Math.Exp(random.NextDouble() * 10 - 6);
            }
            matrix.Entries[t.Name] = new ImportanceEntry(sums, counts);
        }
        return matrix;
    }

    internal static byte[] Bytes(GgufFile file, GgufTensorInfo info)
    {
        var tensor = file.GetTensor(info);
        return new ReadOnlySpan<byte>(tensor.Data, checked((int)tensor.ByteLength)).ToArray();
    }

    internal static float[] Floats(GgufFile file, GgufTensorInfo info)
    {
        Assert.Equal(TensorType.F32, info.Type);
        var tensor = file.GetTensor(info);
        return new ReadOnlySpan<float>(tensor.Data, checked((int)(tensor.ByteLength / 4))).ToArray();
    }

    /// <summary>What llama-quantize does per tensor: one ggml_quantize_chunk per expert with that expert's slice of the weights.</summary>
    internal static byte[] GgmlQuantize(TensorType type, float[] values, long[] shape, float[]? importance)
    {
        nint f = GgmlOracleTests.Export("ggml_quantize_chunk");
        Assert.True(f != 0);
        var quantizeChunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)f;
        long columns = shape[0], rows = shape.Length > 1 ? shape[1] : 1, matrices = shape.Length > 2 ? shape[2] : 1;
        long matrixBytes = TensorTypes.RowBytes(type, columns) * rows;
        var result = new byte[matrixBytes * matrices];
        fixed (float* x = values) fixed (byte* y = result) fixed (float* qw = importance)
            for (long m = 0; m < matrices; m++)
                quantizeChunk((int)type, x + m * columns * rows, y + m * matrixBytes, 0, rows, columns, importance is null ? null : qw + m * columns);
        return result;
    }

    [Fact]
    public void Gguf_file_has_llama_imatrix_layout_and_round_trips()
    {
        var matrix = new ImportanceMatrix { ChunkCount = 3, ChunkSize = 128 };
        matrix.Datasets.Add("ja.txt");
        matrix.Entries["blk.1.ffn_down.weight"] = new ImportanceEntry([1, 2, 3, 4], [2]);
        matrix.Entries["blk.0.ffn_up_exps.weight"] = new ImportanceEntry([1, 2, 3, 4, 5, 6], [3, 0, 1]);
        string path = Path.Combine(_dir, "m.gguf");
        matrix.Save(path);

        using (var file = GgufFile.Open(path))
        {
            // tools/imatrix/imatrix.cpp save_imatrix: these keys in this order, tensors sorted by name, F32, n_dims trimmed.
            Assert.Equal(["general.type", "imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"], file.MetadataKeys);
            Assert.Equal("imatrix", file.GetString("general.type"));
            Assert.Equal(["ja.txt"], (string[])file.Metadata["imatrix.datasets"].Value);
            Assert.Equal(GgufValueType.UInt32, file.Metadata["imatrix.chunk_count"].Type);
            Assert.Equal(GgufValueType.UInt32, file.Metadata["imatrix.chunk_size"].Type);
            Assert.Equal(["blk.0.ffn_up_exps.weight.in_sum2", "blk.0.ffn_up_exps.weight.counts", "blk.1.ffn_down.weight.in_sum2", "blk.1.ffn_down.weight.counts"],
                file.Tensors.Select(t => t.Name));
            Assert.Equal([2L, 3L], file.Tensors[0].Shape);
            Assert.Equal([1L, 3L], file.Tensors[1].Shape);
            Assert.Equal([4L], file.Tensors[2].Shape);
            Assert.Equal([1L], file.Tensors[3].Shape);
            Assert.All(file.Tensors, t => Assert.Equal(TensorType.F32, t.Type));
        }

        var loaded = ImportanceMatrix.Load(path);
        Assert.Equal(3, loaded.ChunkCount);
        Assert.Equal(128, loaded.ChunkSize);
        Assert.Equal(["ja.txt"], loaded.Datasets);
        // llama-quantize's weights: sums over each matrix's count, 1 for a matrix that saw no token.
        Assert.Equal([0.5f, 1f, 1.5f, 2f], loaded.WeightsFor("blk.1.ffn_down.weight")!);
        Assert.Equal([1 / 3f, 2 / 3f, 1f, 1f, 5f, 6f], loaded.WeightsFor("blk.0.ffn_up_exps.weight")!);
        Assert.Null(loaded.WeightsFor("blk.2.ffn_down.weight"));
    }

    [Fact]
    public void Legacy_dat_file_is_read_as_llama_quantize_reads_it()
    {
        // Written here byte by byte from the format's description (llama-imatrix --output-format dat).
        string path = Path.Combine(_dir, "legacy.dat");
        using (var w = new BinaryWriter(File.Create(path)))
        {
            w.Write(2);
            foreach (var (name, calls, values) in new[] { ("blk.0.attn_q.weight", 4, new[] { 8f, 2f }), ("output.weight", 0, new[] { 3f }) })
            {
                w.Write(name.Length);
                w.Write(Encoding.ASCII.GetBytes(name));
                w.Write(calls);
                w.Write(values.Length);
                foreach (float v in values) w.Write(v);
            }
            w.Write(11); // chunks
            w.Write(6);
            w.Write(Encoding.ASCII.GetBytes("ja.txt"));
        }
        var loaded = ImportanceMatrix.Load(path);
        Assert.True(loaded.IsLegacy);
        Assert.Equal(11, loaded.ChunkCount);
        Assert.Equal(["ja.txt"], loaded.Datasets);
        Assert.Equal([2f, 0.5f], loaded.WeightsFor("blk.0.attn_q.weight")!); // values over the call count
        Assert.Equal([3f], loaded.WeightsFor("output.weight")!);             // no calls: the values as stored

        string again = Path.Combine(_dir, "again.dat");
        loaded.SaveLegacy(again);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
    }

    [Fact]
    public void Legacy_file_written_from_sums_holds_mean_squares_times_calls()
    {
        var matrix = new ImportanceMatrix { ChunkCount = 2, ChunkSize = 100 };
        matrix.Entries["blk.0.attn_k.weight"] = new ImportanceEntry([30, 60], [150]); // 150 tokens: 2 calls of 100, rounded up
        string path = Path.Combine(_dir, "m.dat");
        matrix.SaveLegacy(path);
        var loaded = ImportanceMatrix.Load(path);
        Assert.Equal([0.2f, 0.4f], loaded.WeightsFor("blk.0.attn_k.weight")!); // 30/150, 60/150
        Assert.Equal(2f, loaded.Entries["blk.0.attn_k.weight"].Counts[0]);
    }

    [Fact]
    public void Truncated_or_foreign_files_are_refused_with_a_clear_error()
    {
        string path = Path.Combine(_dir, "bad.dat");
        File.WriteAllBytes(path, [1, 0, 0, 0, 5, 0, 0, 0, (byte)'a']);
        Assert.Throws<InvalidDataException>(() => ImportanceMatrix.Load(path));
        File.WriteAllBytes(path, new byte[3]);
        Assert.Throws<InvalidDataException>(() => ImportanceMatrix.Load(path));
        // A model is a GGUF file but not an importance matrix.
        Assert.Throws<InvalidDataException>(() => ImportanceMatrix.Load(SharedData.Path("models", "stories260K.gguf")));
    }

    [Fact]
    public void A_matrix_that_does_not_fit_the_model_is_refused()
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        var matrix = new ImportanceMatrix();
        matrix.Entries["blk.0.attn_q.weight"] = new ImportanceEntry(new float[128], [1]);
        string output = Path.Combine(_dir, "out.gguf");
        var e = Assert.Throws<InvalidDataException>(() =>
            ModelQuantizer.Quantize(input, output, ModelFileType.Q4_K_M, new QuantizeOptions { Threads = 1, ImportanceMatrix = matrix }));
        Assert.Contains("imatrix size 128 is different from tensor size 256 for blk.0.attn_q.weight", e.Message);
        Assert.False(File.Exists(output));

        matrix.Entries["blk.0.attn_q.weight"] = new ImportanceEntry([float.NaN, .. new float[255]], [1]);
        Assert.Throws<InvalidDataException>(() =>
            ModelQuantizer.Quantize(input, output, ModelFileType.Q4_K_M, new QuantizeOptions { Threads = 1, ImportanceMatrix = matrix }));
    }
}
