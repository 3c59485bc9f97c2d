using System.CommandLine;
using Suiron.Cli;

var root = new RootCommand("Suiron: run DeepSeek, Qwen, GLM and Llama GGUF models locally, in pure C#.")
{
    RunCommand.Create(),
    InfoCommand.Create(),
    TokenizeCommand.Create(),
    QuantizeCommand.Create(),
    BenchCommand.Create(),
    ServeCommand.Create(),
    TemplateCommand.Create(),
};
return CliErrors.Invoke(root, args);
