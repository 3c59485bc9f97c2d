using System.Text;
using Suiron.Sampling.Grammar;
using Xunit;
using Gbnf = Suiron.Sampling.Grammar.Grammar;

namespace Suiron.Tests.Grammar;

public sealed class GrammarMatcherTests
{
    [Theory]
    [InlineData("a=b\n", true)]
    [InlineData("(a+12)*foo_2=x\n", true)]
    [InlineData("x = (a + 12) * foo_2\n", false)] // only one term after "="
    [InlineData("a=1\nb=2\n", true)]
    [InlineData("a=b", false)]              // missing the final newline: incomplete
    [InlineData("=b\n", false)]
    [InlineData("a=+b\n", false)]
    [InlineData("A=b\n", false)]
    public void Arithmetic(string text, bool matches) => Assert.Equal(matches, GrammarMatcher.Matches(Gbnf.Parse(GbnfGrammars.Arithmetic), text));

    [Theory]
    [InlineData("{}", true)]
    [InlineData("{\"a\": [1, 2.5, -3e12, true, null, \"x\\n\\u00e9\"], \"b\": {\"c\": \"日本\"}}", true)]
    [InlineData("{\"a\":1,}", false)]
    [InlineData("{\"a\" 1}", false)]
    [InlineData("{\"a\": 01}", false)]
    [InlineData("{\"a\": \"\\x\"}", false)]
    [InlineData("{\"a\": \"tab\there\"}", false)]
    [InlineData("[1]", false)]               // root is an object
    public void Json(string text, bool matches) => Assert.Equal(matches, GrammarMatcher.Matches(Gbnf.Parse(GbnfGrammars.Json), text));

    [Theory]
    [InlineData("1. e4 e5\n2. Nf3 Nc6\n", true)]
    [InlineData("1. e4 e5\n2. exd5 O-O-O\n12. Qxf7# e8=Q+\n", true)]
    [InlineData("1. e4 e5\n", false)]        // at least one more move pair
    [InlineData("1. e9 e5\n2. a1 a2\n", false)]
    [InlineData("1. e4 e5\n0. a1 a2\n", false)]
    public void Chess(string text, bool matches) => Assert.Equal(matches, GrammarMatcher.Matches(Gbnf.Parse(GbnfGrammars.Chess), text));

    [Theory]
    [InlineData("こんにちは、世界。", true)]
    [InlineData("カタカナ ひらがな\n漢字", true)]
    [InlineData("日本語 English", false)]
    [InlineData("", false)]
    public void Japanese(string text, bool matches) => Assert.Equal(matches, GrammarMatcher.Matches(Gbnf.Parse(GbnfGrammars.Japanese), text));

    [Theory]
    [InlineData("- one\n- two\n", true)]
    [InlineData("- one\u2028two\n", false)]
    [InlineData("- \n", false)]
    public void List(string text, bool matches) => Assert.Equal(matches, GrammarMatcher.Matches(Gbnf.Parse(GbnfGrammars.List), text));

    [Theory]
    [InlineData("root ::= \"a\"{3}", "aaa", true)]
    [InlineData("root ::= \"a\"{3}", "aa", false)]
    [InlineData("root ::= \"a\"{3}", "aaaa", false)]
    [InlineData("root ::= \"a\"{2,}", "aa", true)]
    [InlineData("root ::= \"a\"{2,}", "aaaaaaaaa", true)]
    [InlineData("root ::= \"a\"{2,}", "a", false)]
    [InlineData("root ::= \"a\"{1,3}", "", false)]
    [InlineData("root ::= \"a\"{1,3}", "aaa", true)]
    [InlineData("root ::= \"a\"{1,3}", "aaaa", false)]
    [InlineData("root ::= \"a\"{0,2} \"b\"", "b", true)]
    [InlineData("root ::= \"ab\"{2}", "abab", true)]
    [InlineData("root ::= \"ab\"{2}", "abb", false)]
    [InlineData("root ::= (\"x\" | \"yz\")+", "xyzx", true)]
    [InlineData("root ::= (\"x\" | \"yz\")+", "xy", false)]
    [InlineData("root ::= [^abc]+", "xyz", true)]
    [InlineData("root ::= [^abc]+", "xbz", false)]
    [InlineData("root ::= [a-cx-z0]*", "az0cx", true)]
    [InlineData("root ::= [a-cx-z0]*", "d", false)]
    [InlineData("root ::= . . .", "a😀é", true)]
    [InlineData("root ::= . .", "a😀é", false)]
    [InlineData("root ::= \"\\u00e9\\U0001F600\\x41\"", "é😀A", true)]
    [InlineData("root ::= \"a\"?  \"b\"?", "", true)]
    [InlineData("root ::= []", "", false)]
    [InlineData("root ::= [^]", "q", true)]
    public void SmallGrammars(string grammar, string text, bool matches) =>
        Assert.Equal(matches, GrammarMatcher.Matches(Gbnf.Parse(grammar), text));

    [Fact]
    public void AdvancesCharacterByCharacterAndReportsCompletion()
    {
        var matcher = new GrammarMatcher(Gbnf.Parse("root ::= \"ab\" \"c\"?"));
        Assert.False(matcher.IsComplete);
        Assert.False(matcher.TryAccept("b"));
        Assert.True(matcher.TryAccept("a"));
        Assert.False(matcher.IsComplete);
        Assert.True(matcher.TryAccept("b"));
        Assert.True(matcher.IsComplete);
        Assert.True(matcher.CanAccept("c"u8));
        Assert.False(matcher.CanAccept("cc"u8));
        Assert.True(matcher.TryAccept("c"));
        Assert.True(matcher.IsComplete);
        Assert.False(matcher.TryAccept("c"));
        Assert.True(matcher.IsComplete); // a refused input changes nothing
    }

    [Fact]
    public void MultiByteCharactersMayArriveSplitAcrossCalls()
    {
        var grammar = Gbnf.Parse("root ::= [ぁ-ゟ] \"😀\" [é]");
        byte[] text = Encoding.UTF8.GetBytes("あ😀é");
        Assert.Equal(3 + 4 + 2, text.Length);
        for (int split = 1; split < text.Length; split++)
        {
            var matcher = new GrammarMatcher(grammar);
            Assert.True(matcher.TryAccept(text.AsSpan(0, split)), $"prefix of {split} bytes");
            Assert.False(matcher.IsComplete);
            Assert.True(matcher.TryAccept(text.AsSpan(split)));
            Assert.True(matcher.IsComplete);
        }
        // Byte by byte, with a check that a partial character is refused as soon as no class can take it.
        var byteWise = new GrammarMatcher(grammar);
        foreach (byte b in text) Assert.True(byteWise.TryAccept([b]));
        Assert.True(byteWise.IsComplete);

        var early = new GrammarMatcher(grammar);
        Assert.True(early.TryAccept([0xE3]));            // U+3000..U+3FFF: may still be hiragana
        Assert.False(early.CanAccept([0x80]));           // U+3000..U+303F: no hiragana there
        Assert.False(new GrammarMatcher(grammar).CanAccept([0xE4])); // U+4000..: no
        Assert.False(new GrammarMatcher(grammar).CanAccept([0x80])); // a continuation byte first is never UTF-8
        Assert.False(early.IsComplete);
    }

    [Theory]
    [InlineData(new byte[] { 0xC1, 0xAF })]               // overlong 'o'
    [InlineData(new byte[] { 0xE0, 0x81, 0xAF })]
    [InlineData(new byte[] { 0xF0, 0x80, 0x81, 0xAF })]
    public void OverlongEncodingsAreNotTheCharacter(byte[] bytes)
    {
        Assert.False(new GrammarMatcher(Gbnf.Parse("root ::= \"o\"")).CanAccept(bytes));
        Assert.False(new GrammarMatcher(Gbnf.Parse("root ::= .")).CanAccept(bytes));
    }

    [Fact]
    public void SurrogatesAndCodePointsBeyondUnicodeAreRefused()
    {
        var any = Gbnf.Parse("root ::= .");
        Assert.False(new GrammarMatcher(any).CanAccept([0xED, 0xA0, 0x80]));  // U+D800
        Assert.False(new GrammarMatcher(any).CanAccept([0xF4, 0x90, 0x80, 0x80])); // U+110000
        Assert.True(GrammarMatcher.Matches(any, "\uD7FF"));
        Assert.True(GrammarMatcher.Matches(any, char.ConvertFromUtf32(0x10FFFF)));
    }

    [Fact]
    public void NegatedClassesAcceptPartialCharactersUnlessEveryCompletionIsExcluded()
    {
        var grammar = Gbnf.Parse("root ::= [^\\u00C0-\\u00FF]");
        var m = new GrammarMatcher(grammar);
        Assert.False(m.CanAccept([0xC3]));               // U+00C0..U+00FF, all excluded
        Assert.True(m.CanAccept([0xC2]));                // U+0080..U+00BF
        Assert.True(GrammarMatcher.Matches(grammar, "Ā"));
        Assert.False(GrammarMatcher.Matches(grammar, "é"));
    }

    [Fact]
    public void LongGenerationsStayBoundedInMemory()
    {
        // Every step a new stack depth: exercises the compaction of cached states.
        var grammar = Gbnf.Parse("root ::= \"(\" root \")\" | \"x\"");
        var matcher = new GrammarMatcher(grammar);
        for (int i = 0; i < 20_000; i++) Assert.True(matcher.TryAccept("("));
        Assert.True(matcher.TryAccept("x"));
        for (int i = 0; i < 20_000; i++) Assert.True(matcher.TryAccept(")"));
        Assert.True(matcher.IsComplete);
        Assert.False(matcher.CanAccept(")"u8));
    }
}
