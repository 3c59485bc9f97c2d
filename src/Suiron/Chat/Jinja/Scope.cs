namespace Suiron.Chat.Jinja;

/// <summary>
/// One level of variables. Lookups walk outwards; <c>set</c> writes to the innermost level, so (as in
/// Jinja) an assignment inside a loop body or macro never changes the enclosing scope — templates
/// use <c>namespace()</c> for that. Each loop iteration gets a fresh level, so a level keeps its
/// first three variables (typically the loop target and <c>loop</c>) in fields and allocates a
/// dictionary only beyond that.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private string? _name0, _name1, _name2;
    private object? _value0, _value1, _value2;
    private Dictionary<string, object?>? _more;

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
        if (_name0 is null) { value = null; return false; }
        if (string.Equals(_name0, name, StringComparison.Ordinal)) { value = _value0; return true; }
        if (string.Equals(_name1, name, StringComparison.Ordinal)) { value = _value1; return true; }
        if (string.Equals(_name2, name, StringComparison.Ordinal)) { value = _value2; return true; }
        if (_more is not null) return _more.TryGetValue(name, out value);
        value = null;
        return false;
    }

    public void Set(string name, object? value)
    {
        if (_name0 is null || string.Equals(_name0, name, StringComparison.Ordinal)) { _name0 = name; _value0 = value; }
        else if (_name1 is null || string.Equals(_name1, name, StringComparison.Ordinal)) { _name1 = name; _value1 = value; }
        else if (_name2 is null || string.Equals(_name2, name, StringComparison.Ordinal)) { _name2 = name; _value2 = value; }
        else (_more ??= new Dictionary<string, object?>(StringComparer.Ordinal))[name] = value;
    }
}
