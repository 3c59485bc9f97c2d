using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Suiron.Server.Tests;

/// <summary><c>suiron template</c> prints Jinja2's rendering of a case, and fails with the template's message where Jinja2 raised.</summary>
public sealed class TemplateCommandTests
{
    private static (int ExitCode, string StdOut, string StdErr) Suiron(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false), StandardErrorEncoding = new UTF8Encoding(false),
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Suiron.Cli.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string ContextFile(string caseName)
    {
        using var cases = JsonDocument.Parse(File.ReadAllText(SharedData.Path("templates", "cases.json")));
        var context = cases.RootElement.EnumerateArray().First(c => c.GetProperty("name").GetString() == caseName).GetProperty("context");
        string path = Path.Combine(Path.GetTempPath(), $"suiron-template-{caseName}-{Environment.ProcessId}.json");
        File.WriteAllText(path, context.GetRawText());
        return path;
    }

    [Theory]
    [InlineData("Qwen-Qwen3-0.6B", "basic")]
    [InlineData("Qwen-Qwen3-0.6B", "tools")]
    public void PrintsTheRendering(string template, string caseName)
    {
        string expected = File.ReadAllText(SharedData.Path("templates", "expected", $"{template}__{caseName}.txt"));
        var (code, stdout, stderr) = Suiron("template", "--template", SharedData.Path("templates", template + ".jinja"), "--context", ContextFile(caseName),
            "--bos-token", "<BOS>", "--eos-token", "<EOS>", "--now", "2026-01-15T09:30:00");
        Assert.True(code == 0, stderr);
        Assert.Equal(expected, stdout);
    }

    /// <summary>The format named is the family's: Hunyuan-A13B's and ERNIE-4.5's real templates, GLM-4.7's, Qwen3's.</summary>
    [Theory]
    [InlineData("vendor:Hunyuan-A13B-Instruct.jinja", "hunyuan-a13b")]
    [InlineData("vendor:ERNIE-4.5-0.3B-PT.jinja", "generic")]
    [InlineData("GLM-4.7-Flash.jinja", "glm-4.5")]
    [InlineData("Qwen-Qwen3-0.6B.jinja", "hermes")]
    public void NamesTheToolCallFormat(string template, string format)
    {
        string path = template.StartsWith("vendor:", StringComparison.Ordinal)
            ? VendorTemplateTests.TemplatePath(template["vendor:".Length..]) : SharedData.Path("templates", template);
        var (code, stdout, stderr) = Suiron("template", "--template", path, "--tool-format");
        Assert.True(code == 0, stderr);
        Assert.Equal(format + Environment.NewLine, stdout);
    }

    [Fact]
    public void WithoutAContextItAsksForOne()
    {
        var (code, stdout, stderr) = Suiron("template", "--template", SharedData.Path("templates", "Qwen-Qwen3-0.6B.jinja"));
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        Assert.Contains("--context", stderr);
    }

    [Fact]
    public void FailsWithTheTemplatesMessageWhereItRaises()
    {
        string expectedDir = SharedData.Path("templates", "expected");
        string? raising = Directory.EnumerateFiles(expectedDir, "*.txt").Order(StringComparer.Ordinal).FirstOrDefault(f => File.ReadAllText(f).StartsWith("ERROR:", StringComparison.Ordinal));
        Assert.NotNull(raising);
        string name = Path.GetFileNameWithoutExtension(raising);
        int split = name.LastIndexOf("__", StringComparison.Ordinal);
        var (code, stdout, stderr) = Suiron("template", "--template", SharedData.Path("templates", name[..split] + ".jinja"), "--context", ContextFile(name[(split + 2)..]),
            "--bos-token", "<BOS>", "--eos-token", "<EOS>");
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
    }
}
