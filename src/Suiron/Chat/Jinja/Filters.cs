using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Suiron.Chat.Jinja;

/// <summary>
/// Jinja2's built-in filters as of 3.1, plus Hugging Face's <c>tojson</c> (plain <c>json.dumps</c>,
/// no HTML escaping). Filters that return generators in Jinja (map, select, unique …) return a
/// one-shot <see cref="PyIterator"/> so that printing or serialising them fails the same way.
/// </summary>
internal static partial class Filters
{
    private static readonly HashSet<string> Names =
    [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
        "forceescape", "format", "groupby", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
        "min", "pprint", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort",
        "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
    ];

    public static bool Exists(string name) => Names.Contains(name);

    public static object? Apply(Renderer renderer, string name, object? value, Arguments a)
    {
        switch (name)
        {
            case "length" or "count": return PythonOperators.Length(value);
            case "string": return value is string or Markup ? value : PythonText.Str(value);
            case "safe": return value as Markup ?? new Markup(PythonText.Str(value));
            case "trim": return PythonMethods.Strip(PythonText.Str(value), a.Get(0, "chars", null) as string, true, true);
            case "upper": return PythonText.Str(value).ToUpperInvariant();
            case "lower": return PythonText.Str(value).ToLowerInvariant();
            case "capitalize": return PythonMethods.Capitalize(PythonText.Str(value));
            case "title": return Title(PythonText.Str(value));
            case "default" or "d":
                {
                    object? fallback = a.Get(0, "default_value", "");
                    bool boolean = PythonOperators.IsTruthy(a.Get(1, "boolean", false));
                    return value is Undefined || (boolean && !PythonOperators.IsTruthy(value)) ? fallback : value;
                }
            case "join": return Join(renderer, value, a);
            case "first":
                foreach (object? item in PythonOperators.Iterate(value)) return item;
                return new Undefined("No first item, sequence was empty.");
            case "last": return Last(value);
            case "list": return PythonOperators.ToList(value);
            case "items":
                if (value is Undefined) return new PyIterator([], "generator");
                if (value is not PyDict itemsDict) throw new TemplateException("TypeError", "Can only get item pairs from a mapping.");
                return new PyIterator(new DictView(itemsDict, DictViewKind.Items).Items(), "dict_itemiterator");
            case "dictsort": return DictSort(value, a);
            case "tojson": return Tojson(value, a);
            case "map": return new PyIterator(Map(renderer, value, a), "generator");
            case "select": return new PyIterator(Select(renderer, value, a, lookupAttribute: false, keep: true), "generator");
            case "reject": return new PyIterator(Select(renderer, value, a, lookupAttribute: false, keep: false), "generator");
            case "selectattr": return new PyIterator(Select(renderer, value, a, lookupAttribute: true, keep: true), "generator");
            case "rejectattr": return new PyIterator(Select(renderer, value, a, lookupAttribute: true, keep: false), "generator");
            case "unique": return new PyIterator(Unique(renderer, value, a), "generator");
            case "sort": return Sort(renderer, value, a);
            case "reverse": return Reverse(value);
            case "min": return MinMax(renderer, value, a, max: false);
            case "max": return MinMax(renderer, value, a, max: true);
            case "sum": return Sum(renderer, value, a);
            case "int": return ToInt(value, a.Get(0, "default", 0L), a.Get(1, "base", 10L));
            case "float": return ToFloat(value, a.Get(0, "default", 0.0));
            case "abs":
                return value switch
                {
                    long l => (object)(l == long.MinValue ? throw new TemplateException("OverflowError", "integer overflow") : Math.Abs(l)),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    Undefined u => throw u.Error(),
                    _ => throw new TemplateException("TypeError", $"bad operand type for abs(): '{PythonText.TypeName(value)}'"),
                };
            case "round": return Round(value, a);
            case "replace":
                {
                    long count = a.Get(2, "count", null) is long c ? c : -1;
                    return PythonMethods.Replace(PythonText.Str(value), PythonText.Str(a.Get(0, "old", "")), PythonText.Str(a.Get(1, "new", "")), count);
                }
            case "indent": return Indent(PythonText.Str(value), a);
            case "wordcount": return (long)WordRegex().Matches(PythonText.Str(value)).Count;
            case "center":
                {
                    var args = new Arguments([a.Get(0, "width", 80L)], []);
                    return PythonMethods.Bind(PythonText.Str(value), "center")!.Invoke(renderer, args);
                }
            case "format":
                {
                    if (a.Positional.Count > 0 && a.Keywords.Count > 0)
                        throw new TemplateException("FilterArgumentError", "can't handle positional and keyword arguments at the same time");
                    object? arguments;
                    if (a.Keywords.Count > 0)
                    {
                        var dict = new PyDict();
                        foreach (var pair in a.Keywords) dict.Put(pair.Key, pair.Value);
                        arguments = dict;
                    }
                    else arguments = new PyTuple([.. a.Positional]);
                    return PrintfFormat.Format(PythonText.Str(value), arguments);
                }
            case "e" or "escape": return Markup.Escape(value);
            case "forceescape": return new Markup(HtmlEscape(PythonText.Str(value)));
            case "striptags": return StripTags(PythonText.Str(value));
            case "truncate": return Truncate(PythonText.Str(value), a);
            case "batch": return new PyIterator(Batch(value, a), "generator");
            case "slice": return new PyIterator(Slice(value, a), "generator");
            case "groupby": return GroupBy(renderer, value, a);
            case "attr":
                {
                    if (value is Undefined u) throw u.Error();
                    string attribute = PythonText.Str(a.Get(0, "name", ""));
                    return renderer.GetPythonAttribute(value, attribute) ?? new Undefined(value, attribute);
                }
            case "pprint": return PythonText.Repr(value);
        }
        throw new TemplateException("TemplateRuntimeError", $"No filter named {PythonText.Repr(name)}.");
    }

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordRegex();

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginningRegex();

    /// <summary>Jinja's title filter (not Python's str.title): capitalise after spaces, dashes and opening brackets.</summary>
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (string item in WordBeginningRegex().Split(s))
        {
            if (item.Length == 0) continue;
            sb.Append(char.ToUpperInvariant(item[0])).Append(item[1..].ToLowerInvariant());
        }
        return sb.ToString();
    }

    private static string Join(Renderer renderer, object? value, Arguments a)
    {
        string separator = PythonText.Str(a.Get(0, "d", ""));
        object? attribute = a.Get(1, "attribute", null);
        IEnumerable<object?> items = PythonOperators.Iterate(value);
        if (attribute is not null)
        {
            var getter = AttributeGetter(renderer, attribute);
            items = items.Select(getter);
        }
        var sb = new StringBuilder();
        bool first = true;
        foreach (object? item in items)
        {
            if (!first) sb.Append(separator);
            first = false;
            sb.Append(PythonText.Str(item));
            PythonOperators.CheckStringLength(sb.Length);
        }
        return sb.ToString();
    }

    private static object? Last(object? value)
    {
        IEnumerable<object?> reversed = value switch
        {
            List<object?> list => Enumerable.Reverse(list),
            PyTuple tuple => tuple.Items.Reverse(),
            string s => Enumerable.Reverse(PythonOperators.Characters(s)),
            PyDict dict => dict.Keys.Reverse(),
            Undefined => [],
            _ => throw new TemplateException("TypeError", $"'{PythonText.TypeName(value)}' object is not reversible"),
        };
        foreach (object? item in reversed) return item;
        return new Undefined("No last item, sequence was empty.");
    }

    /// <summary>Jinja's make_attrgetter: "a.b.0" looks up a, then b, then item 0, with item-first lookups.</summary>
    private static Func<object?, object?> AttributeGetter(Renderer renderer, object? attribute, object? fallback = null, bool ignoreCase = false)
    {
        object?[] parts = attribute switch
        {
            string s => s.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? (object?)n : p).ToArray(),
            long n => [n],
            null => [],
            _ => [attribute],
        };
        return item =>
        {
            foreach (object? part in parts)
            {
                item = renderer.GetItem(item, part);
                if (fallback is not null && item is Undefined) item = fallback;
            }
            return ignoreCase && item is string s ? s.ToLowerInvariant() : item;
        };
    }

    private static Func<object?, object?> MultiAttributeGetter(Renderer renderer, object? attribute, bool ignoreCase)
    {
        if (attribute is not string s || !s.Contains(',')) return AttributeGetter(renderer, attribute, ignoreCase: ignoreCase);
        var getters = s.Split(',').Select(part => AttributeGetter(renderer, part, ignoreCase: ignoreCase)).ToList();
        return item => getters.Select(g => g(item)).ToList();
    }

    private static List<object?> DictSort(object? value, Arguments a)
    {
        if (value is not PyDict dict) throw new TemplateException("TypeError", $"dictsort filter requires a mapping, got {PythonText.TypeName(value)}");
        bool caseSensitive = PythonOperators.IsTruthy(a.Get(0, "case_sensitive", false));
        string by = PythonText.Str(a.Get(1, "by", "key"));
        bool reverse = PythonOperators.IsTruthy(a.Get(2, "reverse", false));
        int position = by switch
        {
            "key" => 0,
            "value" => 1,
            _ => throw new TemplateException("FilterArgumentError", "You can only sort by either \"key\" or \"value\""),
        };
        var items = dict.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList();
        return SortedBy(items, item =>
        {
            object? key = ((PyTuple)item!).Items[position];
            return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
        }, reverse);
    }

    /// <summary>Python's <c>sorted(items, key=key, reverse=reverse)</c>: stable, and reverse keeps equal items in order.</summary>
    private static List<object?> SortedBy(List<object?> items, Func<object?, object?> key, bool reverse)
    {
        var keys = items.Select(key).ToList();
        var order = Enumerable.Range(0, items.Count).ToList();
        Comparison<int> compare = (x, y) =>
        {
            int c = PythonOperators.Compare(keys[x], keys[y], "<");
            if (c == int.MinValue) c = 0;
            if (reverse) c = -c;
            return c != 0 ? c : x.CompareTo(y);
        };
        order.Sort(compare);
        return order.Select(i => items[i]).ToList();
    }

    private static object? Tojson(object? value, Arguments a)
    {
        a.Expect("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        bool ensureAscii = PythonOperators.IsTruthy(a.Get(0, "ensure_ascii", false));
        object? indent = a.Get(1, "indent", null);
        object? separators = a.Get(2, "separators", null);
        bool sortKeys = PythonOperators.IsTruthy(a.Get(3, "sort_keys", false));
        return JsonText.Dumps(value, ensureAscii, indent, separators, sortKeys);
    }

    private static IEnumerable<object?> Map(Renderer renderer, object? value, Arguments a)
    {
        Func<object?, object?> function;
        if (a.Positional.Count == 0 && a.Keyword("attribute") is not Missing)
        {
            object? fallback = a.Keyword("default") is var d and not Missing ? d : null;
            foreach (var pair in a.Keywords)
                if (pair.Key is not ("attribute" or "default"))
                    throw new TemplateException("FilterArgumentError", $"Unexpected keyword argument {PythonText.Repr(pair.Key)}");
            function = AttributeGetter(renderer, a.Keyword("attribute"), fallback);
        }
        else
        {
            if (a.Positional.Count == 0) throw new TemplateException("FilterArgumentError", "map requires a filter argument");
            string filterName = PythonText.Str(a.Positional[0]);
            var rest = new Arguments(a.Positional.Skip(1).ToList(), a.Keywords);
            function = item => Apply(renderer, filterName, item, rest);
        }
        if (!PythonOperators.IsTruthy(value) && value is not PyIterator) yield break;
        foreach (object? item in PythonOperators.Iterate(value)) yield return function(item);
    }

    private static IEnumerable<object?> Select(Renderer renderer, object? value, Arguments a, bool lookupAttribute, bool keep)
    {
        Func<object?, object?> transform = x => x;
        int offset = 0;
        if (lookupAttribute)
        {
            if (a.Positional.Count == 0) throw new TemplateException("FilterArgumentError", "Missing parameter for attribute name");
            transform = AttributeGetter(renderer, a.Positional[0]);
            offset = 1;
        }
        Func<object?, bool> test;
        if (a.Positional.Count > offset)
        {
            string testName = PythonText.Str(a.Positional[offset]);
            var rest = new Arguments(a.Positional.Skip(offset + 1).ToList(), a.Keywords);
            test = item => Tests.Apply(renderer, testName, item, rest);
        }
        else test = PythonOperators.IsTruthy;
        if (!PythonOperators.IsTruthy(value) && value is not PyIterator) yield break;
        foreach (object? item in PythonOperators.Iterate(value))
            if (test(transform(item)) == keep) yield return item;
    }

    private static IEnumerable<object?> Unique(Renderer renderer, object? value, Arguments a)
    {
        bool caseSensitive = PythonOperators.IsTruthy(a.Get(0, "case_sensitive", false));
        var getter = AttributeGetter(renderer, a.Get(1, "attribute", null), ignoreCase: !caseSensitive);
        var seen = new List<object?>();
        foreach (object? item in PythonOperators.Iterate(value))
        {
            object? key = getter(item);
            PyKeyComparer.CheckKey(key);
            if (seen.Any(s => PythonOperators.AreEqual(s, key))) continue;
            seen.Add(key);
            yield return item;
        }
    }

    private static List<object?> Sort(Renderer renderer, object? value, Arguments a)
    {
        bool reverse = PythonOperators.IsTruthy(a.Get(0, "reverse", false));
        bool caseSensitive = PythonOperators.IsTruthy(a.Get(1, "case_sensitive", false));
        var key = MultiAttributeGetter(renderer, a.Get(2, "attribute", null), ignoreCase: !caseSensitive);
        return SortedBy(PythonOperators.ToList(value), key, reverse);
    }

    private static object? Reverse(object? value)
    {
        switch (value)
        {
            case string s:
                return string.Concat(Enumerable.Reverse(PythonOperators.Characters(s)).Cast<string>());
            case List<object?> list:
                return new PyIterator(Enumerable.Reverse(list).ToList(), "list_reverseiterator");
            case PyTuple tuple:
                return new PyIterator(tuple.Items.Reverse().ToList(), "reversed");
            case PyDict dict:
                return new PyIterator(dict.Keys.Reverse().ToList(), "dict_reversekeyiterator");
            case Undefined:
                return new PyIterator([], "reversed");
        }
        var items = PythonOperators.ToList(value);
        items.Reverse();
        return items;
    }

    private static object? MinMax(Renderer renderer, object? value, Arguments a, bool max)
    {
        bool caseSensitive = PythonOperators.IsTruthy(a.Get(0, "case_sensitive", false));
        var key = AttributeGetter(renderer, a.Get(1, "attribute", null), ignoreCase: !caseSensitive);
        var items = PythonOperators.ToList(value);
        if (items.Count == 0) return new Undefined("No aggregated item, sequence was empty.");
        object? best = items[0];
        object? bestKey = key(best);
        foreach (object? item in items.Skip(1))
        {
            object? itemKey = key(item);
            int c = PythonOperators.Compare(itemKey, bestKey, max ? ">" : "<");
            if (c != int.MinValue && (max ? c > 0 : c < 0))
            {
                best = item;
                bestKey = itemKey;
            }
        }
        return best;
    }

    private static object? Sum(Renderer renderer, object? value, Arguments a)
    {
        object? attribute = a.Get(0, "attribute", null);
        object? total = a.Get(1, "start", 0L);
        IEnumerable<object?> items = PythonOperators.Iterate(value);
        if (attribute is not null) items = items.Select(AttributeGetter(renderer, attribute));
        if (total is string) throw new TemplateException("TypeError", "sum() can't sum strings [use ''.join(seq) instead]");
        foreach (object? item in items) total = PythonOperators.Add(total, item);
        return total;
    }

    /// <summary>Jinja's int filter: ints and floats truncate, strings parse (or parse as float), anything else gives the default.</summary>
    private static object? ToInt(object? value, object? fallback, object? baseValue)
    {
        int radix = baseValue is long b ? (int)b : 10;
        switch (value)
        {
            case Undefined u: throw u.Error();
            case bool flag: return flag ? 1L : 0L;
            case long l: return l;
            case double d:
                if (double.IsNaN(d) || double.IsInfinity(d)) throw new TemplateException("ValueError", "cannot convert float NaN or infinity to integer");
                return (long)Math.Truncate(d);
            case string s:
                {
                    string text = s.Trim(PythonText.WhitespaceChars).Replace("_", "");
                    if (radix == 10 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed)) return parsed;
                    if (radix != 10)
                    {
                        try
                        {
                            string digits = text;
                            bool negative = digits.StartsWith('-');
                            if (negative || digits.StartsWith('+')) digits = digits[1..];
                            if (radix == 16 && digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                            if (radix == 8 && digits.StartsWith("0o", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                            if (radix == 2 && digits.StartsWith("0b", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                            long n = Convert.ToInt64(digits, radix);
                            return negative ? -n : n;
                        }
                        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException) { }
                    }
                    if (TryParseFloat(s, out double d) && !double.IsNaN(d) && !double.IsInfinity(d)) return (long)Math.Truncate(d);
                    return fallback;
                }
            default:
                return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        Undefined u => throw u.Error(),
        bool flag => flag ? 1.0 : 0.0,
        long l => (double)l,
        double d => d,
        string s => TryParseFloat(s, out double parsed) ? parsed : fallback,
        _ => fallback,
    };

    /// <summary>Python's <c>float(str)</c>: surrounding whitespace, underscores between digits, inf and nan.</summary>
    public static bool TryParseFloat(string s, out double value)
    {
        string text = s.Trim(PythonText.WhitespaceChars);
        string lower = text.ToLowerInvariant().TrimStart('+', '-');
        bool negative = text.StartsWith('-');
        if (lower is "inf" or "infinity") { value = negative ? double.NegativeInfinity : double.PositiveInfinity; return true; }
        if (lower == "nan") { value = double.NaN; return true; }
        if (text.Length == 0 || text.Contains("__") || text.StartsWith('_') || text.EndsWith('_')) { value = 0; return false; }
        return double.TryParse(text.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    private static object? Round(object? value, Arguments a)
    {
        long precision = a.Get(0, "precision", 0L) is long p ? p : 0;
        string method = PythonText.Str(a.Get(1, "method", "common"));
        if (value is Undefined u) throw u.Error();
        if (!PythonOperators.IsNumber(value)) throw new TemplateException("TypeError", $"type {PythonText.TypeName(value)} doesn't define __round__ method");
        double x = value switch { bool b => b ? 1 : 0, long l => l, _ => (double)value! };
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => precision is >= 0 and <= 15 ? Math.Round(x, (int)precision, MidpointRounding.ToEven) : Math.Round(x * scale, MidpointRounding.ToEven) / scale,
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new TemplateException("FilterArgumentError", "method must be common, ceil or floor"),
        };
    }

    /// <summary>Jinja 3.1's indent: lines after the first get the prefix; blank lines only with blank=True.</summary>
    private static string Indent(string s, Arguments a)
    {
        object? width = a.Get(0, "width", 4L);
        bool first = PythonOperators.IsTruthy(a.Get(1, "first", false));
        bool blank = PythonOperators.IsTruthy(a.Get(2, "blank", false));
        string indentation = width is string text ? text : new string(' ', (int)Math.Clamp(width is long n ? n : 4, 0, 1024));
        s += "\n";
        var lines = PythonMethods.SplitLines(s, keepEnds: false).Cast<string>().ToList();
        string result;
        if (blank)
        {
            result = string.Join("\n" + indentation, lines);
        }
        else
        {
            result = lines[0];
            if (lines.Count > 1)
                result += "\n" + string.Join("\n", lines.Skip(1).Select(line => line.Length > 0 ? indentation + line : line));
        }
        if (first) result = indentation + result;
        return PythonOperators.CheckString(result);
    }

    public static string HtmlEscape(string s) =>
        s.Replace("&", "&amp;").Replace(">", "&gt;").Replace("<", "&lt;").Replace("'", "&#39;").Replace("\"", "&#34;");

    [GeneratedRegex(@"<!--.*?-->|<[^>]*>", RegexOptions.Singleline)]
    private static partial Regex TagRegex();

    private static string StripTags(string s)
    {
        string text = TagRegex().Replace(s, "");
        text = string.Join(" ", PythonMethods.Split(text, null, -1).Cast<string>());
        return System.Net.WebUtility.HtmlDecode(text);
    }

    private static string Truncate(string s, Arguments a)
    {
        long length = a.Get(0, "length", 255L) is long l ? l : 255;
        bool killWords = PythonOperators.IsTruthy(a.Get(1, "killwords", false));
        string end = PythonText.Str(a.Get(2, "end", "..."));
        long leeway = a.Get(3, "leeway", null) is long lw ? lw : 5;
        if (length < end.Length) throw new TemplateException("AssertionError", $"expected length >= {end.Length}, got {length}");
        if (s.Length <= length + leeway) return s;
        string head = s[..(int)(length - end.Length)];
        if (killWords) return head + end;
        int space = head.LastIndexOf(' ');
        return (space >= 0 ? head[..space] : head) + end;
    }

    private static IEnumerable<object?> Batch(object? value, Arguments a)
    {
        long size = a.Get(0, "linecount", Missing.Value) is long n ? n : throw new TemplateException("TypeError", "batch() requires a line count");
        if (size <= 0) throw new TemplateException("ValueError", "batch size must be positive");
        object? fill = a.Get(1, "fill_with", null);
        var current = new List<object?>();
        foreach (object? item in PythonOperators.Iterate(value))
        {
            if (current.Count == size)
            {
                yield return current;
                current = [];
            }
            current.Add(item);
        }
        if (current.Count > 0)
        {
            if (fill is not null) while (current.Count < size) current.Add(fill);
            yield return current;
        }
    }

    private static IEnumerable<object?> Slice(object? value, Arguments a)
    {
        long slices = a.Get(0, "slices", Missing.Value) is long n && n > 0 ? n : throw new TemplateException("ValueError", "slice count must be a positive integer");
        object? fill = a.Get(1, "fill_with", null);
        var seq = PythonOperators.ToList(value);
        int length = seq.Count;
        long perSlice = length / slices, withExtra = length % slices;
        long offset = 0;
        for (long i = 0; i < slices; i++)
        {
            long start = offset + i * perSlice;
            if (i < withExtra) offset++;
            long end = offset + (i + 1) * perSlice;
            var part = seq.Skip((int)start).Take((int)(end - start)).ToList();
            if (fill is not null && i >= withExtra) part.Add(fill);
            yield return part;
        }
    }

    private static List<object?> GroupBy(Renderer renderer, object? value, Arguments a)
    {
        object? attribute = a.Get(0, "attribute", Missing.Value);
        if (attribute is Missing) throw new TemplateException("TypeError", "groupby() requires an attribute");
        object? fallback = a.Get(1, "default", null);
        bool caseSensitive = PythonOperators.IsTruthy(a.Get(2, "case_sensitive", false));
        var key = AttributeGetter(renderer, attribute, fallback, ignoreCase: !caseSensitive);
        var sorted = SortedBy(PythonOperators.ToList(value), key, reverse: false);
        var groups = new List<object?>();
        object? currentKey = Missing.Value;
        List<object?>? current = null;
        foreach (object? item in sorted)
        {
            object? itemKey = key(item);
            if (current is null || !PythonOperators.AreEqual(itemKey, currentKey))
            {
                current = [];
                currentKey = itemKey;
                object? grouper = caseSensitive ? itemKey : AttributeGetter(renderer, attribute, fallback)(item);
                groups.Add(new PyTuple([grouper, current], ["grouper", "list"], "_GroupTuple"));
            }
            current.Add(item);
        }
        return groups;
    }
}
