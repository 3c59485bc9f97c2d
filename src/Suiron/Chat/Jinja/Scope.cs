namespace Suiron.Chat.Jinja;

/// <summary>
/// One level of variables. Lookups walk outwards; <c>set</c> writes to the innermost level, so (as in
/// Jinja) an assignment inside a loop body or macro never changes the enclosing scope — templates
/// use <c>namespace()</c> for that. Each loop iteration gets a fresh level, so levels are kept
/// small: a few variables in arrays searched linearly, a dictionary only beyond that.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private const int InlineCapacity = 8;

    private string[]? _names;
    private object?[]? _values;
    private int _count;
    private Dictionary<string, object?>? _many;

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (Scope? scope = this; scope is not null; scope = scope.Parent)
            if (scope.TryGetLocal(name, out value)) return true;
        value = null;
        return false;
    }

    private bool TryGetLocal(string name, out object? value)
    {
        if (_many is not null) return _many.TryGetValue(name, out value);
        for (int i = 0; i < _count; i++)
        {
            if (string.Equals(_names![i], name, StringComparison.Ordinal))
            {
                value = _values![i];
                return true;
            }
        }
        value = null;
        return false;
    }

    public void Set(string name, object? value)
    {
        if (_many is not null)
        {
            _many[name] = value;
            return;
        }
        for (int i = 0; i < _count; i++)
        {
            if (string.Equals(_names![i], name, StringComparison.Ordinal))
            {
                _values![i] = value;
                return;
            }
        }
        if (_count == InlineCapacity)
        {
            _many = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (int i = 0; i < _count; i++) _many[_names![i]] = _values![i];
            _many[name] = value;
            _names = null;
            _values = null;
            return;
        }
        _names ??= new string[InlineCapacity];
        _values ??= new object?[InlineCapacity];
        _names[_count] = name;
        _values[_count++] = value;
    }
}
