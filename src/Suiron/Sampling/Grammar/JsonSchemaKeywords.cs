using System.Text.Json;
using System.Text.Json.Nodes;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// Checks that every JSON Schema keyword the grammar compiler reads holds a value of the type the specification gives
/// it (<c>minimum</c> a number, <c>type</c> a type name or a list of them, <c>properties</c> an object of schemas …),
/// before the compiler reads any: a schema from a request is hostile input, and a keyword of the wrong type must be
/// reported by its path (<see cref="GrammarException.SchemaPath"/>), not surface as a cast failure inside the compiler.
/// Keywords the compiler ignores (<c>title</c>, <c>description</c>, <c>examples</c> …) may hold anything.
/// </summary>
public static class JsonSchemaKeywords
{
    // json_object: llama.cpp's converter takes it as "any JSON object", and so does ours.
    private static readonly HashSet<string> TypeNames = ["string", "number", "integer", "boolean", "object", "array", "null", "json_object"];

    /// <summary>Throws <see cref="GrammarException"/> naming the first keyword whose value has the wrong type.</summary>
    public static void Check(JsonNode? schema) => CheckSchema(schema, "");

    private static void CheckSchema(JsonNode? schema, string path)
    {
        if (schema is null || schema is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False) return;
        if (schema is not JsonObject obj) throw Wrong(path, "a schema (an object or a boolean)", schema);
        foreach (var (keyword, value) in obj)
        {
            string at = Join(path, keyword);
            switch (keyword)
            {
                case "type":
                    if (value is JsonArray types)
                    {
                        if (types.Count == 0) throw Wrong(at, "a type name or a non-empty list of type names", value);
                        for (int i = 0; i < types.Count; i++) TypeName(types[i], $"{at}[{i}]");
                    }
                    else TypeName(value, at);
                    break;
                case "properties" or "$defs" or "definitions" or "patternProperties" or "dependentSchemas":
                    if (value is not JsonObject members) throw Wrong(at, "an object of schemas", value);
                    foreach (var (name, member) in members) CheckSchema(member, Join(at, name));
                    break;
                case "items":
                    if (value is JsonArray tuple) SchemaList(tuple, at, allowEmpty: true);
                    else CheckSchema(value, at);
                    break;
                case "prefixItems":
                    SchemaList(value as JsonArray ?? throw Wrong(at, "a list of schemas", value), at, allowEmpty: true);
                    break;
                case "anyOf" or "oneOf" or "allOf":
                    SchemaList(value as JsonArray ?? throw Wrong(at, "a non-empty list of schemas", value), at, allowEmpty: false);
                    break;
                case "not" or "additionalProperties" or "additionalItems" or "unevaluatedProperties" or "unevaluatedItems"
                    or "contains" or "propertyNames" or "if" or "then" or "else":
                    CheckSchema(value, at);
                    break;
                case "required":
                    if (value is not JsonArray names || names.Any(n => n?.GetValueKind() != JsonValueKind.String))
                        throw Wrong(at, "a list of property names", value);
                    break;
                case "enum":
                    if (value is not JsonArray) throw Wrong(at, "a list of values", value);
                    break;
                case "minimum" or "maximum":
                    Number(value, at);
                    break;
                case "exclusiveMinimum" or "exclusiveMaximum":
                    // A number since draft 6, a boolean modifier of minimum/maximum in draft 4.
                    if (value?.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)) Number(value, at);
                    break;
                case "multipleOf":
                    if (Number(value, at) <= 0) throw Wrong(at, "a number greater than 0", value);
                    break;
                case "minLength" or "maxLength" or "minItems" or "maxItems" or "minProperties" or "maxProperties" or "minContains" or "maxContains":
                    if (value is not JsonValue count || value.GetValueKind() != JsonValueKind.Number || !count.TryGetValue(out int n) || n < 0)
                        throw Wrong(at, $"a whole number from 0 to {int.MaxValue}", value);
                    break;
                case "pattern" or "format" or "$ref":
                    if (value?.GetValueKind() != JsonValueKind.String) throw Wrong(at, "a string", value);
                    break;
            }
        }
    }

    private static void SchemaList(JsonArray list, string path, bool allowEmpty)
    {
        if (!allowEmpty && list.Count == 0) throw Wrong(path, "a non-empty list of schemas", list);
        for (int i = 0; i < list.Count; i++) CheckSchema(list[i], $"{path}[{i}]");
    }

    private static void TypeName(JsonNode? value, string path)
    {
        if (value?.GetValueKind() != JsonValueKind.String || !TypeNames.Contains(value.GetValue<string>()))
            throw Wrong(path, "one of " + string.Join(", ", TypeNames), value);
    }

    private static double Number(JsonNode? value, string path)
        => value is JsonValue number && value.GetValueKind() == JsonValueKind.Number && number.TryGetValue(out double d) && double.IsFinite(d)
            ? d
            : throw Wrong(path, "a number", value);

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static GrammarException Wrong(string path, string expected, JsonNode? value)
    {
        string shown = value?.ToJsonString() ?? "null";
        if (shown.Length > 60) shown = shown[..60] + "…";
        return new GrammarException($"'{(path.Length == 0 ? "(the schema)" : path)}' must be {expected}, not {shown}") { SchemaPath = path.Length == 0 ? null : path };
    }
}
