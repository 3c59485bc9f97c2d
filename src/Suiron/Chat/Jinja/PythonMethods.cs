using System.Globalization;
using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>
/// The methods of Python's str, dict, list and tuple that templates call (<c>content.split('&lt;/think&gt;')</c>,
/// <c>message.get('tool_calls')</c>, <c>d.items()</c> …), bound to their receiver on attribute access.
/// </summary>
internal static class PythonMethods
{
    private static readonly HashSet<string> MutatingListMethods = ["append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"];
    private static readonly HashSet<string> MutatingDictMethods = ["clear", "pop", "popitem", "setdefault", "update"];

    /// <summary>Methods that <c>ImmutableSandboxedEnvironment</c> refuses (they would modify the value).</summary>
    public static bool IsMutating(object? target, string name) => target switch
    {
        List<object?> => MutatingListMethods.Contains(name),
        PyDict => MutatingDictMethods.Contains(name),
        _ => false,
    };

    /// <summary>The bound method <paramref name="name"/> of <paramref name="target"/>, or null if it has none.</summary>
    public static BuiltinFunction? Bind(object? target, string name)
    {
        Func<Arguments, object?>? method = target switch
        {
            string s => StringMethod(s, name),
            PyDict d => DictMethod(d, name),
            List<object?> l => SequenceMethod(l, name, () => new List<object?>(l)),
            PyTuple t => SequenceMethod(t.Items, name, null),
            _ => null,
        };
        return method is null ? null : new BuiltinFunction(name, (_, args) => method(args), "builtin_function_or_method");
    }

    private static string RequireString(object? value, string what)
    {
        if (value is string s) return s;
        throw new TemplateException("TypeError", $"{what} must be str, not {PythonText.TypeName(value)}");
    }

    private static long RequireInt(object? value, string what) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException("TypeError", $"'{PythonText.TypeName(value)}' object cannot be interpreted as an integer"),
    };

    private static string? OptionalChars(object? value, string method) => value switch
    {
        null or Missing => null,
        string s => s,
        _ => throw new TemplateException("TypeError", $"{method} arg must be None or str"),
    };

    private static Func<Arguments, object?>? StringMethod(string s, string name) => name switch
    {
        "strip" => a => Strip(s, OptionalChars(a.Expect("strip", "chars").Get(0, "chars", null), "strip"), true, true),
        "lstrip" => a => Strip(s, OptionalChars(a.Expect("lstrip", "chars").Get(0, "chars", null), "lstrip"), true, false),
        "rstrip" => a => Strip(s, OptionalChars(a.Expect("rstrip", "chars").Get(0, "chars", null), "rstrip"), false, true),
        "split" => a => Split(s, a.Expect("split", "sep", "maxsplit").Get(0, "sep", null), RequireInt(a.Get(1, "maxsplit", -1L), "maxsplit")),
        "rsplit" => a => RightSplit(s, a.Expect("rsplit", "sep", "maxsplit").Get(0, "sep", null), RequireInt(a.Get(1, "maxsplit", -1L), "maxsplit")),
        "splitlines" => a => SplitLines(s, PythonOperators.IsTruthy(a.Expect("splitlines", "keepends").Get(0, "keepends", false))),
        "startswith" => a => AffixTest(s, a, "startswith", (text, affix) => text.StartsWith(affix, StringComparison.Ordinal)),
        "endswith" => a => AffixTest(s, a, "endswith", (text, affix) => text.EndsWith(affix, StringComparison.Ordinal)),
        "replace" => a => Replace(s, RequireString(a.Get(0, "old", Missing.Value), "replace() argument 1"), RequireString(a.Get(1, "new", Missing.Value), "replace() argument 2"), RequireInt(a.Get(2, "count", -1L), "count")),
        "upper" => _ => s.ToUpperInvariant(),
        "lower" => _ => s.ToLowerInvariant(),
        "casefold" => _ => s.ToLowerInvariant(),
        "swapcase" => _ => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))),
        "title" => _ => Title(s),
        "capitalize" => _ => Capitalize(s),
        "find" => a => (long)Find(s, a, fromRight: false),
        "rfind" => a => (long)Find(s, a, fromRight: true),
        "index" => a => Find(s, a, fromRight: false) is var i and >= 0 ? (long)i : throw new TemplateException("ValueError", "substring not found"),
        "rindex" => a => Find(s, a, fromRight: true) is var i and >= 0 ? (long)i : throw new TemplateException("ValueError", "substring not found"),
        "count" => a => (long)Count(s, RequireString(a.Get(0, "sub", Missing.Value), "count() argument")),
        "join" => a => Join(s, a.Get(0, "iterable", Missing.Value)),
        "format" => a => StringFormat.Format(s, a),
        "isdigit" or "isdecimal" or "isnumeric" => _ => s.Length > 0 && s.All(char.IsDigit),
        "isalpha" => _ => s.Length > 0 && s.All(char.IsLetter),
        "isalnum" => _ => s.Length > 0 && s.All(char.IsLetterOrDigit),
        "isspace" => _ => s.Length > 0 && s.All(PythonText.IsWhitespace),
        "isupper" => _ => s.Any(char.IsLetter) && !s.Any(char.IsLower),
        "islower" => _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper),
        "istitle" => _ => s.Any(char.IsLetter) && Title(s) == s,
        "zfill" => a => ZeroFill(s, (int)RequireInt(a.Get(0, "width", Missing.Value), "width")),
        "ljust" => a => Pad(s, a, "ljust"),
        "rjust" => a => Pad(s, a, "rjust"),
        "center" => a => Pad(s, a, "center"),
        "partition" => a => Partition(s, RequireString(a.Get(0, "sep", Missing.Value), "partition() argument"), fromRight: false),
        "rpartition" => a => Partition(s, RequireString(a.Get(0, "sep", Missing.Value), "rpartition() argument"), fromRight: true),
        "removeprefix" => a => RequireString(a.Get(0, "prefix", Missing.Value), "removeprefix() argument") is var p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s,
        "removesuffix" => a => RequireString(a.Get(0, "suffix", Missing.Value), "removesuffix() argument") is var p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s,
        _ => null,
    };

    private static Func<Arguments, object?>? DictMethod(PyDict d, string name) => name switch
    {
        "get" => a =>
        {
            object? key = a.Expect("get", "key", "default").Get(0, "key", Missing.Value);
            if (key is Missing) throw new TemplateException("TypeError", "get expected at least 1 argument, got 0");
            return d.TryLookup(key, out object? value) ? value : a.Get(1, "default", null);
        },
        "items" => _ => new DictView(d, DictViewKind.Items),
        "keys" => _ => new DictView(d, DictViewKind.Keys),
        "values" => _ => new DictView(d, DictViewKind.Values),
        "copy" => _ =>
        {
            var copy = new PyDict(d.Count);
            foreach (var pair in d) copy.Add(pair.Key, pair.Value);
            return copy;
        },
        _ => null,
    };

    private static Func<Arguments, object?>? SequenceMethod(IReadOnlyList<object?> items, string name, Func<object?>? copy) => name switch
    {
        "index" => a =>
        {
            object? value = a.Get(0, "value", Missing.Value);
            for (int i = 0; i < items.Count; i++) if (PythonOperators.AreEqual(items[i], value)) return (long)i;
            throw new TemplateException("ValueError", $"{PythonText.Repr(value)} is not in list");
        },
        "count" => a => (long)items.Count(x => PythonOperators.AreEqual(x, a.Get(0, "value", Missing.Value))),
        "copy" when copy is not null => _ => copy(),
        _ => null,
    };

    // ---- str implementations ----

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? PythonText.IsWhitespace : chars.Contains;
        int start = 0, end = s.Length;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    public static List<object?> Split(string s, object? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null or Missing)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && PythonText.IsWhitespace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(s[i..]);
                    break;
                }
                int start = i;
                while (i < s.Length && !PythonText.IsWhitespace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        string sep = RequireString(separator, "must be str or None, not");
        if (sep.Length == 0) throw new TemplateException("ValueError", "empty separator");
        int position = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int found = s.IndexOf(sep, position, StringComparison.Ordinal);
            if (found < 0) break;
            parts.Add(s[position..found]);
            position = found + sep.Length;
        }
        parts.Add(s[position..]);
        return parts;
    }

    public static List<object?> RightSplit(string s, object? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null or Missing)
        {
            int i = s.Length;
            while (true)
            {
                while (i > 0 && PythonText.IsWhitespace(s[i - 1])) i--;
                if (i <= 0) break;
                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(s[..i]);
                    break;
                }
                int end = i;
                while (i > 0 && !PythonText.IsWhitespace(s[i - 1])) i--;
                parts.Add(s[i..end]);
            }
            parts.Reverse();
            return parts;
        }
        string sep = RequireString(separator, "must be str or None, not");
        if (sep.Length == 0) throw new TemplateException("ValueError", "empty separator");
        int position = s.Length;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            if (position < sep.Length) break;
            int found = s.LastIndexOf(sep, position - 1, position, StringComparison.Ordinal);
            if (found < 0) break;
            parts.Add(s[(found + sep.Length)..position]);
            position = found;
        }
        parts.Add(s[..position]);
        parts.Reverse();
        return parts;
    }

    private static bool IsLineBreak(char c) => c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029';

    public static List<object?> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<object?>();
        int start = 0, i = 0;
        while (i < s.Length)
        {
            if (!IsLineBreak(s[i]))
            {
                i++;
                continue;
            }
            int breakLength = s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? 2 : 1;
            lines.Add(keepEnds ? s[start..(i + breakLength)] : s[start..i]);
            i += breakLength;
            start = i;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    private static bool AffixTest(string s, Arguments a, string method, Func<string, string, bool> test)
    {
        object? affix = a.Get(0, "prefix", Missing.Value);
        int start = (int)Math.Clamp(a.Get(1, "start", null) is long st ? (st < 0 ? st + s.Length : st) : 0, 0, s.Length);
        int end = (int)Math.Clamp(a.Get(2, "end", null) is long en ? (en < 0 ? en + s.Length : en) : s.Length, 0, s.Length);
        if (start > end) return false;
        string text = s[start..end];
        if (affix is PyTuple tuple) return tuple.Items.Any(x => test(text, RequireString(x, $"tuple for {method} must only contain str, not")));
        if (affix is string str) return test(text, str);
        throw new TemplateException("TypeError", $"{method} first arg must be str or a tuple of str, not {PythonText.TypeName(affix)}");
    }

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (replacement.Length > old.Length)
        {
            long occurrences = old.Length == 0 ? s.Length + 1 : Count(s, old);
            if (count >= 0) occurrences = Math.Min(occurrences, count);
            PythonOperators.CheckStringLength(s.Length + occurrences * (replacement.Length - old.Length));
        }
        if (count < 0 && old.Length > 0) return PythonOperators.CheckString(s.Replace(old, replacement, StringComparison.Ordinal));
        var sb = new StringBuilder();
        long done = 0;
        if (old.Length == 0)
        {
            // Python inserts the replacement between every character (and at both ends).
            foreach (Rune r in s.EnumerateRunes())
            {
                if (count < 0 || done < count) { sb.Append(replacement); done++; }
                sb.Append(r.ToString());
            }
            if (count < 0 || done < count) sb.Append(replacement);
            return PythonOperators.CheckString(sb.ToString());
        }
        int position = 0;
        while (done < count)
        {
            int found = s.IndexOf(old, position, StringComparison.Ordinal);
            if (found < 0) break;
            sb.Append(s, position, found - position).Append(replacement);
            position = found + old.Length;
            done++;
        }
        sb.Append(s, position, s.Length - position);
        return PythonOperators.CheckString(sb.ToString());
    }

    /// <summary>Python's <c>str.title()</c>: a letter after a non-letter is upper-cased, other letters lower-cased.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(!cased ? c : previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = cased;
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static int Find(string s, Arguments a, bool fromRight)
    {
        string sub = RequireString(a.Get(0, "sub", Missing.Value), "must be str, not");
        long start = a.Get(1, "start", null) is long st ? st : 0;
        long end = a.Get(2, "end", null) is long en ? en : s.Length;
        if (start < 0) start = Math.Max(0, start + s.Length);
        if (end < 0) end = Math.Max(0, end + s.Length);
        end = Math.Min(end, s.Length);
        if (start > end) return -1;
        string window = s[(int)start..(int)end];
        int index = fromRight ? window.LastIndexOf(sub, StringComparison.Ordinal) : window.IndexOf(sub, StringComparison.Ordinal);
        return index < 0 ? -1 : index + (int)start;
    }

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0) return PythonOperators.StringLength(s) + 1;
        int count = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    private static string Join(string separator, object? iterable)
    {
        var sb = new StringBuilder();
        int index = 0;
        foreach (object? item in PythonOperators.Iterate(iterable))
        {
            if (item is not string text)
                throw new TemplateException("TypeError", $"sequence item {index}: expected str instance, {PythonText.TypeName(item)} found");
            if (index > 0) sb.Append(separator);
            sb.Append(text);
            PythonOperators.CheckStringLength(sb.Length);
            index++;
        }
        return sb.ToString();
    }

    private static string ZeroFill(string s, int width)
    {
        if (s.Length >= width) return s;
        int signLength = s.Length > 0 && (s[0] == '+' || s[0] == '-') ? 1 : 0;
        return s[..signLength] + new string('0', width - s.Length) + s[signLength..];
    }

    private static string Pad(string s, Arguments a, string method)
    {
        long width = RequireInt(a.Get(0, "width", Missing.Value), "width");
        string fill = a.Get(1, "fillchar", " ") as string ?? " ";
        if (fill.Length != 1) throw new TemplateException("TypeError", $"{method}() argument 2 must be a character");
        if (width > PythonOperators.MaxStringLength) throw new TemplateException("MemoryError", "padding too wide");
        int length = PythonOperators.StringLength(s);
        if (width <= length) return s;
        int total = (int)width - length;
        return method switch
        {
            "ljust" => s + new string(fill[0], total),
            "rjust" => new string(fill[0], total) + s,
            // CPython's str.center: the left margin is marg/2 + (marg & width & 1).
            _ => new string(fill[0], total / 2 + (total & (int)width & 1)) + s + new string(fill[0], total - (total / 2 + (total & (int)width & 1))),
        };
    }

    private static PyTuple Partition(string s, string separator, bool fromRight)
    {
        if (separator.Length == 0) throw new TemplateException("ValueError", "empty separator");
        int index = fromRight ? s.LastIndexOf(separator, StringComparison.Ordinal) : s.IndexOf(separator, StringComparison.Ordinal);
        if (index < 0) return fromRight ? new PyTuple(["", "", s]) : new PyTuple([s, "", ""]);
        return new PyTuple([s[..index], separator, s[(index + separator.Length)..]]);
    }
}
