using System.Globalization;
using System.Text;

namespace Suiron.Chat.Jinja;

internal enum TokenKind
{
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One lexical token. <see cref="Value"/> holds the parsed literal for strings and numbers.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Line, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;
    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;
    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;

    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.BlockBegin => "begin of statement block",
        TokenKind.VariableBegin => "begin of print statement",
        TokenKind.Data => "template data",
        _ => Text,
    };
}

/// <summary>
/// Splits template source into tokens the way Jinja2's lexer does with <c>trim_blocks</c> and
/// <c>lstrip_blocks</c> on (the settings Hugging Face uses): same whitespace control, same
/// newline normalisation (one trailing newline dropped), same string-literal escapes. Written by
/// hand rather than with Jinja's regular expressions so hostile input cannot cause backtracking.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    private readonly string _source;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private int _line = 1;
    // Jinja's lstrip_blocks also strips before a tag at the start of the text when the previous
    // match ended with a newline (e.g. a trimmed block end).
    private bool _lineStarting = true;

    private Lexer(string source) => _source = NormalizeNewlines(source);

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>\r\n and \r become \n; a single trailing newline is dropped (keep_trailing_newline off).</summary>
    private static string NormalizeNewlines(string source)
    {
        string s = source.Contains('\r') ? source.Replace("\r\n", "\n").Replace('\r', '\n') : source;
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    private void Run()
    {
        while (_pos < _source.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                Emit(TokenKind.Data, _source[_pos..]);
                _pos = _source.Length;
                break;
            }
            char kind = _source[tag + 1];
            char sign = tag + 2 < _source.Length && (_source[tag + 2] == '-' || _source[tag + 2] == '+') ? _source[tag + 2] : '\0';
            string text = _source[_pos..tag];
            if (sign == '-')
            {
                text = text.TrimEnd(PythonText.WhitespaceChars);
            }
            else if (sign != '+' && kind != '{')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || _lineStarting) && lineStart < text.Length && IsAllWhitespace(text, lineStart))
                    text = text[..lineStart];
            }
            if (text.Length > 0) Emit(TokenKind.Data, text);
            // Count lines in the source, not in the (possibly stripped) text.
            _line += CountNewlines(_source, _pos, tag);
            _pos = tag + 2 + (sign == '\0' ? 0 : 1);
            _lineStarting = false;

            switch (kind)
            {
                case '#':
                    LexComment();
                    break;
                case '%':
                    if (!TryLexRaw()) LexTag(TokenKind.BlockBegin, TokenKind.BlockEnd);
                    break;
                default:
                    LexTag(TokenKind.VariableBegin, TokenKind.VariableEnd);
                    break;
            }
        }
        _tokens.Add(new Token(TokenKind.End, "", _line));
    }

    private int FindTagStart(int from)
    {
        for (int i = _source.IndexOf('{', from); i >= 0 && i + 1 < _source.Length; i = _source.IndexOf('{', i + 1))
        {
            char c = _source[i + 1];
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    private void Emit(TokenKind kind, string text) => _tokens.Add(new Token(kind, text, _line));

    private static int CountNewlines(string s, int from, int to)
    {
        int n = 0;
        for (int i = from; i < to; i++) if (s[i] == '\n') n++;
        return n;
    }

    private static bool IsAllWhitespace(string s, int from)
    {
        for (int i = from; i < s.Length; i++) if (!PythonText.IsWhitespace(s[i])) return false;
        return true;
    }

    /// <summary>After a closing delimiter: "-" eats all following whitespace, "+" nothing, otherwise trim_blocks eats one newline.</summary>
    private void SkipAfterTagEnd(char sign, bool trimBlock)
    {
        int start = _pos;
        if (sign == '-')
            while (_pos < _source.Length && PythonText.IsWhitespace(_source[_pos])) _pos++;
        else if (sign != '+' && trimBlock && _pos < _source.Length && _source[_pos] == '\n')
            _pos++;
        _line += CountNewlines(_source, start, _pos);
        _lineStarting = _pos > 0 && _source[_pos - 1] == '\n';
    }

    private void LexComment()
    {
        int end = _source.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw Fail("Missing end of comment tag");
        char sign = end > _pos && (_source[end - 1] == '-' || _source[end - 1] == '+') ? _source[end - 1] : '\0';
        _line += CountNewlines(_source, _pos, end);
        _pos = end + 2;
        SkipAfterTagEnd(sign, trimBlock: true);
    }

    /// <summary>{% raw %}…{% endraw %}: the content is data, untouched.</summary>
    private bool TryLexRaw()
    {
        int p = SkipSpaces(_pos);
        if (!MatchWord(p, "raw")) return false;
        p = SkipSpaces(p + 3);
        char openSign;
        if (At(p, "-%}")) { openSign = '-'; p += 3; }
        else if (At(p, "%}")) { openSign = '\0'; p += 2; }
        else return false;
        _pos = p;
        if (openSign == '-') SkipAfterTagEnd('-', false);

        // Find "{%[-+]? endraw [-+]?%}".
        for (int i = _source.IndexOf("{%", _pos, StringComparison.Ordinal); i >= 0; i = _source.IndexOf("{%", i + 2, StringComparison.Ordinal))
        {
            int q = i + 2;
            char sign = q < _source.Length && (_source[q] == '-' || _source[q] == '+') ? _source[q] : '\0';
            if (sign != '\0') q++;
            q = SkipSpaces(q);
            if (!MatchWord(q, "endraw")) continue;
            q = SkipSpaces(q + 6);
            char closeSign;
            if (At(q, "-%}")) { closeSign = '-'; q += 3; }
            else if (At(q, "+%}")) { closeSign = '+'; q += 3; }
            else if (At(q, "%}")) { closeSign = '\0'; q += 2; }
            else continue;

            string text = _source[_pos..i];
            if (sign == '-') text = text.TrimEnd(PythonText.WhitespaceChars);
            else if (sign != '+')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || _lineStarting) && lineStart < text.Length && IsAllWhitespace(text, lineStart))
                    text = text[..lineStart];
            }
            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, _line));
            _line += CountNewlines(_source, _pos, q);
            _pos = q;
            SkipAfterTagEnd(closeSign, trimBlock: true);
            return true;
        }
        throw Fail("Missing end of raw directive");
    }

    private int SkipSpaces(int p)
    {
        while (p < _source.Length && PythonText.IsWhitespace(_source[p])) p++;
        return p;
    }

    private bool At(int p, string s) => string.CompareOrdinal(_source, p, s, 0, s.Length) == 0;

    private bool MatchWord(int p, string word) =>
        At(p, word) && (p + word.Length >= _source.Length || !IsNameChar(_source[p + word.Length]));

    private void LexTag(TokenKind begin, TokenKind end)
    {
        _tokens.Add(new Token(begin, "", _line));
        var balance = new Stack<char>();
        while (true)
        {
            if (_pos >= _source.Length) return; // the parser reports the unclosed tag
            char c = _source[_pos];
            if (balance.Count == 0)
            {
                if (end == TokenKind.BlockEnd)
                {
                    if (At(_pos, "-%}") || At(_pos, "+%}"))
                    {
                        _tokens.Add(new Token(end, "", _line));
                        char sign = _source[_pos];
                        _pos += 3;
                        SkipAfterTagEnd(sign, trimBlock: true);
                        return;
                    }
                    if (At(_pos, "%}"))
                    {
                        _tokens.Add(new Token(end, "", _line));
                        _pos += 2;
                        SkipAfterTagEnd('\0', trimBlock: true);
                        return;
                    }
                }
                else
                {
                    if (At(_pos, "-}}"))
                    {
                        _tokens.Add(new Token(end, "", _line));
                        _pos += 3;
                        SkipAfterTagEnd('-', trimBlock: false);
                        return;
                    }
                    if (At(_pos, "}}"))
                    {
                        _tokens.Add(new Token(end, "", _line));
                        _pos += 2;
                        _lineStarting = false;
                        return;
                    }
                }
            }

            if (PythonText.IsWhitespace(c))
            {
                if (c == '\n') _line++;
                _pos++;
                continue;
            }
            if (char.IsAsciiDigit(c) && TryLexNumber()) continue;
            if (c == '_' || char.IsLetter(c))
            {
                int start = _pos;
                while (_pos < _source.Length && IsNameChar(_source[_pos])) _pos++;
                _tokens.Add(new Token(TokenKind.Name, _source[start.._pos], _line));
                continue;
            }
            if (c == '\'' || c == '"')
            {
                LexString(c);
                continue;
            }
            string? op = null;
            foreach (string candidate in Operators)
                if (At(_pos, candidate)) { op = candidate; break; }
            if (op is null) throw Fail($"unexpected char {PythonText.Repr(c.ToString())} at {_pos}");
            switch (op)
            {
                case "(": balance.Push(')'); break;
                case "[": balance.Push(']'); break;
                case "{": balance.Push('}'); break;
                case ")" or "]" or "}":
                    if (balance.Count == 0) throw Fail($"unexpected '{op}'");
                    char expected = balance.Pop();
                    if (expected != op[0]) throw Fail($"unexpected '{op}', expected '{expected}'");
                    break;
            }
            _tokens.Add(new Token(TokenKind.Operator, op, _line));
            _pos += op.Length;
        }
    }

    private static bool IsNameChar(char c) => c == '_' || char.IsLetterOrDigit(c);

    /// <summary>Integers (decimal, 0x, 0o, 0b, with underscores) and floats with fraction and/or exponent.</summary>
    private bool TryLexNumber()
    {
        if (_pos > 0 && _source[_pos - 1] == '.')
        {
            // Jinja: a float cannot start right after a dot (x.0.1 is two item lookups).
            return TryLexInteger();
        }
        int p = ScanDigits(_pos);
        bool isFloat = false;
        if (p < _source.Length && _source[p] == '.' && p + 1 < _source.Length && char.IsAsciiDigit(_source[p + 1]))
        {
            p = ScanDigits(p + 1);
            isFloat = true;
        }
        if (p < _source.Length && (_source[p] == 'e' || _source[p] == 'E'))
        {
            int q = p + 1;
            if (q < _source.Length && (_source[q] == '+' || _source[q] == '-')) q++;
            if (q < _source.Length && char.IsAsciiDigit(_source[q]))
            {
                p = ScanDigits(q);
                isFloat = true;
            }
        }
        if (!isFloat) return TryLexInteger();
        string text = _source[_pos..p];
        double value = double.Parse(text.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture);
        _tokens.Add(new Token(TokenKind.Float, text, _line, value));
        _pos = p;
        return true;
    }

    private int ScanDigits(int p)
    {
        // (\d+_)*\d+
        while (p < _source.Length)
        {
            if (char.IsAsciiDigit(_source[p])) p++;
            else if (_source[p] == '_' && p + 1 < _source.Length && char.IsAsciiDigit(_source[p + 1]) && p > 0 && char.IsAsciiDigit(_source[p - 1])) p++;
            else break;
        }
        return p;
    }

    private bool TryLexInteger()
    {
        int p = _pos;
        int radix = 10;
        if (_source[p] == '0' && p + 1 < _source.Length && "xXoObB".Contains(_source[p + 1]))
        {
            radix = char.ToLowerInvariant(_source[p + 1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
            p += 2;
        }
        int digitsStart = p;
        while (p < _source.Length && (IsDigitOf(_source[p], radix) || (_source[p] == '_' && p + 1 < _source.Length && IsDigitOf(_source[p + 1], radix)))) p++;
        if (p == digitsStart) return false;
        string text = _source[_pos..p];
        string digits = _source[digitsStart..p].Replace("_", "");
        long value;
        try
        {
            value = radix == 10 ? long.Parse(digits, CultureInfo.InvariantCulture) : Convert.ToInt64(digits, radix);
        }
        catch (OverflowException)
        {
            throw Fail($"integer literal too large: {text}");
        }
        _tokens.Add(new Token(TokenKind.Integer, text, _line, value));
        _pos = p;
        return true;
    }

    private static bool IsDigitOf(char c, int radix) => radix switch
    {
        16 => char.IsAsciiHexDigit(c),
        8 => c is >= '0' and <= '7',
        2 => c is '0' or '1',
        _ => char.IsAsciiDigit(c),
    };

    private void LexString(char quote)
    {
        int start = _pos;
        int p = _pos + 1;
        while (p < _source.Length && _source[p] != quote)
        {
            if (_source[p] == '\\') p++;
            p++;
        }
        if (p >= _source.Length) throw Fail($"unexpected char {PythonText.Repr(quote.ToString())} at {start}");
        string raw = _source[(start + 1)..p];
        _pos = p + 1;
        _tokens.Add(new Token(TokenKind.String, _source[start.._pos], _line, DecodeEscapes(raw)));
        _line += CountNewlines(raw, 0, raw.Length);
    }

    /// <summary>
    /// Jinja decodes string literals with Python's <c>encode("ascii", "backslashreplace").decode("unicode-escape")</c>:
    /// standard escapes are decoded, unknown ones keep their backslash.
    /// </summary>
    private string DecodeEscapes(string raw)
    {
        if (!raw.Contains('\\')) return raw;
        // Reproduce the backslashreplace step so that a backslash before a non-ASCII character
        // behaves as in Python (it escapes the first character of the \uXXXX sequence).
        var ascii = new StringBuilder(raw.Length);
        foreach (Rune r in raw.EnumerateRunes())
        {
            if (r.Value < 0x80) ascii.Append((char)r.Value);
            else if (r.Value < 0x10000) ascii.Append("\\u").Append(r.Value.ToString("x4"));
            else ascii.Append("\\U").Append(r.Value.ToString("x8"));
        }
        string s = ascii.ToString();
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '\\' || i + 1 >= s.Length)
            {
                if (c == '\\') throw Fail("\\ at end of string");
                sb.Append(c);
                continue;
            }
            char e = s[++i];
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case >= '0' and <= '7':
                    {
                        int value = e - '0';
                        for (int k = 0; k < 2 && i + 1 < s.Length && s[i + 1] is >= '0' and <= '7'; k++) value = value * 8 + (s[++i] - '0');
                        sb.Append((char)value);
                        break;
                    }
                case 'x':
                case 'u':
                case 'U':
                    {
                        int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                        string hex = i + 1 + n <= s.Length ? s.Substring(i + 1, n) : "";
                        if (hex.Length != n || !hex.All(char.IsAsciiHexDigit)) throw Fail($"truncated \\{e} escape in string literal");
                        int cp = int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                        if (cp > 0x10FFFF) throw Fail("illegal Unicode character in string literal");
                        if (cp is >= 0xD800 and <= 0xDFFF) sb.Append((char)cp);
                        else sb.Append(char.ConvertFromUtf32(cp));
                        i += n;
                        break;
                    }
                default:
                    sb.Append('\\').Append(e);
                    break;
            }
        }
        return sb.ToString();
    }

    private TemplateException Fail(string message) => new("TemplateSyntaxError", message, _line);
}
