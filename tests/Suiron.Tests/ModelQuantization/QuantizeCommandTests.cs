using System.CommandLine;
using System.Reflection;
using LLama;
using LLama.Common;
using Suiron.Gguf;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.ModelQuantization;

/// <summary><c>suiron quantize</c> end to end: exit codes, no half-written output, and a result both llama.cpp and Suiron load.</summary>
public sealed class QuantizeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-quant-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories => SharedData.Path("models", "stories260K.gguf");

    [Fact]
    public void QuantizedOutputLoadsInLlamaCppAndSuiron()
    {
        string output = Path.Combine(_dir, "stories-q4km.gguf");
        Assert.Equal(0, Run("quantize", Stories, output, "q4_k_m", "--threads", "2"));

        using (var file = GgufFile.Open(output))
        {
            Assert.Equal(15L, file.GetInt64("general.file_type"));
            Assert.Equal(2L, file.GetInt64("general.quantization_version"));
            Assert.Equal(TensorType.Q8_0, file.FindTensorInfo("output.weight")!.Type);   // 64 columns: too narrow for Q6_K's 256
            Assert.Equal(TensorType.Q5_0, file.FindTensorInfo("blk.0.attn_q.weight")!.Type); // Q4_K falls back to Q5_0
            Assert.Equal(TensorType.F16, file.FindTensorInfo("blk.0.ffn_down.weight")!.Type); // 172 columns fit no block type
        }
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(output) { ContextSize = 64, GpuLayerCount = 0 });
        Assert.Equal(512, weights.Vocab.Count);
        Assert.Equal([Path.GetFileName(output)], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void PureGivesEveryMatrixTheDefaultType()
    {
        string output = Path.Combine(_dir, "tiny-pure.gguf");
        string input = Path.Combine(_dir, "tiny.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        Assert.Equal(0, Run("quantize", input, output, "Q4_K_M", "--pure"));
        using var file = GgufFile.Open(output);
        Assert.All(file.Tensors.Where(t => t.Shape.Length > 1), t => Assert.Equal(TensorType.Q4_K, t.Type));
        Assert.All(file.Tensors.Where(t => t.Shape.Length == 1), t => Assert.Equal(TensorType.F32, t.Type));
    }

    [Fact]
    public void ImatrixIsAppliedAndRecorded()
    {
        string input = Path.Combine(_dir, "tiny.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        var matrix = new Suiron.ModelQuantization.ImportanceMatrix { ChunkCount = 1, ChunkSize = 16 };
        matrix.Entries["blk.0.attn_q.weight"] = new Suiron.ModelQuantization.ImportanceEntry(Enumerable.Range(1, 256).Select(i => (float)i).ToArray(), [16]);
        string imatrix = Path.Combine(_dir, "imatrix.gguf");
        matrix.Save(imatrix);
        string output = Path.Combine(_dir, "out.gguf");
        Assert.Equal(0, Run("quantize", input, output, "Q4_K_M", "--imatrix", imatrix));
        using var file = GgufFile.Open(output);
        Assert.Equal(1L, file.GetInt64("quantize.imatrix.entries_count"));

        Assert.Equal(2, Run("quantize", input, Path.Combine(_dir, "other.gguf"), "Q4_K_M", "--imatrix", Path.Combine(_dir, "absent.gguf")));
        Assert.False(File.Exists(Path.Combine(_dir, "other.gguf")));
    }

    [Fact]
    public void UnknownTypeIsAUsageError()
    {
        string output = Path.Combine(_dir, "out.gguf");
        Assert.Equal(2, Run("quantize", Stories, output, "Q7_K"));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MissingInputFails()
    {
        string output = Path.Combine(_dir, "out.gguf");
        Assert.Equal(1, Run("quantize", Path.Combine(_dir, "absent.gguf"), output, "Q8_0"));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MalformedInputFails()
    {
        string input = Path.Combine(_dir, "garbage.gguf");
        File.WriteAllBytes(input, new byte[100]);
        string output = Path.Combine(_dir, "out.gguf");
        Assert.Equal(1, Run("quantize", input, output, "Q8_0"));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ModelThatFitsNoTypeFailsWithoutOutput()
    {
        // stories260K's ffn_down rows hold 172 values: Q4_0 has no fallback for them (llama.cpp refuses too).
        string output = Path.Combine(_dir, "out.gguf");
        File.WriteAllText(output, "previous content");
        Assert.Equal(1, Run("quantize", Stories, output, "Q4_0"));
        Assert.Equal("previous content", File.ReadAllText(output)); // an existing file is left alone
        Assert.Single(Directory.GetFiles(_dir));
    }

    /// <summary>Runs the command as the <c>suiron</c> executable would (its classes are internal to Suiron.Cli, hence reflection).</summary>
    [Theory]
    [InlineData("IQ2_XXS")]
    [InlineData("IQ1_M")]
    [InlineData("IQ2_S")]
    [InlineData("IQ2_M")]   // llama-quantize lets the file type through but refuses its IQ2_S tensors
    [InlineData("IQ3_XXS")] // its attention Q/K are IQ2_S, its feed-forward IQ3_XXS
    public void LatticeTypesWithoutImatrixAreRefusedAndWriteNothing(string type)
    {
        string input = Path.Combine(_dir, "tiny.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        string output = Path.Combine(_dir, "out.gguf");
        Assert.Equal(2, Run("quantize", input, output, type));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void LatticeTypeWithAnImatrixMissingATensorIsRefused()
    {
        string input = Path.Combine(_dir, "tiny.gguf");
        TinyQuantizableModel.Write(input, "llama", 2);
        var matrix = new Suiron.ModelQuantization.ImportanceMatrix { ChunkCount = 1, ChunkSize = 16 };
        matrix.Entries["blk.0.attn_q.weight"] = new Suiron.ModelQuantization.ImportanceEntry(Enumerable.Repeat(1f, 256).ToArray(), [16]);
        string imatrix = Path.Combine(_dir, "imatrix.gguf");
        matrix.Save(imatrix);
        string output = Path.Combine(_dir, "out.gguf");
        Assert.Equal(2, Run("quantize", input, output, "IQ2_XXS", "--imatrix", imatrix));
        Assert.False(File.Exists(output));
    }

    private static int Run(params string[] args)
    {
        var cli = Assembly.Load("Suiron.Cli");
        var create = cli.GetType("Suiron.Cli.QuantizeCommand", throwOnError: true)!.GetMethod("Create", BindingFlags.Public | BindingFlags.Static)!;
        var invoke = cli.GetType("Suiron.Cli.CliErrors", throwOnError: true)!.GetMethod("Invoke", BindingFlags.Public | BindingFlags.Static)!;
        var root = new RootCommand("test") { (Command)create.Invoke(null, null)! };
        return (int)invoke.Invoke(null, [root, args])!;
    }
}
