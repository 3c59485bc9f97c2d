using System.Text;
using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// <c>suiron quantize --imatrix</c> against llama.cpp's own <c>llama_model_quantize</c> given the same importance matrix,
/// as llama-quantize hands it over (<see cref="LlamaCppImportanceMatrix"/>: the file read by ggml's GGUF reader, the
/// values derived and the <c>quantize.imatrix.*</c> keys added as llama-quantize does): the whole output file is
/// byte-identical, for k-quants, legacy quants, IQ4 and every 1-3 bit lattice file type, on an untied llama, a tied qwen2
/// and an 8-expert qwen3moe whose expert 3 never got a token. Then the importance-matrix files themselves.
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
    // The 1-3 bit lattice file types, most of which llama.cpp refuses without a matrix.
    [InlineData("llama", 8, ModelFileType.IQ2_XXS)]
    [InlineData("llama", 8, ModelFileType.IQ2_XS)]
    [InlineData("llama", 8, ModelFileType.IQ2_S)]
    [InlineData("llama", 8, ModelFileType.IQ2_M)]
    [InlineData("llama", 8, ModelFileType.IQ1_S)]
    [InlineData("llama", 8, ModelFileType.IQ1_M)]
    [InlineData("llama", 8, ModelFileType.IQ3_XXS)]
    [InlineData("llama", 8, ModelFileType.IQ3_XS)]
    [InlineData("qwen2", 4, ModelFileType.IQ2_XXS)]
    [InlineData("qwen2", 4, ModelFileType.IQ1_M)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ2_S)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ3_XXS)]
    public void Whole_file_is_llama_quantize_with_the_same_imatrix(string architecture, int layers, ModelFileType fileType)
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, architecture, layers);
        var matrix = RandomImatrixFor(input, seed: layers + (int)fileType);
        string imatrixPath = Path.Combine(_dir, "imatrix.gguf");
        matrix.Save(imatrixPath);

        string theirs = AssertSameFileAsLlamaQuantize(input, fileType, imatrixPath, pure: false);

        // The matrix really reached llama.cpp: without it, llama.cpp writes other bytes (or refuses the lattice types).
        string plain = Path.Combine(_dir, "llama.cpp-plain.gguf");
        if (LlamaCppQuantizer.Quantize(input, plain, fileType))
            Assert.False(File.ReadAllBytes(plain).AsSpan().SequenceEqual(File.ReadAllBytes(theirs)), "llama.cpp ignored the importance matrix");
    }

    /// <summary>
    /// <c>--pure --imatrix</c>: every matrix the file type's default type, token_embd and output (which the matrix has no
    /// entry for) without weights.
    /// </summary>
    [Theory]
    [InlineData("llama", 8, ModelFileType.Q4_K_M)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ4_XS)]
    [InlineData("qwen2", 4, ModelFileType.Q3_K_M)]
    public void Pure_whole_file_is_llama_quantize_with_the_same_imatrix(string architecture, int layers, ModelFileType fileType)
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, architecture, layers);
        string imatrixPath = Path.Combine(_dir, "imatrix.gguf");
        RandomImatrixFor(input, seed: layers + (int)fileType).Save(imatrixPath);

        AssertSameFileAsLlamaQuantize(input, fileType, imatrixPath, pure: true);
    }

    /// <summary>The same with llama-imatrix's legacy .dat file, which llama-quantize also takes: means times call counts.</summary>
    [Theory]
    [InlineData("llama", 8, ModelFileType.Q4_K_M)]
    [InlineData("llama", 8, ModelFileType.IQ2_XXS)]
    [InlineData("qwen3moe", 2, ModelFileType.IQ3_XXS)]
    public void Whole_file_is_llama_quantize_with_the_same_legacy_imatrix(string architecture, int layers, ModelFileType fileType)
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, architecture, layers);
        string imatrixPath = Path.Combine(_dir, "imatrix.dat");
        RandomImatrixFor(input, seed: layers + (int)fileType).SaveLegacy(imatrixPath);

        Assert.True(ImportanceMatrix.Load(imatrixPath).IsLegacy);
        AssertSameFileAsLlamaQuantize(input, fileType, imatrixPath, pure: false);
    }

    /// <summary>
    /// <c>llama-quantize [--pure] --imatrix FILE</c> and <c>suiron quantize [--pure] --imatrix FILE</c> of
    /// <paramref name="input"/>: the same bytes, whole file. Returns llama.cpp's file.
    /// </summary>
    private string AssertSameFileAsLlamaQuantize(string input, ModelFileType fileType, string imatrixPath, bool pure)
    {
        string theirs = Path.Combine(_dir, "llama.cpp.gguf");
        Assert.True(LlamaCppQuantizer.Quantize(input, theirs, fileType, pure, imatrix: imatrixPath), $"llama.cpp refused {fileType} with the imatrix");
        string ours = Path.Combine(_dir, "ours.gguf");
        ModelQuantizer.Quantize(input, ours, fileType,
            new QuantizeOptions { Threads = 2, Pure = pure, ImportanceMatrix = ImportanceMatrix.Load(imatrixPath), ImportanceMatrixFile = imatrixPath });

        QuantizedFileComparison.AssertSameContent(theirs, ours); // names the first differing key or tensor
        Assert.True(File.ReadAllBytes(theirs).AsSpan().SequenceEqual(File.ReadAllBytes(ours)), "the files differ outside keys and tensors");
        return theirs;
    }

    /// <summary>
    /// llama-quantize keeps at most 127 bytes of the imatrix path and of the dataset name (strncpy into a metadata
    /// override) and cuts there even inside a UTF-8 character, leaving invalid UTF-8 in the file. Ours stops before that
    /// character and is otherwise llama.cpp's file: a long Japanese path and dataset name.
    /// </summary>
    [Fact]
    public void Long_Japanese_imatrix_path_and_dataset_keep_whole_characters_within_127_bytes()
    {
        string input = Path.Combine(_dir, "in.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        var matrix = RandomImatrixFor(input, seed: 11);
        matrix.Datasets.Clear();
        string dataset = "xx" + string.Concat(Enumerable.Repeat("吾輩は猫である。", 8)); // 2 + 3k bytes: byte 127 is inside a character
        matrix.Datasets.Add(dataset);
        // A folder name that puts byte 127 of the whole path inside a three-byte character too.
        int asciiPadding = 1 + (128 - (_dir.Length + 2) % 3) % 3;
        string folder = Path.Combine(_dir, new string('a', asciiPadding) + string.Concat(Enumerable.Repeat("名前はまだ無い", 7)));
        Directory.CreateDirectory(folder);
        string imatrixPath = Path.Combine(folder, "imatrix.gguf");
        matrix.Save(imatrixPath);

        string theirs = Path.Combine(_dir, "llama.cpp.gguf");
        Assert.True(LlamaCppQuantizer.Quantize(input, theirs, ModelFileType.Q4_K_M, imatrix: imatrixPath));
        string ours = Path.Combine(_dir, "ours.gguf");
        ModelQuantizer.Quantize(input, ours, ModelFileType.Q4_K_M,
            new QuantizeOptions { Threads = 2, ImportanceMatrix = ImportanceMatrix.Load(imatrixPath), ImportanceMatrixFile = imatrixPath });

        string[] cutKeys = ["quantize.imatrix.file", "quantize.imatrix.dataset"];
        QuantizedFileComparison.AssertSameContent(theirs, ours, cutKeys.ToHashSet());
        using var llama = GgufFile.Open(theirs);
        using var suiron = GgufFile.Open(ours);
        foreach (var (key, full) in cutKeys.Zip([imatrixPath, dataset]))
        {
            string wholeCharacters = WholeCharactersWithin(full, 127);
            Assert.Equal(wholeCharacters, suiron.GetString(key));
            Assert.Equal(wholeCharacters + "\uFFFD", llama.GetString(key)); // llama.cpp's partial character, read back
        }
    }

    private static string WholeCharactersWithin(string s, int maxBytes)
    {
        var kept = new StringBuilder();
        int bytes = 0;
        foreach (var rune in s.EnumerateRunes())
        {
            if ((bytes += rune.Utf8SequenceLength) > maxBytes) break;
            kept.Append(rune.ToString());
        }
        return kept.ToString();
    }

    /// <summary>The matrix handed to llama.cpp holds llama-quantize's values: sums over each matrix's count, 1 where it saw no token.</summary>
    [Fact]
    public void Llama_quantize_values_are_sums_over_counts_per_expert()
    {
        var matrix = new ImportanceMatrix { ChunkCount = 3, ChunkSize = 128 };
        matrix.Datasets.Add("ja.txt");
        matrix.Entries["blk.1.ffn_down.weight"] = new ImportanceEntry([1, 2, 3, 4], [2]);
        matrix.Entries["blk.0.ffn_up_exps.weight"] = new ImportanceEntry([1, 2, 3, 4, 5, 6], [3, 0, 1]);
        string path = Path.Combine(_dir, "m.gguf");
        matrix.Save(path);
        using var handed = LlamaCppImportanceMatrix.Load(path);
        Assert.Equal(2, handed.Values.Count);
        Assert.Equal([0.5f, 1f, 1.5f, 2f], handed.Values["blk.1.ffn_down.weight"]);
        Assert.Equal([1 / 3f, 2 / 3f, 1f, 1f, 5f, 6f], handed.Values["blk.0.ffn_up_exps.weight"]);
    }

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
