using System.CommandLine;
using System.Text;
using Suiron.Chat;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

namespace Suiron.Cli.Chat;

/// <summary>
/// <c>suiron chat</c>: an interactive conversation in the terminal. Reads one message per line from stdin (so it can
/// be piped), streams each answer to stdout, and keeps the conversation. <c>/reset</c> starts over, <c>/exit</c> or
/// Ctrl+D quits, Ctrl+C stops the answer being written. A model's reasoning is shown dimmed on a terminal and goes
/// to stderr when stdout is not a terminal, so that piped stdout holds only the answers.
/// </summary>
internal static class ChatCommand
{
    private const string Dim = "\u001b[2m", Reset = "\u001b[0m";

    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model file", Required = true };
        var system = new Option<string?>("--system") { Description = "System prompt" };
        var temperature = new Option<float>("--temp") { Description = "Temperature (0 = greedy)", DefaultValueFactory = _ => 0.8f };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var contextSize = new Option<int>("--ctx-size", "-c") { Description = $"Context size in tokens (0 = the model's, up to {ModelOptions.DefaultContextCap})", DefaultValueFactory = _ => 0 };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Random seed (default: random)" };
        var count = new Option<int>("--n-predict", "-n") { Description = "Tokens per answer at most", DefaultValueFactory = _ => 1024 };
        var cacheTypes = new CacheTypeOptions();
        var spec = new Option<string>("--spec") { Description = "Speculative decoding (the answers are unchanged): ngram (drafts looked up in the conversation) or mtp (the model's own multi-token-prediction block)" };

        var command = new Command("chat", "Chat with a model in the terminal (one message per line; /reset, /exit, Ctrl+D to quit, Ctrl+C stops an answer)")
        {
            model, system, temperature, threads, contextSize, seed, count, cacheTypes.Key, cacheTypes.Value, spec,
        };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            int threadCount = result.GetValue(threads);
            int ctx = result.GetValue(contextSize);
            int n = result.GetValue(count);
            if (threadCount < 1 || threadCount > 1024) throw new UsageException($"--threads must be between 1 and 1024 (got {threadCount}).");
            if (ctx < 0) throw new UsageException($"--ctx-size must be ≥ 0 (got {ctx}).");
            if (n < 1) throw new UsageException($"--n-predict must be ≥ 1 (got {n}).");
            if (!(result.GetValue(temperature) >= 0)) throw new UsageException($"--temp must be ≥ 0, 0 for greedy (got {result.GetValue(temperature)}).");
            var sampling = new SamplingOptions { Temperature = result.GetValue(temperature), Seed = result.GetValue(seed) ?? (ulong)Random.Shared.NextInt64() };
            sampling.Validate();
            SpeculationOptions? speculation = result.GetValue(spec) switch
            {
                null => null,
                "ngram" => new SpeculationOptions(),
                "mtp" => new SpeculationOptions { MultiTokenPrediction = true },
                var other => throw new UsageException($"--spec '{other}' is not supported by chat (ngram, mtp)."),
            };

            using var file = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(file);
            using var lm = ModelLoader.Load(file, new ModelOptions
            {
                Threads = threadCount, ContextSize = ctx, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result),
            });
            if (speculation is { MultiTokenPrediction: true } && lm is not IMultiTokenPredictor { HasPredictionHead: true })
                throw new UsageException($"--spec mtp: {file.Path} ({lm.Info.Architecture}) has no multi-token-prediction block that Suiron runs (qwen35, qwen35moe and glm-dsa files with nextn_predict_layers).");
            var prompt = ChatPrompt.FromGguf(file, tokenizer);
            if (prompt.IsFallback)
                Console.Error.WriteLine("warning: the model has no chat template; using ChatML, which it may not have been trained on.");
            int capacity = ctx > 0 ? ctx : Math.Min(lm.Info.ContextLength, ModelOptions.DefaultContextCap);
            var session = new ChatSession(lm, tokenizer, prompt, capacity, result.GetValue(system)) { Sampling = sampling, MaxTokens = n, Speculation = speculation };
            return Run(session, file.GetStringOrNull("general.name") ?? result.GetValue(model)!.Name);
        }));
        return command;
    }

    private static int Run(ChatSession session, string modelName)
    {
        bool interactive = !Console.IsInputRedirected;
        bool color = !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
        using var stdin = interactive ? null : new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        if (interactive)
            Console.Error.WriteLine($"Chatting with {modelName} ({session.ContextSize} tokens of context). /reset starts over, /exit or Ctrl+D quits, Ctrl+C stops an answer.");

        // Ctrl+C while an answer is written stops that answer; at the prompt the line editor reads it as a key and quits.
        CancellationTokenSource? answering = null;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            var current = answering;
            if (current is null) return;
            e.Cancel = true;
            current.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        // The line being typed is drawn where the user looks: stdout, or stderr when stdout goes to a file.
        var editor = interactive ? new LineEditor(() => Console.ReadKey(intercept: true), Console.IsOutputRedirected ? Console.Error : stdout, TerminalWidth) : null;
        try
        {
            while (true)
            {
                string? line = editor is null ? ReadMessage(stdin!) : ReadMessage(editor);
                if (line is null) return CliErrors.Ok;
                string text = line.Trim();
                if (text.Length == 0) continue;
                if (text is "/exit" or "/quit" or "/bye") return CliErrors.Ok;
                if (text == "/reset")
                {
                    session.Reset();
                    Console.Error.WriteLine("(conversation cleared)");
                    continue;
                }
                if (text.StartsWith('/') && !text.StartsWith("//", StringComparison.Ordinal) && !text.Contains(' '))
                {
                    Console.Error.WriteLine($"unknown command {text}; commands: /reset, /exit (start a message with // to send a leading /).");
                    continue;
                }
                if (text.StartsWith("//", StringComparison.Ordinal)) line = line.TrimStart()[1..];

                using var cancel = new CancellationTokenSource();
                answering = cancel;
                bool inReasoning = false;
                try
                {
                    var turn = session.Send(line,
                        onReasoning: piece =>
                        {
                            if (!color) { Console.Error.Write(piece); inReasoning = true; return; }
                            if (!inReasoning) { stdout.Write(Dim); inReasoning = true; }
                            stdout.Write(piece);
                        },
                        onContent: piece =>
                        {
                            if (inReasoning)
                            {
                                if (color) stdout.Write(Reset + "\n\n");
                                else Console.Error.WriteLine();
                                inReasoning = false;
                            }
                            stdout.Write(piece);
                        },
                        cancellation: cancel.Token);
                    if (inReasoning && color) stdout.Write(Reset);
                    stdout.WriteLine();
                    Report(turn, color);
                }
                catch (ChatContextFullException e)
                {
                    Console.Error.WriteLine($"error: {e.Message}");
                }
                finally
                {
                    answering = null;
                }
                if (interactive) stdout.WriteLine();
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>One message: a line, or several joined where a line ends with a backslash. Null at the end of input.</summary>
    private static string? ReadMessage(StreamReader stdin)
    {
        var message = new StringBuilder();
        while (true)
        {
            string? line = stdin.ReadLine();
            if (line is null) return message.Length > 0 ? message.ToString() : null;
            if (line.EndsWith('\\'))
            {
                message.Append(line, 0, line.Length - 1).Append('\n');
                continue;
            }
            return message.Append(line).ToString();
        }
    }

    /// <summary>
    /// One message typed at the terminal: "> " starts it, "... " continues it after a line ending in a backslash. Null
    /// for Ctrl+D on an empty line or Ctrl+C (which quit the chat cleanly, exit code 0).
    /// </summary>
    private static string? ReadMessage(LineEditor editor)
    {
        var message = new StringBuilder();
        bool treatControlC = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true;
        try
        {
            while (true)
            {
                var (end, line) = editor.ReadLine(message.Length == 0 ? "> " : "... ");
                if (end != LineEnd.Submitted) return null;
                if (line.EndsWith('\\'))
                {
                    message.Append(line, 0, line.Length - 1).Append('\n');
                    continue;
                }
                return message.Append(line).ToString();
            }
        }
        finally
        {
            Console.TreatControlCAsInput = treatControlC;
        }
    }

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 80; }
        catch (IOException) { return 80; }
    }

    private static void Report(ChatTurn turn, bool color)
    {
        var stats = turn.Stats;
        string why = turn.Finish switch
        {
            FinishReason.Cancelled => "stopped; ",
            FinishReason.Length when turn.FilledContext => $"the context is full ({turn.PromptTokens + (stats?.GeneratedTokens ?? 0)} tokens); /reset to start over; ",
            FinishReason.Length => "cut at the --n-predict limit; ",
            _ => "",
        };
        string speed = stats is null ? "" : $"{stats.GeneratedTokens} tokens, {stats.TokensPerSecond:F1} tok/s; ";
        string text = $"[{why}{speed}prompt {turn.PromptTokens} tokens, {turn.ReusedTokens} from cache]";
        Console.Error.WriteLine(color ? Dim + text + Reset : text);
    }
}
