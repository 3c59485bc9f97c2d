using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using Suiron.Chat.Jinja;

namespace Suiron.Chat;

/// <summary>
/// The variables a chat template is rendered with (<c>messages</c>, <c>tools</c>,
/// <c>add_generation_prompt</c>, <c>bos_token</c> …). Values are converted once, on
/// <see cref="Set"/>, from JSON (<see cref="JsonElement"/>, <see cref="JsonNode"/>) or plain .NET values
/// (string, bool, numbers, dictionaries with string keys, enumerables); object key order is kept,
/// since templates print tools and arguments in their given order.
/// </summary>
public sealed class TemplateContext
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    /// <summary>The time <c>strftime_now</c> formats; null means the local time at render.</summary>
    public DateTime? Now { get; set; }

    /// <summary>How many evaluation steps a render may take before it is stopped as runaway.</summary>
    internal long StepBudget { get; set; } = Renderer.DefaultStepBudget;

    /// <summary>Sets one variable; returns this context for chaining.</summary>
    public TemplateContext Set(string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        _variables[name] = ToTemplateValue(value, 0);
        return this;
    }

    /// <summary>Every property of a JSON object becomes a variable.</summary>
    public static TemplateContext FromJson(JsonElement variables)
    {
        if (variables.ValueKind != JsonValueKind.Object)
            throw new ArgumentException($"template variables must be a JSON object, not {variables.ValueKind}", nameof(variables));
        var context = new TemplateContext();
        foreach (JsonProperty property in variables.EnumerateObject()) context._variables[property.Name] = JsonText.FromElement(property.Value);
        return context;
    }

    /// <summary>Every property of a JSON object text becomes a variable.</summary>
    public static TemplateContext FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return FromJson(document.RootElement);
    }

    /// <summary>A context whose variables are <paramref name="variables"/>, JSON values converted to template values.</summary>
    public static TemplateContext FromDictionary(IEnumerable<KeyValuePair<string, object?>> variables)
    {
        var context = new TemplateContext();
        foreach (var pair in variables) context.Set(pair.Key, pair.Value);
        return context;
    }

    internal Scope CreateScope(Scope globals)
    {
        var scope = new Scope(globals);
        foreach (var pair in _variables) scope.Set(pair.Key, pair.Value);
        return scope;
    }

    private static object? ToTemplateValue(object? value, int depth)
    {
        if (depth > 256) throw new ArgumentException("template variable nested too deeply");
        switch (value)
        {
            case null: return null;
            case string or bool or long or double: return value;
            case int or short or sbyte or byte or ushort or uint: return Convert.ToInt64(value);
            case ulong u: return u <= long.MaxValue ? (long)u : (double)u;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case char c: return c.ToString();
            case JsonElement element: return JsonText.FromElement(element);
            case JsonNode node: return JsonText.FromNode(node);
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                {
                    var dict = new PyDict();
                    foreach (var pair in pairs) dict[pair.Key] = ToTemplateValue(pair.Value, depth + 1);
                    return dict;
                }
            case IDictionary dictionary:
                {
                    var dict = new PyDict();
                    foreach (DictionaryEntry entry in dictionary) dict.Put(ToTemplateValue(entry.Key, depth + 1), ToTemplateValue(entry.Value, depth + 1));
                    return dict;
                }
            case IEnumerable items:
                {
                    var list = new List<object?>();
                    foreach (object? item in items) list.Add(ToTemplateValue(item, depth + 1));
                    return list;
                }
            default:
                throw new ArgumentException($"cannot pass a {value.GetType().Name} to a template; use JSON, strings, numbers, booleans, lists or dictionaries");
        }
    }
}
