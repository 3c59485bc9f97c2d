using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Sampling.Grammar;

namespace Suiron.Server.Tests;

/// <summary>
/// The vendors' chat templates kept in tests/templates (Hunyuan-A13B-Instruct, ERNIE-4.5-0.3B-PT; sources in its
/// README): our rendering of each with every conversation of shared/templates/cases.json and tests/templates/cases.json
/// equals, byte for byte, Python Jinja2 3.1.6's (tests/templates/render.py, Hugging Face's apply_chat_template setup).
/// </summary>
public sealed class VendorTemplateTests
{
    private static readonly DateTime FixedNow = new(2026, 1, 15, 9, 30, 0);

    internal static string TemplatePath(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "templates", .. parts]);

    private static readonly Lazy<Dictionary<string, JsonElement>> Cases = new(() =>
    {
        var cases = new Dictionary<string, JsonElement>();
        foreach (string file in new[] { SharedData.Path("templates", "cases.json"), TemplatePath("cases.json") })
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var c in document.RootElement.EnumerateArray()) cases.Add(c.GetProperty("name").GetString()!, c.GetProperty("context").Clone());
        }
        return cases;
    });

    public static TheoryData<string, string> Renderings()
    {
        var data = new TheoryData<string, string>();
        foreach (string path in Directory.GetFiles(TemplatePath(), "*.jinja").Order(StringComparer.Ordinal))
            foreach (string caseName in Cases.Value.Keys.Order(StringComparer.Ordinal))
                data.Add(Path.GetFileNameWithoutExtension(path), caseName);
        return data;
    }

    [Fact]
    public void EveryTemplateHasEveryCaseRendered()
    {
        Assert.Equal(2 * 7, Renderings().Count);
        foreach (var row in Renderings())
            Assert.True(File.Exists(TemplatePath("expected", $"{row[0]}__{row[1]}.txt")), $"{row[0]} {row[1]}");
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void RendersLikePythonJinja2(string template, string caseName)
    {
        string expected = File.ReadAllText(TemplatePath("expected", $"{template}__{caseName}.txt"));
        var context = TemplateContext.FromJson(Cases.Value[caseName]).Set("bos_token", "<BOS>").Set("eos_token", "<EOS>");
        context.Now = FixedNow;
        var chatTemplate = new ChatTemplate(File.ReadAllText(TemplatePath(template + ".jinja")));
        if (expected.StartsWith("ERROR: ", StringComparison.Ordinal))
        {
            var error = Assert.Throws<TemplateException>(() => chatTemplate.Render(context));
            Assert.Equal(expected["ERROR: ".Length..], $"{error.Kind}: {error.Reason}");
            return;
        }
        Assert.Equal(expected, chatTemplate.Render(context));
    }

    [Theory]
    [InlineData("Hunyuan-A13B-Instruct.jinja", "hunyuan-a13b")]
    [InlineData("ERNIE-4.5-0.3B-PT.jinja", "generic")] // its template has no tools: they are described in the system message
    public void DetectsTheFamilyFromTheVendorsTemplate(string template, string family)
        => Assert.Equal(family, ToolCallFormat.Detect(File.ReadAllText(TemplatePath(template))).Name);

    /// <summary>
    /// Hunyuan's template writes an earlier call back into the prompt (Jinja2's rendering of the "tools" case); that
    /// text is a call the forced-call grammar accepts, and the parser reads it back as the call the conversation held.
    /// A call of another name, or one whose arguments break the schema, is not accepted.
    /// </summary>
    [Fact]
    public void HunyuanForcedCallGrammarAcceptsTheCallsItsTemplateWrites()
    {
        string rendered = File.ReadAllText(TemplatePath("expected", "Hunyuan-A13B-Instruct__tools.txt"));
        int start = rendered.LastIndexOf("<tool_calls>", StringComparison.Ordinal); // after the instructions' own example
        int end = rendered.IndexOf("</tool_calls>", start, StringComparison.Ordinal) + "</tool_calls>".Length;
        string written = rendered[start..end];
        Assert.Equal("<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Tokyo\", \"unit\": \"celsius\"}}]</tool_calls>", written);

        var tools = JsonNode.Parse("""
            [{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}},
             {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}]
            """)!.AsArray();
        var grammar = Grammar.Parse(ToolCallFormat.HunyuanA13B.Grammar(tools));
        Assert.True(GrammarMatcher.Matches(grammar, written));
        Assert.True(GrammarMatcher.Matches(grammar, "<tool_calls>[{\"name\": \"now\", \"arguments\": {}}]</tool_calls>"));
        Assert.False(GrammarMatcher.Matches(grammar, written.Replace("get_weather", "get_time")));
        Assert.False(GrammarMatcher.Matches(grammar, written.Replace("celsius", "kelvin")));

        var call = Assert.Single(ToolCallFormat.HunyuanA13B.Parse(written).Calls);
        Assert.Equal(("get_weather", "{\"city\":\"Tokyo\",\"unit\":\"celsius\"}"), (call.Name, call.Arguments));
    }
}
