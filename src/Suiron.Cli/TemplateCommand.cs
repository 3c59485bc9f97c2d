using System.CommandLine;
using Suiron.Chat;

namespace Suiron.Cli;

/// <summary><c>suiron template</c>: render a chat template with a JSON context (messages, add_generation_prompt, bos_token …) and print it.</summary>
internal static class TemplateCommand
{
    public static Command Create()
    {
        var template = new Option<FileInfo>("--template") { Description = "Jinja chat template file", Required = true };
        var context = new Option<FileInfo>("--context") { Description = "JSON file with the template variables (an object: messages, add_generation_prompt, bos_token …)", Required = true };
        var bos = new Option<string?>("--bos-token") { Description = "bos_token, unless the context sets it" };
        var eos = new Option<string?>("--eos-token") { Description = "eos_token, unless the context sets it" };
        var now = new Option<DateTime?>("--now") { Description = "The time strftime_now formats (default: now), e.g. 2026-01-15T09:30" };
        var command = new Command("template", "Render a chat template with a JSON context") { template, context, bos, eos, now };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            string source = File.ReadAllText(result.GetValue(template)!.FullName);
            string json = File.ReadAllText(result.GetValue(context)!.FullName);
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
