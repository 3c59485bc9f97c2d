using System.Runtime.CompilerServices;
using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>
/// Executes a parsed template once. Lookups follow Jinja2's sandboxed environment
/// (<c>ImmutableSandboxedEnvironment</c>, as Hugging Face uses): attribute access tries the Python
/// attribute first and then the item, item access the other way round, mutating methods such as
/// <c>list.append</c> are refused with a SecurityError, and missing things become Undefined.
/// A budget of steps, a macro depth limit and size caps keep hostile templates from hanging or
/// exhausting the process.
/// </summary>
internal sealed class Renderer
{
    /// <summary>
    /// Steps (statements, loop iterations, macro calls, 256 characters built) one render may take by
    /// default: about a second of work, enough for templates that scan all earlier messages for
    /// each message (O(n²)) over a few thousand messages.
    /// </summary>
    public const long DefaultStepBudget = 10_000_000;
    public const int MaxCallDepth = 100;
    public const int MaxOutputLength = PythonOperators.MaxStringLength;

    private enum Flow { Normal, Break, Continue }

    private readonly long _stepBudget;
    private long _stepsLeft;
    private int _callDepth;
    private int _line;

    public Renderer(DateTime now, long stepBudget = DefaultStepBudget)
    {
        Now = now;
        _stepBudget = _stepsLeft = stepBudget;
    }

    /// <summary>The time <c>strftime_now</c> formats.</summary>
    public DateTime Now { get; }

    public string Render(List<Statement> body, Scope variables)
    {
        var output = new StringBuilder();
        try
        {
            ExecuteBody(body, new Scope(variables), output);
        }
        catch (TemplateException e) when (e.Line is null)
        {
            throw e.AtLine(_line);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateException("RecursionError", "maximum recursion depth exceeded", _line);
        }
        return output.ToString();
    }

    private void Spend(long steps)
    {
        _stepsLeft -= steps;
        if (_stepsLeft < 0)
            throw new TemplateException("TemplateRuntimeError", $"template exceeded its budget of {_stepBudget} evaluation steps (runaway loop?)");
    }

    private void SpendForSize(object? result)
    {
        if (result is string { Length: > 256 } s) Spend(s.Length >> 8);
        else if (result is List<object?> { Count: > 256 } list) Spend(list.Count >> 8);
    }

    private static void Append(StringBuilder output, string text)
    {
        if ((long)output.Length + text.Length > MaxOutputLength)
            throw new TemplateException("MemoryError", $"template output longer than {MaxOutputLength} characters");
        output.Append(text);
    }

    // ---- statements ----

    private Flow ExecuteBody(List<Statement> body, Scope scope, StringBuilder output)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        foreach (Statement statement in body)
        {
            Flow flow = Execute(statement, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Execute(Statement statement, Scope scope, StringBuilder output)
    {
        _line = statement.Line;
        Spend(1);
        switch (statement)
        {
            case TextStatement text:
                Append(output, text.Text);
                return Flow.Normal;
            case PrintStatement print:
                Append(output, PythonText.Str(Evaluate(print.Value, scope)));
                return Flow.Normal;
            case IfStatement ifStatement:
                foreach (var (test, body) in ifStatement.Branches)
                    if (PythonOperators.IsTruthy(Evaluate(test, scope))) return ExecuteBody(body, scope, output);
                return ExecuteBody(ifStatement.Else, scope, output);
            case ForStatement loop:
                RunLoop(loop, Evaluate(loop.Iterable, scope), scope, output, 0);
                return Flow.Normal;
            case SetStatement set:
                Assign(set.Target, Evaluate(set.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStatement setBlock:
                {
                    var captured = new StringBuilder();
                    ExecuteBody(setBlock.Body, scope, captured);
                    object? value = captured.ToString();
                    if (setBlock.Filter is not null) value = ApplyFilterChain(setBlock.Filter, value, scope);
                    Assign(setBlock.Target, value, scope);
                    return Flow.Normal;
                }
            case MacroNode macro:
                scope.Set(macro.Name, new Macro(macro, scope, macro.Name));
                return Flow.Normal;
            case CallBlockStatement call:
                {
                    var caller = new Macro(call.Caller, scope, "caller") { IsCaller = true };
                    object? function = Evaluate(call.Call.Function, scope);
                    Arguments arguments = EvaluateArguments(call.Call.Arguments, scope);
                    arguments.Keywords.Add(new("caller", caller));
                    Append(output, PythonText.Str(Invoke(function, arguments)));
                    return Flow.Normal;
                }
            case FilterBlockStatement filterBlock:
                {
                    var captured = new StringBuilder();
                    ExecuteBody(filterBlock.Body, scope, captured);
                    Append(output, PythonText.Str(ApplyFilterChain(filterBlock.Filter, captured.ToString(), scope)));
                    return Flow.Normal;
                }
            case WithStatement with:
                {
                    var inner = new Scope(scope);
                    var values = with.Assignments.Select(a => Evaluate(a.Value, scope)).ToList();
                    for (int i = 0; i < values.Count; i++) Assign(with.Assignments[i].Target, values[i], inner);
                    return ExecuteBody(with.Body, inner, output);
                }
            case BreakStatement:
                return Flow.Break;
            case ContinueStatement:
                return Flow.Continue;
            default:
                throw new InvalidOperationException($"unknown statement {statement.GetType().Name}");
        }
    }

    private void RunLoop(ForStatement loop, object? iterable, Scope scope, StringBuilder output, int depth0)
    {
        // Lists and tuples are never mutated, so the loop can walk them in place.
        IReadOnlyList<object?> items = iterable switch
        {
            List<object?> list => list,
            PyTuple tuple => tuple.Items,
            PyRange range => range,
            _ => PythonOperators.ToList(iterable),
        };
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                var filterScope = new Scope(scope);
                Assign(loop.Target, item, filterScope);
                if (PythonOperators.IsTruthy(Evaluate(loop.Filter, filterScope))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            ExecuteBody(loop.Else, new Scope(scope), output);
            return;
        }
        var context = new LoopContext(items, depth0);
        if (loop.Recursive)
        {
            context.Recurse = children =>
            {
                var captured = new StringBuilder();
                RunLoop(loop, children, scope, captured, depth0 + 1);
                return captured.ToString();
            };
        }
        for (int i = 0; i < items.Count; i++)
        {
            Spend(1);
            context.Index0 = i;
            var iterationScope = new Scope(scope);
            Assign(loop.Target, items[i], iterationScope);
            iterationScope.Set("loop", context);
            if (ExecuteBody(loop.Body, iterationScope, output) == Flow.Break) break;
        }
    }

    private void Assign(AssignTarget target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case TupleTarget tuple:
                {
                    var items = PythonOperators.ToList(value);
                    if (items.Count < tuple.Items.Count)
                        throw new TemplateException("ValueError", $"not enough values to unpack (expected {tuple.Items.Count}, got {items.Count})");
                    if (items.Count > tuple.Items.Count)
                        throw new TemplateException("ValueError", $"too many values to unpack (expected {tuple.Items.Count})");
                    for (int i = 0; i < items.Count; i++) Assign(tuple.Items[i], items[i], scope);
                    break;
                }
            case NamespaceTarget ns:
                if (!scope.TryGet(ns.Name, out object? holder) || holder is not Namespace namespaceObject)
                    throw new TemplateException("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
                namespaceObject.Attributes[ns.Attribute] = value;
                break;
        }
    }

    // ---- expressions ----

    public object? Evaluate(Expression expression, Scope scope)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        switch (expression)
        {
            case ConstantExpression constant:
                return constant.Value;
            case NameExpression name:
                return scope.TryGet(name.Name, out object? value) ? value : new Undefined(name: name.Name);
            case AttributeExpression attribute:
                return GetAttribute(Evaluate(attribute.Target, scope), attribute.Attribute);
            case ItemExpression item:
                {
                    object? target = Evaluate(item.Target, scope);
                    if (item.Key is SliceExpression slice)
                        return GetSlice(target, EvaluateOptional(slice.Start, scope), EvaluateOptional(slice.Stop, scope), EvaluateOptional(slice.Step, scope));
                    return GetItem(target, Evaluate(item.Key, scope));
                }
            case ListExpression list:
                return list.Items.Select(x => Evaluate(x, scope)).ToList();
            case TupleExpression tuple:
                return new PyTuple([.. tuple.Items.Select(x => Evaluate(x, scope))]);
            case DictExpression dict:
                {
                    var result = new PyDict(dict.Items.Count);
                    foreach (var (key, item) in dict.Items) result.Put(Evaluate(key, scope), Evaluate(item, scope));
                    return result;
                }
            case CallExpression call:
                {
                    object? function = Evaluate(call.Function, scope);
                    object? result = Invoke(function, EvaluateArguments(call.Arguments, scope));
                    SpendForSize(result);
                    return result;
                }
            case FilterExpression filter:
                return ApplyFilterChain(filter, null, scope);
            case TestExpression test:
                {
                    object? input = Evaluate(test.Input, scope);
                    return Tests.Apply(this, test.Name, input, EvaluateArguments(test.Arguments, scope));
                }
            case BinaryExpression binary:
                {
                    object? left = Evaluate(binary.Left, scope);
                    object? right = Evaluate(binary.Right, scope);
                    object? result = binary.Operator switch
                    {
                        "+" => PythonOperators.Add(left, right),
                        "-" => PythonOperators.Subtract(left, right),
                        "*" => PythonOperators.Multiply(left, right),
                        "/" => PythonOperators.Divide(left, right),
                        "//" => PythonOperators.FloorDivide(left, right),
                        "%" => PythonOperators.Modulo(left, right),
                        "**" => PythonOperators.Power(left, right),
                        _ => throw new InvalidOperationException(binary.Operator),
                    };
                    SpendForSize(result);
                    return result;
                }
            case UnaryExpression unary:
                {
                    object? operand = Evaluate(unary.Operand, scope);
                    return unary.Operator == "-" ? PythonOperators.Negate(operand) : PythonOperators.Plus(operand);
                }
            case CompareExpression compare:
                {
                    object? left = Evaluate(compare.First, scope);
                    foreach (var (op, operandExpression) in compare.Rest)
                    {
                        object? right = Evaluate(operandExpression, scope);
                        if (!PythonOperators.CompareOp(op, left, right)) return false;
                        left = right;
                    }
                    return true;
                }
            case ConditionalExpression conditional:
                if (PythonOperators.IsTruthy(Evaluate(conditional.Test, scope))) return Evaluate(conditional.Then, scope);
                return conditional.Else is null
                    ? new Undefined($"the inline if-expression on line {conditional.Line} evaluated to false and no else section was defined.")
                    : Evaluate(conditional.Else, scope);
            case AndExpression and:
                {
                    object? left = Evaluate(and.Left, scope);
                    return PythonOperators.IsTruthy(left) ? Evaluate(and.Right, scope) : left;
                }
            case OrExpression or:
                {
                    object? left = Evaluate(or.Left, scope);
                    return PythonOperators.IsTruthy(left) ? left : Evaluate(or.Right, scope);
                }
            case NotExpression not:
                return !PythonOperators.IsTruthy(Evaluate(not.Operand, scope));
            case ConcatExpression concat:
                {
                    var sb = new StringBuilder();
                    foreach (Expression part in concat.Parts)
                    {
                        string text = PythonText.Str(Evaluate(part, scope));
                        PythonOperators.CheckStringLength((long)sb.Length + text.Length);
                        sb.Append(text);
                    }
                    string result = sb.ToString();
                    SpendForSize(result);
                    return result;
                }
            case SliceExpression:
                throw new TemplateException("TemplateSyntaxError", "slice outside of a subscript");
            default:
                throw new InvalidOperationException($"unknown expression {expression.GetType().Name}");
        }
    }

    private object? EvaluateOptional(Expression? expression, Scope scope) =>
        expression is null ? null : Evaluate(expression, scope);

    private Arguments EvaluateArguments(CallArguments arguments, Scope scope)
    {
        var positional = arguments.Positional.Select(x => Evaluate(x, scope)).ToList();
        var keywords = arguments.Keywords.Select(k => new KeyValuePair<string, object?>(k.Name, Evaluate(k.Value, scope))).ToList();
        if (arguments.DynamicPositional is not null)
            positional.AddRange(PythonOperators.Iterate(Evaluate(arguments.DynamicPositional, scope)));
        if (arguments.DynamicKeywords is not null)
        {
            object? mapping = Evaluate(arguments.DynamicKeywords, scope);
            if (mapping is not PyDict dict) throw new TemplateException("TypeError", $"argument after ** must be a mapping, not {PythonText.TypeName(mapping)}");
            foreach (var pair in dict)
            {
                if (pair.Key is not string key) throw new TemplateException("TypeError", "keywords must be strings");
                keywords.Add(new(key, pair.Value));
            }
        }
        return new Arguments(positional, keywords);
    }

    /// <summary>Applies <c>a | f1 | f2</c>: the innermost filter gets <paramref name="blockInput"/> when its input is absent (filter and set blocks).</summary>
    private object? ApplyFilterChain(FilterExpression filter, object? blockInput, Scope scope)
    {
        object? input = filter.Input switch
        {
            null => blockInput,
            FilterExpression inner => ApplyFilterChain(inner, blockInput, scope),
            var expression => Evaluate(expression, scope),
        };
        object? result = Filters.Apply(this, filter.Name, input, EvaluateArguments(filter.Arguments, scope));
        SpendForSize(result);
        return result;
    }

    // ---- lookups (jinja2.sandbox.SandboxedEnvironment.getattr / getitem) ----

    /// <summary><c>obj.name</c>: the Python attribute (method) first, then the item.</summary>
    public object? GetAttribute(object? target, string name)
    {
        target = Markup.Plain(target);
        if (target is Undefined undefined) throw undefined.Error();
        if (TryGetPythonAttribute(target, name, out object? attribute)) return attribute;
        if (target is PyDict dict && dict.TryLookup(name, out object? value)) return value;
        return new Undefined(target, name);
    }

    /// <summary><c>obj[key]</c>: the item first, then (for string keys) the Python attribute.</summary>
    public object? GetItem(object? target, object? key)
    {
        target = Markup.Plain(target);
        key = Markup.Plain(key);
        if (target is Undefined undefined) throw undefined.Error();
        switch (target)
        {
            case PyDict dict:
                if (dict.TryLookup(key, out object? value)) return value;
                break;
            case List<object?> list when key is long or bool:
                return IndexInto(list, key, target);
            case PyTuple tuple when key is long or bool:
                return IndexInto(tuple.Items, key, target);
            case PyRange range when key is long or bool:
                return IndexInto(range, key, target);
            case string s when key is long or bool:
                {
                    var characters = PythonOperators.HasSurrogates(s) ? PythonOperators.Characters(s) : null;
                    int length = characters?.Count ?? s.Length;
                    long index = key is bool b ? (b ? 1 : 0) : (long)key;
                    if (index < 0) index += length;
                    if (index < 0 || index >= length) return new Undefined(target, key);
                    return characters is null ? s[(int)index].ToString() : characters[(int)index];
                }
        }
        if (key is string name && TryGetPythonAttribute(target, name, out object? attribute)) return attribute;
        return new Undefined(target, key);
    }

    private static object? IndexInto(IReadOnlyList<object?> items, object key, object target)
    {
        long index = key is bool b ? (b ? 1 : 0) : (long)key;
        if (index < 0) index += items.Count;
        return index >= 0 && index < items.Count ? items[(int)index] : new Undefined(target, key);
    }

    public object? GetSlice(object? target, object? start, object? stop, object? step)
    {
        target = Markup.Plain(target);
        if (target is Undefined undefined) throw undefined.Error();
        switch (target)
        {
            case string s:
                if (!PythonOperators.HasSurrogates(s))
                {
                    var sb = new StringBuilder();
                    foreach (int i in PythonOperators.SliceIndices(start, stop, step, s.Length)) sb.Append(s[i]);
                    return sb.ToString();
                }
                var characters = PythonOperators.Characters(s);
                return string.Concat(PythonOperators.SliceIndices(start, stop, step, characters.Count).Select(i => (string)characters[i]!));
            case List<object?> list:
                return PythonOperators.SliceIndices(start, stop, step, list.Count).Select(i => list[i]).ToList();
            case PyTuple tuple:
                return new PyTuple([.. PythonOperators.SliceIndices(start, stop, step, tuple.Count).Select(i => tuple.Items[i])]);
            case PyRange range:
                return PythonOperators.SliceIndices(start, stop, step, range.Count).Select(i => range[i]).ToList();
        }
        return new Undefined(target, new PyTuple([start, stop, step]));
    }

    /// <summary>The Python attribute alone, without the item fallback (the <c>attr</c> filter); null if there is none.</summary>
    public object? GetPythonAttribute(object? target, string name) => TryGetPythonAttribute(target, name, out object? attribute) ? attribute : null;

    private bool TryGetPythonAttribute(object? target, string name, out object? attribute)
    {
        attribute = null;
        if (name.StartsWith("__", StringComparison.Ordinal) && name.EndsWith("__", StringComparison.Ordinal) && name.Length > 4)
        {
            // Every Python object has dunder attributes; the sandbox refuses them all.
            attribute = Unsafe(target, name);
            return true;
        }
        switch (target)
        {
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out attribute);
            case PyTuple { FieldNames: { } fields } tuple when Array.IndexOf(fields, name) >= 0:
                attribute = tuple.Items[Array.IndexOf(fields, name)];
                return true;
            case LoopContext loop:
                attribute = loop.Attribute(name);
                return attribute is not Missing;
            case Macro macro:
                switch (name)
                {
                    case "name": attribute = macro.Name; return true;
                    case "arguments": attribute = new PyTuple([.. macro.Node.Parameters]); return true;
                    case "catch_kwargs": attribute = macro.Node.UsesKwargs; return true;
                    case "catch_varargs": attribute = macro.Node.UsesVarargs; return true;
                    case "caller": attribute = macro.Node.UsesCaller; return true;
                }
                return false;
        }
        if (PythonMethods.IsMutating(target, name))
        {
            attribute = Unsafe(target, name);
            return true;
        }
        attribute = PythonMethods.Bind(target, name);
        return attribute is not null;
    }

    private static Undefined Unsafe(object? target, string name) =>
        new($"access to attribute {PythonText.Repr(name)} of {PythonText.Repr(PythonText.TypeName(target))} object is unsafe.", name, "SecurityError");

    // ---- calls ----

    public object? Invoke(object? function, Arguments arguments)
    {
        switch (function)
        {
            case Undefined undefined:
                throw undefined.Error();
            case Macro macro:
                return CallMacro(macro, arguments);
            case BuiltinFunction builtin:
                return builtin.Invoke(this, arguments);
            case LoopContext loop:
                if (loop.Recurse is null) throw new TemplateException("TypeError", "The loop must have the 'recursive' marker to be called recursively.");
                if (arguments.Positional.Count != 1) throw new TemplateException("TypeError", "loop() takes exactly one argument");
                return loop.Recurse(arguments.Positional[0]);
            default:
                throw new TemplateException("TypeError", $"'{PythonText.TypeName(function)}' object is not callable");
        }
    }

    private string CallMacro(Macro macro, Arguments arguments)
    {
        if (_callDepth >= MaxCallDepth)
            throw new TemplateException("RecursionError", $"maximum macro call depth ({MaxCallDepth}) exceeded");
        Spend(1);
        MacroNode node = macro.Node;
        var scope = new Scope(macro.Closure);
        var keywords = new List<KeyValuePair<string, object?>>(arguments.Keywords);
        var positional = arguments.Positional;
        int parameterCount = node.Parameters.Count;
        int firstDefault = parameterCount - node.Defaults.Count;

        object? TakeKeyword(string name)
        {
            int index = keywords.FindIndex(k => k.Key == name);
            if (index < 0) return Missing.Value;
            object? value = keywords[index].Value;
            keywords.RemoveAt(index);
            return value;
        }

        var values = new object?[parameterCount];
        for (int i = 0; i < parameterCount; i++)
            values[i] = i < positional.Count ? positional[i] : positional.Count < parameterCount ? TakeKeyword(node.Parameters[i]) : Missing.Value;

        if (node.UsesCaller)
        {
            object? caller = TakeKeyword("caller");
            scope.Set("caller", caller is Missing or null ? new Undefined("No caller defined", "caller") : caller);
        }
        if (node.UsesKwargs)
        {
            var kwargs = new PyDict();
            foreach (var pair in keywords) kwargs.Put(pair.Key, pair.Value);
            scope.Set("kwargs", kwargs);
        }
        else if (keywords.Count > 0)
        {
            if (keywords.Any(k => k.Key == "caller") && !node.UsesCaller && macro.Name != "caller")
                throw new TemplateException("TypeError", $"macro {PythonText.Repr(macro.Name)} takes no keyword argument 'caller'");
            throw new TemplateException("TypeError", $"macro {PythonText.Repr(macro.Name)} takes no keyword argument {PythonText.Repr(keywords[0].Key)}");
        }
        if (node.UsesVarargs)
            scope.Set("varargs", new PyTuple([.. positional.Skip(parameterCount)]));
        else if (positional.Count > parameterCount)
            throw new TemplateException("TypeError", $"macro {PythonText.Repr(macro.Name)} takes not more than {parameterCount} argument(s)");

        int line = _line;
        _callDepth++;
        try
        {
            for (int i = 0; i < parameterCount; i++)
            {
                object? value = values[i];
                if (value is Missing)
                {
                    value = i >= firstDefault
                        ? Evaluate(node.Defaults[i - firstDefault], scope)
                        : new Undefined($"parameter {PythonText.Repr(node.Parameters[i])} was not provided", node.Parameters[i]);
                }
                scope.Set(node.Parameters[i], value);
            }
            var output = new StringBuilder();
            ExecuteBody(node.Body, scope, output);
            _line = line;
            return output.ToString();
        }
        finally
        {
            _callDepth--;
        }
    }
}
