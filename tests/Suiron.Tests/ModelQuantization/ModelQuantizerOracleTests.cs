using Suiron.ModelQuantization;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.ModelQuantization;

/// <summary>
/// Our quantizer against llama.cpp's on the same input: the output files must be identical byte for byte (metadata,
/// tensor order, types, shapes, offsets, quantized data, padding), and where llama.cpp refuses a model, so must we.
/// </summary>
public sealed class ModelQuantizerOracleTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-quant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<ModelFileType> ComparedTypes => new()
    {
        ModelFileType.Q8_0, ModelFileType.Q4_0, ModelFileType.Q4_1, ModelFileType.Q5_0, ModelFileType.Q5_1,
        ModelFileType.Q4_K_M, ModelFileType.Q5_K_M, ModelFileType.Q6_K, ModelFileType.Q3_K_M, ModelFileType.Q2_K,
        ModelFileType.F16, ModelFileType.BF16, ModelFileType.IQ4_NL, ModelFileType.IQ4_XS, ModelFileType.TQ1_0, ModelFileType.TQ2_0,
        ModelFileType.IQ3_S, ModelFileType.IQ3_M, // rows too narrow for 256-blocks: the IQ4_NL fallback
    };

    [Theory]
    [MemberData(nameof(ComparedTypes))]
    public void Stories260KMatchesLlamaCpp(ModelFileType type) =>
        AssertSameAsLlamaCpp(SharedData.Path("models", "stories260K.gguf"), type);

    [Theory]
    [MemberData(nameof(ComparedTypes))]
    public void TinyRandomF16MatchesLlamaCpp(ModelFileType type) =>
        AssertSameAsLlamaCpp(SharedData.Path("models", "llama-2-tiny-random.gguf"), type);

    [Theory]
    [MemberData(nameof(ComparedTypes))]
    [InlineData(ModelFileType.Q3_K_S)]
    [InlineData(ModelFileType.Q3_K_L)]
    [InlineData(ModelFileType.Q4_K_S)]
    [InlineData(ModelFileType.Q5_K_S)]
    [InlineData(ModelFileType.F32)]
    [InlineData(ModelFileType.MXFP4_MOE)]
    public void WideLlamaMatchesLlamaCpp(ModelFileType type) =>
        AssertSameAsLlamaCpp(TinyModel("llama", 16), type);

    [Theory]
    [InlineData(ModelFileType.Q2_K)]
    [InlineData(ModelFileType.Q3_K_M)]
    [InlineData(ModelFileType.Q4_K_M)]
    [InlineData(ModelFileType.Q4_0)]
    [InlineData(ModelFileType.IQ4_XS)]
    [InlineData(ModelFileType.TQ2_0)]
    [InlineData(ModelFileType.IQ3_S)]
    [InlineData(ModelFileType.IQ3_M)]
    public void TiedQwen2MatchesLlamaCpp(ModelFileType type) =>
        AssertSameAsLlamaCpp(TinyModel("qwen2", 4), type);

    [Theory]
    [InlineData(ModelFileType.Q2_K)]
    [InlineData(ModelFileType.Q4_K_M)]
    [InlineData(ModelFileType.Q8_0)]
    [InlineData(ModelFileType.MXFP4_MOE)]
    [InlineData(ModelFileType.IQ4_XS)]
    [InlineData(ModelFileType.IQ4_NL)]
    [InlineData(ModelFileType.IQ3_S)]
    [InlineData(ModelFileType.IQ3_M)]
    public void EightExpertQwen3MoeMatchesLlamaCpp(ModelFileType type) =>
        AssertSameAsLlamaCpp(TinyModel("qwen3moe", 2), type);

    [Theory]
    [InlineData(ModelFileType.Q4_K_M)]
    [InlineData(ModelFileType.Q8_0)]
    public void F16InputMatchesLlamaCpp(ModelFileType type) =>
        AssertSameAsLlamaCpp(TinyModel("llama", 4, TensorType.F16), type);

    [Theory]
    [InlineData(ModelFileType.Q4_K_M)]
    [InlineData(ModelFileType.Q2_K)]
    [InlineData(ModelFileType.MXFP4_MOE)]
    public void PureMatchesLlamaCppPure(ModelFileType type) =>
        AssertSameAsLlamaCpp(TinyModel("llama", 4), type, pure: true);

    [Fact]
    public void RequantizingDecodesFirstLikeLlamaCpp()
    {
        string q8 = Path.Combine(_dir, "q8.gguf");
        ModelQuantizer.Quantize(TinyModel("llama", 4), q8, ModelFileType.Q8_0);
        AssertSameAsLlamaCpp(q8, ModelFileType.Q4_K_M);
    }

    [Theory]
    [InlineData(float.PositiveInfinity, ModelFileType.Q4_K_M)]
    [InlineData(float.PositiveInfinity, ModelFileType.Q6_K)]
    [InlineData(float.NaN, ModelFileType.Q4_K_M)]
    [InlineData(float.NaN, ModelFileType.F16)]
    [InlineData(70000f, ModelFileType.F16)]
    [InlineData(70000f, ModelFileType.BF16)]
    public void NonFiniteWeightsAreRefusedWhereLlamaCppRefusesThem(float weight, ModelFileType type)
    {
        // stories260K with one odd weight: an infinite scale, a NaN that some quantizers skip over, an F16 overflow.
        string input = Path.Combine(_dir, "odd-weight.gguf");
        using (var stories = Suiron.Gguf.GgufFile.Open(SharedData.Path("models", "stories260K.gguf")))
        {
            var writer = new Suiron.Gguf.GgufWriter().CopyMetadataFrom(stories);
            foreach (var info in stories.Tensors)
            {
                var tensor = stories.GetTensor(info);
                byte[] bytes = tensor.RowRange(0, checked((int)tensor.Rows)).ToArray();
                if (info.Name == "blk.1.attn_q.weight") System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan())[77] = weight;
                writer.AddTensor(info.Name, info.Type, info.Shape, bytes);
            }
            writer.WriteTo(input);
        }
        AssertSameAsLlamaCpp(input, type);
    }

    private string TinyModel(string architecture, int layers, TensorType weightType = TensorType.F32)
    {
        string path = Path.Combine(_dir, $"tiny-{architecture}-{layers}-{weightType}.gguf");
        TinyQuantizableModel.Write(path, architecture, layers, weightType);
        return path;
    }

    private void AssertSameAsLlamaCpp(string input, ModelFileType type, bool pure = false)
    {
        string theirs = Path.Combine(_dir, $"llama.cpp-{type}.gguf");
        string ours = Path.Combine(_dir, $"suiron-{type}.gguf");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool llamaAccepted = LlamaCppQuantizer.Quantize(input, theirs, type, pure);
        var llamaTime = clock.Elapsed;
        clock.Restart();

        QuantizeResult? result = null;
        Exception? refusal = null;
        try
        {
            result = ModelQuantizer.Quantize(input, ours, type, new QuantizeOptions { Threads = 2, Pure = pure });
        }
        catch (Exception e) when (e is NotSupportedException or InvalidDataException)
        {
            refusal = e;
        }

        if (!llamaAccepted)
        {
            Assert.True(refusal is not null, $"llama.cpp refused {Path.GetFileName(input)} as {type}, we did not");
            Assert.False(File.Exists(ours), "a refused quantization must not leave an output file");
            output.WriteLine($"both refuse {type}: {refusal!.Message}");
            return;
        }
        Assert.True(refusal is null, $"llama.cpp quantized {Path.GetFileName(input)} as {type}, we refused: {refusal?.Message}");
        output.WriteLine($"llama.cpp {llamaTime.TotalMilliseconds:F0} ms, Suiron {clock.Elapsed.TotalMilliseconds:F0} ms");
        output.WriteLine(string.Join(", ", result!.Tensors.GroupBy(t => t.TargetType).Select(g => $"{g.Key}×{g.Count()}")));

        QuantizedFileComparison.AssertSameContent(theirs, ours);
        Assert.Equal(File.ReadAllBytes(theirs), File.ReadAllBytes(ours));
    }
}
