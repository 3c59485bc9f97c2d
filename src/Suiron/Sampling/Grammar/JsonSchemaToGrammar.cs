using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// Turns a JSON Schema into GBNF whose every match is a JSON document valid against the schema, in the manner of
/// llama.cpp's json-schema-to-grammar: properties in the schema's order (required ones first), optional properties in
/// that order too, little whitespace (none, a space, or one or two newlines and some indentation) so outputs stay compact.
/// </summary>
/// <remarks>
/// Supported: type (and type arrays), properties/required/additionalProperties, items/prefixItems/minItems/maxItems,
/// enum, const, minLength/maxLength, pattern (a common regex subset), formats date, time, date-time, uuid and email,
/// integer minimum/maximum (exclusive too), integer multipleOf (unbounded, or bounded on both sides), number
/// minimum/maximum (exclusive too; see <c>BoundedNumber</c> for what it leaves out), $ref to #/$defs and #/definitions
/// (recursion allowed), anyOf/oneOf, allOf of objects. Refused (<see cref="GrammarException"/>): empty ranges, number
/// ranges too narrow to hold a whole unit interval. Not enforced, as llama.cpp's json-schema-to-grammar does not (the
/// grammar accepts more than the schema): integer multipleOf with one bound only (or see <c>IntegerMultiples</c>),
/// number multipleOf, uniqueItems (not context-free), minProperties/maxProperties, and the keywords not named here.
/// Dates are kept strictly valid (no 30 February).
/// </remarks>
public static class JsonSchemaToGrammar
{
    /// <summary>GBNF for <paramref name="jsonSchema"/> (JSON text). Throws <see cref="GrammarException"/> for schemas it cannot express.</summary>
    public static string Convert(string jsonSchema)
    {
        JsonNode? schema;
        try { schema = JsonNode.Parse(jsonSchema); }
        catch (JsonException e) { throw new GrammarException("Invalid JSON schema: " + e.Message); }
        JsonSchemaKeywords.Check(schema);
        return new SchemaConverter(schema).Build();
    }

    /// <summary>GBNF for any JSON object: what OpenAI's <c>response_format: {"type": "json_object"}</c> asks for.</summary>
    public static string AnyJsonObject => Convert("""{"type":"object"}""");

    /// <summary>
    /// GBNF with one rule per schema (named after <c>Name</c>, possibly numbered; the names used are passed to
    /// <paramref name="rootBody"/> in order) and <c>root ::= rootBody(names)</c>: how tool-call grammars embed each
    /// function's parameters. A <c>$ref</c> resolves within its own schema.
    /// </summary>
    public static string ConvertComposite(IReadOnlyList<(string Name, string Schema)> schemas, Func<IReadOnlyList<string>, string> rootBody)
    {
        var converter = new SchemaConverter(null);
        var names = new List<string>();
        foreach (var (name, schema) in schemas)
        {
            JsonNode? node;
            try { node = JsonNode.Parse(schema); }
            catch (JsonException e) { throw new GrammarException($"Invalid JSON schema for '{name}': " + e.Message); }
            JsonSchemaKeywords.Check(node);
            names.Add(converter.AddSchema(node, name));
        }
        return converter.Build(rootBody(names));
    }
}

internal sealed class SchemaConverter
{
    private const string SpaceRule = "| \" \" | \"\\n\"{1,2} [ \\t]{0,20}";
    // A \uXXXX escape never names a UTF-16 surrogate (D800–DFFF): a lone surrogate is legal JSON text, but strict parsers
    // (System.Text.Json among them) refuse to read it as a string, and the point of the grammar is output that parses.
    // Characters outside the BMP are still allowed, as themselves (UTF-8).
    private const string UnicodeEscape = "\"u\" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2})";
    /// <summary>JSON string characters: anything but quote, backslash and control characters, or an escape.</summary>
    private const string CharBody = "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\/bfnrt] | " + UnicodeEscape + ")";
    private const string AnyStringChar = "[^\"\\\\\\x7F\\x00-\\x1F]";

    private static readonly Dictionary<string, (string Body, string[] Needs)> Primitives = new()
    {
        ["boolean"] = ("(\"true\" | \"false\") space", []),
        ["decimal-part"] = ("[0-9]{1,16}", []),
        ["integral-part"] = ("[0] | [1-9] [0-9]{0,15}", []),
        ["number"] = ("(\"-\"? integral-part) (\".\" decimal-part)? ([eE] [-+]? integral-part)? space", ["integral-part", "decimal-part"]),
        ["integer"] = ("(\"-\"? integral-part) space", ["integral-part"]),
        ["value"] = ("object | array | string | number | boolean | null", ["object", "array", "string", "number", "boolean", "null"]),
        ["object"] = ("\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? \"}\" space", ["string", "value"]),
        ["array"] = ("\"[\" space ( value (\",\" space value)* )? \"]\" space", ["value"]),
        ["uuid"] = ("\"\\\"\" [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12} \"\\\"\" space", []),
        ["char"] = (CharBody, []),
        ["string"] = ("\"\\\"\" char* \"\\\"\" space", ["char"]),
        ["null"] = ("\"null\" space", []),
        // Formats. Years 0001-9999 and days that exist in their month (29 February left out), so validators that parse
        // the date accept every output.
        ["date"] = ("year \"-\" ( ( \"0\" [13578] | \"1\" [02] ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] ) | ( \"0\" [469] | \"11\" ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"30\" ) | \"02\" \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] ) )", ["year"]),
        ["year"] = ("[1-9] [0-9]{3} | \"0\" ( [1-9] [0-9]{2} | \"0\" ( [1-9] [0-9] | \"0\" [1-9] ) )", []),
        ["time"] = ("( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? ( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )", []),
        ["date-time"] = ("date \"T\" time", ["date", "time"]),
        // A conservative subset of RFC 5321 addresses (local part ≤ 50, labels ≤ 22, alphabetic top-level domain) that every validator accepts.
        ["email"] = ("email-word ( \".\" email-word ){0,2} \"@\" ( email-label \".\" ){1,3} [a-zA-Z]{2,12}", ["email-word", "email-label"]),
        ["email-word"] = ("[a-zA-Z0-9_+] [a-zA-Z0-9_+-]{0,15}", []),
        ["email-label"] = ("[a-zA-Z0-9] ( [a-zA-Z0-9-]{0,20} [a-zA-Z0-9] )?", []),
        ["date-string"] = ("\"\\\"\" date \"\\\"\" space", ["date"]),
        ["time-string"] = ("\"\\\"\" time \"\\\"\" space", ["time"]),
        ["date-time-string"] = ("\"\\\"\" date-time \"\\\"\" space", ["date-time"]),
        ["email-string"] = ("\"\\\"\" email \"\\\"\" space", ["email"]),
    };

    private JsonNode? _root;
    private readonly List<string> _order = [];
    private readonly Dictionary<string, string> _rules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);
    private int _depth;

    public SchemaConverter(JsonNode? root) => _root = root;

    /// <summary>Adds a rule for <paramref name="schema"/> named after <paramref name="name"/>; returns the name used.</summary>
    public string AddSchema(JsonNode? schema, string name)
    {
        if (!_rules.ContainsKey("space")) AddRule("space", SpaceRule);
        _root = schema;
        _refRules.Clear();
        return Visit(schema, name);
    }

    /// <summary>The grammar text; <paramref name="rootBody"/> replaces the root schema when given (see <see cref="AddSchema"/>).</summary>
    public string Build(string? rootBody = null)
    {
        if (!_rules.ContainsKey("space")) AddRule("space", SpaceRule);
        if (rootBody is null) Visit(_root, "");
        else
        {
            _rules["root"] = rootBody;
            _order.Add("root");
        }
        var text = new StringBuilder();
        // root first, as llama.cpp prints it; the rest in the order they were made.
        foreach (string name in _order.OrderBy(n => n == "root" ? 0 : 1))
            text.Append(name).Append(" ::= ").Append(_rules[name]).Append('\n');
        return text.ToString();
    }

    /// <summary>Adds the rule for <paramref name="schema"/> and returns its name.</summary>
    private string Visit(JsonNode? schema, string name)
    {
        if (++_depth > 200) throw new GrammarException("JSON schema nested too deeply");
        try
        {
            string body = Body(schema, name);
            if (name.Length > 0) return AddRule(name, body);
            _rules["root"] = body;
            _order.Add("root");
            return "root";
        }
        finally { _depth--; }
    }

    /// <summary>A GBNF expression for <paramref name="schema"/>; <paramref name="name"/> prefixes the rules it creates.</summary>
    private string Body(JsonNode? schema, string name)
    {
        if (schema is JsonValue v && v.TryGetValue(out bool boolean))
        {
            if (!boolean) throw new GrammarException("Schema 'false' matches nothing");
            return Primitive("value");
        }
        if (schema is null) return Primitive("value");
        if (schema is not JsonObject obj) throw new GrammarException($"Not a schema: {schema.ToJsonString()}");

        if (obj["$ref"] is JsonNode reference) return ResolveReference(reference.GetValue<string>());

        JsonNode? type = obj["type"];
        if (type is JsonArray types)
        {
            var alternatives = new List<string>();
            for (int i = 0; i < types.Count; i++)
            {
                var single = (JsonObject)obj.DeepClone();
                single["type"] = types[i]!.DeepClone();
                alternatives.Add(Visit(single, Child(name, types.Count > 1 ? $"{i}" : "")));
            }
            return Alternatives(alternatives);
        }
        string? typeName = type?.GetValue<string>();

        if (obj["oneOf"] is JsonArray oneOf) return Alternatives(oneOf.Select((s, i) => Visit(s, Child(name, $"{i}"))).ToList());
        if (obj["anyOf"] is JsonArray anyOf) return Alternatives(anyOf.Select((s, i) => Visit(s, Child(name, $"{i}"))).ToList());

        if (obj["const"] is JsonNode || obj.ContainsKey("const")) return JsonLiteral(obj["const"]) + " space";
        if (obj["enum"] is JsonArray values)
            return "(" + string.Join(" | ", values.Select(JsonLiteral)) + ") space";

        if (typeName == "json_object") return Primitive("object");

        if (obj["allOf"] is JsonArray allOf && typeName is null or "object") return MergedObject(allOf, name);

        if (typeName is null or "object" &&
            (obj["properties"] is JsonObject || (obj.ContainsKey("additionalProperties") && !IsTrue(obj["additionalProperties"]))))
        {
            var required = new HashSet<string>(obj["required"] is JsonArray r ? r.Select(x => x!.GetValue<string>()) : []);
            var properties = obj["properties"] is JsonObject p ? p.Select(kv => (kv.Key, kv.Value)).ToList() : [];
            return ObjectBody(name, properties, required, obj["additionalProperties"], obj.ContainsKey("additionalProperties"));
        }

        if (typeName is null or "array" && (obj["items"] is not null || obj["prefixItems"] is not null))
            return ArrayBody(obj, name);
        if (typeName == "array" && (obj.ContainsKey("minItems") || obj.ContainsKey("maxItems")))
            return ArrayBody(obj, name);

        if (typeName is null or "string" && obj["pattern"] is JsonNode pattern)
            return "\"\\\"\" " + RegexToGrammar.Convert(pattern.GetValue<string>()) + " \"\\\"\" space";

        if (typeName is null or "string" && obj["format"] is JsonNode format)
        {
            string f = format.GetValue<string>();
            if (f == "uuid") return Primitive("uuid");
            if (f is "date" or "time" or "date-time" or "email") return Primitive(f + "-string");
        }

        if (typeName == "string" && (obj.ContainsKey("minLength") || obj.ContainsKey("maxLength")))
        {
            Primitive("char");
            int min = obj["minLength"]?.GetValue<int>() ?? 0;
            int? max = obj["maxLength"]?.GetValue<int>();
            return "\"\\\"\" " + Repetition("char", min, max) + " \"\\\"\" space";
        }

        if (typeName == "integer" && obj["multipleOf"] is JsonNode multipleOf) return IntegerMultiples(obj, multipleOf, name);

        if (typeName == "integer" && HasAnyBound(obj))
        {
            Primitive("integral-part");
            return "(" + IntegerRange.Expression(LowerBound(obj), UpperBound(obj)) + ") space";
        }

        if (typeName == "number" && HasAnyBound(obj)) return BoundedNumber(obj);

        if (typeName is "object" or null && obj.Count == 0) return Primitive("value");
        if (typeName is null)
        {
            // Only annotations (title, description…) or keywords we do not enforce: any value.
            return Primitive("value");
        }
        return typeName switch
        {
            "object" => Primitive("object"),
            "array" => Primitive("array"),
            "string" => Primitive("string"),
            "number" => Primitive("number"),
            "integer" => Primitive("integer"),
            "boolean" => Primitive("boolean"),
            "null" => Primitive("null"),
            _ => throw new GrammarException($"Unsupported schema type '{typeName}'"),
        };
    }

    private string ResolveReference(string reference)
    {
        if (_refRules.TryGetValue(reference, out string? known)) return known;
        if (!reference.StartsWith("#/", StringComparison.Ordinal))
            throw new GrammarException($"Only local references (#/...) are supported, not '{reference}'");
        JsonNode? target = _root;
        foreach (string rawPart in reference[2..].Split('/'))
        {
            string part = rawPart.Replace("~1", "/").Replace("~0", "~");
            target = target switch
            {
                JsonObject o when o.ContainsKey(part) => o[part],
                JsonArray a when int.TryParse(part, out int i) && i >= 0 && i < a.Count => a[i],
                _ => throw new GrammarException($"Reference '{reference}' does not resolve"),
            };
        }
        string name = UniqueName(Sanitize(reference.Split('/')[^1]));
        // Registered before visiting, so that a recursive schema refers to the rule being built.
        _refRules[reference] = name;
        _rules[name] = ""; // placeholder, replaced below
        _order.Add(name);
        string body = Body(target, name);
        _rules[name] = body;
        return name;
    }

    private string ObjectBody(string name, List<(string Key, JsonNode? Schema)> properties, HashSet<string> required,
        JsonNode? additional, bool additionalGiven)
    {
        // Required properties first, then optional ones, each group in the schema's order (llama.cpp's order).
        var ordered = properties.Where(p => required.Contains(p.Key)).Concat(properties.Where(p => !required.Contains(p.Key))).ToList();
        var keyValues = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, schema) in ordered)
        {
            string valueRule = Visit(schema, Child(name, key));
            keyValues[key] = AddRule(Child(name, key) + "-kv", JsonLiteral(JsonValue.Create(key)) + " space \":\" space " + valueRule);
        }
        var requiredKeys = ordered.Where(p => required.Contains(p.Key)).Select(p => keyValues[p.Key]).ToList();
        var optionalKeys = ordered.Where(p => !required.Contains(p.Key)).Select(p => keyValues[p.Key]).ToList();

        string? additionalRule = null;
        if (additionalGiven && !(additional is JsonValue f && f.TryGetValue(out bool allowed) && !allowed))
        {
            string valueRule = IsTrue(additional) ? Primitive("value") : Visit(additional, Child(name, "additional"));
            string keyRule = properties.Count == 0
                ? Primitive("string")
                : AddRule(Child(name, "additional-key"), NotStrings(properties.Select(p => p.Key)));
            additionalRule = AddRule(Child(name, "additional-kv"), keyRule + " \":\" space " + valueRule);
        }

        var body = new StringBuilder("\"{\" space ");
        body.Append(string.Join(" \",\" space ", requiredKeys));
        if (optionalKeys.Count > 0 || additionalRule is not null)
        {
            // Any subset of the optional properties, in order, then any number of additional ones: rule rest-i
            // says "optionally property i, then rest-(i+1)".
            var tails = new List<string>();
            string next = additionalRule is null ? "" : $"( \",\" space {additionalRule} )*";
            for (int i = optionalKeys.Count - 1; i >= 0; i--)
            {
                tails.Insert(0, next);
                string rest = $"( \",\" space {optionalKeys[i]} )? {next}".Trim();
                next = AddRule(Child(name, $"rest-{i}"), rest);
            }
            var starts = new List<string>();
            for (int i = 0; i < optionalKeys.Count; i++) starts.Add($"{optionalKeys[i]} {tails[i]}".Trim());
            if (additionalRule is not null) starts.Add($"{additionalRule} ( \",\" space {additionalRule} )*");
            string choice = "( " + string.Join(" | ", starts) + " )";
            body.Append(requiredKeys.Count > 0 ? $" ( \",\" space {choice} )?" : $" {choice}?");
        }
        body.Append(" \"}\" space");
        return body.ToString();
    }

    private string MergedObject(JsonArray parts, string name)
    {
        var properties = new List<(string, JsonNode?)>();
        var required = new HashSet<string>(StringComparer.Ordinal);
        void Add(JsonNode? part, bool isRequired)
        {
            while (part is JsonObject o && o["$ref"] is JsonNode r) part = Lookup(r.GetValue<string>());
            if (part is not JsonObject obj) return;
            if (obj["properties"] is JsonObject props)
            {
                var req = obj["required"] is JsonArray a ? a.Select(x => x!.GetValue<string>()).ToHashSet() : [];
                foreach (var (key, value) in props)
                {
                    if (properties.Any(p => p.Item1 == key)) continue;
                    properties.Add((key, value));
                    if (isRequired && req.Contains(key)) required.Add(key);
                }
            }
            if (obj["anyOf"] is JsonArray any) foreach (var alt in any) Add(alt, isRequired: false);
            if (obj["allOf"] is JsonArray all) foreach (var alt in all) Add(alt, isRequired);
        }
        foreach (var part in parts) Add(part, isRequired: true);
        return ObjectBody(name, properties, required, additional: null, additionalGiven: false);
    }

    private JsonNode? Lookup(string reference)
    {
        JsonNode? target = _root;
        foreach (string part in reference.TrimStart('#', '/').Split('/'))
            target = target is JsonObject o && o.ContainsKey(part) ? o[part] : throw new GrammarException($"Reference '{reference}' does not resolve");
        return target;
    }

    private string ArrayBody(JsonObject obj, string name)
    {
        if (obj["prefixItems"] is JsonArray prefix)
        {
            var items = prefix.Select((s, i) => Visit(s, Child(name, $"tuple-{i}"))).ToList();
            return "\"[\" space " + string.Join(" \",\" space ", items) + " \"]\" space";
        }
        string item = obj["items"] is JsonNode schema ? Visit(schema, Child(name, "item")) : Primitive("value");
        int min = obj["minItems"]?.GetValue<int>() ?? 0;
        int? max = obj["maxItems"]?.GetValue<int>();
        if (max == 0) return "\"[\" space \"]\" space";
        string more = Repetition($"( \",\" space {item} )", Math.Max(min - 1, 0), max - 1);
        string list = $"{item} {more}".Trim();
        return min == 0 ? $"\"[\" space ( {list} )? \"]\" space" : $"\"[\" space {list} \"]\" space";
    }

    /// <summary>GBNF for <paramref name="item"/> repeated min..max times (max null: unbounded).</summary>
    private static string Repetition(string item, int min, int? max)
    {
        if (max is int m && m < min) throw new GrammarException($"Empty range {min}..{m}");
        return (min, max) switch
        {
            (_, 0) => "",
            (0, 1) => item + "?",
            (0, null) => item + "*",
            (1, null) => item + "+",
            (_, null) => $"{item}{{{min},}}",
            _ when min == max => $"{item}{{{min}}}",
            _ => $"{item}{{{min},{max}}}",
        };
    }

    /// <summary>A JSON object key: any string except the <paramref name="excluded"/> ones (keys already declared).</summary>
    private string NotStrings(IEnumerable<string> excluded)
    {
        Primitive("char");
        // A trie of the excluded keys. At each node: end here (unless that spells an excluded key), continue along a
        // child, or take any other character and then anything.
        var root = new TrieNode();
        foreach (string word in excluded)
        {
            var node = root;
            foreach (Rune r in word.EnumerateRunes()) node = node.Children.TryGetValue(r.Value, out var c) ? c : node.Children[r.Value] = new TrieNode();
            node.IsWord = true;
        }
        string Node(TrieNode node)
        {
            var alternatives = new List<string>();
            foreach (var (c, child) in node.Children.OrderBy(kv => kv.Key)) alternatives.Add($"{JsonCharLiteral(c)} ({Node(child)})");
            string exclude = string.Concat(node.Children.Keys.Where(c => c is not ('"' or '\\') && c >= 0x20 && c != 0x7F).Select(ClassChar));
            alternatives.Add($"[^\"\\\\\\x7F\\x00-\\x1F{exclude}] char*");
            alternatives.Add("[\\\\] ([\"\\\\/bfnrt] | " + UnicodeEscape + ") char*");
            if (!node.IsWord) alternatives.Add("");
            return string.Join(" | ", alternatives);
        }
        return $"\"\\\"\" ( {Node(root)} ) \"\\\"\" space";
    }

    private sealed class TrieNode
    {
        public readonly Dictionary<int, TrieNode> Children = new();
        public bool IsWord;
    }

    /// <summary>Above this many multiples in a bounded range, listing them is not worth it (and unbounded needs the automaton).</summary>
    private const int MaxListedMultiples = 1024;

    /// <summary>
    /// Integers divisible by <c>multipleOf</c>. Unbounded: a divisibility automaton over the decimal digits (one rule per
    /// remainder and length; the sign does not change divisibility). Bounded on both sides: the multiples listed, when
    /// there are at most <see cref="MaxListedMultiples"/>. Otherwise (one bound only, a huge range, a step that is not a
    /// whole number or above 100 unbounded) a grammar would need the product of two automata: multipleOf is then not
    /// enforced, only the bounds, as llama.cpp never enforces it.
    /// </summary>
    private string IntegerMultiples(JsonObject obj, JsonNode multipleOfNode, string name)
    {
        double value = multipleOfNode.GetValue<double>();
        long? low = LowerBound(obj), high = UpperBound(obj);
        string BoundsOnly()
        {
            Primitive("integral-part");
            return low is null && high is null ? Primitive("integer") : "(" + IntegerRange.Expression(low, high) + ") space";
        }
        if (!(value > 1) || value != Math.Floor(value) || value > 1e15) return BoundsOnly();
        long step = (long)value;
        if (low is long lo && high is long hi)
        {
            long first = (long)Math.Ceiling((double)lo / step) * step;
            if (first > hi) throw new GrammarException($"Integer range is empty: no multiple of {step} in [{lo}, {hi}]");
            if ((hi - first) / step >= MaxListedMultiples) return BoundsOnly();
            var values = new List<string>();
            for (long v = first; v <= hi; v += step) values.Add(GbnfLiteral(v.ToString(CultureInfo.InvariantCulture)));
            return "(" + string.Join(" | ", values) + ") space";
        }
        if (low is not null || high is not null || step > 100) return BoundsOnly();

        // State (remainder r, digits written k): digit d leads to ((10 r + d) mod step, k + 1); remainder 0 may end.
        // At most 16 digits, as the integer rule. Only states from which a multiple can still be completed get a rule.
        const int MaxDigits = 16;
        var alive = new bool[step, MaxDigits + 1];
        for (int k = MaxDigits; k >= 1; k--)
            for (long r = 0; r < step; r++)
                alive[r, k] = r == 0 || (k < MaxDigits && Enumerable.Range(0, 10).Any(d => alive[(10 * r + d) % step, k + 1]));
        string prefix = UniqueName(Sanitize((name.Length == 0 ? "integer" : name) + $"-mod{step}"));
        string State(long r, int k) => $"{prefix}-{r}-{k}";
        string Step(long r, int k, int d)
        {
            long next = (10 * r + d) % step;
            return $"\"{d}\" {State(next, k + 1)}";
        }
        for (int k = 1; k <= MaxDigits; k++)
            for (long r = 0; r < step; r++)
            {
                if (!alive[r, k]) continue;
                var alternatives = new List<string>();
                if (k < MaxDigits)
                    for (int d = 0; d <= 9; d++)
                        if (alive[(10 * r + d) % step, k + 1]) alternatives.Add(Step(r, k, d));
                if (r == 0) alternatives.Add("\"\"");
                _rules[State(r, k)] = string.Join(" | ", alternatives);
                _order.Add(State(r, k));
            }
        string leading = string.Join(" | ", Enumerable.Range(1, 9).Where(d => alive[d % step, 1]).Select(d => $"\"{d}\" {State(d % step, 1)}"));
        return $"(\"0\" | \"-\"? ({leading})) space";
    }

    /// <summary>
    /// Numbers within minimum/maximum (exclusive too), without exponents: whole numbers in range, and numbers with a
    /// fraction whose integer part k keeps the whole interval k.000… to k.999… (or -k.999… to -k) in range. Sound —
    /// every output is in range — though a bound that is not a whole number leaves out the fractions beside it
    /// (minimum 0.5 allows 1, 1.25, but not 0.75). A range with no such number is refused.
    /// </summary>
    private string BoundedNumber(JsonObject obj)
    {
        Primitive("integral-part");
        double? Read(string key) => obj[key] is JsonValue v && !v.TryGetValue(out bool _) ? v.GetValue<double>() : null;
        double? min = Read("minimum"), max = Read("maximum"), exclusiveMin = Read("exclusiveMinimum"), exclusiveMax = Read("exclusiveMaximum");
        var alternatives = new List<string>();
        long? wholeLow = LowerBound(obj), wholeHigh = UpperBound(obj);
        if (wholeLow is null || wholeHigh is null || wholeLow <= wholeHigh) alternatives.Add(IntegerRange.Expression(wholeLow, wholeHigh));

        // k.f with k ≥ 0 lies in [k, k + 1): needs k ≥ min (k > exclusiveMin) and k + 1 ≤ max (k + 1 ≤ exclusiveMax).
        long? positiveLow = Max(min is double a ? (long)Math.Ceiling(a) : null, exclusiveMin is double b ? (long)Math.Floor(b) + 1 : null);
        long? positiveHigh = Min(max is double c ? (long)Math.Floor(c) - 1 : null, exclusiveMax is double d ? (long)Math.Floor(d) - 1 : null);
        positiveLow = positiveLow is null ? 0 : Math.Max(positiveLow.Value, 0);
        if (positiveHigh is null || positiveLow <= positiveHigh)
            alternatives.Add($"{IntegerRange.Expression(positiveLow, positiveHigh)} \".\" decimal-part");
        // -k.f with k ≥ 0 lies in (-(k + 1), -k]: needs -(k + 1) ≥ min (or ≥ exclusiveMin) and -k ≤ max (-k < exclusiveMax).
        long? negativeHigh = Min(min is double e ? (long)Math.Floor(-e) - 1 : null, exclusiveMin is double f ? (long)Math.Floor(-f) - 1 : null);
        long? negativeLow = Max(max is double g ? (long)Math.Ceiling(-g) : null, exclusiveMax is double h ? (long)Math.Floor(-h) + 1 : null);
        negativeLow = negativeLow is null ? 0 : Math.Max(negativeLow.Value, 0);
        if (negativeHigh is null || negativeLow <= negativeHigh)
            alternatives.Add($"\"-\" {IntegerRange.Expression(negativeLow, negativeHigh)} \".\" decimal-part");
        if (alternatives.Count == 0)
            throw new GrammarException($"The number range of {obj.ToJsonString()} has no whole number and no whole unit interval: too narrow to express as a grammar");
        Primitive("decimal-part");
        return "(" + string.Join(" | ", alternatives) + ") space";
    }

    private static long? Max(long? a, long? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);
    private static long? Min(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static bool HasAnyBound(JsonObject obj) =>
        obj.ContainsKey("minimum") || obj.ContainsKey("maximum") || obj.ContainsKey("exclusiveMinimum") || obj.ContainsKey("exclusiveMaximum");

    private static long? LowerBound(JsonObject obj)
    {
        long? bound = null;
        if (obj["minimum"] is JsonValue m) bound = (long)Math.Ceiling(m.GetValue<double>());
        if (obj["exclusiveMinimum"] is JsonValue e && !e.TryGetValue(out bool _))
        {
            long exclusive = (long)Math.Floor(e.GetValue<double>()) + 1;
            bound = bound is null ? exclusive : Math.Max(bound.Value, exclusive);
        }
        return bound;
    }

    private static long? UpperBound(JsonObject obj)
    {
        long? bound = null;
        if (obj["maximum"] is JsonValue m) bound = (long)Math.Floor(m.GetValue<double>());
        if (obj["exclusiveMaximum"] is JsonValue e && !e.TryGetValue(out bool _))
        {
            long exclusive = (long)Math.Ceiling(e.GetValue<double>()) - 1;
            bound = bound is null ? exclusive : Math.Min(bound.Value, exclusive);
        }
        return bound;
    }

    private static bool IsTrue(JsonNode? node) => node is JsonValue v && v.TryGetValue(out bool b) && b;

    private static string Alternatives(List<string> rules) => "(" + string.Join(" | ", rules) + ")";

    private static string Child(string name, string part) =>
        part.Length == 0 ? name : name.Length == 0 ? Sanitize(part) : name + "-" + Sanitize(part);

    /// <summary>Rule names allow ASCII letters, digits and '-'.</summary>
    private static string Sanitize(string text)
    {
        var name = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            bool word = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9';
            if (word) name.Append(c);
            else if (name.Length == 0 || name[^1] != '-') name.Append('-');
        }
        return name.Length == 0 ? "r" : name.ToString();
    }

    private string UniqueName(string name)
    {
        bool Free(string n) => n != "root" && !_rules.ContainsKey(n) && !Primitives.ContainsKey(n);
        if (Free(name)) return name;
        for (int i = 1; ; i++)
            if (Free(name + i)) return name + i;
    }

    /// <summary>Adds <paramref name="name"/> ::= <paramref name="body"/>, or reuses a rule with the same name and body; returns the name used.</summary>
    private string AddRule(string name, string body)
    {
        name = Sanitize(name);
        if (name == "root") name = "root-"; // the start rule's name is taken
        if (_rules.TryGetValue(name, out string? existing) && existing == body) return name;
        if (_rules.ContainsKey(name) || (Primitives.ContainsKey(name) && Primitives[name].Body != body && name != "space"))
        {
            // Same name, different rule (e.g. two properties called "id" in different objects): number it.
            for (int i = 1; ; i++)
            {
                string candidate = name + i;
                if (_rules.TryGetValue(candidate, out existing) && existing == body) return candidate;
                if (!_rules.ContainsKey(candidate) && !Primitives.ContainsKey(candidate)) { name = candidate; break; }
            }
        }
        _rules[name] = body;
        _order.Add(name);
        return name;
    }

    /// <summary>Adds a built-in rule and the rules it uses; returns its name.</summary>
    private string Primitive(string name)
    {
        if (_rules.ContainsKey(name)) return name;
        var (body, needs) = Primitives[name];
        _rules[name] = body;
        _order.Add(name);
        foreach (string need in needs) Primitive(need);
        return name;
    }

    /// <summary>The compact JSON text of a value, as a GBNF literal.</summary>
    private static string JsonLiteral(JsonNode? value) => GbnfLiteral(value?.ToJsonString() ?? "null");

    internal static string GbnfLiteral(string text)
    {
        var literal = new StringBuilder(text.Length + 2).Append('"');
        foreach (Rune r in text.EnumerateRunes())
        {
            int c = r.Value;
            if (c == '"') literal.Append("\\\"");
            else if (c == '\\') literal.Append("\\\\");
            else if (c < 0x20 || c == 0x7F) literal.Append(CultureInfo.InvariantCulture, $"\\x{c:X2}");
            else literal.Append(r.ToString());
        }
        return literal.Append('"').ToString();
    }

    /// <summary>The GBNF for one character as it appears inside a JSON string (quote, backslash and controls escaped).</summary>
    internal static string JsonCharLiteral(int c) => c switch
    {
        '"' => "\"\\\\\\\"\"",
        '\\' => "\"\\\\\\\\\"",
        '\n' => "\"\\\\n\"",
        '\t' => "\"\\\\t\"",
        '\r' => "\"\\\\r\"",
        < 0x20 or 0x7F => GbnfLiteral($"\\u{c:x4}"),
        _ => GbnfLiteral(char.ConvertFromUtf32(c)),
    };

    /// <summary>One code point for inside a GBNF character class.</summary>
    internal static string ClassChar(int c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' ? ((char)c).ToString()
        : c <= 0xFF ? $"\\x{c:X2}" : c <= 0xFFFF ? $"\\u{c:X4}" : $"\\U{c:X8}";
}
