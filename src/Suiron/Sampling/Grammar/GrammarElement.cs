namespace Suiron.Sampling.Grammar;

/// <summary>What one slot of a compiled rule holds (the same vocabulary as llama.cpp's grammar elements).</summary>
internal enum GrammarElementKind : byte
{
    /// <summary>End of a rule's last alternative.</summary>
    End,
    /// <summary>End of an alternative; another one follows.</summary>
    Alternate,
    /// <summary>A non-terminal: <see cref="GrammarElement.Value"/> is the rule id.</summary>
    RuleReference,
    /// <summary>Starts a character class that matches the listed code points/ranges.</summary>
    Char,
    /// <summary>Starts a negated character class: matches any code point not listed.</summary>
    CharNot,
    /// <summary>Turns the previous Char/CharNot/CharAlternate into a range ending at this code point (inclusive).</summary>
    CharRangeUpper,
    /// <summary>One more code point (or range start) inside the current character class.</summary>
    CharAlternate,
    /// <summary><c>.</c>: any single code point.</summary>
    CharAny,
}

internal readonly record struct GrammarElement(GrammarElementKind Kind, int Value)
{
    public bool EndsAlternative => Kind is GrammarElementKind.End or GrammarElementKind.Alternate;
    public bool StartsCharClass => Kind is GrammarElementKind.Char or GrammarElementKind.CharNot or GrammarElementKind.CharAny;
    public bool ContinuesCharClass => Kind is GrammarElementKind.CharRangeUpper or GrammarElementKind.CharAlternate;
}
