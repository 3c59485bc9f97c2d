using System.CommandLine;
using Suiron.Cli;
using Suiron.Cli.Chat;
using Suiron.Cli.Pull;

var root = new RootCommand("Suiron: run DeepSeek, Qwen, GLM and Llama GGUF models locally, in pure C#.")
{
    RunCommand.Create(),
    InfoCommand.Create(),
    TokenizeCommand.Create(),
    QuantizeCommand.Create(),
    PerplexityCommand.Create(),
    BenchCommand.Create(),
    ServeCommand.Create(),
    TemplateCommand.Create(),
    ChatCommand.Create(),
    PullCommand.Create(),
    ClusterCommand.Create(),
};
return CliErrors.Invoke(root, args);
