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

    /// <summary>The words of the command being run ("suiron run"), for the help hint after a usage error.</summary>
    private static string _commandPath = "suiron";

    /// <summary>Parses and runs <paramref name="args"/>; a parse error is reported once, pointing at the help of the command it concerns.</summary>
    public static int Invoke(Command root, string[] args)
    {
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            // An unknown command also makes "Required command was not provided" and the like: the first error is the one to fix.
            var errors = parsed.Errors.Select(e => Friendly(e.Message)).Distinct().ToList();
            if (errors.Any(e => e.StartsWith("Unrecognized command or argument", StringComparison.Ordinal)) && parsed.CommandResult.Command == root)
                errors = [errors.First(e => e.StartsWith("Unrecognized command or argument", StringComparison.Ordinal))];
            foreach (string error in errors) Console.Error.WriteLine($"error: {error}");
            Console.Error.WriteLine($"Run '{CommandPath(parsed.CommandResult)} --help' for usage.");
            return Usage;
        }
        _commandPath = CommandPath(parsed.CommandResult);
        return parsed.Invoke();
    }

    private static int UsageError(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        Console.Error.WriteLine($"Run '{_commandPath} --help' for usage.");
        return Usage;
    }

    /// <summary>"suiron run" for the run command's result: the words that reach it.</summary>
    private static string CommandPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is System.CommandLine.Parsing.CommandResult c) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    /// <summary>System.CommandLine's type-conversion message says "expected type 'System.Int32'"; users read "a whole number".</summary>
    internal static string Friendly(string message)
    {
        var match = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(.*)' for (option|command|argument) '(.*)' as expected type '(.+)'\.?$");
        if (!match.Success) return message;
        string type = match.Groups[4].Value;
        string expected = type switch
        {
            _ when type.Contains("System.UInt") => "a whole number ≥ 0",
            _ when type.Contains("System.Int") => "a whole number",
            _ when type.Contains("System.Single") || type.Contains("System.Double") => "a number such as 0.7",
            _ when type.Contains("System.Boolean") => "true or false",
            _ => "a valid " + type[(type.LastIndexOf('.') + 1)..].TrimEnd(']'),
        };
        return $"{match.Groups[3].Value}: '{match.Groups[1].Value}' is not {expected}.";
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
            return UsageError(e.Message);
        }
        catch (ArgumentException e)
        {
            return UsageError(e.Message);
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
