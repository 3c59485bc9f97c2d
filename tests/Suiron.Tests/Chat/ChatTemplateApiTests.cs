using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Chat;
using Xunit;

namespace Suiron.Tests.Chat;

/// <summary>The public surface: building contexts from JSON and .NET values, the ChatML fallback, errors, sharing.</summary>
public sealed class ChatTemplateApiTests
{
    private const string Conversation = """
        {"add_generation_prompt": true, "messages": [
          {"role": "system", "content": "Be brief."},
          {"role": "user", "content": "こんにちは"}]}
        """;

    [Fact]
    public void Json_object_keys_keep_their_order()
    {
        var context = TemplateContext.FromJson("""{"tool": {"zeta": 1, "alpha": 2.0, "mid": [true, null, "x"]}}""");
        Assert.Equal("""{"zeta": 1, "alpha": 2.0, "mid": [true, null, "x"]} zeta,alpha,mid""",
            new ChatTemplate("{{ tool | tojson }} {{ tool | join(',') }}").Render(context));
    }

    [Fact]
    public void Json_numbers_keep_Python_int_and_float_types()
    {
        var context = TemplateContext.FromJson("""{"i": 3, "f": 3.0, "e": 1e3}""");
        Assert.Equal("3 3.0 1000.0 True True", new ChatTemplate("{{ i }} {{ f }} {{ e }} {{ i is integer }} {{ f is float }}").Render(context));
    }

    [Fact]
    public void Json_nodes_and_plain_dotnet_values_convert()
    {
        var node = JsonNode.Parse("""[{"role": "user", "content": "hi"}]""");
        var context = new TemplateContext()
            .Set("messages", node)
            .Set("extra", new Dictionary<string, object?> { ["n"] = 5, ["ok"] = true, ["list"] = new[] { "a", "b" } })
            .Set("ratio", 0.5f);
        Assert.Equal("user:hi 5 True a+b 0.5",
            new ChatTemplate("{{ messages[0].role }}:{{ messages[0].content }} {{ extra.n }} {{ extra.ok }} {{ extra.list | join('+') }} {{ ratio }}").Render(context));
    }

    [Fact]
    public void Element_and_string_forms_of_FromJson_agree()
    {
        using var document = JsonDocument.Parse(Conversation);
        var template = ChatTemplate.ChatMLFallback;
        Assert.Equal(template.Render(TemplateContext.FromJson(Conversation)), template.Render(TemplateContext.FromJson(document.RootElement)));
    }

    [Fact]
    public void ChatML_fallback_renders_im_start_turns()
    {
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nこんにちは<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplate.ChatMLFallback.Render(TemplateContext.FromJson(Conversation)));
    }

    [Fact]
    public void ChatML_fallback_renders_text_parts_of_content_lists()
    {
        var context = TemplateContext.FromJson("""
            {"add_generation_prompt": false, "messages": [{"role": "user", "content": [
              {"type": "text", "text": "Look: "}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "a cat"}]}]}
            """);
        Assert.Equal("<|im_start|>user\nLook: a cat<|im_end|>\n", ChatTemplate.ChatMLFallback.Render(context));
    }

    [Fact]
    public void Raise_exception_message_is_kept_verbatim()
    {
        var error = Assert.Throws<TemplateException>(() =>
            new ChatTemplate("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")
                .Render(TemplateContext.FromJson(Conversation)));
        Assert.Equal("TemplateError", error.Kind);
        Assert.Equal("System role not supported", error.Message);
        Assert.Equal(1, error.Line);
    }

    [Fact]
    public void Runtime_errors_name_kind_and_line()
    {
        var error = Assert.Throws<TemplateException>(() => new ChatTemplate("line 1\n{{ functions.x }}").Render(new TemplateContext()));
        Assert.Equal("UndefinedError", error.Kind);
        Assert.Equal("'functions' is undefined", error.Reason);
        Assert.Equal(2, error.Line);
        Assert.Equal("UndefinedError: 'functions' is undefined (template line 2)", error.Message);
    }

    [Fact]
    public void Strftime_now_uses_the_context_clock()
    {
        var context = new TemplateContext { Now = new DateTime(2026, 1, 15, 9, 30, 0) };
        Assert.Equal("15 Jan 2026", new ChatTemplate("{{ strftime_now('%d %b %Y') }}").Render(context));
    }

    [Fact]
    public void One_template_renders_on_many_threads()
    {
        string source = File.ReadAllText(SharedData.Path("templates", "Qwen-Qwen3-0.6B.jinja"));
        var template = new ChatTemplate(source);
        string expected = template.Render(TemplateContext.FromJson(Conversation));
        var results = new string[64];
        Parallel.For(0, results.Length, i => results[i] = template.Render(TemplateContext.FromJson(Conversation)));
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void Dictionary_overload_renders()
    {
        var variables = new Dictionary<string, object?> { ["name"] = "Suiron", ["n"] = 2 };
        Assert.Equal("Suiron x2", new ChatTemplate("{{ name }} x{{ n }}").Render(variables));
    }

    [Fact]
    public void Unsupported_dotnet_values_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new TemplateContext().Set("x", new object()));
        Assert.Throws<ArgumentException>(() => TemplateContext.FromJson("[1, 2]"));
    }
}
