using System.Text;
using Suiron.Gguf;
using Xunit;

namespace Suiron.Tests.Gguf;

/// <summary>Truncated, corrupted and hand-crafted hostile files must give a GgufException that names the problem — never another exception, a crash or a huge allocation.</summary>
public sealed class GgufHostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] bytes, string name = "bad.gguf")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static GgufException Fails(string path)
    {
        var e = Assert.Throws<GgufException>(() => GgufFile.Open(path).Dispose());
        Assert.Equal(path, e.Path);
        return e;
    }

    /// <summary>Raw little-endian header builder for hand-made files.</summary>
    private sealed class Raw
    {
        private readonly MemoryStream _s = new();
        private readonly BinaryWriter _w;
        public Raw() => _w = new BinaryWriter(_s);
        public Raw U32(uint v) { _w.Write(v); return this; }
        public Raw U64(ulong v) { _w.Write(v); return this; }
        public Raw Str(string s) { var b = Encoding.UTF8.GetBytes(s); _w.Write((ulong)b.Length); _w.Write(b); return this; }
        public Raw Bytes(int n) { _w.Write(new byte[n]); return this; }
        public Raw Header(uint version, ulong tensors, ulong kvs) => U32(0x46554747).U32(version).U64(tensors).U64(kvs);
        public byte[] ToArray() { _w.Flush(); return _s.ToArray(); }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(23)]
    public void TooSmallFile(int length)
    {
        var e = Fails(Write(new byte[length]));
        Assert.Contains("too small", e.Message);
    }

    [Fact]
    public void BadMagic()
    {
        var bytes = new Raw().Header(3, 0, 0).ToArray();
        bytes[0] = (byte)'X';
        var e = Fails(Write(bytes));
        Assert.Contains("bad magic", e.Message);
        Assert.Equal(0, e.Offset);
    }

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(4u, "Unsupported GGUF version 4")]
    [InlineData(0x03000000u, "Big-endian")]
    public void UnsupportedVersion(uint version, string expected)
    {
        var e = Fails(Write(new Raw().Header(version, 0, 0).ToArray()));
        Assert.Contains(expected, e.Message);
        Assert.Equal(4, e.Offset);
    }

    [Fact]
    public void HugeTensorCountDoesNotAllocate()
    {
        var e = Fails(Write(new Raw().Header(3, ulong.MaxValue / 2, 0).Bytes(64).ToArray()));
        Assert.Contains("Tensor count", e.Message);
    }

    [Fact]
    public void HugeMetadataCountDoesNotAllocate()
    {
        var e = Fails(Write(new Raw().Header(3, 0, 1UL << 40).Bytes(64).ToArray()));
        Assert.Contains("Metadata count", e.Message);
    }

    [Fact]
    public void HugeArrayCountDoesNotAllocate()
    {
        var bytes = new Raw().Header(3, 0, 1).Str("tokenizer.ggml.tokens").U32((uint)GgufValueType.Array)
            .U32((uint)GgufValueType.String).U64(1UL << 50).Bytes(16).ToArray();
        var e = Fails(Write(bytes));
        Assert.Contains("tokenizer.ggml.tokens", e.Message);
        Assert.Contains("more than the file can hold", e.Message);
    }

    [Fact]
    public void HugeStringLength()
    {
        var bytes = new Raw().Header(3, 0, 1).U64(1UL << 60).Bytes(16).ToArray();
        var e = Fails(Write(bytes));
        Assert.Contains("Truncated", e.Message);
        Assert.Equal(24, e.Offset);
    }

    [Fact]
    public void UnknownMetadataValueType()
    {
        var e = Fails(Write(new Raw().Header(3, 0, 1).Str("key").U32(77).Bytes(8).ToArray()));
        Assert.Contains("unknown value type 77", e.Message);
    }

    [Fact]
    public void DuplicateMetadataKey()
    {
        var bytes = new Raw().Header(3, 0, 2).Str("k").U32((uint)GgufValueType.UInt32).U32(1).Str("k").U32((uint)GgufValueType.UInt32).U32(2).ToArray();
        Assert.Contains("Duplicate metadata key 'k'", Fails(Write(bytes)).Message);
    }

    private static Raw OneTensor(string name, uint nDims, ulong[] dims, uint type, ulong offset, ulong tensorCount = 1)
    {
        var r = new Raw().Header(3, tensorCount, 0).Str(name).U32(nDims);
        foreach (ulong d in dims) r.U64(d);
        return r.U32(type).U64(offset);
    }

    [Fact]
    public void UnknownTensorTypeIsNamed()
    {
        var e = Fails(Write(OneTensor("blk.0.attn_q.weight", 2, [32, 4], 31, 0).Bytes(256).ToArray()));
        Assert.Contains("blk.0.attn_q.weight", e.Message);
        Assert.Contains("Q4_0_4_4", e.Message);
        var e2 = Fails(Write(OneTensor("w", 1, [32], 999, 0).Bytes(256).ToArray(), "b.gguf"));
        Assert.Contains("unknown tensor type 999", e2.Message);
    }

    [Fact]
    public void TooManyDimensions()
    {
        Assert.Contains("5 dimensions", Fails(Write(OneTensor("w", 5, [1, 1, 1, 1, 1], 0, 0).Bytes(64).ToArray())).Message);
    }

    [Fact]
    public void ZeroOrAbsurdDimension()
    {
        Assert.Contains("invalid dimension 0", Fails(Write(OneTensor("w", 2, [32, 0], 0, 0).Bytes(64).ToArray())).Message);
        Assert.Contains("overflows", Fails(Write(OneTensor("w", 3, [1UL << 40, 1UL << 40, 1UL << 40], 0, 0).Bytes(64).ToArray(), "b.gguf")).Message);
    }

    [Fact]
    public void RowNotAMultipleOfTheBlock()
    {
        Assert.Contains("not a multiple of its block size 32", Fails(Write(OneTensor("w", 2, [33, 2], 8, 0).Bytes(256).ToArray())).Message);
    }

    [Fact]
    public void TensorPastEndOfFile()
    {
        var e = Fails(Write(OneTensor("token_embd.weight", 2, [64, 512], 0, 0).Bytes(1000).ToArray()));
        Assert.Contains("token_embd.weight", e.Message);
        Assert.Contains("extends past the end of the file", e.Message);
    }

    [Fact]
    public void MisalignedTensorOffset()
    {
        Assert.Contains("not aligned", Fails(Write(OneTensor("w", 1, [4], 0, 3).Bytes(64).ToArray())).Message);
    }

    [Fact]
    public void DuplicateTensorName()
    {
        var r = OneTensor("w", 1, [8], 0, 0, tensorCount: 2).Str("w").U32(1).U64(8).U32(0).U64(32).Bytes(128);
        Assert.Contains("Duplicate tensor name 'w'", Fails(Write(r.ToArray())).Message);
    }

    [Fact]
    public void BadAlignment()
    {
        var bytes = new Raw().Header(3, 0, 1).Str("general.alignment").U32((uint)GgufValueType.UInt32).U32(3).ToArray();
        Assert.Contains("power of two", Fails(Write(bytes)).Message);
    }

    public static TheoryData<string> SharedModels => new() { "stories260K.gguf", "llama-2-tiny-random.gguf" };

    [Theory]
    [MemberData(nameof(SharedModels))]
    public void EveryTruncationOfARealModelGivesAClearError(string model)
    {
        byte[] full = File.ReadAllBytes(SharedData.Path("models", model));
        using var intact = GgufFile.Open(SharedData.Path("models", model));
        long headerEnd = intact.DataOffset;
        // Every cut inside the first KB, then a sample through the rest of the header and into the data section.
        var cuts = Enumerable.Range(0, 1024).Select(i => (long)i)
            .Concat(Enumerable.Range(0, 200).Select(i => 1024 + (headerEnd - 1024) * i / 200))
            .Concat([headerEnd, headerEnd + 1, full.Length / 2, full.Length - 1]).Distinct();
        string path = Path.Combine(_dir, "cut.gguf");
        foreach (long cut in cuts)
        {
            File.WriteAllBytes(path, full.AsSpan(0, (int)cut).ToArray());
            var e = Assert.Throws<GgufException>(() => GgufFile.Open(path).Dispose());
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
            Assert.Matches("too small|Truncated|truncated|impossible|more than the file can hold|past the end", e.Message);
        }
    }

    [Theory]
    [MemberData(nameof(SharedModels))]
    public void RandomCorruptionNeverEscapesAsAnotherException(string model)
    {
        byte[] full = File.ReadAllBytes(SharedData.Path("models", model));
        using var intact = GgufFile.Open(SharedData.Path("models", model));
        int headerEnd = (int)intact.DataOffset;
        var random = new Random(1234);
        string path = Path.Combine(_dir, "corrupt.gguf");
        int rejected = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            byte[] copy = (byte[])full.Clone();
            int flips = 1 + random.Next(4);
            for (int k = 0; k < flips; k++) copy[random.Next(headerEnd)] = (byte)random.Next(256);
            File.WriteAllBytes(path, copy);
            try
            {
                using var f = GgufFile.Open(path);
            }
            catch (GgufException)
            {
                rejected++;
            }
        }
        Assert.True(rejected > 0);
    }
}
