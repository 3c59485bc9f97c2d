using System.Diagnostics;
using Suiron.Chat;
using Xunit;

namespace Suiron.Tests.Chat;

/// <summary>
/// A chat template comes from a downloaded GGUF file, so it is untrusted: runaway recursion, huge
/// loops, exploding strings and malformed syntax must end in a TemplateException that says what
/// went wrong — never a hang, a stack overflow or an out-of-memory crash.
/// </summary>
public sealed class ChatTemplateHostileInputTests
{
    private static TemplateException Fails(string source, long? stepBudget = null)
    {
        var context = new TemplateContext();
        if (stepBudget is not null) context.StepBudget = stepBudget.Value;
        var stopwatch = Stopwatch.StartNew();
        var error = Assert.Throws<TemplateException>(() => new ChatTemplate(source).Render(context));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"took {stopwatch.Elapsed}");
        return error;
    }

    [Fact]
    public void Infinite_macro_recursion_is_stopped()
    {
        var error = Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        Assert.Equal("RecursionError", error.Kind);
        Assert.Equal(1, error.Line);
    }

    [Fact]
    public void Mutual_recursion_through_caller_is_stopped()
    {
        var error = Fails("{% macro f() %}{{ caller() }}{% endmacro %}{% macro g() %}{% call f() %}{{ g() }}{% endcall %}{% endmacro %}{{ g() }}");
        Assert.Equal("RecursionError", error.Kind);
    }

    [Fact]
    public void Range_is_capped_like_the_sandbox()
    {
        var error = Fails("{% for i in range(1000000000) %}{% endfor %}");
        Assert.Equal("OverflowError", error.Kind);
        Assert.Contains("MAX_RANGE (100000)", error.Reason);
    }

    [Fact]
    public void Nested_loops_run_out_of_budget()
    {
        // The default budget (10M steps) stops this within seconds; a smaller one keeps the test quick.
        var error = Fails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", stepBudget: 500_000);
        Assert.Contains("budget of 500000", error.Reason);
    }

    [Fact]
    public void Doubling_a_string_hits_the_size_cap()
    {
        var error = Fails("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}");
        Assert.Equal("MemoryError", error.Kind);
    }

    [Fact]
    public void Doubling_a_list_hits_the_size_cap()
    {
        var error = Fails("{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}");
        Assert.Equal("MemoryError", error.Kind);
    }

    [Fact]
    public void Repeating_a_string_hits_the_size_cap()
    {
        Assert.Equal("MemoryError", Fails("{{ 'x' * 1000000000 }}").Kind);
        Assert.Equal("MemoryError", Fails("{{ [0] * 1000000000 }}").Kind);
    }

    [Fact]
    public void Replacing_into_a_huge_string_hits_the_size_cap()
    {
        Assert.Equal("MemoryError", Fails("{{ ('x' * 10000000).replace('x', 'xxxxxxxx') }}").Kind);
        Assert.Equal("MemoryError", Fails("{{ ('x' * 10000000) | replace('x', 'xxxxxxxx') }}").Kind);
    }

    [Fact]
    public void Output_size_is_capped()
    {
        var error = Fails("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}");
        Assert.Equal("MemoryError", error.Kind);
    }

    [Theory]
    [InlineData("{% if true %}never closed")]
    [InlineData("{% for x in y %}never closed")]
    [InlineData("{% macro m() %}never closed")]
    [InlineData("{{ unclosed")]
    [InlineData("{% if %}")]
    [InlineData("{# unclosed comment")]
    [InlineData("{% raw %}unclosed raw")]
    [InlineData("{{ 'unclosed string }}")]
    [InlineData("{{ (1, 2 }}")]
    [InlineData("{{ a ! b }}")]
    [InlineData("{% endfor %}")]
    [InlineData("{% unknown_tag %}")]
    [InlineData("{% include 'other.jinja' %}")]
    [InlineData("{% set 1 = 2 %}")]
    [InlineData("{% macro m(a=1, b) %}{% endmacro %}")]
    public void Malformed_templates_fail_to_parse(string source)
    {
        var error = Assert.Throws<TemplateException>(() => new ChatTemplate(source));
        Assert.Equal("TemplateSyntaxError", error.Kind);
        Assert.NotNull(error.Line);
        Assert.Contains("line", error.Message);
    }

    [Fact]
    public void Unclosed_block_names_the_missing_tag()
    {
        var error = Assert.Throws<TemplateException>(() => new ChatTemplate("line one\n{% for x in y %}\n{% if x %}\n{% endfor %}"));
        Assert.Contains("endif", error.Reason);
        Assert.Equal(4, error.Line);
    }

    [Theory]
    [InlineData(10_000, "(", ")")]
    [InlineData(10_000, "[", "]")]
    [InlineData(10_000, "not ", "")]
    [InlineData(10_000, "-", "")]
    [InlineData(10_000, "{% if true %}", "{% endif %}")]
    public void Deep_nesting_is_refused_without_overflowing_the_stack(int depth, string open, string close)
    {
        string inner = string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth));
        string source = open.StartsWith("{%", StringComparison.Ordinal) ? inner : "{{ " + inner + " }}";
        var error = Assert.Throws<TemplateException>(() => new ChatTemplate(source));
        Assert.Contains("nesting", error.Reason);
    }

    [Fact]
    public void Python_internals_are_out_of_reach()
    {
        Assert.Equal("", new ChatTemplate("{{ ''.__class__ }}").Render(new TemplateContext()));
        var error = Fails("{{ ''.__class__.__mro__ }}");
        Assert.Equal("SecurityError", error.Kind);
        Assert.Equal("access to attribute '__class__' of 'str' object is unsafe.", error.Reason);
    }

    [Fact]
    public void Mutating_methods_are_refused()
    {
        var error = Fails("{% set l = [] %}{% set _ = l.append(1) %}");
        Assert.Equal("SecurityError", error.Kind);
        Assert.Equal("access to attribute 'append' of 'list' object is unsafe.", error.Reason);
    }

    [Fact]
    public void Deeply_nested_input_data_is_refused()
    {
        string json = string.Concat(Enumerable.Repeat("[", 5000)) + string.Concat(Enumerable.Repeat("]", 5000));
        var options = new System.Text.Json.JsonDocumentOptions { MaxDepth = 10_000 };
        using var document = System.Text.Json.JsonDocument.Parse(json, options);
        Assert.Throws<ArgumentException>(() => new TemplateContext().Set("messages", document.RootElement));
    }
}
