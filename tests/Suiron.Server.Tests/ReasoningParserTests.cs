using Suiron.Chat;

namespace Suiron.Server.Tests;

public sealed class ReasoningParserTests
{
    private static (string Reasoning, string Content) Run(IEnumerable<string> pieces, bool startsInReasoning = false)
    {
        var parser = new ReasoningParser(startsInReasoning);
        string reasoning = "", content = "";
        foreach (string piece in pieces)
        {
            var split = parser.Push(piece);
            reasoning += split.Reasoning;
            content += split.Content;
        }
        var rest = parser.Flush();
        return (reasoning + rest.Reasoning, content + rest.Content);
    }

    private static IEnumerable<string> Chars(string text) => text.Select(c => c.ToString());

    [Theory]
    [InlineData(false, "<think>\nLet me think.\nYes.\n</think>\n\nThe answer is 4.")]
    [InlineData(true, "\nLet me think.\nYes.\n</think>\n\nThe answer is 4.")]
    public void SplitsReasoningFromContentWhateverThePieces(bool startsInReasoning, string output)
    {
        // Whole, one character at a time (tags split everywhere), and in pieces of three.
        var expected = ("Let me think.\nYes.", "The answer is 4.");
        Assert.Equal(expected, Run([output], startsInReasoning));
        Assert.Equal(expected, Run(Chars(output), startsInReasoning));
        Assert.Equal(expected, Run(output.Chunk(3).Select(c => new string(c)), startsInReasoning));
    }

    [Fact]
    public void TextWithoutAReasoningBlockIsContentAsIs()
    {
        Assert.Equal(("", " Once upon a time <think> is text here"), Run(Chars(" Once upon a time <think> is text here")));
        Assert.Equal(("", "<thin"), Run(["<thin"]));
        Assert.Equal(("", "<thing>"), Run(Chars("<thing>")));
    }

    [Fact]
    public void AnUnclosedBlockStaysReasoning()
    {
        Assert.Equal(("still thinking\n</thi", ""), Run(Chars("<think>still thinking\n</thi"))); // cut off mid-tag: kept as generated
        Assert.Equal(("a < b", ""), Run(Chars("a < b"), startsInReasoning: true));
    }

    [Fact]
    public void EmptyReasoningBlockOfNonThinkingMode()
    {
        Assert.Equal(("", "Hi."), Run(Chars("<think>\n\n</think>\n\nHi.")));
    }
}
