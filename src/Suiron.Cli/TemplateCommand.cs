using System.CommandLine;
using Suiron.Chat;

namespace Suiron.Cli;

/// <summary>
/// <c>suiron template</c>: render a chat template with a JSON context (messages, add_generation_prompt, bos_token …) and
/// print it, or print the tool-call format detected from the template (<c>--tool-format</c>).
/// </summary>
internal static class TemplateCommand
{
    public static Command Create()
    {
        var template = new Option<FileInfo>("--template") { Description = "Jinja chat template file", Required = true };
        var context = new Option<FileInfo>("--context") { Description = "JSON file with the template variables (an object: messages, add_generation_prompt, bos_token …)" };
        var toolFormat = new Option<bool>("--tool-format") { Description = "Print the tool-call format detected from the template (the syntax its model writes calls in) instead of rendering" };
        var bos = new Option<string?>("--bos-token") { Description = "bos_token, unless the context sets it" };
        var eos = new Option<string?>("--eos-token") { Description = "eos_token, unless the context sets it" };
        var now = new Option<DateTime?>("--now") { Description = "The time strftime_now formats (default: now), e.g. 2026-01-15T09:30" };
        var command = new Command("template", "Render a chat template with a JSON context") { template, context, bos, eos, now, toolFormat };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            string source = File.ReadAllText(result.GetValue(template)!.FullName);
            if (result.GetValue(toolFormat))
            {
                Console.Out.WriteLine(ToolCallFormat.Detect(source).Name);
                return CliErrors.Ok;
            }
            if (result.GetValue(context) is not { } contextFile) throw new UsageException("--context is required (unless --tool-format).");
            string json = File.ReadAllText(contextFile.FullName);
            TemplateContext variables;
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(json);
                var root = document.RootElement;
                if (root.ValueKind != System.Text.Json.JsonValueKind.Object) throw new UsageException("--context must hold a JSON object.");
                variables = TemplateContext.FromJson(root);
                if (result.GetValue(bos) is { } bosToken && !root.TryGetProperty("bos_token", out _)) variables.Set("bos_token", bosToken);
                if (result.GetValue(eos) is { } eosToken && !root.TryGetProperty("eos_token", out _)) variables.Set("eos_token", eosToken);
                variables.Now = result.GetValue(now);
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new UsageException($"--context is not valid JSON: {e.Message}");
            }
            try
            {
                string rendered = new ChatTemplate(source).Render(variables);
                using var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false));
                stdout.Write(rendered);
                return CliErrors.Ok;
            }
            catch (TemplateException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return CliErrors.Failure;
            }
        }));
        return command;
    }
}
