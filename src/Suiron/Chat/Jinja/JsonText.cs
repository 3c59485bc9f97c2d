using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Suiron.Chat.Jinja;

/// <summary>
/// JSON in and out of template values. Out: Python's <c>json.dumps</c> exactly as Hugging Face's
/// <c>tojson</c> calls it (", " and ": " separators, or "," with indent; non-ASCII kept unless
/// ensure_ascii; key order kept). In: System.Text.Json documents to values with object key order kept
/// and numbers typed as Python's json module types them (int unless there is a fraction or exponent).
/// </summary>
internal static class JsonText
{
    private const int MaxDepth = 256;

    public static string Dumps(object? value, bool ensureAscii, object? indent, object? separators, bool sortKeys)
    {
        string? indentText = indent switch
        {
            null => null,
            string s => s,
            long n => new string(' ', (int)Math.Clamp(n, 0, 1024)),
            bool b => new string(' ', b ? 1 : 0),
            _ => throw new TemplateException("TypeError", $"indent must be an int or a string, not {PythonText.TypeName(indent)}"),
        };
        string itemSeparator = indentText is null ? ", " : ",";
        string keySeparator = ": ";
        if (separators is not null)
        {
            var parts = PythonOperators.ToList(separators);
            if (parts.Count != 2 || parts[0] is not string first || parts[1] is not string second)
                throw new TemplateException("ValueError", "separators must be a (item_separator, key_separator) pair of strings");
            (itemSeparator, keySeparator) = (first, second);
        }
        var writer = new Writer(ensureAscii, indentText, itemSeparator, keySeparator, sortKeys);
        writer.Write(value, 0);
        return writer.ToString();
    }

    private sealed class Writer(bool ensureAscii, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        private readonly StringBuilder _sb = new();

        public override string ToString() => _sb.ToString();

        public void Write(object? value, int level)
        {
            if (level > MaxDepth) throw new TemplateException("RecursionError", "maximum recursion depth exceeded while encoding a JSON object");
            PythonOperators.CheckStringLength(_sb.Length);
            switch (value)
            {
                case null: _sb.Append("null"); break;
                case bool b: _sb.Append(b ? "true" : "false"); break;
                case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d: _sb.Append(FloatText(d)); break;
                case string s: WriteString(s); break;
                case Markup m: WriteString(m.Text); break;
                case List<object?> list: WriteArray(list, level); break;
                case PyTuple tuple: WriteArray(tuple.Items, level); break;
                case PyDict dict: WriteObject(dict, level); break;
                default:
                    throw new TemplateException("TypeError", $"Object of type {PythonText.TypeName(value)} is not JSON serializable");
            }
        }

        private static string FloatText(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PythonText.FloatRepr(d);

        private void NewLine(int level)
        {
            _sb.Append('\n');
            for (int i = 0; i < level; i++) _sb.Append(indent);
        }

        private void WriteArray(IReadOnlyList<object?> items, int level)
        {
            if (items.Count == 0)
            {
                _sb.Append("[]");
                return;
            }
            _sb.Append('[');
            if (indent is not null) NewLine(level + 1);
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0)
                {
                    _sb.Append(itemSeparator);
                    if (indent is not null) NewLine(level + 1);
                }
                Write(items[i], level + 1);
            }
            if (indent is not null) NewLine(level);
            _sb.Append(']');
        }

        private void WriteObject(PyDict dict, int level)
        {
            if (dict.Count == 0)
            {
                _sb.Append("{}");
                return;
            }
            IEnumerable<KeyValuePair<object, object?>> pairs = dict;
            if (sortKeys)
            {
                var list = dict.ToList();
                var order = Enumerable.Range(0, list.Count).ToList();
                order.Sort((x, y) =>
                {
                    int c = PythonOperators.Compare(list[x].Key, list[y].Key, "<");
                    return c != 0 && c != int.MinValue ? c : x.CompareTo(y);
                });
                pairs = order.Select(i => list[i]);
            }
            _sb.Append('{');
            if (indent is not null) NewLine(level + 1);
            bool first = true;
            foreach (var pair in pairs)
            {
                if (!first)
                {
                    _sb.Append(itemSeparator);
                    if (indent is not null) NewLine(level + 1);
                }
                first = false;
                WriteString(KeyText(pair.Key));
                _sb.Append(keySeparator);
                Write(pair.Value, level + 1);
            }
            if (indent is not null) NewLine(level);
            _sb.Append('}');
        }

        private static string KeyText(object key) => key switch
        {
            string s => s,
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => FloatText(d),
            _ => throw new TemplateException("TypeError", $"keys must be str, int, float, bool or None, not {PythonText.TypeName(key)}"),
        };

        private void WriteString(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': _sb.Append("\\\""); break;
                    case '\\': _sb.Append("\\\\"); break;
                    case '\n': _sb.Append("\\n"); break;
                    case '\r': _sb.Append("\\r"); break;
                    case '\t': _sb.Append("\\t"); break;
                    case '\b': _sb.Append("\\b"); break;
                    case '\f': _sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) _sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else _sb.Append(c);
                        break;
                }
            }
            _sb.Append('"');
        }
    }

    // ---- System.Text.Json → template values ----

    public static object? FromElement(JsonElement element, int depth = 0)
    {
        if (depth > MaxDepth) throw new ArgumentException($"JSON nested deeper than {MaxDepth} levels");
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                {
                    var dict = new PyDict();
                    foreach (JsonProperty property in element.EnumerateObject()) dict[property.Name] = FromElement(property.Value, depth + 1);
                    return dict;
                }
            case JsonValueKind.Array:
                {
                    var list = new List<object?>(element.GetArrayLength());
                    foreach (JsonElement item in element.EnumerateArray()) list.Add(FromElement(item, depth + 1));
                    return list;
                }
            case JsonValueKind.String: return element.GetString();
            case JsonValueKind.Number: return NumberFromText(element.GetRawText());
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            default: return null;
        }
    }

    public static object? FromNode(JsonNode? node, int depth = 0)
    {
        if (depth > MaxDepth) throw new ArgumentException($"JSON nested deeper than {MaxDepth} levels");
        switch (node)
        {
            case null: return null;
            case JsonObject obj:
                {
                    var dict = new PyDict();
                    foreach (var pair in obj) dict[pair.Key] = FromNode(pair.Value, depth + 1);
                    return dict;
                }
            case JsonArray array:
                return array.Select(item => FromNode(item, depth + 1)).ToList();
            case JsonValue value:
                if (value.TryGetValue(out JsonElement element)) return FromElement(element, depth);
                if (value.TryGetValue(out string? s)) return s;
                if (value.TryGetValue(out bool b)) return b;
                if (value.TryGetValue(out long l)) return l;
                if (value.TryGetValue(out double d)) return d;
                return FromElement(JsonElement.Parse(value.ToJsonString()), depth);
            default:
                return null;
        }
    }

    private static object NumberFromText(string text)
    {
        if (text.IndexOfAny(['.', 'e', 'E']) < 0 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
