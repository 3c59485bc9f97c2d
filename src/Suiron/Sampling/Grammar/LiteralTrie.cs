namespace Suiron.Sampling.Grammar;

/// <summary>
/// Rewrites a rule that is a long flat alternation of literals (<c>"red" | "green" | …</c>, what a JSON-schema
/// <c>enum</c> or a word list becomes) into a trie of rules: one alternative per distinct next character, shared
/// prefixes written once. The language is unchanged, but the matcher then follows one path instead of keeping a
/// parse stack per alternative — 100,000 enum values were 100,000 stacks ("grammar too ambiguous"); as a trie they
/// are a handful at any character.
/// </summary>
internal static class LiteralTrie
{
    /// <summary>Alternations shorter than this stay as written: a few stacks cost nothing, and the rules read as the user wrote them.</summary>
    public const int MinAlternatives = 32;

    /// <summary>Rewrites every qualifying rule in place; the rules the tries need are appended (named after the rule they came from).</summary>
    public static void Factor(List<List<GrammarElement>> rules, List<string> names)
    {
        int original = rules.Count;
        var taken = new HashSet<string>(names, StringComparer.Ordinal);
        for (int r = 0; r < original; r++)
        {
            if (Literals(rules[r]) is not { Count: >= MinAlternatives } words) continue;
            int counter = 0;
            int NewRule()
            {
                string name;
                do name = $"{names[r]}-trie-{counter++}"; while (!taken.Add(name));
                names.Add(name);
                rules.Add([]);
                return rules.Count - 1;
            }
            rules[r] = Node(words, 0, rules, NewRule);
        }
    }

    /// <summary>The rule's alternatives as code-point strings when every one is a plain literal (single code points only, no classes or references); null otherwise.</summary>
    private static List<int[]>? Literals(List<GrammarElement> rule)
    {
        var words = new List<int[]>();
        var word = new List<int>();
        for (int i = 0; i < rule.Count; i++)
        {
            var e = rule[i];
            if (e.EndsAlternative)
            {
                words.Add([.. word]);
                word.Clear();
                if (e.Kind == GrammarElementKind.End) break;
                continue;
            }
            if (e.Kind != GrammarElementKind.Char || i + 1 < rule.Count && rule[i + 1].ContinuesCharClass) return null;
            word.Add(e.Value);
        }
        return words;
    }

    /// <summary>The alternatives of the trie node reached after <paramref name="depth"/> characters of <paramref name="words"/> (all sharing that prefix).</summary>
    private static List<GrammarElement> Node(List<int[]> words, int depth, List<List<GrammarElement>> rules, Func<int> newRule)
    {
        var elements = new List<GrammarElement>();
        bool endsHere = false;
        var groups = new Dictionary<int, List<int[]>>();
        var order = new List<int>();
        foreach (int[] word in words)
        {
            if (word.Length == depth)
            {
                endsHere = true;
                continue;
            }
            if (!groups.TryGetValue(word[depth], out var group))
            {
                groups[word[depth]] = group = [];
                order.Add(word[depth]);
            }
            group.Add(word);
        }
        foreach (int first in order)
        {
            var members = groups[first];
            // Walk down the chain while every member goes on with the same character: one literal, not a rule per character.
            int end = depth + 1;
            while (members.TrueForAll(w => w.Length > end) && members.TrueForAll(w => w[end] == members[0][end])) end++;
            if (elements.Count > 0) elements.Add(new GrammarElement(GrammarElementKind.Alternate, 0));
            for (int i = depth; i < end; i++) elements.Add(new GrammarElement(GrammarElementKind.Char, members[0][i]));
            if (!members.TrueForAll(w => w.Length == end))
            {
                int child = newRule();
                rules[child] = Node(members, end, rules, newRule);
                elements.Add(new GrammarElement(GrammarElementKind.RuleReference, child));
            }
        }
        if (endsHere && elements.Count > 0) elements.Add(new GrammarElement(GrammarElementKind.Alternate, 0)); // the empty alternative: a word ends here
        elements.Add(new GrammarElement(GrammarElementKind.End, 0));
        return elements;
    }
}
