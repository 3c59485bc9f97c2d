using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>
/// Python semantics of the operators Jinja compiles to: truthiness, ==, ordering, arithmetic with
/// int/float distinction (5/2 = 2.5, 7//-2 = -4, -7%3 = 2), <c>in</c>, iteration and <c>len()</c>,
/// with Python's TypeError messages. Any Undefined operand raises its UndefinedError, as in Jinja.
/// </summary>
internal static class PythonOperators
{
    /// <summary>Strings and lists a template builds are capped so that a hostile template cannot exhaust memory.</summary>
    public const int MaxStringLength = 32 * 1024 * 1024;
    public const int MaxListLength = 4 * 1024 * 1024;

    public static bool IsTruthy(object? value) => Markup.Plain(value) switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        PyDict dict => dict.Count > 0,
        PyTuple tuple => tuple.Count > 0,
        DictView view => view.Dict.Count > 0,
        PyRange range => range.Count > 0,
        Undefined => false,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    private static bool IsInteger(object? value) => value is long or bool;

    private static long AsLong(object? value) => value switch { bool b => b ? 1 : 0, long l => l, _ => throw new InvalidOperationException() };

    private static double AsDouble(object? value) => value switch { bool b => b ? 1 : 0, long l => l, double d => d, _ => throw new InvalidOperationException() };

    public static bool AreEqual(object? a, object? b)
    {
        a = Markup.Plain(a);
        b = Markup.Plain(b);
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null) return false;
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInteger(a) && IsInteger(b)) return AsLong(a) == AsLong(b);
            return AsDouble(a) == AsDouble(b);
        }
        switch (a)
        {
            case string s: return b is string t && s == t;
            case Undefined: return b is Undefined;
            case List<object?> list:
                return b is List<object?> other && SequenceEqual(list, other);
            case PyTuple tuple:
                return b is PyTuple otherTuple && SequenceEqual(tuple.Items, otherTuple.Items);
            case PyDict dict:
                if (b is not PyDict otherDict || dict.Count != otherDict.Count) return false;
                foreach (var pair in dict)
                    if (!otherDict.TryGetValue(pair.Key, out object? value) || !AreEqual(pair.Value, value)) return false;
                return true;
            default:
                return a.Equals(b);
        }
    }

    private static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!AreEqual(a[i], b[i])) return false;
        return true;
    }

    /// <summary>Python ordering for &lt; &lt;= &gt; &gt;=: numbers, strings (by code point), lists and tuples lexicographically.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        a = Markup.Plain(a);
        b = Markup.Plain(b);
        if (a is Undefined ua) throw ua.Error();
        if (b is Undefined ub) throw ub.Error();
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInteger(a) && IsInteger(b)) return AsLong(a).CompareTo(AsLong(b));
            double x = AsDouble(a), y = AsDouble(b);
            if (double.IsNaN(x) || double.IsNaN(y)) return op is "<" or ">" or "<=" or ">=" ? int.MinValue : 0;
            return x.CompareTo(y);
        }
        if (a is string s && b is string t) return CompareCodePoints(s, t);
        if (a is List<object?> la && b is List<object?> lb) return CompareSequences(la, lb, op);
        if (a is PyTuple ta && b is PyTuple tb) return CompareSequences(ta.Items, tb.Items, op);
        throw new TemplateException("TypeError", $"'{op}' not supported between instances of '{PythonText.TypeName(a)}' and '{PythonText.TypeName(b)}'");
    }

    private static int CompareCodePoints(string a, string b)
    {
        // UTF-16 ordinal order differs from code point order only for surrogates vs U+E000..U+FFFF.
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            char x = a[i], y = b[i];
            if (x == y) continue;
            bool xs = char.IsSurrogate(x), ys = char.IsSurrogate(y);
            if (xs != ys && (x >= 0xE000 || y >= 0xE000)) return xs ? 1 : -1;
            return x.CompareTo(y);
        }
        return a.Length.CompareTo(b.Length);
    }

    private static int CompareSequences(IReadOnlyList<object?> a, IReadOnlyList<object?> b, string op)
    {
        int n = Math.Min(a.Count, b.Count);
        for (int i = 0; i < n; i++)
        {
            if (AreEqual(a[i], b[i])) continue;
            return Compare(a[i], b[i], op);
        }
        return a.Count.CompareTo(b.Count);
    }

    public static bool CompareOp(string op, object? a, object? b)
    {
        switch (op)
        {
            case "==": return AreEqual(a, b);
            case "!=": return !AreEqual(a, b);
            case "in": return Contains(b, a);
            case "notin": return !Contains(b, a);
        }
        int c = Compare(a, b, op);
        if (c == int.MinValue) return false; // NaN
        return op switch
        {
            "<" => c < 0,
            "<=" => c <= 0,
            ">" => c > 0,
            ">=" => c >= 0,
            _ => throw new InvalidOperationException(op),
        };
    }

    /// <summary>Python <c>item in container</c>.</summary>
    public static bool Contains(object? container, object? item)
    {
        item = Markup.Plain(item);
        switch (Markup.Plain(container))
        {
            case string s:
                if (item is not string sub)
                    throw new TemplateException("TypeError", $"'in <string>' requires string as left operand, not {PythonText.TypeName(item)}");
                return s.Contains(sub, StringComparison.Ordinal);
            case List<object?> list: return list.Any(x => AreEqual(x, item));
            case PyTuple tuple: return tuple.Items.Any(x => AreEqual(x, item));
            case PyRange range: return range.Any(x => AreEqual(x, item));
            case PyDict dict:
                if (item is not null && !PyKeyComparer.IsHashable(item)) throw new TemplateException("TypeError", $"unhashable type: '{PythonText.TypeName(item)}'");
                return dict.TryLookup(item, out _);
            case DictView view:
                return view.Kind == DictViewKind.Keys ? view.Dict.TryLookup(item, out _) : view.Items().Any(x => AreEqual(x, item));
            case Undefined:
                return false;
            case PyIterator iterator:
                foreach (object? x in iterator.Drain()) if (AreEqual(x, item)) return true;
                return false;
            default:
                throw new TemplateException("TypeError", $"argument of type '{PythonText.TypeName(container)}' is not iterable");
        }
    }

    /// <summary>Python <c>iter(value)</c>: strings by character, dicts by key, Undefined as empty.</summary>
    public static IEnumerable<object?> Iterate(object? value) => Markup.Plain(value) switch
    {
        List<object?> list => list,
        PyTuple tuple => tuple.Items,
        string s => Characters(s),
        PyDict dict => dict.Keys,
        DictView view => view.Items(),
        PyIterator iterator => iterator.Drain(),
        PyRange range => range,
        Undefined => [],
        LoopContext loop => loop.Items,
        _ => throw new TemplateException("TypeError", $"'{PythonText.TypeName(value)}' object is not iterable"),
    };

    public static bool IsIterable(object? value) =>
        value is List<object?> or PyTuple or PyRange or string or Markup or PyDict or DictView or PyIterator or Undefined or LoopContext;

    /// <summary>Python <c>list(value)</c>.</summary>
    public static List<object?> ToList(object? value) => [.. Iterate(value)];

    /// <summary>A string's characters as Python sees them: one per code point, not per UTF-16 unit.</summary>
    public static List<object?> Characters(string s)
    {
        var chars = new List<object?>(s.Length);
        if (!HasSurrogates(s))
        {
            foreach (char c in s) chars.Add(c.ToString());
            return chars;
        }
        foreach (Rune r in s.EnumerateRunes()) chars.Add(r.ToString());
        return chars;
    }

    public static bool HasSurrogates(string s)
    {
        foreach (char c in s) if (char.IsSurrogate(c)) return true;
        return false;
    }

    public static int StringLength(string s) => HasSurrogates(s) ? s.EnumerateRunes().Count() : s.Length;

    /// <summary>Python <c>len(value)</c>.</summary>
    public static long Length(object? value) => Markup.Plain(value) switch
    {
        string s => StringLength(s),
        List<object?> list => list.Count,
        PyTuple tuple => tuple.Count,
        PyDict dict => dict.Count,
        DictView view => view.Dict.Count,
        PyRange range => range.Count,
        LoopContext loop => loop.Length,
        Undefined => 0,
        _ => throw new TemplateException("TypeError", $"object of type '{PythonText.TypeName(value)}' has no len()"),
    };

    private static void ThrowIfUndefined(object? a, object? b)
    {
        if (a is Undefined ua) throw ua.Error();
        if (b is Undefined ub) throw ub.Error();
    }

    private static TemplateException Unsupported(string op, object? a, object? b) =>
        new("TypeError", $"unsupported operand type(s) for {op}: '{PythonText.TypeName(a)}' and '{PythonText.TypeName(b)}'");

    private static long Checked(Func<long> op)
    {
        try { return op(); }
        catch (OverflowException) { throw new TemplateException("OverflowError", "integer result too large for this template engine"); }
    }

    public static string CheckString(string s)
    {
        CheckStringLength(s.Length);
        return s;
    }

    public static void CheckStringLength(long length)
    {
        if (length > MaxStringLength) throw new TemplateException("MemoryError", $"string longer than {MaxStringLength} characters");
    }

    public static object? Add(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (a is Markup left && b is string or Markup) return new Markup(CheckLength(left.Text, Markup.Escape(b).Text));
        if (b is Markup right && a is string) return new Markup(CheckLength(Markup.Escape(a).Text, right.Text));
        a = Markup.Plain(a);
        b = Markup.Plain(b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInteger(a) && IsInteger(b)) return Checked(() => checked(AsLong(a) + AsLong(b)));
            return AsDouble(a) + AsDouble(b);
        }
        switch (a)
        {
            case string s:
                if (b is string t) return CheckLength(s, t);
                throw new TemplateException("TypeError", $"can only concatenate str (not \"{PythonText.TypeName(b)}\") to str");
            case List<object?> list:
                if (b is List<object?> other)
                {
                    if ((long)list.Count + other.Count > MaxListLength) throw new TemplateException("MemoryError", $"list longer than {MaxListLength} items");
                    var sum = new List<object?>(list.Count + other.Count);
                    sum.AddRange(list);
                    sum.AddRange(other);
                    return sum;
                }
                throw new TemplateException("TypeError", $"can only concatenate list (not \"{PythonText.TypeName(b)}\") to list");
            case PyTuple tuple:
                if (b is PyTuple otherTuple) return new PyTuple([.. tuple.Items, .. otherTuple.Items]);
                throw new TemplateException("TypeError", $"can only concatenate tuple (not \"{PythonText.TypeName(b)}\") to tuple");
        }
        throw Unsupported("+", a, b);
    }

    private static string CheckLength(string s, string t)
    {
        CheckStringLength((long)s.Length + t.Length);
        return s + t;
    }

    public static object? Subtract(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInteger(a) && IsInteger(b)) return Checked(() => checked(AsLong(a) - AsLong(b)));
            return AsDouble(a) - AsDouble(b);
        }
        throw Unsupported("-", a, b);
    }

    public static object? Multiply(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (a is Markup || b is Markup) return new Markup((string)Multiply(Markup.Plain(a), Markup.Plain(b))!);
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInteger(a) && IsInteger(b)) return Checked(() => checked(AsLong(a) * AsLong(b)));
            return AsDouble(a) * AsDouble(b);
        }
        if (IsInteger(a) && b is string or List<object?> or PyTuple) (a, b) = (b, a);
        if (IsInteger(b))
        {
            long n = Math.Max(0, AsLong(b));
            switch (a)
            {
                case string s:
                    if (s.Length * (double)n > MaxStringLength) throw new TemplateException("MemoryError", $"string longer than {MaxStringLength} characters");
                    return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
                case List<object?> list:
                    if (list.Count * (double)n > MaxListLength) throw new TemplateException("MemoryError", $"list longer than {MaxListLength} items");
                    var result = new List<object?>(list.Count * (int)n);
                    for (long i = 0; i < n; i++) result.AddRange(list);
                    return result;
                case PyTuple tuple:
                    if (tuple.Count * (double)n > MaxListLength) throw new TemplateException("MemoryError", $"tuple longer than {MaxListLength} items");
                    var items = new List<object?>();
                    for (long i = 0; i < n; i++) items.AddRange(tuple.Items);
                    return new PyTuple([.. items]);
            }
        }
        if (a is string or List<object?> or PyTuple)
            throw new TemplateException("TypeError", $"can't multiply sequence by non-int of type '{PythonText.TypeName(b)}'");
        throw Unsupported("*", a, b);
    }

    public static object? Divide(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("/", a, b);
        double y = AsDouble(b);
        if (y == 0) throw new TemplateException("ZeroDivisionError", IsInteger(a) && IsInteger(b) ? "division by zero" : "float division by zero");
        return AsDouble(a) / y;
    }

    public static object? FloorDivide(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("//", a, b);
        if (IsInteger(a) && IsInteger(b))
        {
            long x = AsLong(a), y = AsLong(b);
            if (y == 0) throw new TemplateException("ZeroDivisionError", "integer division or modulo by zero");
            if (x == long.MinValue && y == -1) throw new TemplateException("OverflowError", "integer result too large for this template engine");
            long q = x / y;
            if (x % y != 0 && ((x < 0) != (y < 0))) q--;
            return q;
        }
        double dx = AsDouble(a), dy = AsDouble(b);
        if (dy == 0) throw new TemplateException("ZeroDivisionError", "float floor division by zero");
        // CPython's float_floor_div.
        double mod = dx % dy;
        double div = (dx - mod) / dy;
        if (mod != 0 && ((dy < 0) != (mod < 0))) div -= 1.0;
        if (div == 0) return Math.CopySign(0.0, dx / dy);
        double floor = Math.Floor(div);
        return div - floor > 0.5 ? floor + 1.0 : floor;
    }

    private static double FloatMod(double x, double y)
    {
        double mod = x % y;
        if (mod != 0 && ((y < 0) != (mod < 0))) mod += y;
        else if (mod == 0) mod = Math.CopySign(0, y);
        return mod;
    }

    public static object? Modulo(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (a is string format) return PrintfFormat.Format(format, b);
        if (a is Markup markup) return new Markup(PrintfFormat.Format(markup.Text, b, escapeArguments: true));
        b = Markup.Plain(b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("%", a, b);
        if (IsInteger(a) && IsInteger(b))
        {
            long x = AsLong(a), y = AsLong(b);
            if (y == 0) throw new TemplateException("ZeroDivisionError", "integer modulo by zero");
            if (y == -1) return 0L;
            long r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            return r;
        }
        double dy = AsDouble(b);
        if (dy == 0) throw new TemplateException("ZeroDivisionError", "float modulo");
        return FloatMod(AsDouble(a), dy);
    }

    public static object? Power(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("** or pow()", a, b);
        if (IsInteger(a) && IsInteger(b))
        {
            long x = AsLong(a), y = AsLong(b);
            if (y < 0)
            {
                if (x == 0) throw new TemplateException("ZeroDivisionError", "0.0 cannot be raised to a negative power");
                return Math.Pow(x, y);
            }
            return Checked(() =>
            {
                long result = 1, power = x;
                for (long e = y; e > 0; e >>= 1)
                {
                    if ((e & 1) != 0) result = checked(result * power);
                    if (e > 1) power = checked(power * power);
                }
                return result;
            });
        }
        double dx = AsDouble(a), dyy = AsDouble(b);
        if (dx == 0 && dyy < 0) throw new TemplateException("ZeroDivisionError", "0.0 cannot be raised to a negative power");
        return Math.Pow(dx, dyy);
    }

    public static object? Negate(object? a)
    {
        if (a is Undefined u) throw u.Error();
        return a switch
        {
            bool b => (object)(b ? -1L : 0L),
            long l => Checked(() => checked(-l)),
            double d => -d,
            _ => throw new TemplateException("TypeError", $"bad operand type for unary -: '{PythonText.TypeName(a)}'"),
        };
    }

    public static object? Plus(object? a)
    {
        if (a is Undefined u) throw u.Error();
        return a switch
        {
            bool b => (object)(b ? 1L : 0L),
            long or double => a,
            _ => throw new TemplateException("TypeError", $"bad operand type for unary +: '{PythonText.TypeName(a)}'"),
        };
    }

    /// <summary>Python slice index normalisation (<c>slice.indices</c>), then the selected positions.</summary>
    public static IEnumerable<int> SliceIndices(object? start, object? stop, object? step, int length)
    {
        long stepValue = SliceIndex(step) ?? 1;
        if (stepValue == 0) throw new TemplateException("ValueError", "slice step cannot be zero");
        long? startValue = SliceIndex(start), stopValue = SliceIndex(stop);
        long lower = stepValue < 0 ? -1 : 0, upper = stepValue < 0 ? length - 1 : length;
        long Clamp(long? value, long fallback)
        {
            if (value is null) return fallback;
            long v = value.Value;
            if (v < 0) { v += length; if (v < lower) v = lower; }
            else if (v > upper) v = upper;
            return v;
        }
        long from = Clamp(startValue, stepValue < 0 ? upper : lower);
        long to = Clamp(stopValue, stepValue < 0 ? lower : upper);
        if (stepValue > 0) for (long i = from; i < to; i += stepValue) yield return (int)i;
        else for (long i = from; i > to; i += stepValue) yield return (int)i;
    }

    private static long? SliceIndex(object? value) => value switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException("TypeError", "slice indices must be integers or None or have an __index__ method"),
    };
}
