using System.Text.Json;
using Suiron.Chat;
using Xunit;

namespace Suiron.Tests.Chat;

/// <summary>
/// Every real template in shared/templates rendered with every conversation in cases.json must equal,
/// byte for byte, what Python Jinja2 3.1.6 produced with Hugging Face's apply_chat_template setup;
/// where Python raised (an expected file starting "ERROR: Kind: message"), we must raise the same.
/// </summary>
public sealed class ChatTemplateConformanceTests
{
    private static readonly DateTime FixedNow = new(2026, 1, 15, 9, 30, 0);

    private static readonly Lazy<Dictionary<string, JsonElement>> Cases = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllText(SharedData.Path("templates", "cases.json")));
        return document.RootElement.EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("context").Clone());
    });

    public static TheoryData<string, string> Renderings()
    {
        var data = new TheoryData<string, string>();
        foreach (string path in Directory.GetFiles(SharedData.Path("templates"), "*.jinja").Order(StringComparer.Ordinal))
            foreach (string caseName in Cases.Value.Keys.Order(StringComparer.Ordinal))
                data.Add(Path.GetFileNameWithoutExtension(path), caseName);
        return data;
    }

    [Fact]
    public void All_templates_and_cases_are_covered()
    {
        Assert.Equal(280, Renderings().Count);
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Renders_like_Python_Jinja2(string template, string caseName)
    {
        string source = File.ReadAllText(SharedData.Path("templates", template + ".jinja"));
        string expected = File.ReadAllText(SharedData.Path("templates", "expected", $"{template}__{caseName}.txt"));
        var context = TemplateContext.FromJson(Cases.Value[caseName]).Set("bos_token", "<BOS>").Set("eos_token", "<EOS>");
        context.Now = FixedNow;

        var chatTemplate = new ChatTemplate(source);
        if (expected.StartsWith("ERROR: ", StringComparison.Ordinal))
        {
            var error = Assert.Throws<TemplateException>(() => chatTemplate.Render(context));
            Assert.Equal(expected["ERROR: ".Length..], $"{error.Kind}: {error.Reason}");
            return;
        }
        Assert.Equal(expected, chatTemplate.Render(context));
    }
}
