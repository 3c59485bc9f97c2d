using System.Globalization;
using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>
/// Python's text forms of values: <c>str()</c> (what <c>{{ x }}</c> prints), <c>repr()</c> (what appears
/// inside a printed list or dict), float formatting, type names for error messages, and
/// <c>str.isspace()</c>.
/// </summary>
internal static class PythonText
{
    /// <summary>Every character Python's <c>str.isspace()</c> accepts.</summary>
    public static readonly char[] WhitespaceChars =
        [' ', '\t', '\n', '\v', '\f', '\r', '\x1c', '\x1d', '\x1e', '\x1f', '\x85', '\xa0', '\u1680',
         '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a',
         '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'];

    public static bool IsWhitespace(char c) => c switch
    {
        ' ' or '\t' or '\n' or '\v' or '\f' or '\r' => true,
        < '\x1c' => false,
        <= '\x1f' => true,
        < '\x85' => false,
        _ => Array.IndexOf(WhitespaceChars, c) >= 0,
    };

    public static string Str(object? value)
    {
        return value switch
        {
            string s => s,
            Markup m => m.Text,
            Undefined => "",
            _ => Repr(value),
        };
    }

    public static string Repr(object? value)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, value, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? value, int depth)
    {
        // A template cannot build cyclic values, but a deep one could still exhaust the stack.
        if (depth > 200) throw new TemplateException("RecursionError", "maximum recursion depth exceeded while getting the repr of an object");
        switch (value)
        {
            case null: sb.Append("None"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case Markup m: sb.Append("Markup("); AppendStringRepr(sb, m.Text); sb.Append(')'); break;
            case Undefined: sb.Append("Undefined"); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i], depth + 1);
                }
                sb.Append(']');
                break;
            case PyTuple { FieldNames: { } fields } named:
                sb.Append(named.TypeName).Append('(');
                for (int i = 0; i < named.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    sb.Append(fields[i]).Append('=');
                    AppendRepr(sb, named.Items[i], depth + 1);
                }
                sb.Append(')');
                break;
            case PyTuple tuple:
                sb.Append('(');
                for (int i = 0; i < tuple.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, tuple.Items[i], depth + 1);
                }
                if (tuple.Count == 1) sb.Append(',');
                sb.Append(')');
                break;
            case PyDict dict:
                AppendDictRepr(sb, dict, depth);
                break;
            case DictView view:
                sb.Append(view.TypeName).Append("([");
                bool first = true;
                foreach (object? item in view.Items())
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, item, depth + 1);
                }
                sb.Append("])");
                break;
            case PyRange range:
                sb.Append("range(").Append(range.Start).Append(", ").Append(range.Stop);
                if (range.Step != 1) sb.Append(", ").Append(range.Step);
                sb.Append(')');
                break;
            case Namespace ns:
                sb.Append("<Namespace ");
                AppendDictRepr(sb, ns.Attributes, depth);
                sb.Append('>');
                break;
            case Macro macro:
                sb.Append("<Macro ").Append(macro.IsCaller ? "caller" : Repr(macro.Name)).Append('>');
                break;
            case LoopContext loop:
                sb.Append("<LoopContext ").Append(loop.Index0 + 1).Append('/').Append(loop.Length).Append('>');
                break;
            case PyIterator iterator:
                sb.Append('<').Append(iterator.TypeName).Append(" object at 0x7f0000000000>");
                break;
            case BuiltinFunction function:
                sb.Append("<built-in function ").Append(function.Name).Append('>');
                break;
            default:
                sb.Append(value);
                break;
        }
    }

    private static void AppendDictRepr(StringBuilder sb, PyDict dict, int depth)
    {
        sb.Append('{');
        bool first = true;
        foreach (var pair in dict)
        {
            if (!first) sb.Append(", ");
            first = false;
            AppendRepr(sb, pair.Key, depth + 1);
            sb.Append(": ");
            AppendRepr(sb, pair.Value, depth + 1);
        }
        sb.Append('}');
    }

    /// <summary>Python's string repr: single quotes unless the text has ' and no ", non-printables escaped.</summary>
    public static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (Rune r in s.EnumerateRunes())
        {
            int c = r.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (IsPrintable(r)) sb.Append(r.ToString());
            else if (c < 0x100) sb.Append("\\x").Append(c.ToString("x2"));
            else if (c < 0x10000) sb.Append("\\u").Append(c.ToString("x4"));
            else sb.Append("\\U").Append(c.ToString("x8"));
        }
        sb.Append(quote);
    }

    /// <summary>Python's <c>str.isprintable()</c> for one character: not a control, format, separator (but space), surrogate or unassigned.</summary>
    private static bool IsPrintable(Rune r)
    {
        if (r.Value == ' ') return true;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, fixed notation for exponents -4..15, else 1e+16 style.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative) r = r[1..];
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int pointPosition = (dot >= 0 ? dot : r.Length) + exponent;
        int leadingZeros = 0;
        while (leadingZeros < digits.Length && digits[leadingZeros] == '0') leadingZeros++;
        digits = digits[leadingZeros..];
        pointPosition -= leadingZeros;
        digits = digits.TrimEnd('0');
        string sign = negative ? "-" : "";
        if (digits.Length == 0) return sign + "0.0";

        if (pointPosition < -3 || pointPosition > 16)
        {
            string mantissa = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
            int exp = pointPosition - 1;
            return $"{sign}{mantissa}e{(exp < 0 ? '-' : '+')}{Math.Abs(exp):00}";
        }
        if (pointPosition <= 0) return sign + "0." + new string('0', -pointPosition) + digits;
        if (pointPosition >= digits.Length) return sign + digits + new string('0', pointPosition - digits.Length) + ".0";
        return sign + digits[..pointPosition] + "." + digits[pointPosition..];
    }

    /// <summary>Python's <c>type(x).__name__</c>.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        Markup => "Markup",
        List<object?> => "list",
        PyDict => "dict",
        PyTuple => "tuple",
        PyRange => "range",
        Undefined => "Undefined",
        Namespace => "Namespace",
        Macro => "Macro",
        LoopContext => "LoopContext",
        PyIterator it => it.TypeName,
        DictView view => view.TypeName,
        BuiltinFunction f => f.TypeName,
        _ => value.GetType().Name,
    };

    /// <summary>Jinja's <c>object_type_repr</c>, used in "'dict object' has no attribute 'x'".</summary>
    public static string ObjectTypeRepr(object? value) => value switch
    {
        null => "None",
        Markup => "markupsafe.Markup object",
        Namespace => "jinja2.utils.Namespace object",
        Macro => "jinja2.runtime.Macro object",
        LoopContext => "jinja2.runtime.LoopContext object",
        Undefined => "jinja2.runtime.Undefined object",
        _ => TypeName(value) + " object",
    };
}
