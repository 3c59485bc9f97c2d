using System.CommandLine;
using Suiron.Cli;
using Suiron.Cli.Chat;
using Suiron.Cli.Pull;

// A plain command named "suiron" rather than RootCommand, whose name comes from the executable's file (Suiron.Cli.dll
// under `dotnet`, the tool's shim): the help says "Usage: suiron" however it was started.
var root = new Command("suiron", "Suiron: run DeepSeek, Qwen, GLM and Llama GGUF models locally, in pure C#.")
{
    new System.CommandLine.Help.HelpOption(),
    new VersionOption(),
    RunCommand.Create(),
    InfoCommand.Create(),
    TokenizeCommand.Create(),
    QuantizeCommand.Create(),
    ImatrixCommand.Create(),
    PerplexityCommand.Create(),
    BenchCommand.Create(),
    ServeCommand.Create(),
    TemplateCommand.Create(),
    ChatCommand.Create(),
    PullCommand.Create(),
    ClusterCommand.Create(),
};
return CliErrors.Invoke(root, args);
