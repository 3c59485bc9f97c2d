namespace Suiron.Sampling.Grammar;

/// <summary>
/// A parsed and checked GBNF grammar (llama.cpp's format), ready to constrain generation. Immutable: one instance
/// can serve any number of <see cref="GrammarConstraint"/>s, one per sequence.
/// </summary>
public sealed class Grammar
{
    /// <summary>All rules, flattened: rule r's alternatives start at <see cref="RuleStarts"/>[r], each ending in Alternate or End.</summary>
    internal readonly GrammarElement[] Elements;
    internal readonly int[] RuleStarts;
    /// <summary>Start positions of each rule's alternatives (indices into <see cref="Elements"/>), rule r's in [AlternativeOffsets[r], AlternativeOffsets[r + 1]).</summary>
    internal readonly int[] AlternativeStarts;
    internal readonly int[] AlternativeOffsets;
    internal readonly string[] RuleNames;
    internal readonly int RootRule;

    private Grammar(GrammarElement[] elements, int[] ruleStarts, string[] ruleNames, int rootRule)
    {
        Elements = elements;
        RuleStarts = ruleStarts;
        RuleNames = ruleNames;
        RootRule = rootRule;
        var starts = new List<int>();
        AlternativeOffsets = new int[ruleStarts.Length + 1];
        for (int r = 0; r < ruleStarts.Length; r++)
        {
            AlternativeOffsets[r] = starts.Count;
            int p = ruleStarts[r];
            starts.Add(p);
            for (; elements[p].Kind != GrammarElementKind.End; p++)
                if (elements[p].Kind == GrammarElementKind.Alternate) starts.Add(p + 1);
        }
        AlternativeOffsets[^1] = starts.Count;
        AlternativeStarts = [.. starts];
    }

    /// <summary>Number of rules, generated ones (groups, repetitions) included.</summary>
    public int RuleCount => RuleStarts.Length;

    /// <summary>
    /// Parses GBNF text. <paramref name="rootRule"/> names the start rule. Throws <see cref="GrammarException"/> with the
    /// line and column on syntax errors, undefined rules, left recursion, a missing root or an empty grammar.
    /// </summary>
    public static Grammar Parse(string gbnf, string rootRule = "root")
    {
        ArgumentNullException.ThrowIfNull(gbnf);
        var parser = GbnfParser.Parse(gbnf);
        int count = parser.Rules.Count;
        for (int r = 0; r < count; r++)
            if (parser.Rules[r] is null) throw parser.ErrorAt(parser.RulePositions[r], $"Undefined rule '{parser.RuleNames[r]}'");
        int root = parser.RuleNames.IndexOf(rootRule);
        if (root < 0) throw new GrammarException($"Grammar does not define the start rule '{rootRule}'");

        var ruleList = parser.Rules.Select(r => r!).ToList();
        var names = parser.RuleNames.ToList();
        LiteralTrie.Factor(ruleList, names);
        var rules = ruleList.ToArray();
        count = rules.Length;
        int leftRecursive = FindLeftRecursion(rules);
        if (leftRecursive >= 0)
            throw parser.ErrorAt(parser.RulePositions[leftRecursive], $"Left recursion in rule '{parser.RuleNames[leftRecursive]}'");

        var elements = new List<GrammarElement>(rules.Sum(r => r.Count));
        var ruleStarts = new int[count];
        for (int r = 0; r < count; r++)
        {
            ruleStarts[r] = elements.Count;
            elements.AddRange(rules[r]);
        }
        return new Grammar([.. elements], ruleStarts, [.. names], root);
    }

    /// <summary>A grammar for JSON matching <paramref name="jsonSchema"/> (see <see cref="JsonSchemaToGrammar"/>).</summary>
    public static Grammar FromJsonSchema(string jsonSchema) => Parse(JsonSchemaToGrammar.Convert(jsonSchema));

    /// <summary>
    /// Returns a rule that can reach itself without consuming input (llama.cpp rejects those: its stack-based matcher
    /// would loop forever), or -1. Rules that can match the empty string count as "without consuming" too.
    /// </summary>
    private static int FindLeftRecursion(List<GrammarElement>[] rules)
    {
        int count = rules.Length;
        // Nullable rules by fixpoint: a rule is nullable when one alternative consists only of nullable references.
        var nullable = new bool[count];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int r = 0; r < count; r++)
            {
                if (nullable[r]) continue;
                bool alternativeNullable = true;
                foreach (var e in rules[r])
                {
                    if (e.EndsAlternative)
                    {
                        if (alternativeNullable) { nullable[r] = changed = true; break; }
                        alternativeNullable = true;
                    }
                    else if (e.Kind != GrammarElementKind.RuleReference || !nullable[e.Value]) alternativeNullable = false;
                }
            }
        }

        // Edges r → s when s can come first in r (after nullable references only).
        var firsts = new List<int>[count];
        for (int r = 0; r < count; r++)
        {
            firsts[r] = [];
            bool atStart = true;
            foreach (var e in rules[r])
            {
                if (e.EndsAlternative) { atStart = true; continue; }
                if (!atStart) continue;
                if (e.Kind == GrammarElementKind.RuleReference)
                {
                    firsts[r].Add(e.Value);
                    atStart = nullable[e.Value];
                }
                else if (!e.ContinuesCharClass) atStart = false;
            }
        }

        // Iterative three-colour DFS: a grey target is a cycle. Iterative so that long rule chains cannot overflow the stack.
        var colour = new byte[count];
        var stack = new Stack<(int Rule, int Next)>();
        for (int start = 0; start < count; start++)
        {
            if (colour[start] != 0) continue;
            stack.Push((start, 0));
            colour[start] = 1;
            while (stack.Count > 0)
            {
                var (rule, next) = stack.Pop();
                if (next < firsts[rule].Count)
                {
                    stack.Push((rule, next + 1));
                    int target = firsts[rule][next];
                    if (colour[target] == 1) return target;
                    if (colour[target] == 0)
                    {
                        colour[target] = 1;
                        stack.Push((target, 0));
                    }
                }
                else colour[rule] = 2;
            }
        }
        return -1;
    }

    /// <summary>
    /// Whether the character class starting at <paramref name="position"/> matches <paramref name="codePoint"/>;
    /// <paramref name="after"/> is the position following the class.
    /// </summary>
    internal bool MatchChar(int position, int codePoint, out int after)
    {
        var elements = Elements;
        var first = elements[position];
        if (first.Kind == GrammarElementKind.CharAny)
        {
            after = position + 1;
            return true;
        }
        bool found = false;
        int p = position;
        do
        {
            int low = elements[p].Value;
            if (elements[p + 1].Kind == GrammarElementKind.CharRangeUpper)
            {
                found |= low <= codePoint && codePoint <= elements[p + 1].Value;
                p += 2;
            }
            else
            {
                found |= low == codePoint;
                p++;
            }
        } while (elements[p].Kind == GrammarElementKind.CharAlternate);
        after = p;
        return found == (first.Kind == GrammarElementKind.Char);
    }

    /// <summary>Whether the class at <paramref name="position"/> matches some code point in [low, high] (for partial UTF-8).</summary>
    internal bool MatchAnyInRange(int position, int low, int high)
    {
        var elements = Elements;
        var first = elements[position];
        if (first.Kind == GrammarElementKind.CharAny) return true;
        if (first.Kind == GrammarElementKind.Char)
        {
            for (int p = position; ;)
            {
                int lo = elements[p].Value, hi = lo;
                if (elements[p + 1].Kind == GrammarElementKind.CharRangeUpper) { hi = elements[p + 1].Value; p += 2; }
                else p++;
                if (lo <= high && low <= hi) return true;
                if (elements[p].Kind != GrammarElementKind.CharAlternate) return false;
            }
        }
        // Negated: some point of [low, high] escapes every listed range. The only candidates are low and the points
        // just above each listed range, so test those.
        if (MatchChar(position, low, out _)) return true;
        for (int p = position; ;)
        {
            int hi = elements[p].Value;
            if (elements[p + 1].Kind == GrammarElementKind.CharRangeUpper) { hi = elements[p + 1].Value; p += 2; }
            else p++;
            if (hi >= low && hi < high && MatchChar(position, hi + 1, out _)) return true;
            if (elements[p].Kind != GrammarElementKind.CharAlternate) return false;
        }
    }
}
