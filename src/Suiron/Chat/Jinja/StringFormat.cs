using System.Globalization;
using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>Python's <c>str.format</c> and its format-spec mini-language, for the common cases templates use.</summary>
internal static class StringFormat
{
    public static string Format(string format, Arguments arguments)
    {
        var sb = new StringBuilder();
        int autoIndex = 0;
        bool manual = false, automatic = false;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; }
                throw new TemplateException("ValueError", "Single '}' encountered in format string");
            }
            if (c != '{')
            {
                sb.Append(c);
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            int depth = 1, j = i + 1;
            while (j < format.Length && depth > 0)
            {
                if (format[j] == '{') depth++;
                else if (format[j] == '}') depth--;
                if (depth > 0) j++;
            }
            if (j >= format.Length) throw new TemplateException("ValueError", "expected '}' before end of string");
            string field = format[(i + 1)..j];
            i = j;

            int specStart = IndexOfOutsideBrackets(field, ':');
            int conversionStart = IndexOfOutsideBrackets(specStart >= 0 ? field[..specStart] : field, '!');
            string spec = specStart >= 0 ? field[(specStart + 1)..] : "";
            string name = conversionStart >= 0 ? field[..conversionStart] : specStart >= 0 ? field[..specStart] : field;
            char conversion = conversionStart >= 0 && conversionStart + 1 < field.Length ? field[conversionStart + 1] : '\0';
            if (spec.Contains('{')) spec = Format(spec, arguments);

            int end = 0;
            while (end < name.Length && name[end] != '.' && name[end] != '[') end++;
            string head = name[..end];
            object? value;
            if (head.Length == 0)
            {
                if (manual) throw new TemplateException("ValueError", "cannot switch from manual field specification to automatic field numbering");
                automatic = true;
                value = Positional(arguments, autoIndex++);
            }
            else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                // string.Formatter (which the sandbox formats through) uses this one message both ways.
                if (automatic) throw new TemplateException("ValueError", "cannot switch from manual field specification to automatic field numbering");
                manual = true;
                value = Positional(arguments, index);
            }
            else
            {
                value = arguments.Keyword(head);
                if (value is Missing) throw new TemplateException("KeyError", PythonText.Repr(head));
            }
            value = Access(value, name[end..]);
            value = conversion switch
            {
                'r' or 'a' => PythonText.Repr(value),
                's' => PythonText.Str(value),
                '\0' => value,
                _ => throw new TemplateException("ValueError", $"Unknown conversion specifier {conversion}"),
            };
            sb.Append(FormatValue(value, spec));
            PythonOperators.CheckStringLength(sb.Length);
        }
        return sb.ToString();
    }

    private static int IndexOfOutsideBrackets(string s, char target)
    {
        int depth = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '[') depth++;
            else if (s[i] == ']') depth--;
            else if (s[i] == target && depth == 0) return i;
        }
        return -1;
    }

    private static object? Positional(Arguments arguments, int index) =>
        index < arguments.Positional.Count
            ? arguments.Positional[index]
            : throw new TemplateException("IndexError", $"Replacement index {index} out of range for positional args tuple");

    /// <summary>Follows <c>.attr</c> and <c>[key]</c> after a field name (the sandbox's getattr / getitem rules apply).</summary>
    private static object? Access(object? value, string path)
    {
        int i = 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                int end = i + 1;
                while (end < path.Length && path[end] != '.' && path[end] != '[') end++;
                string attribute = path[(i + 1)..end];
                value = value is PyDict dict && dict.TryLookup(attribute, out object? item) ? item
                    : value is Namespace ns && ns.Attributes.TryGetValue(attribute, out object? nsItem) ? nsItem
                    : throw new TemplateException("AttributeError", $"'{PythonText.TypeName(value)}' object has no attribute {PythonText.Repr(attribute)}");
                i = end;
            }
            else if (path[i] == '[')
            {
                int end = path.IndexOf(']', i);
                if (end < 0) throw new TemplateException("ValueError", "Missing ']' in format string");
                string keyText = path[(i + 1)..end];
                object key = int.TryParse(keyText, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? (long)n : keyText;
                value = value switch
                {
                    PyDict dict when dict.TryLookup(key, out object? item) => item,
                    List<object?> list when key is long index && index < list.Count => list[(int)index],
                    PyTuple tuple when key is long index && index < tuple.Count => tuple.Items[(int)index],
                    _ => throw new TemplateException("KeyError", PythonText.Repr(key)),
                };
                i = end + 1;
            }
            else throw new TemplateException("ValueError", "Only '.' or '[' may follow ']' in format field specifier");
        }
        return value;
    }

    /// <summary>Python's <c>format(value, spec)</c>: [[fill]align][sign][#][0][width][,|_][.precision][type].</summary>
    public static string FormatValue(object? value, string spec)
    {
        if (spec.Length == 0) return PythonText.Str(value);
        int i = 0;
        char fill = ' ', align = '\0';
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=') { fill = spec[0]; align = spec[1]; i = 2; }
        else if (spec[0] is '<' or '>' or '^' or '=') { align = spec[0]; i = 1; }
        char sign = '-';
        if (i < spec.Length && spec[i] is '+' or '-' or ' ') sign = spec[i++];
        bool alternate = false;
        if (i < spec.Length && spec[i] == '#') { alternate = true; i++; }
        if (i < spec.Length && spec[i] == '0' && align == '\0') { fill = '0'; align = '='; i++; }
        int width = 0;
        while (i < spec.Length && char.IsAsciiDigit(spec[i])) width = Math.Min(width * 10 + (spec[i++] - '0'), 100_000);
        char grouping = '\0';
        if (i < spec.Length && spec[i] is ',' or '_') grouping = spec[i++];
        int precision = -1;
        if (i < spec.Length && spec[i] == '.')
        {
            i++;
            precision = 0;
            while (i < spec.Length && char.IsAsciiDigit(spec[i])) precision = Math.Min(precision * 10 + (spec[i++] - '0'), 1000);
        }
        char type = i < spec.Length ? spec[i++] : '\0';
        if (i < spec.Length) throw new TemplateException("ValueError", "Invalid format specifier");

        string body;
        bool numeric = false;
        switch (value)
        {
            case string s:
                if (type is not ('\0' or 's')) throw new TemplateException("ValueError", $"Unknown format code '{type}' for object of type 'str'");
                body = precision >= 0 && precision < s.Length ? s[..precision] : s;
                break;
            case bool or long when type is '\0' or 'd' or 'n' or 'b' or 'o' or 'x' or 'X' or 'c':
                {
                    long n = value is bool b ? (b ? 1 : 0) : (long)value;
                    string digits = type switch
                    {
                        'b' => Convert.ToString(Math.Abs(n), 2),
                        'o' => Convert.ToString(Math.Abs(n), 8),
                        'x' => Math.Abs(n).ToString("x", CultureInfo.InvariantCulture),
                        'X' => Math.Abs(n).ToString("X", CultureInfo.InvariantCulture),
                        'c' => char.ConvertFromUtf32((int)n),
                        _ => Math.Abs(n).ToString(CultureInfo.InvariantCulture),
                    };
                    if (grouping != '\0' && type is '\0' or 'd' or 'n') digits = Group(digits, grouping);
                    if (alternate) digits = type switch { 'b' => "0b", 'o' => "0o", 'x' => "0x", 'X' => "0X", _ => "" } + digits;
                    body = (n < 0 ? "-" : sign == '+' ? "+" : sign == ' ' ? " " : "") + digits;
                    numeric = true;
                    break;
                }
            case bool or long or double:
                {
                    double d = value switch { bool b => b ? 1 : 0, long l => l, _ => (double)value };
                    body = FormatFloat(d, type, precision, grouping);
                    if (!body.StartsWith('-') && sign != '-') body = (sign == '+' ? "+" : " ") + body;
                    numeric = true;
                    break;
                }
            default:
                throw new TemplateException("TypeError", $"unsupported format string passed to {PythonText.TypeName(value)}.__format__");
        }
        if (body.Length >= width) return body;
        if (align == '\0') align = numeric ? '>' : '<';
        int padding = width - body.Length;
        return align switch
        {
            '<' => body + new string(fill, padding),
            '>' => new string(fill, padding) + body,
            '^' => new string(fill, padding / 2) + body + new string(fill, padding - padding / 2),
            _ => body.Length > 0 && body[0] is '-' or '+' or ' ' ? body[0] + new string(fill, padding) + body[1..] : new string(fill, padding) + body,
        };
    }

    private static string Group(string digits, char separator)
    {
        int dot = digits.IndexOf('.');
        string integer = dot >= 0 ? digits[..dot] : digits, rest = dot >= 0 ? digits[dot..] : "";
        var sb = new StringBuilder();
        for (int k = 0; k < integer.Length; k++)
        {
            if (k > 0 && (integer.Length - k) % 3 == 0) sb.Append(separator);
            sb.Append(integer[k]);
        }
        return sb + rest;
    }

    private static string FormatFloat(double d, char type, int precision, char grouping)
    {
        if (double.IsNaN(d)) return type is 'F' or 'E' or 'G' ? "NAN" : "nan";
        if (double.IsInfinity(d)) return (d < 0 ? "-" : "") + (type is 'F' or 'E' or 'G' ? "INF" : "inf");
        string text;
        switch (type)
        {
            case 'f' or 'F':
                text = d.ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture);
                break;
            case 'e' or 'E':
                text = PythonExponent(d.ToString((type == 'e' ? "e" : "E") + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture));
                break;
            case '%':
                text = (d * 100).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture) + "%";
                break;
            case 'g' or 'G' or 'n':
                text = GeneralFormat(d, precision < 0 ? 6 : Math.Max(precision, 1), type == 'G');
                break;
            case '\0':
                text = precision < 0 ? PythonText.FloatRepr(d) : GeneralFormat(d, Math.Max(precision, 1), false, keepPoint: true);
                break;
            default:
                throw new TemplateException("ValueError", $"Unknown format code '{type}' for object of type 'float'");
        }
        return grouping != '\0' ? (text.StartsWith('-') ? "-" + Group(text[1..], grouping) : Group(text, grouping)) : text;
    }

    /// <summary>.NET writes e+006; Python writes e+06.</summary>
    private static string PythonExponent(string text)
    {
        int e = text.IndexOfAny(['e', 'E']);
        if (e < 0) return text;
        string exponent = text[(e + 2)..].TrimStart('0');
        if (exponent.Length < 2) exponent = exponent.PadLeft(2, '0');
        return text[..(e + 2)] + exponent;
    }

    private static string GeneralFormat(double d, int precision, bool upper, bool keepPoint = false)
    {
        if (d == 0) return keepPoint ? "0.0" : "0";
        int exponent = (int)Math.Floor(Math.Log10(Math.Abs(d)));
        string rounded = d.ToString("E" + (precision - 1), CultureInfo.InvariantCulture);
        exponent = int.Parse(rounded[(rounded.IndexOf('E') + 1)..], CultureInfo.InvariantCulture);
        string text;
        if (exponent >= -4 && exponent < precision)
        {
            text = d.ToString("F" + Math.Max(precision - 1 - exponent, 0), CultureInfo.InvariantCulture);
            if (text.Contains('.')) text = text.TrimEnd('0').TrimEnd('.');
            if (keepPoint && !text.Contains('.')) text += ".0";
        }
        else
        {
            string mantissa = rounded[..rounded.IndexOf('E')];
            if (mantissa.Contains('.')) mantissa = mantissa.TrimEnd('0').TrimEnd('.');
            text = mantissa + (upper ? "E" : "e") + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
        }
        return text;
    }
}
