using Suiron.Gguf;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Gguf;

public sealed class GgufReaderTests
{
    [Fact]
    public void ReadsStoriesHeaderAndMetadata()
    {
        using var f = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        Assert.Equal(3u, f.Version);
        Assert.Equal("llama", f.Architecture);
        Assert.Equal(64, f.GetInt32("llama.embedding_length"));
        Assert.Equal(5, f.GetInt32("llama.block_count"));
        Assert.Equal(8, f.GetInt32("llama.attention.head_count"));
        Assert.Equal(4, f.GetInt32("llama.attention.head_count_kv"));
        Assert.Equal(1e-5f, f.GetFloat("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(512, f.Metadata["tokenizer.ggml.tokens"].ArrayLength);
        Assert.Equal("<0x00>", f.Metadata["tokenizer.ggml.tokens"].AsArray<string>()[3]);
        // 5 layers × 9 tensors + token_embd, output_norm, output.
        Assert.Equal(48, f.Tensors.Count);
        var embd = f.GetTensor("token_embd.weight");
        Assert.Equal(TensorType.F32, embd.Type);
        Assert.Equal(new long[] { 64, 512 }, embd.Shape);
        Assert.Equal(64 * 512 * 4, embd.ByteLength);
        Assert.Equal(0, f.DataOffset % f.Alignment);
        // The last tensor ends exactly at the end of the file.
        var last = f.Tensors.MaxBy(t => t.Offset)!;
        Assert.Equal(f.FileLength, f.DataOffset + (long)last.Offset + last.ByteSize);
    }

    [Fact]
    public void ReadsF16TensorsOfTinyLlama2()
    {
        using var f = GgufFile.Open(SharedData.Path("models", "llama-2-tiny-random.gguf"));
        var q = f.GetTensor("blk.0.attn_q.weight");
        Assert.Equal(TensorType.F16, q.Type);
        Assert.Equal(8, q.Columns);
        Assert.Equal(8, q.Rows);
        Assert.Equal(16, q.RowByteCount);
        Assert.Equal(32000, f.Metadata["tokenizer.ggml.scores"].ArrayLength);
    }

    [Fact]
    public unsafe void TensorDataIsAViewIntoTheFileNotACopy()
    {
        string path = SharedData.Path("models", "stories260K.gguf");
        byte[] file = File.ReadAllBytes(path);
        using var f = GgufFile.Open(path);
        var norm = f.GetTensor("output_norm.weight");
        var expected = file.AsSpan((int)(f.DataOffset + (long)f.FindTensorInfo("output_norm.weight")!.Offset), 256);
        Assert.True(new ReadOnlySpan<byte>(norm.Data, 256).SequenceEqual(expected));
    }

    [Fact]
    public void MissingMetadataKeyGivesClearError()
    {
        using var f = GgufFile.Open(SharedData.Path("models", "stories260K.gguf"));
        var e = Assert.Throws<GgufException>(() => f.GetInt32("llama.no_such_key"));
        Assert.Contains("llama.no_such_key", e.Message);
        Assert.Equal(7, f.GetInt32("llama.no_such_key", 7));
        var wrongType = Assert.Throws<GgufException>(() => f.GetString("llama.block_count"));
        Assert.Contains("wrong type", wrongType.Message);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => GgufFile.Open("/nonexistent/model.gguf"));
    }
}
