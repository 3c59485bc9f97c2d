namespace Suiron.Chat.Jinja;

/// <summary>
/// The global functions a chat template sees: Jinja's own (range, dict, namespace, joiner) with the
/// sandbox's range limit, plus the two Hugging Face adds (raise_exception, strftime_now).
/// Shared by every render; never written to.
/// </summary>
internal static class TemplateGlobals
{
    /// <summary>jinja2.sandbox.MAX_RANGE.</summary>
    public const int MaxRange = 100_000;

    public static readonly Scope Scope = Create();

    private static Scope Create()
    {
        var scope = new Scope(null);
        void Define(string name, Func<Renderer, Arguments, object?> function) => scope.Set(name, new BuiltinFunction(name, function));

        Define("range", (_, a) => Range(a));
        Define("dict", (_, a) => Dict(a, "dict"));
        Define("namespace", (_, a) =>
        {
            var ns = new Namespace();
            foreach (var pair in Dict(a, "namespace")) ns.Attributes[pair.Key] = pair.Value;
            return ns;
        });
        Define("raise_exception", (_, a) =>
            throw new TemplateException("TemplateError", PythonText.Str(a.Get(0, "message", ""))));
        Define("strftime_now", (renderer, a) =>
        {
            if (a.Get(0, "format", Missing.Value) is not string format)
                throw new TemplateException("TypeError", "strftime() argument 1 must be str");
            return Strftime.Format(renderer.Now, format);
        });
        Define("joiner", (_, a) =>
        {
            string separator = PythonText.Str(a.Get(0, "sep", ", "));
            bool used = false;
            return new BuiltinFunction("joiner", (_, _) =>
            {
                if (used) return separator;
                used = true;
                return "";
            }, "Joiner");
        });
        return scope;
    }

    private static PyRange Range(Arguments a)
    {
        if (a.Keywords.Count > 0) throw new TemplateException("TypeError", "range() takes no keyword arguments");
        var args = a.Positional.Select(x => x switch
        {
            long l => l,
            bool b => b ? 1L : 0L,
            Undefined u => throw u.Error(),
            _ => throw new TemplateException("TypeError", $"'{PythonText.TypeName(x)}' object cannot be interpreted as an integer"),
        }).ToList();
        (long start, long stop, long step) = args.Count switch
        {
            1 => (0L, args[0], 1L),
            2 => (args[0], args[1], 1L),
            3 => (args[0], args[1], args[2]),
            0 => throw new TemplateException("TypeError", "range expected at least 1 argument, got 0"),
            _ => throw new TemplateException("TypeError", $"range expected at most 3 arguments, got {args.Count}"),
        };
        if (step == 0) throw new TemplateException("ValueError", "range() arg 3 must not be zero");
        long count = step > 0
            ? (stop > start ? (stop - start - 1) / step + 1 : 0)
            : (start > stop ? (start - stop - 1) / -step + 1 : 0);
        if (count > MaxRange)
            throw new TemplateException("OverflowError", $"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        return new PyRange(start, step, (int)count);
    }

    /// <summary>Python's <c>dict(mapping_or_pairs, **kwargs)</c>.</summary>
    private static PyDict Dict(Arguments a, string function)
    {
        if (a.Positional.Count > 1) throw new TemplateException("TypeError", $"{function} expected at most 1 argument, got {a.Positional.Count}");
        var dict = new PyDict();
        if (a.Positional.Count == 1)
        {
            object? source = a.Positional[0];
            if (source is PyDict mapping)
            {
                foreach (var pair in mapping) dict[pair.Key] = pair.Value;
            }
            else
            {
                foreach (object? item in PythonOperators.Iterate(source))
                {
                    var pair = PythonOperators.ToList(item);
                    if (pair.Count != 2) throw new TemplateException("ValueError", $"dictionary update sequence element has length {pair.Count}; 2 is required");
                    dict.Put(pair[0], pair[1]);
                }
            }
        }
        foreach (var pair in a.Keywords) dict[pair.Key] = pair.Value;
        return dict;
    }
}
