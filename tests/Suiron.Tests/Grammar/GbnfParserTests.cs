using Suiron.Sampling.Grammar;
using Xunit;
using Gbnf = Suiron.Sampling.Grammar.Grammar;

namespace Suiron.Tests.Grammar;

public sealed class GbnfParserTests
{
    [Theory]
    [InlineData(GbnfGrammars.Arithmetic)]
    [InlineData(GbnfGrammars.Json)]
    [InlineData(GbnfGrammars.List)]
    [InlineData(GbnfGrammars.Chess)]
    [InlineData(GbnfGrammars.Japanese)]
    public void ParsesTheExampleGrammars(string text)
    {
        var grammar = Gbnf.Parse(text);
        Assert.True(grammar.RuleCount > 1);
    }

    [Fact]
    public void ParsesEveryEscapeAndRepetitionForm()
    {
        var grammar = Gbnf.Parse("""
            root ::= "a\n\t\\\"\x41\u00e9\U0001F600" [\x00-\x1F\]\[] . "b"{2} "c"{1,} "d"{0,3} "e"? "f"* "g"+ (x | y){2,4}
            x ::= "x"   # comment
            y ::= "y"
            """);
        Assert.True(grammar.RuleCount >= 3);
    }

    [Fact]
    public void RulesContinueOverNewlinesOnlyInsideParentheses()
    {
        Gbnf.Parse("root ::= (\n  \"a\"\n  | \"b\"\n)\n");
        var e = Assert.Throws<GrammarException>(() => Gbnf.Parse("root ::= \"a\"\n  | \"b\"\n"));
        Assert.Equal(2, e.Line);
        Assert.Equal(3, e.Column);
    }

    [Theory]
    [InlineData("", 1, 1, "Empty grammar")]
    [InlineData("   \n# only a comment\n", 1, 1, "Empty grammar")]
    [InlineData("root ::= foo\n", 1, 10, "Undefined rule 'foo'")]
    [InlineData("root ::= \"a\"\nother ::= \"b\" missing\n", 2, 15, "Undefined rule 'missing'")]
    [InlineData("root ::= \"abc\n", 1, 10, "Unterminated string")]
    [InlineData("root ::= [a-z\n", 1, 10, "Unterminated character class")]
    [InlineData("root ::= \"a\\q\"", 1, 12, "Unknown escape")]
    [InlineData("root ::= \"\\x4\"", 1, 11, "hex digits")]
    [InlineData("root = \"a\"", 1, 6, "Expected '::='")]
    [InlineData("root ::= (\"a\" \"b\"", 1, 18, "Expected ')'")]
    [InlineData("root ::= * \"a\"", 1, 10, "Expected an item before the repetition")]
    [InlineData("root ::= \"a\"{3,1}", 1, 13, "maximum below its minimum")]
    [InlineData("root ::= \"a\"{2", 1, 15, "Expected '}'")]
    [InlineData("root ::= \"a\" ) \"b\"", 1, 14, "Expected end of line")]
    [InlineData("root ::= [z-a]", 1, 13, "backwards")]
    [InlineData("root ::= \"a\"\nroot ::= \"b\"", 2, 1, "defined twice")]
    [InlineData("::= \"a\"", 1, 1, "Expected a rule name")]
    public void ReportsErrorsWithLineAndColumn(string text, int line, int column, string message)
    {
        var e = Assert.Throws<GrammarException>(() => Gbnf.Parse(text));
        Assert.Contains(message, e.Message);
        Assert.Equal((line, column), (e.Line, e.Column));
    }

    [Fact]
    public void MissingRootIsAnError()
    {
        var e = Assert.Throws<GrammarException>(() => Gbnf.Parse("start ::= \"a\""));
        Assert.Contains("'root'", e.Message);
        Assert.NotNull(Gbnf.Parse("start ::= \"a\"", rootRule: "start"));
    }

    [Theory]
    [InlineData("root ::= root \"a\" | \"b\"", "root")]
    [InlineData("root ::= a\na ::= b \"x\"\nb ::= a | \"y\"", "a")]
    [InlineData("root ::= opt root \"x\" | \"y\"\nopt ::= \"o\"?", "root")]   // through a nullable prefix
    [InlineData("root ::= (\"a\"?)*", "root")]                               // x* of a nullable x loops without input
    public void RejectsLeftRecursion(string text, string rule)
    {
        var e = Assert.Throws<GrammarException>(() => Gbnf.Parse(text));
        Assert.Contains("Left recursion", e.Message);
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void RightRecursionIsFine()
    {
        var grammar = Gbnf.Parse("root ::= \"(\" root \")\" | \"x\"");
        Assert.True(GrammarMatcher.Matches(grammar, "(((x)))"));
        Assert.False(GrammarMatcher.Matches(grammar, "((x)"));
    }

    [Fact]
    public void HostileGrammarsFailFastInsteadOfHangingOrOverflowing()
    {
        // Deep nesting, a huge repetition count, a very long chain of rules.
        var deep = "root ::= " + new string('(', 100_000) + "\"a\"" + new string(')', 100_000);
        Assert.Contains("nested deeper", Assert.Throws<GrammarException>(() => Gbnf.Parse(deep)).Message);
        Assert.Contains("too large", Assert.Throws<GrammarException>(() => Gbnf.Parse("root ::= \"abc\"{99999999}")).Message);
        Assert.Contains("too large", Assert.Throws<GrammarException>(() => Gbnf.Parse("root ::= (\"a\"{1000}){5000}{5000}")).Message);

        var chain = new System.Text.StringBuilder("root ::= r0\n");
        for (int i = 0; i < 50_000; i++) chain.Append($"r{i} ::= r{i + 1} | \"x\"\n");
        chain.Append("r50000 ::= \"end\"\n");
        var grammar = Gbnf.Parse(chain.ToString());
        Assert.True(GrammarMatcher.Matches(grammar, "end"));
        Assert.True(GrammarMatcher.Matches(grammar, "x"));

        var cycle = new System.Text.StringBuilder("root ::= r0\n");
        for (int i = 0; i < 50_000; i++) cycle.Append($"r{i} ::= r{i + 1}\n");
        cycle.Append("r50000 ::= r0 \"x\"\n");
        Assert.Contains("Left recursion", Assert.Throws<GrammarException>(() => Gbnf.Parse(cycle.ToString())).Message);
    }

    [Fact]
    public void AmbiguousGrammarsDoNotMultiplyStacks()
    {
        // Without sharing equal stacks, each character doubles or Fibonacci-grows the stack count.
        var grammar = Gbnf.Parse("root ::= (\"a\" | \"a\" | \"aa\")* \"b\"");
        Assert.True(GrammarMatcher.Matches(grammar, new string('a', 5000) + "b"));
        Assert.False(GrammarMatcher.Matches(grammar, new string('a', 5000) + "c"));
    }
}
