namespace Suiron.Chat.Jinja;

// Template values mirror the Python objects Jinja2 sees:
//   None → null, bool, int → long, float → double, str → string, list → List<object?>,
//   dict → PyDict, tuple → PyTuple, plus the Jinja runtime objects below.
// Lists and dicts are never mutated after creation (the sandbox forbids mutating methods),
// so values can be shared freely.

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).</summary>
internal sealed class PyDict : OrderedDictionary<object, object?>
{
    public PyDict() : base(PyKeyComparer.Instance) { }
    public PyDict(int capacity) : base(capacity, PyKeyComparer.Instance) { }

    /// <summary>Python <c>dict[key] = value</c> with the key checked for hashability.</summary>
    public void Put(object? key, object? value) => this[PyKeyComparer.CheckKey(Markup.Plain(key))] = value;

    public bool TryLookup(object? key, out object? value)
    {
        value = null;
        return key is not null && PyKeyComparer.IsHashable(key) && TryGetValue(key, out value);
    }
}

/// <summary>Python's hash/equality for the key types a template can build: str, numbers, bool, tuples.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => PythonOperators.AreEqual(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        string s => s.GetHashCode(),
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9.2e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        PyTuple t => t.Items.Aggregate(17, (h, item) => h * 31 + (item is null ? 0 : GetHashCode(item))),
        _ => obj.GetHashCode(),
    };

    public static bool IsHashable(object? key) => key switch
    {
        List<object?> or PyDict => false,
        PyTuple t => t.Items.All(IsHashable),
        _ => true,
    };

    public static object CheckKey(object? key)
    {
        if (key is null) throw new TemplateException("TypeError", "None is not supported as a dict key here");
        if (!IsHashable(key)) throw new TemplateException("TypeError", $"unhashable type: '{PythonText.TypeName(key)}'");
        return key;
    }
}

/// <summary>
/// A Python tuple: what <c>dict.items()</c> yields, what <c>(a, b)</c> builds. With field names it is
/// a named tuple (groupby's <c>(grouper, list)</c>), whose items are also attributes.
/// </summary>
internal sealed class PyTuple(object?[] items, string[]? fieldNames = null, string? typeName = null)
{
    public static readonly PyTuple Empty = new([]);
    public object?[] Items { get; } = items;
    public string[]? FieldNames { get; } = fieldNames;
    public string? TypeName { get; } = typeName;
    public int Count => Items.Length;
}

/// <summary>
/// Jinja2's default <c>Undefined</c>: prints as "", is falsy, iterates as empty, but raises its
/// message as soon as anything else is asked of it (attribute, item, arithmetic, call).
/// The sandbox also returns one for unsafe attributes, raising a SecurityError when used.
/// </summary>
internal sealed class Undefined
{
    private readonly bool _hasOwner;

    public Undefined(string? hint = null, string? name = null, string errorKind = "UndefinedError")
    {
        Hint = hint;
        Name = name;
        ErrorKind = errorKind;
    }

    public Undefined(object? owner, object? name)
    {
        Owner = owner;
        _hasOwner = true;
        NameValue = name;
    }

    public string? Hint { get; }
    public string? Name { get; }
    public object? Owner { get; }
    public object? NameValue { get; }
    public string ErrorKind { get; } = "UndefinedError";

    public string Message
    {
        get
        {
            if (Hint is not null) return Hint;
            if (!_hasOwner) return $"{PythonText.Repr(Name)} is undefined";
            if (NameValue is not string attribute)
                return $"{PythonText.ObjectTypeRepr(Owner)} has no element {PythonText.Repr(NameValue)}";
            return $"{PythonText.Repr(PythonText.ObjectTypeRepr(Owner))} has no attribute {PythonText.Repr(attribute)}";
        }
    }

    public TemplateException Error() => new(ErrorKind, Message);
}

/// <summary>Jinja's <c>namespace()</c>: the one object templates may assign attributes on.</summary>
internal sealed class Namespace
{
    public PyDict Attributes { get; } = new();
}

/// <summary>A one-shot iterator (Python generator, reversed(), dict item iterator): consumed by the first loop over it.</summary>
internal sealed class PyIterator(IEnumerable<object?> source, string typeName)
{
    private IEnumerator<object?>? _enumerator = source.GetEnumerator();

    public string TypeName { get; } = typeName;

    public IEnumerable<object?> Drain()
    {
        if (_enumerator is null) yield break;
        while (_enumerator.MoveNext()) yield return _enumerator.Current;
        _enumerator = null;
    }
}

internal enum DictViewKind { Keys, Values, Items }

/// <summary>What <c>dict.keys()</c>, <c>values()</c>, <c>items()</c> return: a re-iterable view.</summary>
internal sealed class DictView(PyDict dict, DictViewKind kind)
{
    public PyDict Dict { get; } = dict;
    public DictViewKind Kind { get; } = kind;

    public string TypeName => Kind switch { DictViewKind.Keys => "dict_keys", DictViewKind.Values => "dict_values", _ => "dict_items" };

    public IEnumerable<object?> Items() => Kind switch
    {
        DictViewKind.Keys => Dict.Keys,
        DictViewKind.Values => Dict.Values,
        _ => Dict.Select(pair => (object?)new PyTuple([pair.Key, pair.Value])),
    };
}

/// <summary>Positional and keyword arguments of one call.</summary>
internal sealed class Arguments(List<object?> positional, List<KeyValuePair<string, object?>> keywords)
{
    public static readonly Arguments None = new([], []);
    public List<object?> Positional { get; } = positional;
    public List<KeyValuePair<string, object?>> Keywords { get; } = keywords;

    public object? Keyword(string name)
    {
        foreach (var pair in Keywords) if (pair.Key == name) return pair.Value;
        return Missing.Value;
    }

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback)
    {
        if (index < Positional.Count) return Positional[index];
        object? keyword = Keyword(name);
        return keyword is Missing ? fallback : keyword;
    }

    /// <summary>Refuses arguments beyond what a Python signature with <paramref name="names"/> accepts.</summary>
    public Arguments Expect(string function, params string[] names)
    {
        if (Positional.Count > names.Length)
            throw new TemplateException("TypeError", $"{function}() takes at most {names.Length} argument{(names.Length == 1 ? "" : "s")} ({Positional.Count} given)");
        foreach (var pair in Keywords)
            if (Array.IndexOf(names, pair.Key) < 0)
                throw new TemplateException("TypeError", $"{function}() got an unexpected keyword argument {PythonText.Repr(pair.Key)}");
        return this;
    }
}

/// <summary>Marks an argument or value that was not given (Jinja's <c>missing</c>).</summary>
internal sealed class Missing
{
    public static readonly Missing Value = new();
    private Missing() { }
}

/// <summary>A callable value other than a macro: a global function or a bound method.</summary>
internal sealed class BuiltinFunction(string name, Func<Renderer, Arguments, object?> invoke, string typeName = "builtin_function_or_method")
{
    public string Name { get; } = name;
    public string TypeName { get; } = typeName;
    public object? Invoke(Renderer renderer, Arguments arguments) => invoke(renderer, arguments);
}

/// <summary>A macro closed over the scope it was defined in (Jinja macros see later assignments there).</summary>
internal sealed class Macro(MacroNode node, Scope closure, string name)
{
    public MacroNode Node { get; } = node;
    public Scope Closure { get; } = closure;
    public string Name { get; } = name;
    /// <summary>The block of a <c>{% call %}</c>, passed to the called macro as <c>caller</c>.</summary>
    public bool IsCaller { get; init; }
}

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int depth0)
{
    private object? _lastChanged = Missing.Value;

    public IReadOnlyList<object?> Items { get; } = items;
    public int Index0 { get; set; }
    public int Depth0 { get; } = depth0;
    public int Length => Items.Count;

    /// <summary>For <c>{% for … recursive %}</c>: renders the loop body over child items, <c>loop(children)</c>.</summary>
    public Func<object?, string>? Recurse { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)(Index0 + 1),
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => (long)(Depth0 + 1),
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < Length ? Items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new BuiltinFunction("cycle", (_, args) =>
        {
            if (args.Positional.Count == 0) throw new TemplateException("TypeError", "no items for cycling given");
            return args.Positional[Index0 % args.Positional.Count];
        }, "method"),
        "changed" => new BuiltinFunction("changed", (_, args) =>
        {
            var value = new PyTuple([.. args.Positional]);
            if (_lastChanged is PyTuple last && PythonOperators.AreEqual(last, value)) return false;
            _lastChanged = value;
            return true;
        }, "method"),
        _ => Missing.Value,
    };
}

/// <summary>
/// markupsafe's <c>Markup</c>: text marked safe by <c>|safe</c> or <c>|escape</c>. Autoescaping is off
/// in chat templates, but <c>Markup + str</c> still HTML-escapes the plain operand, and some templates
/// (functionary) depend on that. Everywhere else a Markup behaves as its text.
/// </summary>
internal sealed class Markup(string text)
{
    public string Text { get; } = text;

    /// <summary>The value with any Markup replaced by its text.</summary>
    public static object? Plain(object? value) => value is Markup markup ? markup.Text : value;

    /// <summary>markupsafe.escape: Markup stays as is, anything else is str()-ed and escaped.</summary>
    public static Markup Escape(object? value) => value as Markup ?? new Markup(Filters.HtmlEscape(PythonText.Str(value)));
}

/// <summary>
/// Python's lazy <c>range</c>: loops over <c>range(n)</c> allocate nothing per item list, so a big
/// range costs time (counted by the step budget) but never a large array.
/// </summary>
internal sealed class PyRange(long start, long step, int count) : IReadOnlyList<object?>
{
    public long Start { get; } = start;
    public long Step { get; } = step;
    public int Count { get; } = count;
    public long Stop => Start + Step * Count;

    public object? this[int index] => Start + Step * index;

    public IEnumerator<object?> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return Start + Step * i;
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
