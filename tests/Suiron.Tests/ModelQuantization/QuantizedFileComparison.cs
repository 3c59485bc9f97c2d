using Suiron.Gguf;
using Xunit;

namespace Suiron.Tests.ModelQuantization;

/// <summary>Compares two GGUF files part by part, so a mismatch names the first differing key or tensor instead of a byte offset.</summary>
internal static class QuantizedFileComparison
{
    /// <param name="keysCheckedElsewhere">Keys whose values the caller checks itself; the metadata's length, and so the data
    /// section's offset, may then differ.</param>
    public static void AssertSameContent(string expectedPath, string actualPath, IReadOnlySet<string>? keysCheckedElsewhere = null)
    {
        using var expected = GgufFile.Open(expectedPath);
        using var actual = GgufFile.Open(actualPath);

        Assert.Equal(expected.MetadataKeys, actual.MetadataKeys);
        foreach (string key in expected.MetadataKeys)
        {
            if (keysCheckedElsewhere?.Contains(key) == true) continue;
            var e = expected.Metadata[key];
            var a = actual.Metadata[key];
            Assert.True(e.Type == a.Type && e.ElementType == a.ElementType, $"metadata '{key}': {e.Type}/{e.ElementType} vs {a.Type}/{a.ElementType}");
            if (e.Value is Array ea) Assert.True(ea.Cast<object>().SequenceEqual(((Array)a.Value).Cast<object>()), $"metadata array '{key}' differs");
            else Assert.True(Equals(e.Value, a.Value), $"metadata '{key}': {e.Value} vs {a.Value}");
        }

        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        foreach (var (e, a) in expected.Tensors.Zip(actual.Tensors))
        {
            Assert.True(e.Type == a.Type, $"tensor '{e.Name}': llama.cpp wrote {e.Type}, we wrote {a.Type}");
            Assert.True(e.Shape.SequenceEqual(a.Shape), $"tensor '{e.Name}': shape [{string.Join(", ", e.Shape)}] vs [{string.Join(", ", a.Shape)}]");
            Assert.True(e.Offset == a.Offset, $"tensor '{e.Name}': offset {e.Offset} vs {a.Offset}");
            var eb = expected.GetTensor(e);
            var ab = actual.GetTensor(a);
            unsafe
            {
                var es = new ReadOnlySpan<byte>(eb.Data, checked((int)eb.ByteLength));
                var @as = new ReadOnlySpan<byte>(ab.Data, checked((int)ab.ByteLength));
                int at = es.CommonPrefixLength(@as);
                Assert.True(at == es.Length && es.Length == @as.Length, $"tensor '{e.Name}' ({e.Type}): data differs at byte {at} of {es.Length}");
            }
        }
        if (keysCheckedElsewhere is not null) return;
        Assert.Equal(expected.DataOffset, actual.DataOffset);
        Assert.Equal(expected.FileLength, actual.FileLength);
    }
}
