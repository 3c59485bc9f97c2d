namespace Suiron.Chat.Jinja;

/// <summary>Jinja2's built-in tests (<c>x is defined</c>, <c>x is string</c>, <c>x is divisibleby 3</c> …), with Python's type notions.</summary>
internal static class Tests
{
    public static bool Exists(string name) => name is "defined" or "undefined" or "none" or "string" or "number" or "integer" or "float"
        or "mapping" or "iterable" or "sequence" or "boolean" or "true" or "false" or "callable" or "odd" or "even" or "divisibleby"
        or "eq" or "equalto" or "==" or "ne" or "!=" or "lt" or "lessthan" or "<" or "le" or "<=" or "gt" or "greaterthan" or ">"
        or "ge" or ">=" or "in" or "sameas" or "lower" or "upper" or "escaped" or "filter" or "test";

    public static bool Apply(Renderer renderer, string name, object? value, Arguments arguments)
    {
        object? Argument()
        {
            if (arguments.Positional.Count > 0) return arguments.Positional[0];
            if (arguments.Keywords.Count > 0) return arguments.Keywords[0].Value;
            throw new TemplateException("TypeError", $"test '{name}' is missing a required argument");
        }

        switch (name)
        {
            case "defined": return value is not Undefined;
            case "undefined": return value is Undefined;
            case "none": return value is null;
            case "string": return value is string or Markup;
            case "number": return value is long or double or bool;
            case "integer": return value is long;
            case "float": return value is double;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "mapping": return value is PyDict;
            case "iterable": return PythonOperators.IsIterable(value);
            // Python: has len() and __getitem__ — dicts and Undefined count, generators do not.
            case "sequence": return value is string or Markup or List<object?> or PyTuple or PyRange or PyDict or Undefined;
            case "callable": return value is Macro or BuiltinFunction or Undefined or LoopContext;
            case "odd": return PythonOperators.AreEqual(PythonOperators.Modulo(value, 2L), 1L);
            case "even": return PythonOperators.AreEqual(PythonOperators.Modulo(value, 2L), 0L);
            case "divisibleby": return PythonOperators.AreEqual(PythonOperators.Modulo(value, Argument()), 0L);
            case "eq" or "equalto" or "==": return PythonOperators.AreEqual(value, Argument());
            case "ne" or "!=": return !PythonOperators.AreEqual(value, Argument());
            case "lt" or "lessthan" or "<": return PythonOperators.CompareOp("<", value, Argument());
            case "le" or "<=": return PythonOperators.CompareOp("<=", value, Argument());
            case "gt" or "greaterthan" or ">": return PythonOperators.CompareOp(">", value, Argument());
            case "ge" or ">=": return PythonOperators.CompareOp(">=", value, Argument());
            case "in": return PythonOperators.Contains(Argument(), value);
            case "sameas":
                {
                    object? other = Argument();
                    if (value is null || other is null) return value is null && other is null;
                    if (value is bool a && other is bool b) return a == b;
                    if (value is long or double or string) return PythonOperators.AreEqual(value, other) && value.GetType() == other.GetType();
                    return ReferenceEquals(value, other);
                }
            case "lower": { string s = PythonText.Str(value); return s.Any(char.IsLetter) && !s.Any(char.IsUpper); }
            case "upper": { string s = PythonText.Str(value); return s.Any(char.IsLetter) && !s.Any(char.IsLower); }
            case "escaped": return value is Markup;
            case "filter": return Argument() is string filterName && Filters.Exists(filterName);
            case "test": return Argument() is string testName && Exists(testName);
        }
        throw new TemplateException("TemplateRuntimeError", $"No test named {PythonText.Repr(name)}.");
    }
}
