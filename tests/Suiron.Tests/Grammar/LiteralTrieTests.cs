using Suiron.Sampling.Grammar;
using Xunit;
using Gbnf = Suiron.Sampling.Grammar.Grammar;

namespace Suiron.Tests.Grammar;

/// <summary>Long alternations of literals compile to a trie: the same language, one parse path instead of one per word.</summary>
public sealed class LiteralTrieTests
{
    private static readonly string[] Words = ["a", "ab", "abc", "abd", "b", "bcd", "", "日本", "日本語", "😀x", "zz", "zz"];

    [Fact]
    public void TheTrieMatchesExactlyTheWordsAndTheirContinuations()
    {
        // Padded past the threshold with words that share prefixes with the interesting ones.
        string[] words = [.. Words, .. Enumerable.Range(0, 40).Select(i => $"ab{i}")];
        var grammar = Gbnf.Parse("root ::= (" + string.Join(" | ", words.Select(w => $"\"{w}\"")) + ") \"!\"");
        Assert.True(grammar.RuleCount > 2, "the alternation was not factored");
        foreach (string w in words) Assert.True(GrammarMatcher.Matches(grammar, w + "!"), w);
        foreach (string w in new[] { "ac!", "abcd!", "a", "日!", "😀!", "zzz!", "ab40!", "ab4!x", "b c d!", "x!" })
            Assert.False(GrammarMatcher.Matches(grammar, w), w);
        var matcher = new GrammarMatcher(grammar);
        Assert.True(matcher.TryAccept("ab"));
        Assert.True(matcher.CanAccept("c!"u8));
        Assert.True(matcher.CanAccept("3!"u8));
        Assert.False(matcher.CanAccept("e"u8));
    }

    [Fact]
    public void AHundredThousandEnumValuesRunWithoutExplodingTheParseStacks()
    {
        string[] words = Enumerable.Range(0, 100_000).Select(i => $"w{i:x}z").ToArray();
        var grammar = Gbnf.FromJsonSchema(System.Text.Json.JsonSerializer.Serialize(new { @enum = words }));
        Assert.True(GrammarMatcher.Matches(grammar, "\"w1869fz\""));
        Assert.True(GrammarMatcher.Matches(grammar, "\"w0z\""));
        Assert.False(GrammarMatcher.Matches(grammar, "\"w186a0z\"")); // 100,000 is not in the list
        Assert.False(GrammarMatcher.Matches(grammar, "\"wz\""));

        var gbnf = Gbnf.Parse("root ::= " + string.Join(" | ", words.Select(w => $"\"{w}\"")));
        Assert.True(GrammarMatcher.Matches(gbnf, "w1869fz"));
        Assert.False(GrammarMatcher.Matches(gbnf, "w1869f"));
    }

    [Fact]
    public void ShortOrMixedAlternationsAreLeftAsWritten()
    {
        Assert.Equal(1, Gbnf.Parse("root ::= \"a\" | \"b\" | \"c\"").RuleCount);
        string mixed = "root ::= " + string.Join(" | ", Enumerable.Range(0, 40).Select(i => $"\"w{i}\"")) + " | [0-9]";
        Assert.Equal(1, Gbnf.Parse(mixed).RuleCount);
    }
}
