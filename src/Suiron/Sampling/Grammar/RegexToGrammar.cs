using System.Text;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// Translates the common subset of JSON Schema <c>pattern</c> regexes to a GBNF expression over the characters of
/// a JSON string: literals, <c>.</c>, classes (with ranges, negation, <c>\d \w \s</c>), groups (<c>(?:</c> too),
/// alternation and the quantifiers <c>* + ? {m} {m,} {m,n}</c> (lazy forms treated as greedy). A pattern without
/// <c>^</c>/<c>$</c> may have anything around it, as JSON Schema says. Backreferences and lookaround are refused.
/// Characters that JSON must escape are written escaped, so the output stays valid JSON.
/// </summary>
internal sealed class RegexToGrammar
{
    private const string AnyChar = "[^\"\\\\\\x7F\\x00-\\x1F]";
    private const string Unwanted = "\"\\\\\\x7F\\x00-\\x1F"; // never inside a positive class: not plain JSON string characters

    private readonly string _pattern;
    private int _pos;
    private int _depth;

    private RegexToGrammar(string pattern) => _pattern = pattern;

    public static string Convert(string pattern)
    {
        bool anchoredStart = pattern.StartsWith('^');
        bool anchoredEnd = pattern.EndsWith('$') && !pattern.EndsWith("\\$", StringComparison.Ordinal);
        string body = pattern[(anchoredStart ? 1 : 0)..(anchoredEnd ? pattern.Length - 1 : pattern.Length)];
        var converter = new RegexToGrammar(body);
        string expression = converter.Alternation();
        if (converter._pos != body.Length) throw converter.Error("Unbalanced ')'");
        if (!anchoredStart) expression = AnyChar + "* " + expression;
        if (!anchoredEnd) expression += " " + AnyChar + "*";
        return "(" + expression + ")";
    }

    private GrammarException Error(string message) => new($"Unsupported pattern '{_pattern}': {message} at offset {_pos}");

    private bool AtEnd => _pos >= _pattern.Length;

    private string Alternation()
    {
        if (++_depth > 100) throw Error("nested too deeply");
        var alternatives = new List<string> { Sequence() };
        while (!AtEnd && _pattern[_pos] == '|')
        {
            _pos++;
            alternatives.Add(Sequence());
        }
        _depth--;
        return alternatives.Count == 1 ? alternatives[0] : "(" + string.Join(" | ", alternatives) + ")";
    }

    private string Sequence()
    {
        var items = new List<string>();
        while (!AtEnd && _pattern[_pos] is not ('|' or ')'))
        {
            string atom = Atom();
            if (atom.Length == 0) continue;
            items.Add(atom + Quantifier());
        }
        return items.Count == 0 ? "\"\"" : string.Join(" ", items);
    }

    private string Atom()
    {
        char c = _pattern[_pos++];
        switch (c)
        {
            case '(':
                if (_pos < _pattern.Length && _pattern[_pos] == '?')
                {
                    if (_pos + 1 < _pattern.Length && _pattern[_pos + 1] == ':') _pos += 2;
                    else throw Error("lookaround and named groups are not supported");
                }
                string inner = Alternation();
                if (AtEnd || _pattern[_pos] != ')') throw Error("missing ')'");
                _pos++;
                return "(" + inner + ")";
            case '[': return Class();
            case '.': return AnyChar;
            case '^' or '$': return ""; // anchors inside the pattern: the whole string is matched anyway
            case '\\': return Escape(inClass: false) is { } e ? e.Expression : "";
            case '*' or '+' or '?' or '{': throw Error($"nothing to repeat before '{c}'");
            default:
                if (char.IsHighSurrogate(c) && !AtEnd) return SchemaConverter.JsonCharLiteral(char.ConvertToUtf32(c, _pattern[_pos++]));
                return SchemaConverter.JsonCharLiteral(c);
        }
    }

    private string Quantifier()
    {
        if (AtEnd) return "";
        string q;
        char c = _pattern[_pos];
        if (c is '*' or '+' or '?') { _pos++; q = c.ToString(); }
        else if (c == '{' && TryCounted(out q)) { }
        else return "";
        if (!AtEnd && _pattern[_pos] is '?' or '+') _pos++; // lazy / possessive: same set of strings
        return q;
    }

    private bool TryCounted(out string quantifier)
    {
        int close = _pattern.IndexOf('}', _pos);
        quantifier = "";
        if (close < 0) return false;
        string inside = _pattern[(_pos + 1)..close];
        string[] parts = inside.Split(',');
        if (parts.Length > 2 || parts[0].Length == 0 || !parts.All(p => p.All(char.IsAsciiDigit))) return false;
        if (!int.TryParse(parts[0], out int min) || min > 10000) throw Error("repetition count too large");
        _pos = close + 1;
        if (parts.Length == 1) quantifier = $"{{{min}}}";
        else if (parts[1].Length == 0) quantifier = $"{{{min},}}";
        else
        {
            if (!int.TryParse(parts[1], out int max) || max > 10000 || max < min) throw Error("bad repetition range");
            quantifier = $"{{{min},{max}}}";
        }
        return true;
    }

    /// <summary>After a backslash: a class shorthand or an escaped character. Null for escapes that match nothing (\b).</summary>
    private (string Expression, string ClassBody)? Escape(bool inClass)
    {
        if (AtEnd) throw Error("pattern ends with '\\'");
        char c = _pattern[_pos++];
        switch (c)
        {
            case 'd': return ("[0-9]", "0-9");
            case 'w': return ("[a-zA-Z0-9_]", "a-zA-Z0-9_");
            case 's': return ("[ ]", " ");
            case 'D': return ("[^0-9" + Unwanted + "]", null!);
            case 'W': return ("[^a-zA-Z0-9_" + Unwanted + "]", null!);
            case 'S': return ("[^ " + Unwanted + "]", null!);
            case 'b' when !inClass: return null;
            case >= '1' and <= '9': throw Error("backreferences are not supported");
            case 'n': return (SchemaConverter.JsonCharLiteral('\n'), null!);
            case 't': return (SchemaConverter.JsonCharLiteral('\t'), null!);
            case 'u' when _pos + 4 <= _pattern.Length && int.TryParse(_pattern.AsSpan(_pos, 4), System.Globalization.NumberStyles.HexNumber, null, out int code):
                _pos += 4;
                return (SchemaConverter.JsonCharLiteral(code), SchemaConverter.ClassChar(code));
            default: return (SchemaConverter.JsonCharLiteral(c), SchemaConverter.ClassChar(c));
        }
    }

    private string Class()
    {
        bool negated = !AtEnd && _pattern[_pos] == '^';
        if (negated) _pos++;
        var body = new StringBuilder();
        bool first = true;
        while (true)
        {
            if (AtEnd) throw Error("missing ']'");
            char c = _pattern[_pos];
            if (c == ']' && !first) { _pos++; break; }
            first = false;
            _pos++;
            string item;
            int single = -1;
            if (c == '\\')
            {
                var escaped = Escape(inClass: true) ?? throw Error("bad escape in class");
                if (escaped.ClassBody is null) throw Error("negated shorthand inside a class");
                item = escaped.ClassBody;
                int code = _pattern[_pos - 1];
                if (escaped.ClassBody == SchemaConverter.ClassChar(code)) single = code;
            }
            else
            {
                item = SchemaConverter.ClassChar(c);
                single = c;
            }
            if (single >= 0 && !AtEnd && _pattern[_pos] == '-' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] != ']')
            {
                _pos++;
                char to = _pattern[_pos++];
                if (to == '\\') to = _pattern[_pos++];
                item += "-" + SchemaConverter.ClassChar(to);
            }
            // Quote, backslash and controls would need JSON escapes: leave them out of positive classes.
            if (!negated && single is '"' or '\\' or < 0x20 and >= 0) continue;
            body.Append(item);
        }
        if (negated) return "[^" + body + Unwanted + "]";
        return body.Length == 0 ? throw Error("class matches nothing a JSON string can hold") : "[" + body + "]";
    }
}
