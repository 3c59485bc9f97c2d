using System.CommandLine;
using Suiron.Gguf;

namespace Suiron.Cli;

/// <summary>Exit codes and error reporting shared by every command: one clear line on stderr, never a stack trace for a user's mistake.</summary>
internal static class CliErrors
{
    public const int Ok = 0;
    /// <summary>The model file is missing, unreadable or malformed, or the run failed.</summary>
    public const int Failure = 1;
    /// <summary>The command line is wrong.</summary>
    public const int Usage = 2;

    public static int Invoke(RootCommand root, string[] args)
    {
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"error: {error.Message}");
            Console.Error.WriteLine("Run 'suiron --help' for usage.");
            return Usage;
        }
        return parsed.Invoke();
    }

    /// <summary>Runs a command body, turning expected failures into a message and an exit code.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (FileNotFoundException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Failure;
        }
        catch (GgufException e)
        {
            Console.Error.WriteLine($"error: invalid model file: {e.Message}");
            return Failure;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Usage;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Usage;
        }
        catch (NotSupportedException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Failure;
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"error: invalid model file: {e.Message}");
            return Failure;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Failure;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug, not the user's mistake: still one line and exit 1 (a stack trace frightens and helps nobody at a
            // prompt), with the trace on request for whoever reports it.
            Console.Error.WriteLine($"error: internal error ({e.GetType().Name}): {e.Message}");
            if (Environment.GetEnvironmentVariable("SUIRON_TRACE") is "1") Console.Error.WriteLine(e);
            else Console.Error.WriteLine("Set SUIRON_TRACE=1 to print the stack trace, and please report it.");
            return Failure;
        }
    }
}

/// <summary>A bad command-line value (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
