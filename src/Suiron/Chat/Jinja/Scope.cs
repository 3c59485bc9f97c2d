namespace Suiron.Chat.Jinja;

/// <summary>
/// One level of variables. Lookups walk outwards; <c>set</c> writes to the innermost level, so (as in
/// Jinja) an assignment inside a loop body or macro never changes the enclosing scope — templates
/// use <c>namespace()</c> for that. Each loop iteration gets a fresh level.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private Dictionary<string, object?>? _variables;

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (Scope? scope = this; scope is not null; scope = scope.Parent)
            if (scope._variables is not null && scope._variables.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => (_variables ??= new Dictionary<string, object?>(StringComparer.Ordinal))[name] = value;
}
