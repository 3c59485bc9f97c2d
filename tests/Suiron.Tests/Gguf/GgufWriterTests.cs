using Suiron.Gguf;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Gguf;

public sealed class GgufWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-gguf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void RoundTripsEveryValueTypeAndNestedArrays()
    {
        var w = new GgufWriter()
            .Set("u8", new GgufValue(GgufValueType.UInt8, (byte)200))
            .Set("i8", new GgufValue(GgufValueType.Int8, (sbyte)-100))
            .Set("u16", new GgufValue(GgufValueType.UInt16, (ushort)60000))
            .Set("i16", new GgufValue(GgufValueType.Int16, (short)-30000))
            .Set("u32", 4000000000u)
            .Set("i32", -2000000000)
            .Set("f32", 1.5f)
            .Set("bool", true)
            .Set("str", "日本語 ✓")
            .Set("u64", ulong.MaxValue)
            .Set("i64", new GgufValue(GgufValueType.Int64, long.MinValue))
            .Set("f64", new GgufValue(GgufValueType.Float64, Math.PI))
            .Set("strs", new[] { "a", "", "🦙" })
            .Set("floats", new[] { 1f, -2f })
            .Set("nested", new GgufValue(GgufValueType.Array, new[]
            {
                new GgufValue(GgufValueType.Array, new[] { 1, 2, 3 }, GgufValueType.Int32),
                new GgufValue(GgufValueType.Array, new[] { "x" }, GgufValueType.String),
            }, GgufValueType.Array));
        float[] values = Enumerable.Range(0, 96).Select(i => i * 0.25f).ToArray();
        w.AddTensor("t.weight", [32, 3], values);
        w.AddTensor("h.weight", TensorType.F16, [4], new byte[8]);
        string path = Path.Combine(_dir, "all.gguf");
        w.WriteTo(path);

        using var f = GgufFile.Open(path);
        Assert.Equal((byte)200, f.Metadata["u8"].Value);
        Assert.Equal((sbyte)-100, f.Metadata["i8"].Value);
        Assert.Equal((ushort)60000, f.Metadata["u16"].Value);
        Assert.Equal((short)-30000, f.Metadata["i16"].Value);
        Assert.Equal(4000000000u, f.Metadata["u32"].Value);
        Assert.Equal(-2000000000, f.Metadata["i32"].Value);
        Assert.Equal(1.5f, f.Metadata["f32"].Value);
        Assert.Equal(true, f.Metadata["bool"].Value);
        Assert.Equal("日本語 ✓", f.GetString("str"));
        Assert.Equal(ulong.MaxValue, f.Metadata["u64"].Value);
        Assert.Equal(long.MinValue, f.Metadata["i64"].Value);
        Assert.Equal(Math.PI, f.Metadata["f64"].Value);
        Assert.Equal(new[] { "a", "", "🦙" }, f.Metadata["strs"].AsArray<string>());
        Assert.Equal(new[] { 1f, -2f }, f.Metadata["floats"].AsArray<float>());
        var nested = f.Metadata["nested"].AsArray<GgufValue>();
        Assert.Equal(new[] { 1, 2, 3 }, nested[0].AsArray<int>());
        Assert.Equal(new[] { "x" }, nested[1].AsArray<string>());
        Assert.Equal(f.MetadataKeys, new[] { "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "u64", "i64", "f64", "strs", "floats", "nested" });

        var t = f.GetTensor("t.weight");
        Assert.Equal(3, t.Rows);
        Assert.Equal(32, t.Columns);
        Assert.Equal(values, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RowRange(0, 3)).ToArray());
        Assert.Equal(0UL, f.FindTensorInfo("h.weight")!.Offset % 32);
    }

    [Fact]
    public void RewritingASharedModelReproducesItByteForByte()
    {
        // The shared model was written by llama.cpp's gguf writer; ours must lay out the same file from the same content.
        string source = SharedData.Path("models", "stories260K.gguf");
        using var f = GgufFile.Open(source);
        var w = new GgufWriter().CopyMetadataFrom(f);
        foreach (var info in f.Tensors)
            w.AddTensor(info.Name, info.Type, info.Shape, f.GetTensor(info).RowRange(0, checked((int)f.GetTensor(info).Rows)).ToArray());
        string path = Path.Combine(_dir, "copy.gguf");
        w.WriteTo(path);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(path));
    }

    [Fact]
    public void RejectsTensorOfWrongByteSize()
    {
        var e = Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("x", TensorType.Q8_0, [32, 2], new byte[34]));
        Assert.Contains("68", e.Message);
    }
}
