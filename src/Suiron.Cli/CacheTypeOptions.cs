using System.CommandLine;
using Suiron.Inference;

namespace Suiron.Cli;

/// <summary>
/// <c>--cache-type-k</c>/<c>-ctk</c> and <c>--cache-type-v</c>/<c>-ctv</c>, as llama.cpp spells them: the element type of
/// cached keys and of cached values (f32, f16, q8_0), chosen separately; f16 by default.
/// </summary>
internal sealed class CacheTypeOptions
{
    public Option<string> Key { get; } = Create("--cache-type-k", "-ctk", "keys");
    public Option<string> Value { get; } = Create("--cache-type-v", "-ctv", "values");

    private static Option<string> Create(string name, string alias, string what)
    {
        var option = new Option<string>(name, alias)
        {
            Description = $"KV cache type for {what}: {string.Join(", ", KvCacheTypes.Names)} (q8_0 needs head lengths that are multiples of 32)",
            DefaultValueFactory = _ => "f16",
        };
        option.Validators.Add(result =>
        {
            string? text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (text is not null && !KvCacheTypes.TryParse(text, out _))
                result.AddError($"{name} must be one of {string.Join(", ", KvCacheTypes.Names)} (got '{text}').");
        });
        return option;
    }

    public KvCacheType KeyType(ParseResult result) => KvCacheTypes.Parse(result.GetValue(Key)!, "--cache-type-k");
    public KvCacheType ValueType(ParseResult result) => KvCacheTypes.Parse(result.GetValue(Value)!, "--cache-type-v");
}
