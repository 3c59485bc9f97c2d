using System.Text;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Tokenization;

public class StreamingDecoderTests
{
    public static readonly string[] Texts =
    [
        "日本語のテキスト",
        "🦙🎉 emoji 👩‍👩‍👧‍👦 and 🏴󠁧󠁢󠁥󠁮󠁧󠁿",
        "東京は日本の首都です。 The llama (🦙) says こんにちは!",
        "   leading spaces and Ünïcödé",
        "plain ascii text\nwith lines",
    ];

    public static IEnumerable<object[]> Cases() =>
        from vocab in new[] { "llama-spm", "phi-3", "baichuan", "bert-bge" }
        from index in Enumerable.Range(0, Texts.Length)
        select new object[] { vocab, index };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TokenByTokenEqualsWholeDecode(string vocab, int index)
    {
        var tokenizer = TokenizerCache.Vocab(vocab);
        int[] ids = tokenizer.Encode(Texts[index], addSpecial: true);
        var decoder = new StreamingDecoder(tokenizer);
        var streamed = new StringBuilder();
        foreach (int id in ids)
        {
            string piece = decoder.Push(id);
            Assert.DoesNotContain('\uFFFD', piece);
            streamed.Append(piece);
        }
        streamed.Append(decoder.Flush());

        if (!tokenizer.Vocabulary.CleanSpaces) Assert.Equal(tokenizer.Decode(ids), streamed.ToString());
        Assert.DoesNotContain('\uFFFD', streamed.ToString());
    }

    [Fact]
    public void HoldsBackASplitCharacterUntilItIsComplete()
    {
        var tokenizer = TokenizerCache.Vocab("llama-spm");
        int[] ids = tokenizer.Encode("🦙", addSpecial: false);
        Assert.Equal([29871, 243, 162, 169, 156], ids); // ▁ <0xF0> <0x9F> <0xA6> <0x99>

        var decoder = new StreamingDecoder(tokenizer);
        Assert.Equal("", decoder.Push(ids[0])); // the prefix space, stripped as Decode strips it
        Assert.Equal("", decoder.Push(ids[1]));
        Assert.Equal("", decoder.Push(ids[2]));
        Assert.Equal("", decoder.Push(ids[3]));
        Assert.Equal("🦙", decoder.Push(ids[4]));
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void JapaneseByteFallbackComesOutWholeCharacters()
    {
        var tokenizer = TokenizerCache.For(SharedData.Path("models", "stories260K.gguf")); // 512 tokens: Japanese is all byte fallback
        int[] ids = tokenizer.Encode("日本語のテキスト", addSpecial: true);
        var decoder = new StreamingDecoder(tokenizer);
        var pieces = ids.Select(decoder.Push).ToList();

        Assert.Contains("", pieces);
        Assert.All(pieces, piece => Assert.True(piece.Length == 0 || piece.EnumerateRunes().All(r => r.Value != 0xFFFD)));
        Assert.Equal(["日", "本", "語", "の", "テ", "キ", "ス", "ト"], pieces.Where(p => p.Length > 0 && p != " ").Select(p => p.Trim()));
        Assert.Equal(" 日本語のテキスト", string.Concat(pieces) + decoder.Flush()); // BOS takes the strip, as in Decode
        Assert.Equal(" 日本語のテキスト", tokenizer.Decode(ids));
    }

    [Fact]
    public void FlushEmitsAnIncompleteCharacterAsReplacement()
    {
        var tokenizer = TokenizerCache.Vocab("llama-spm");
        var decoder = new StreamingDecoder(tokenizer);
        Assert.Equal("a", decoder.Push(tokenizer.Vocabulary.IdOf("a")));
        Assert.Equal("", decoder.Push(tokenizer.Vocabulary.IdOf("<0xE6>")));
        Assert.Equal("\uFFFD", decoder.Flush());
        // A new sequence starts clean: the first piece loses its prefix space again.
        Assert.Equal("x", decoder.Push(tokenizer.Vocabulary.IdOf("▁x")));
    }

    [Fact]
    public void RendersSpecialTokensOnlyWhenAsked()
    {
        var tokenizer = TokenizerCache.Vocab("llama-spm");
        Assert.Equal("", new StreamingDecoder(tokenizer).Push(tokenizer.Vocabulary.EosId));
        Assert.Equal("</s>", new StreamingDecoder(tokenizer, renderSpecial: true).Push(tokenizer.Vocabulary.EosId));
    }
}
