using System.Text;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// Reads GBNF, llama.cpp's grammar format: <c>name ::= alternatives</c> rules, one per line (a rule continues over
/// newlines only inside parentheses), <c>"literals"</c>, <c>[classes]</c>, <c>[^negated]</c>, <c>.</c>, groups,
/// <c>* + ? {m} {m,} {m,n}</c> and <c>#</c> comments. Repetitions and groups become generated rules named after
/// the rule they appear in (<c>name-1</c>, <c>name-2</c> …), as llama.cpp does, so the matcher only sees plain rules.
/// </summary>
internal sealed class GbnfParser
{
    /// <summary>Deeper nesting than this is hostile input, not a grammar: refuse it before the call stack runs out.</summary>
    private const int MaxNesting = 256;
    /// <summary>Bounds the work repetitions such as <c>x{1000000}</c> can ask for.</summary>
    private const int MaxElements = 1 << 22;

    private readonly int[] _text;          // the source as code points, so positions are characters
    private int _pos;
    private int _nesting;
    private int _elementCount;

    public readonly List<string> RuleNames = [];
    public readonly List<List<GrammarElement>?> Rules = [];
    /// <summary>Where each rule was defined (or, until defined, first referenced): an index into the source.</summary>
    public readonly List<int> RulePositions = [];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<bool> _defined = [];

    private GbnfParser(string source)
    {
        var runes = new List<int>(source.Length);
        foreach (Rune r in source.EnumerateRunes()) runes.Add(r.Value);
        _text = [.. runes];
    }

    public static GbnfParser Parse(string source)
    {
        var parser = new GbnfParser(source);
        parser.ParseGrammar();
        return parser;
    }

    public GrammarException ErrorAt(int position, string message)
    {
        int line = 1, column = 1;
        for (int i = 0; i < position && i < _text.Length; i++)
        {
            if (_text[i] == '\n') { line++; column = 1; }
            else column++;
        }
        return new GrammarException(message, line, column);
    }

    private int Peek(int offset = 0) => _pos + offset < _text.Length ? _text[_pos + offset] : -1;

    private bool AtEnd => _pos >= _text.Length;

    private void ParseGrammar()
    {
        SkipSpace(newlinesAllowed: true);
        while (!AtEnd) ParseRule();
        if (Rules.Count == 0) throw new GrammarException("Empty grammar: no rules defined", 1, 1);
    }

    private void ParseRule()
    {
        int start = _pos;
        string name = ParseName();
        SkipSpace(newlinesAllowed: false);
        if (!(Peek() == ':' && Peek(1) == ':' && Peek(2) == '='))
            throw ErrorAt(_pos, $"Expected '::=' after rule name '{name}'");
        _pos += 3;
        SkipSpace(newlinesAllowed: true);

        int id = SymbolId(name, start);
        if (_defined[id]) throw ErrorAt(start, $"Rule '{name}' is defined twice");
        _defined[id] = true;
        RulePositions[id] = start;
        ParseAlternatives(name, id, nested: false);

        if (Peek() == '\r') _pos += Peek(1) == '\n' ? 2 : 1;
        else if (Peek() == '\n') _pos++;
        else if (!AtEnd) throw ErrorAt(_pos, $"Expected end of line after rule '{name}', found '{char.ConvertFromUtf32(Peek())}'");
        SkipSpace(newlinesAllowed: true);
    }

    private void ParseAlternatives(string ruleName, int ruleId, bool nested)
    {
        var elements = new List<GrammarElement>();
        ParseSequence(ruleName, elements, nested);
        while (Peek() == '|')
        {
            elements.Add(new(GrammarElementKind.Alternate, 0));
            _pos++;
            SkipSpace(newlinesAllowed: true);
            ParseSequence(ruleName, elements, nested);
        }
        elements.Add(new(GrammarElementKind.End, 0));
        Count(1);
        Rules[ruleId] = elements;
    }

    private void ParseSequence(string ruleName, List<GrammarElement> output, bool nested)
    {
        int lastSymbolStart = output.Count;
        while (!AtEnd)
        {
            int c = Peek();
            if (c == '"')
            {
                int literalStart = _pos;
                _pos++;
                lastSymbolStart = output.Count;
                while (Peek() != '"')
                {
                    if (AtEnd) throw ErrorAt(literalStart, "Unterminated string literal");
                    output.Add(new(GrammarElementKind.Char, ParseChar()));
                }
                Count(output.Count - lastSymbolStart);
                _pos++;
                SkipSpace(nested);
            }
            else if (c == '[')
            {
                int classStart = _pos;
                _pos++;
                var kind = GrammarElementKind.Char;
                if (Peek() == '^') { _pos++; kind = GrammarElementKind.CharNot; }
                lastSymbolStart = output.Count;
                while (Peek() != ']')
                {
                    if (AtEnd) throw ErrorAt(classStart, "Unterminated character class");
                    int low = ParseChar();
                    output.Add(new(kind, low));
                    kind = GrammarElementKind.CharAlternate;
                    if (Peek() == '-' && Peek(1) != ']' && Peek(1) != -1)
                    {
                        _pos++;
                        int rangeAt = _pos;
                        int high = ParseChar();
                        if (high < low) throw ErrorAt(rangeAt, $"Character range is backwards: U+{low:X4}-U+{high:X4}");
                        output.Add(new(GrammarElementKind.CharRangeUpper, high));
                    }
                }
                // "[]" would match nothing and "[^]" anything; llama.cpp allows them, so do we (an empty positive class simply never matches).
                if (output.Count == lastSymbolStart) output.Add(new(kind, -1));
                Count(output.Count - lastSymbolStart);
                _pos++;
                SkipSpace(nested);
            }
            else if (IsWordChar(c))
            {
                int at = _pos;
                string name = ParseName();
                lastSymbolStart = output.Count;
                output.Add(new(GrammarElementKind.RuleReference, SymbolId(name, at)));
                Count(1);
                SkipSpace(nested);
            }
            else if (c == '(')
            {
                int open = _pos;
                if (++_nesting > MaxNesting) throw ErrorAt(open, $"Groups nested deeper than {MaxNesting}");
                _pos++;
                SkipSpace(newlinesAllowed: true);
                int groupId = GeneratedSymbolId(ruleName, open);
                ParseAlternatives(ruleName, groupId, nested: true);
                lastSymbolStart = output.Count;
                output.Add(new(GrammarElementKind.RuleReference, groupId));
                Count(1);
                if (Peek() != ')') throw ErrorAt(_pos, "Expected ')' to close the group opened at " + Where(open));
                _nesting--;
                _pos++;
                SkipSpace(nested);
            }
            else if (c == '.')
            {
                lastSymbolStart = output.Count;
                output.Add(new(GrammarElementKind.CharAny, 0));
                Count(1);
                _pos++;
                SkipSpace(nested);
            }
            else if (c is '*' or '+' or '?')
            {
                int at = _pos;
                _pos++;
                SkipSpace(nested);
                Repeat(ruleName, output, lastSymbolStart, at, c == '+' ? 1 : 0, c == '?' ? 1 : -1);
            }
            else if (c == '{')
            {
                int at = _pos;
                _pos++;
                SkipSpace(nested);
                int min = ParseInt();
                int max = min;
                SkipSpace(nested);
                if (Peek() == ',')
                {
                    _pos++;
                    SkipSpace(nested);
                    max = IsDigit(Peek()) ? ParseInt() : -1;
                    SkipSpace(nested);
                }
                if (Peek() != '}') throw ErrorAt(_pos, "Expected '}' to close the repetition opened at " + Where(at));
                if (max >= 0 && max < min) throw ErrorAt(at, $"Repetition {{{min},{max}}} has its maximum below its minimum");
                _pos++;
                SkipSpace(nested);
                Repeat(ruleName, output, lastSymbolStart, at, min, max);
            }
            else break;
        }
    }

    /// <summary>
    /// Rewrites the last symbol S as S{min,max}: <c>min</c> copies, then either a right-recursive rule
    /// <c>r ::= S r |</c> (no maximum) or a chain of <c>max - min</c> nested optional rules.
    /// </summary>
    private void Repeat(string ruleName, List<GrammarElement> output, int lastSymbolStart, int at, int min, int max)
    {
        if (lastSymbolStart == output.Count)
            throw ErrorAt(at, $"Expected an item before the repetition operator '{char.ConvertFromUtf32(_text[at])}'");
        var symbol = output.GetRange(lastSymbolStart, output.Count - lastSymbolStart);
        long optional = max < 0 ? 1 : (long)max - min;
        Count((long)symbol.Count * (Math.Max(min, 1) + optional));

        if (min == 0) output.RemoveRange(lastSymbolStart, symbol.Count);
        for (int i = 1; i < min; i++) output.AddRange(symbol);

        int previousRule = -1;
        for (long i = 0; i < optional; i++)
        {
            int id = GeneratedSymbolId(ruleName, at);
            var rule = new List<GrammarElement>(symbol.Count + 3);
            rule.AddRange(symbol);
            if (max < 0) rule.Add(new(GrammarElementKind.RuleReference, id));
            else if (i > 0) rule.Add(new(GrammarElementKind.RuleReference, previousRule));
            rule.Add(new(GrammarElementKind.Alternate, 0));
            rule.Add(new(GrammarElementKind.End, 0));
            Rules[id] = rule;
            previousRule = id;
        }
        if (optional > 0) output.Add(new(GrammarElementKind.RuleReference, previousRule));
    }

    private void Count(long elements)
    {
        _elementCount = (int)Math.Min(int.MaxValue, _elementCount + elements);
        if (_elementCount > MaxElements) throw ErrorAt(_pos, $"Grammar too large: more than {MaxElements} elements after expanding repetitions");
    }

    /// <summary>One character of a literal or class, with llama.cpp's escapes.</summary>
    private int ParseChar()
    {
        int c = Peek();
        if (c != '\\') { _pos++; return c; }
        int escapeAt = _pos;
        int e = Peek(1);
        _pos += 2;
        switch (e)
        {
            case 'x': return ParseHex(2, escapeAt);
            case 'u': return ParseHex(4, escapeAt);
            case 'U': return ParseHex(8, escapeAt);
            case 't': return '\t';
            case 'r': return '\r';
            case 'n': return '\n';
            case '\\' or '"' or '[' or ']' or '-' or '^': return e;
            case -1: throw ErrorAt(escapeAt, "Unexpected end of input after '\\'");
            default: throw ErrorAt(escapeAt, $"Unknown escape '\\{char.ConvertFromUtf32(e)}'");
        }
    }

    private int ParseHex(int digits, int escapeAt)
    {
        long value = 0;
        for (int i = 0; i < digits; i++)
        {
            int c = Peek();
            int d = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : c is >= 'A' and <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) throw ErrorAt(escapeAt, $"Expected {digits} hex digits in escape");
            value = value * 16 + d;
            _pos++;
        }
        if (value > 0x10FFFF) throw ErrorAt(escapeAt, $"Code point U+{value:X} is beyond U+10FFFF");
        return (int)value;
    }

    private int ParseInt()
    {
        int start = _pos;
        long value = 0;
        while (IsDigit(Peek()))
        {
            value = value * 10 + (Peek() - '0');
            if (value > MaxElements) throw ErrorAt(start, $"Repetition count too large (above {MaxElements})");
            _pos++;
        }
        if (_pos == start) throw ErrorAt(start, "Expected a number");
        return (int)value;
    }

    private string ParseName()
    {
        int start = _pos;
        while (IsWordChar(Peek())) _pos++;
        if (_pos == start)
        {
            string found = AtEnd ? "end of input" : $"'{char.ConvertFromUtf32(Peek())}'";
            throw ErrorAt(start, $"Expected a rule name, found {found}");
        }
        var name = new StringBuilder(_pos - start);
        for (int i = start; i < _pos; i++) name.Append((char)_text[i]);
        return name.ToString();
    }

    private void SkipSpace(bool newlinesAllowed)
    {
        while (!AtEnd)
        {
            int c = Peek();
            if (c is ' ' or '\t' || (newlinesAllowed && c is '\r' or '\n')) _pos++;
            else if (c == '#')
            {
                while (!AtEnd && Peek() is not ('\r' or '\n')) _pos++;
            }
            else break;
        }
    }

    private int SymbolId(string name, int position)
    {
        if (_ids.TryGetValue(name, out int id)) return id;
        id = AddSymbol(name, position);
        _ids[name] = id;
        return id;
    }

    private int GeneratedSymbolId(string baseName, int position)
    {
        int id = AddSymbol(baseName + "_" + Rules.Count, position);
        _defined[id] = true;
        return id;
    }

    private int AddSymbol(string name, int position)
    {
        RuleNames.Add(name);
        Rules.Add(null);
        RulePositions.Add(position);
        _defined.Add(false);
        return Rules.Count - 1;
    }

    private string Where(int position)
    {
        var e = ErrorAt(position, "");
        return $"line {e.Line}, column {e.Column}";
    }

    private static bool IsDigit(int c) => c is >= '0' and <= '9';

    /// <summary>Rule names: ASCII letters, digits and '-' (llama.cpp's set); '_' too, which llama.cpp's converters never emit but people write.</summary>
    private static bool IsWordChar(int c) => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_';
}
