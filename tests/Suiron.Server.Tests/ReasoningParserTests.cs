using Suiron.Chat;

namespace Suiron.Server.Tests;

public sealed class ReasoningParserTests
{
    private static (string Reasoning, string Content) Run(IEnumerable<string> pieces, bool startsInReasoning = false, ReasoningTags? tags = null)
    {
        var parser = new ReasoningParser(startsInReasoning, tags ?? ReasoningTags.Think);
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

    /// <summary>
    /// Hunyuan-A13B writes <c>&lt;think&gt;\n…\n&lt;/think&gt;\n&lt;answer&gt;\n…\n&lt;/answer&gt;</c> (vLLM's hunyuan_a13b reasoning
    /// parser: the reasoning and the answer are what its regex captures between those exact tags); with thinking off its
    /// template ends the prompt with an empty block and the reply is the answer block alone.
    /// </summary>
    [Theory]
    [InlineData("<think>\n東京の天気を考える。\n</think>\n<answer>\n晴れです。\n</answer>", "東京の天気を考える。", "晴れです。")]
    [InlineData("<think>\nA call is needed.\n</think>\n<answer>\n<tool_calls>[{\"name\": \"now\", \"arguments\": {}}]</tool_calls>\n</answer>", "A call is needed.", "<tool_calls>[{\"name\": \"now\", \"arguments\": {}}]</tool_calls>")]
    [InlineData("<answer>\n1 < 2 and </ans is text\n</answer>", "", "1 < 2 and </ans is text")]
    [InlineData("Plain text, no answer tag.", "", "Plain text, no answer tag.")]
    [InlineData("<answer>\ncut off before the tag closes", "", "cut off before the tag closes")]
    public void HunyuanAnswerTagsAreNotPartOfTheAnswer(string output, string reasoning, string content)
    {
        var tags = ReasoningTags.Detect(File.ReadAllText(VendorTemplateTests.TemplatePath("Hunyuan-A13B-Instruct.jinja")));
        Assert.Same(ReasoningTags.HunyuanAnswer, tags);
        Assert.Equal((reasoning, content), Run([output], tags: tags));
        Assert.Equal((reasoning, content), Run(Chars(output), tags: tags));
        Assert.Equal((reasoning, content), Run(output.Chunk(3).Select(c => new string(c)), tags: tags));
        Assert.Equal(new ReasoningSplit(reasoning, content), ReasoningParser.Split(output, false, tags));
    }

    [Fact]
    public void OtherFamiliesKeepAnAnswerTagAsText()
    {
        Assert.Same(ReasoningTags.Think, ReasoningTags.Detect(File.ReadAllText(SharedData.Path("templates", "Qwen-Qwen3-0.6B.jinja"))));
        Assert.Equal(("x", "<answer>\ny\n</answer>"), Run(Chars("<think>x</think><answer>\ny\n</answer>")));
    }

    /// <summary>
    /// ERNIE-4.5 Thinking's replies as vLLM's ernie45 reasoning parser documents and tests them: the generation starts
    /// inside the reasoning, <c>&lt;/think&gt;</c> ends it, and the answer is either wrapped in <c>&lt;response&gt;</c>
    /// tags or follows unwrapped; calls follow the reasoning unwrapped (vLLM's ernie45 tool-parser test output).
    /// </summary>
    [Theory]
    [InlineData("abc\n</think>\n\n<response>\ndef\n</response>\n", "abc", "def")]
    [InlineData("abc\n</think>\n\n\n<response>\ndef\n</response>\n", "abc", "def")]
    [InlineData("abc\n</think>\ndef", "abc", "def")]
    [InlineData("I need to call two tools to handle these two issues separately.\n</think>\n\n<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"Beijing\"}}\n</tool_call>\n",
        "I need to call two tools to handle these two issues separately.", "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"Beijing\"}}\n</tool_call>\n")]
    public void ErnieResponseTagsAreNotPartOfTheAnswer(string output, string reasoning, string content)
    {
        var tags = ReasoningTags.Detect("{{ '<think>' }}", token => token is "<response>" or "</response>");
        Assert.Same(ReasoningTags.ErnieResponse, tags);
        Assert.Equal((reasoning, content), Run([output], startsInReasoning: true, tags));
        Assert.Equal((reasoning, content), Run(Chars(output), startsInReasoning: true, tags));
        Assert.Equal((reasoning, content), Run(output.Chunk(3).Select(c => new string(c)), startsInReasoning: true, tags));
        if (content.StartsWith("<tool_call>", StringComparison.Ordinal))
            Assert.Equal("get_current_temperature", Assert.Single(ToolCallFormat.Hermes.Parse(content).Calls).Name);
    }

    [Fact]
    public void WithoutResponseTokensTheTagsAreThinkOnly()
        => Assert.Same(ReasoningTags.Think, ReasoningTags.Detect("{{ '<think>' }}", token => token is "<response>"));
}
