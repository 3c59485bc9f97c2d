using LLama.Native;
using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.ModelQuantization;

public sealed class ModelFileTypeTests
{
    [Fact]
    public void NumbersAreLlamaCppFileTypes()
    {
        foreach (var type in ModelFileTypes.All)
        {
            // LLamaSharp spells the file types newer than most of its enum with llama.h's full prefix.
            string llamaName = type switch
            {
                ModelFileType.F32 => "ALL_F32",
                ModelFileType.MXFP4_MOE or ModelFileType.TQ1_0 or ModelFileType.TQ2_0 => "LLAMA_FTYPE_MOSTLY_" + type,
                ModelFileType.IQ3_XS => "MOSTLY_IQ3_K_XS", // LLamaSharp's name for llama.h's LLAMA_FTYPE_MOSTLY_IQ3_XS
                _ => "MOSTLY_" + type,
            };
            Assert.Equal((int)Enum.Parse<LLamaFtype>(llamaName), (int)type);
        }
    }

    [Theory]
    [InlineData("Q4_K_M", ModelFileType.Q4_K_M)]
    [InlineData("q4_k_m", ModelFileType.Q4_K_M)]
    [InlineData("Q4_K", ModelFileType.Q4_K_M)]
    [InlineData("Q5_K", ModelFileType.Q5_K_M)]
    [InlineData("Q3_K", ModelFileType.Q3_K_M)]
    [InlineData("bf16", ModelFileType.BF16)]
    [InlineData(" F32 ", ModelFileType.F32)]
    [InlineData("iq2_xxs", ModelFileType.IQ2_XXS)]
    [InlineData("IQ2_M", ModelFileType.IQ2_M)]
    [InlineData("IQ3_XS", ModelFileType.IQ3_XS)]
    [InlineData("IQ1_M", ModelFileType.IQ1_M)]
    public void ParsesLlamaQuantizeNames(string name, ModelFileType expected)
    {
        Assert.True(ModelFileTypes.TryParse(name, out var type));
        Assert.Equal(expected, type);
    }

    [Theory]
    [InlineData("Q7_K")]
    [InlineData("")]
    [InlineData("IQ4_KS")]
    [InlineData("15")]
    public void RejectsOtherNames(string name) => Assert.False(ModelFileTypes.TryParse(name, out _));
}

public sealed class StreamedTensorWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-gguf-stream-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void StreamedTensorsLandWhereInMemoryOnesWould()
    {
        byte[] first = Enumerable.Range(0, 34 * 3).Select(i => (byte)i).ToArray();
        byte[] second = Enumerable.Range(0, 40).Select(i => (byte)(i * 7)).ToArray();
        string inMemory = Path.Combine(_dir, "memory.gguf"), streamed = Path.Combine(_dir, "streamed.gguf");
        new GgufWriter().Set("k", 1u).AddTensor("a", TensorType.Q8_0, [32, 3], first).AddTensor("b", TensorType.F32, [10], second).WriteTo(inMemory);
        new GgufWriter().Set("k", 1u)
            .AddTensor("a", TensorType.Q8_0, [32, 3], s => { s.Write(first, 0, 50); s.Write(first, 50, first.Length - 50); })
            .AddTensor("b", TensorType.F32, [10], s => s.Write(second))
            .WriteTo(streamed);
        Assert.Equal(File.ReadAllBytes(inMemory), File.ReadAllBytes(streamed));
    }

    [Fact]
    public void PaddingAfterTheLastTensorIsOptIn()
    {
        string path = Path.Combine(_dir, "padded.gguf");
        var writer = new GgufWriter { PadAfterLastTensor = true }.AddTensor("b", TensorType.F32, [3], new byte[12]);
        writer.WriteTo(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(file.DataOffset + 32, file.FileLength);
    }

    [Fact]
    public void AStreamedTensorOfTheWrongSizeFailsAndLeavesNoFile()
    {
        string path = Path.Combine(_dir, "short.gguf");
        var writer = new GgufWriter().AddTensor("a", TensorType.F32, [4], s => s.Write(new byte[12]));
        var e = Assert.Throws<InvalidOperationException>(() => writer.WriteTo(path));
        Assert.Contains("'a'", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void RemovedKeysComeBackAtTheEnd()
    {
        string path = Path.Combine(_dir, "keys.gguf");
        new GgufWriter().Set("a", 1u).Set("b", 2u).Remove("a").Set("a", 3u).Remove("absent").WriteTo(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(["b", "a"], file.MetadataKeys);
        Assert.Equal(3L, file.GetInt64("a"));
    }
}
