namespace Suiron.Chat;

/// <summary>
/// A chat template failed to parse or to render. <see cref="Kind"/> is the Python exception class
/// Jinja2 would have raised (<c>TemplateError</c> for the template's own <c>raise_exception</c>,
/// <c>UndefinedError</c>, <c>TypeError</c>, <c>SecurityError</c>, <c>TemplateSyntaxError</c> …) and
/// <see cref="Reason"/> its message, so that callers can relay a template's own refusal
/// ("System role not supported") as is.
/// </summary>
public sealed class TemplateException : Exception
{
    internal TemplateException(string kind, string reason, int? line = null)
        : base(Format(kind, reason, line))
    {
        Kind = kind;
        Reason = reason;
        Line = line;
    }

    /// <summary>The Python exception class name, e.g. "TemplateError" or "UndefinedError".</summary>
    public string Kind { get; }

    /// <summary>The message alone, without kind or line.</summary>
    public string Reason { get; }

    /// <summary>The template line being executed (or parsed) when the error happened, if known.</summary>
    public int? Line { get; }

    internal TemplateException AtLine(int line) => new(Kind, Reason, line);

    private static string Format(string kind, string reason, int? line)
    {
        // The template's own raise_exception message is meant for the user: keep it verbatim.
        if (kind == "TemplateError") return reason;
        return line is null ? $"{kind}: {reason}" : $"{kind}: {reason} (template line {line})";
    }
}
