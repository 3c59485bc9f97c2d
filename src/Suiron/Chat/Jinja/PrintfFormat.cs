using System.Globalization;
using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>Python's printf-style <c>"%s: %d" % (a, b)</c> (also the <c>format</c> filter).</summary>
internal static class PrintfFormat
{
    public static string Format(string format, object? arguments, bool escapeArguments = false)
    {
        List<object?> positional = arguments is PyTuple tuple ? [.. tuple.Items] : [arguments];
        PyDict? mapping = arguments as PyDict;
        int next = 0;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            if (++i >= format.Length) throw new TemplateException("ValueError", "incomplete format");
            object? value = Missing.Value;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0) throw new TemplateException("ValueError", "incomplete format key");
                string key = format[(i + 1)..close];
                if (mapping is null) throw new TemplateException("TypeError", "format requires a mapping");
                if (!mapping.TryLookup(key, out value)) throw new TemplateException("KeyError", PythonText.Repr(key));
                i = close + 1;
            }
            string flags = "";
            while (i < format.Length && format[i] is '-' or '+' or ' ' or '#' or '0') flags += format[i++];
            int width = 0;
            if (i < format.Length && format[i] == '*') { width = (int)(Take(positional, ref next) as long? ?? 0); i++; }
            else while (i < format.Length && char.IsAsciiDigit(format[i])) width = Math.Min(width * 10 + (format[i++] - '0'), 100_000);
            int precision = -1;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = 0;
                if (i < format.Length && format[i] == '*') { precision = (int)(Take(positional, ref next) as long? ?? 0); i++; }
                else while (i < format.Length && char.IsAsciiDigit(format[i])) precision = Math.Min(precision * 10 + (format[i++] - '0'), 1000);
            }
            while (i < format.Length && format[i] is 'h' or 'l' or 'L') i++;
            if (i >= format.Length) throw new TemplateException("ValueError", "incomplete format");
            char type = format[i];
            if (type == '%')
            {
                sb.Append('%');
                continue;
            }
            if (value is Missing) value = Take(positional, ref next);
            if (value is Undefined u && type is not ('s' or 'r' or 'a')) throw u.Error();

            string body;
            bool numeric = true;
            switch (type)
            {
                case 's': body = PythonText.Str(value); numeric = false; break;
                case 'r' or 'a': body = PythonText.Repr(value); numeric = false; break;
                case 'd' or 'i' or 'u':
                    {
                        long n = value switch
                        {
                            long l => l,
                            bool b => b ? 1 : 0,
                            double d => (long)Math.Truncate(d),
                            _ => throw new TemplateException("TypeError", $"%{type} format: a real number is required, not {PythonText.TypeName(value)}"),
                        };
                        body = n.ToString(CultureInfo.InvariantCulture);
                        break;
                    }
                case 'x' or 'X' or 'o':
                    {
                        if (value is not (long or bool)) throw new TemplateException("TypeError", $"%{type} format: an integer is required, not {PythonText.TypeName(value)}");
                        long n = value is bool b ? (b ? 1 : 0) : (long)value;
                        string digits = type == 'o' ? Convert.ToString(Math.Abs(n), 8) : Math.Abs(n).ToString(type == 'x' ? "x" : "X", CultureInfo.InvariantCulture);
                        if (flags.Contains('#')) digits = (type == 'o' ? "0o" : type == 'x' ? "0x" : "0X") + digits;
                        body = (n < 0 ? "-" : "") + digits;
                        break;
                    }
                case 'f' or 'F' or 'e' or 'E' or 'g' or 'G':
                    {
                        double d = value switch
                        {
                            long l => l,
                            bool b => b ? 1 : 0,
                            double x => x,
                            _ => throw new TemplateException("TypeError", $"must be real number, not {PythonText.TypeName(value)}"),
                        };
                        body = StringFormat.FormatValue(d, "." + (precision < 0 ? 6 : precision) + type);
                        precision = -1;
                        break;
                    }
                case 'c':
                    body = value is long cp ? char.ConvertFromUtf32((int)cp) : value is string { Length: 1 } ch ? ch : throw new TemplateException("TypeError", "%c requires an int or a unicode character");
                    numeric = false;
                    break;
                default:
                    throw new TemplateException("ValueError", $"unsupported format character {PythonText.Repr(type.ToString())} (0x{(int)type:x}) at index {i}");
            }
            if (!numeric && precision >= 0 && precision < body.Length) body = body[..precision];
            if (!numeric && escapeArguments && value is not Markup) body = Filters.HtmlEscape(body);
            if (numeric && !body.StartsWith('-'))
            {
                if (flags.Contains('+')) body = "+" + body;
                else if (flags.Contains(' ')) body = " " + body;
            }
            if (body.Length < width)
            {
                if (flags.Contains('-')) body = body.PadRight(width);
                else if (numeric && flags.Contains('0'))
                {
                    int signLength = body.Length > 0 && body[0] is '-' or '+' or ' ' ? 1 : 0;
                    body = body[..signLength] + new string('0', width - body.Length) + body[signLength..];
                }
                else body = body.PadLeft(width);
            }
            sb.Append(body);
            PythonOperators.CheckStringLength(sb.Length);
        }
        if (mapping is null && next < positional.Count)
            throw new TemplateException("TypeError", "not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static object? Take(List<object?> positional, ref int next) =>
        next < positional.Count ? positional[next++] : throw new TemplateException("TypeError", "not enough arguments for format string");
}
