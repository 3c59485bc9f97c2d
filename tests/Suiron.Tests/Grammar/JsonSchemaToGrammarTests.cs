using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Suiron.Sampling;
using Suiron.Sampling.Grammar;
using Xunit;
using Gbnf = Suiron.Sampling.Grammar.Grammar;

namespace Suiron.Tests.Grammar;

public sealed class JsonSchemaToGrammarTests
{
    public static TheoryData<string> CaseNames => [.. JsonSchemaCases.All.Select(c => c.Name)];

    private static JsonSchemaCases.Case Find(string name) => JsonSchemaCases.All.Single(c => c.Name == name);

    /// <summary>The validator's view of the schema ("json_object" is OpenAI's, not JSON Schema's: it means any object).</summary>
    private static JsonSchema ValidatorSchema(JsonSchemaCases.Case c) =>
        JsonSchema.FromText(c.Name == "json-object" ? """{"type":"object"}""" : c.Schema);

    private static readonly EvaluationOptions Strict = new() { RequireFormatValidation = true, OutputFormat = OutputFormat.List };

    private static bool IsValid(JsonSchema schema, string json, out string errors)
    {
        errors = "";
        JsonElement element;
        try { element = JsonDocument.Parse(json).RootElement; }
        catch (JsonException e) { errors = "not JSON: " + e.Message; return false; }
        var result = schema.Evaluate(element, Strict);
        if (!result.IsValid)
            errors = string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
        return result.IsValid;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ConverterOutputParsesAsGbnf(string name)
    {
        string gbnf = JsonSchemaToGrammar.Convert(Find(name).Schema);
        var grammar = Gbnf.Parse(gbnf);
        Assert.True(grammar.RuleCount > 1, gbnf);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void HandCheckedDocumentsAreAcceptedOrRejected(string name)
    {
        var c = Find(name);
        var schema = ValidatorSchema(c);
        var grammar = Gbnf.FromJsonSchema(c.Schema);
        foreach (string valid in c.Valid)
        {
            Assert.True(IsValid(schema, valid, out string errors), $"the validator disagrees with the case: {valid}: {errors}");
            Assert.True(GrammarMatcher.Matches(grammar, valid), $"{name}: should accept {valid}\n{JsonSchemaToGrammar.Convert(c.Schema)}");
        }
        foreach (string invalid in c.Invalid)
        {
            Assert.False(IsValid(schema, invalid, out _), $"the validator disagrees with the case: {invalid}");
            Assert.False(GrammarMatcher.Matches(grammar, invalid), $"{name}: should reject {invalid}\n{JsonSchemaToGrammar.Convert(c.Schema)}");
        }
    }

    /// <summary>
    /// A random "model" (random logits every step over GPT-2's real 50k vocabulary, high temperature) constrained by the
    /// grammar: every one of 200 outputs per schema must parse and validate. Past a few dozen tokens the logits of
    /// closing tokens (quote, brackets, braces, end of generation) are pushed up so that each generation ends.
    /// </summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void RandomConstrainedGenerationsAllValidate(string name)
    {
        const int Samples = 200, MaxTokens = 1000;
        var c = Find(name);
        var schema = ValidatorSchema(c);
        var grammar = Gbnf.FromJsonSchema(c.Schema);
        var vocabulary = GrammarTestVocabularies.Gpt2;
        int[] closers = Enumerable.Range(0, vocabulary.Count)
            .Where(id => vocabulary.EndsGeneration(id) || (vocabulary.Piece(id).Length > 0 && vocabulary.Piece(id).IndexOfAnyExcept("\"]}"u8) < 0))
            .ToArray();
        Assert.NotEmpty(closers);

        var logits = new float[vocabulary.Count];
        // A seed that is the same in every run (string.GetHashCode is randomized per process).
        var random = new Random(name.Aggregate(17, (h, c) => h * 31 + c) & 0x7FFF);
        var options = new SamplingOptions { Temperature = 1.5f, TopK = 64, TopP = 1, MinP = 0 };
        var output = new List<byte>();
        int totalTokens = 0;
        // One constraint, reset between generations: its cached automaton states and masks carry over, as they would
        // for a server reusing a grammar.
        var constraint = new GrammarConstraint(grammar, vocabulary);
        for (int sample = 0; sample < Samples; sample++)
        {
            constraint.Reset();
            var sampler = new Sampler(vocabulary.Count, options with { Seed = (ulong)sample }, constraint);
            output.Clear();
            int step = 0;
            for (; step < MaxTokens && !constraint.IsFinished; step++)
            {
                for (int i = 0; i < logits.Length; i++) logits[i] = random.NextSingle() * 3f;
                // Quotes first: inside a string, brackets and braces are just more text.
                if (step > 30)
                    foreach (int id in closers)
                        logits[id] += (step - 30) * (vocabulary.Piece(id) is [(byte)'"', ..] ? 0.5f : 0.25f);
                int token = sampler.Sample(logits, []);
                if (!vocabulary.EndsGeneration(token)) output.AddRange(vocabulary.Piece(token).ToArray());
            }
            totalTokens += step;
            string text = Encoding.UTF8.GetString(output.ToArray());
            Assert.True(constraint.IsFinished, $"{name}: generation {sample} did not end in {MaxTokens} tokens: {text}");
            Assert.True(IsValid(schema, text, out string errors), $"{name}: generation {sample} is not valid: {text}\n{errors}");
        }
        Assert.True(totalTokens > Samples * 3);
    }

    [Fact]
    public void StringEscapesNeverNameALoneSurrogate()
    {
        // System.Text.Json refuses "\uDEDD" (a lone surrogate) when reading a string; a constrained output must parse.
        var grammar = Suiron.Sampling.Grammar.Grammar.FromJsonSchema("""{"type":"string"}""");
        Assert.True(GrammarMatcher.Matches(grammar, "\"caf\\u00e9 \\uFFFD \\u7F16\""));
        Assert.False(GrammarMatcher.Matches(grammar, "\"\\uDEDD\""));
        Assert.False(GrammarMatcher.Matches(grammar, "\"\\ud800\""));
        Assert.True(GrammarMatcher.Matches(grammar, "\"🦙\""));
        foreach (string accepted in new[] { "\"caf\\u00e9\"", "\"🦙\"" })
            Assert.NotNull(System.Text.Json.JsonSerializer.Deserialize<string>(accepted));
    }

    [Fact]
    public void UnanchoredPatternsAllowTextAroundTheMatch()
    {
        var grammar = Gbnf.FromJsonSchema("""{"type":"string","pattern":"ab+c"}""");
        Assert.True(GrammarMatcher.Matches(grammar, "\"xxabbcyy\""));
        Assert.True(GrammarMatcher.Matches(grammar, "\"abc\""));
        Assert.False(GrammarMatcher.Matches(grammar, "\"xxacyy\""));
    }

    [Fact]
    public void JsonObjectGrammarAcceptsAnyObjectOnly()
    {
        var grammar = Gbnf.Parse(JsonSchemaToGrammar.AnyJsonObject);
        Assert.True(GrammarMatcher.Matches(grammar, """{"a": {"b": [1, "x", null, true, {}]}}"""));
        Assert.False(GrammarMatcher.Matches(grammar, """[1]"""));
    }

    [Fact]
    public void PropertiesComeInSchemaOrderRequiredFirst()
    {
        var grammar = Gbnf.FromJsonSchema("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}},"required":["c"]}""");
        Assert.True(GrammarMatcher.Matches(grammar, """{"c":1,"a":2,"b":3}"""));
        Assert.True(GrammarMatcher.Matches(grammar, """{"c":1,"b":3}"""));
        Assert.False(GrammarMatcher.Matches(grammar, """{"a":2,"c":1}"""));
        Assert.False(GrammarMatcher.Matches(grammar, """{"c":1,"b":3,"a":2}"""));
    }

    [Fact]
    public void WhitespaceIsLimitedToKeepOutputsCompact()
    {
        var grammar = Gbnf.FromJsonSchema("""{"type":"array","items":{"type":"integer"}}""");
        Assert.True(GrammarMatcher.Matches(grammar, "[1, 2,\n  3]"));
        Assert.False(GrammarMatcher.Matches(grammar, "[1,   2]"));
        Assert.False(GrammarMatcher.Matches(grammar, "[1,\n\n\n2]"));
    }

    [Theory]
    [InlineData("""{"type":"bogus"}""", "bogus")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "does not resolve")]
    [InlineData("""{"$ref":"http://example.com/x"}""", "local references")]
    [InlineData("""{"type":"integer","minimum":5,"maximum":4}""", "empty")]
    [InlineData("""{"type":"string","pattern":"^(?=a)b$"}""", "lookaround")]
    [InlineData("""{"type":""", "Invalid JSON")]
    [InlineData("""{"type":"integer","minimum":1,"maximum":4,"multipleOf":5}""", "no multiple of 5")]
    [InlineData("""{"type":"number","minimum":0.2,"maximum":0.8}""", "too narrow")]
    public void UnsupportedSchemasFailClearly(string schema, string message)
    {
        var e = Assert.Throws<GrammarException>(() => JsonSchemaToGrammar.Convert(schema));
        Assert.Contains(message, e.Message);
    }

    /// <summary>
    /// Keywords no context-free grammar can enforce are accepted and ignored, as llama.cpp's json-schema-to-grammar
    /// ignores them: uniqueItems (items must differ from all earlier ones), number multipleOf, integer multipleOf with
    /// one bound (the bound is still enforced).
    /// </summary>
    [Fact]
    public void KeywordsAGrammarCannotEnforceAreAcceptedAndIgnored()
    {
        var bounded = Gbnf.FromJsonSchema("""{"type":"integer","minimum":0,"multipleOf":5}""");
        Assert.True(GrammarMatcher.Matches(bounded, "3"));
        Assert.False(GrammarMatcher.Matches(bounded, "-5"));
        var grammar = Gbnf.FromJsonSchema("""{"type":"array","items":{"type":"integer"},"uniqueItems":true}""");
        Assert.True(GrammarMatcher.Matches(grammar, "[1,1]"));
        grammar = Gbnf.FromJsonSchema("""{"type":"number","multipleOf":0.5}""");
        Assert.True(GrammarMatcher.Matches(grammar, "0.3"));
    }
}
