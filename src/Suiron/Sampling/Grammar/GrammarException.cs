namespace Suiron.Sampling.Grammar;

/// <summary>
/// A grammar that cannot be used: a GBNF syntax error, an undefined or left-recursive rule, a missing root, or a
/// grammar too large or too ambiguous to run. <see cref="Line"/> and <see cref="Column"/> (1-based) point into the
/// GBNF text when the problem has a place there; they are 0 otherwise.
/// </summary>
public sealed class GrammarException : Exception
{
    /// <summary>An error in a grammar at <paramref name="line"/>, <paramref name="column"/>.</summary>
    public GrammarException(string message, int line = 0, int column = 0)
        : base(line > 0 ? $"{message} (line {line}, column {column})" : message)
    {
        Line = line;
        Column = column;
    }

    /// <summary>Line of the error (1-based).</summary>
    public int Line { get; }
    /// <summary>Column of the error (1-based).</summary>
    public int Column { get; }

    /// <summary>Where in a JSON schema the problem is (<c>properties.age.minimum</c>), when it comes from one; null otherwise.</summary>
    public string? SchemaPath { get; init; }
}
