using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Suiron.Tokenization;

/// <summary>
/// Splits text into words with a list of regexes, the way llama.cpp's <c>unicode_regex_split</c> does: the first regex
/// splits the whole text, each next one splits every piece again, and text between matches is kept as a piece of its own.
/// Positions are code points. Three engines, picked per regex exactly as llama.cpp picks them:
/// <list type="bullet">
/// <item>the GPT-2 and Llama 3 regexes run as hand-written scanners over code point classes (llama.cpp's fast paths);</item>
/// <item>a regex with \p{L}, \p{N}, \p{P}, \p{S}, \p{M} runs on a "collapsed" text where every non-ASCII code point is one
/// stand-in character per class (letter, number, …; non-ASCII whitespace becomes \v) and \p{X} becomes that stand-in plus
/// its ASCII members — so non-ASCII letters have no case, as in llama.cpp;</item>
/// <item>any other regex runs on the text itself, non-ASCII whitespace again turned into \v.</item>
/// </list>
/// </summary>
internal sealed class RegexPreTokenizer
{
    private readonly Step[] _steps;

    public RegexPreTokenizer(IReadOnlyList<string> patterns)
    {
        _steps = patterns.Select(Step.Create).ToArray();
    }

    /// <summary>Code-point lengths of the consecutive words of <paramref name="codepoints"/> (all positive, summing to its length).</summary>
    public List<int> Split(int[] codepoints)
    {
        var text = new Text(codepoints);
        var pieces = new List<int>();
        if (codepoints.Length > 0) pieces.Add(codepoints.Length);
        foreach (var step in _steps)
        {
            var next = new List<int>(pieces.Count * 2);
            int start = 0;
            foreach (int length in pieces)
            {
                step.Split(text, start, start + length, next);
                start += length;
            }
            pieces = next;
        }
        return pieces;
    }

    /// <summary>The input in the forms the engines need, each built on first use.</summary>
    private sealed class Text(int[] codepoints)
    {
        public readonly int[] Codepoints = codepoints;
        private CodepointFlags[]? _flags;
        private string? _collapsed;
        private string? _wide;
        private int[]? _wideStart;  // code point index → UTF-16 index (length + 1 entries)
        private int[]? _wideToCodepoint;  // UTF-16 index → code point index (length + 1 entries)

        public CodepointFlags[] Flags => _flags ??= Array.ConvertAll(Codepoints, Tokenization.Codepoints.Flags);

        /// <summary>One character per code point: ASCII as is, the rest a stand-in for its class.</summary>
        public string Collapsed => _collapsed ??= string.Create(Codepoints.Length, this, static (span, text) =>
        {
            var cps = text.Codepoints;
            var flags = text.Flags;
            for (int i = 0; i < span.Length; i++) span[i] = cps[i] < 128 ? (char)cps[i] : Collapse(flags[i]);
        });

        public string Wide
        {
            get
            {
                if (_wide is null) BuildWide();
                return _wide!;
            }
        }

        public int WideStart(int codepointIndex)
        {
            if (_wide is null) BuildWide();
            return _wideStart![codepointIndex];
        }

        public int WideToCodepoint(int utf16Index)
        {
            if (_wide is null) BuildWide();
            return _wideToCodepoint![utf16Index];
        }

        private void BuildWide()
        {
            var sb = new StringBuilder(Codepoints.Length + 8);
            _wideStart = new int[Codepoints.Length + 1];
            var back = new List<int>(Codepoints.Length + 8);
            for (int i = 0; i < Codepoints.Length; i++)
            {
                _wideStart[i] = sb.Length;
                int cp = Codepoints[i];
                if (cp > 0x7F && (Flags[i] & CodepointFlags.Whitespace) != 0) cp = 0x0B;
                if (cp > 0xFFFF)
                {
                    sb.Append(char.ConvertFromUtf32(cp));
                    back.Add(i);
                    back.Add(i);
                }
                else
                {
                    sb.Append((char)cp);
                    back.Add(i);
                }
            }
            _wideStart[Codepoints.Length] = sb.Length;
            back.Add(Codepoints.Length);
            _wideToCodepoint = back.ToArray();
            _wide = sb.ToString();
        }

        private static char Collapse(CodepointFlags flags)
        {
            if ((flags & CodepointFlags.Whitespace) != 0) return '\v';
            return (flags & ~CodepointFlags.Whitespace) switch
            {
                CodepointFlags.Number => NumberStandIn,
                CodepointFlags.Letter => LetterStandIn,
                CodepointFlags.Punctuation => PunctuationStandIn,
                CodepointFlags.AccentMark => AccentMarkStandIn,
                CodepointFlags.Symbol => SymbolStandIn,
                _ => OtherStandIn,
            };
        }
    }

    private const char OtherStandIn = '\u00D0';
    private const char NumberStandIn = '\u00D1';
    private const char LetterStandIn = '\u00D2';
    private const char PunctuationStandIn = '\u00D3';
    private const char AccentMarkStandIn = '\u00D4';
    private const char SymbolStandIn = '\u00D5';

    private abstract class Step
    {
        public abstract void Split(Text text, int start, int end, List<int> output);

        public static Step Create(string pattern)
        {
            if (pattern == PreTokenizers.Gpt2) return new Gpt2Scanner();
            if (pattern == PreTokenizers.Llama3 || pattern == PreTokenizers.Llama3Original) return new Llama3Scanner();
            if (pattern == PreTokenizers.KimiK2) return new KimiK2Scanner();
            return UsesCategories(pattern) ? new RegexStep(CollapsedPattern(pattern), collapsed: true) : new RegexStep(WidePattern(pattern), collapsed: false);
        }
    }

    // ---- regex engine -------------------------------------------------------------------------------------------

    private static readonly string[] CategoryNames = ["\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}", "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}"];

    private static bool UsesCategories(string pattern) => CategoryNames.Any(c => pattern.Contains(c, StringComparison.Ordinal));

    /// <summary>The stand-in and the ASCII members of each category, as llama.cpp writes them into the collapsed regex.</summary>
    private static string? CategoryClass(string name) => name switch
    {
        "\\p{N}" => NumberStandIn + "0-9",
        "\\p{L}" or "\\p{Lu}" or "\\p{Ll}" or "\\p{Lt}" or "\\p{Lm}" or "\\p{Lo}" => LetterStandIn + "A-Za-z",
        "\\p{P}" => PunctuationStandIn + "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}",
        "\\p{M}" => AccentMarkStandIn.ToString(),
        "\\p{S}" => SymbolStandIn + "\\$\\+<->\\^`\\|",
        _ => null,
    };

    /// <summary>Rewrites \p{X} into the collapsed alphabet (wrapped in [] when outside a class), as llama.cpp does.</summary>
    private static string CollapsedPattern(string pattern)
    {
        if (pattern.Any(c => c >= 128))
            throw new NotSupportedException($"Regex '{pattern}' mixes unicode categories and non-ASCII characters (llama.cpp rejects it too).");
        var sb = new StringBuilder(pattern.Length * 2);
        bool inside = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '[' && (i == 0 || pattern[i - 1] != '\\'))
            {
                sb.Append('[');
                inside = true;
                continue;
            }
            if (inside && c == ']' && pattern[i - 1] != '\\')
            {
                sb.Append(']');
                inside = false;
                continue;
            }
            if (c == '\\' && i + 3 < pattern.Length && pattern[i + 1] == 'p' && pattern[i + 2] == '{')
            {
                int close = pattern.IndexOf('}', i + 3);
                if (close >= 0 && close <= i + 10 && CategoryClass(pattern[i..(close + 1)]) is { } members)
                {
                    if (!inside) sb.Append('[');
                    sb.Append(members);
                    if (!inside) sb.Append(']');
                    i = close;
                    continue;
                }
            }
            sb.Append(c);
        }
        return ToDotNet(sb.ToString());
    }

    /// <summary>
    /// A regex over the text itself. llama.cpp runs it with std::wregex on code points; .NET sees UTF-16, so character
    /// classes holding code points above U+FFFF become alternations of surrogate pairs.
    /// </summary>
    private static string WidePattern(string pattern)
    {
        var cps = Codepoints.FromString(pattern);
        var sb = new StringBuilder(pattern.Length * 2);
        for (int i = 0; i < cps.Length; i++)
        {
            int c = cps[i];
            if (c == '\\' && i + 1 < cps.Length)
            {
                sb.Append('\\').Append(char.ConvertFromUtf32(cps[++i]));
                continue;
            }
            if (c == '[')
            {
                int close = ClassEnd(cps, i);
                sb.Append(WideClass(cps.AsSpan(i, close - i + 1)));
                i = close;
                continue;
            }
            sb.Append(char.ConvertFromUtf32(c));
        }
        return ToDotNet(sb.ToString());
    }

    private static int ClassEnd(int[] cps, int open)
    {
        int i = open + 1;
        if (i < cps.Length && cps[i] == '^') i++;
        for (; i < cps.Length; i++)
        {
            if (cps[i] == '\\') { i++; continue; }
            if (cps[i] == ']') return i;
        }
        throw new ArgumentException("Unterminated character class in pre-tokenizer regex.");
    }

    /// <summary>A bracket class (given with its brackets) in .NET syntax.</summary>
    private static string WideClass(ReadOnlySpan<int> cls)
    {
        bool negated = cls.Length > 1 && cls[1] == '^';
        var body = cls[(negated ? 2 : 1)..^1];
        var bmp = new StringBuilder();
        var astral = new List<(int Low, int High)>();
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] == '\\' && i + 1 < body.Length)
            {
                bmp.Append('\\').Append(char.ConvertFromUtf32(body[++i]));
                continue;
            }
            int low = body[i], high = low;
            if (i + 2 < body.Length && body[i + 1] == '-' && body[i + 2] != '\\')
            {
                high = body[i + 2];
                i += 2;
            }
            if (high <= 0xFFFF)
            {
                bmp.Append(Escape(low));
                if (high != low) bmp.Append('-').Append(Escape(high));
            }
            else
            {
                if (low <= 0xFFFF)
                {
                    bmp.Append(Escape(low)).Append('-').Append(Escape(0xFFFF));
                    low = 0x10000;
                }
                astral.Add((low, high));
            }
        }
        string bmpClass = (negated ? "[^" : "[") + bmp + "]";
        if (astral.Count == 0) return bmpClass;
        if (negated) throw new NotSupportedException("Negated character classes with code points above U+FFFF are not supported.");

        var alternatives = new List<string>();
        if (bmp.Length > 0) alternatives.Add(bmpClass);
        foreach (var (low, high) in astral)
        {
            // Split the range by high surrogate: each high surrogate takes a run of low surrogates.
            for (int first = low; first <= high;)
            {
                string pairFirst = char.ConvertFromUtf32(first);
                int blockEnd = Math.Min(high, (first & ~0x3FF) + 0x3FF);
                string pairLast = char.ConvertFromUtf32(blockEnd);
                alternatives.Add($"\\u{(int)pairFirst[0]:X4}[\\u{(int)pairFirst[1]:X4}-\\u{(int)pairLast[1]:X4}]");
                first = blockEnd + 1;
            }
        }
        return "(?:" + string.Join('|', alternatives) + ")";
    }

    private static string Escape(int codepoint) => codepoint switch
    {
        '\\' or ']' or '[' or '^' or '-' => "\\" + (char)codepoint,
        < 0x20 or 0x7F => $"\\u{codepoint:X4}",
        _ => ((char)codepoint).ToString(),
    };

    /// <summary>ECMAScript → .NET: '$' outside a class is the end of the input only (no "before a final newline").</summary>
    private static string ToDotNet(string pattern)
    {
        var sb = new StringBuilder(pattern.Length + 4);
        bool inside = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                sb.Append(c).Append(pattern[++i]);
                continue;
            }
            if (!inside && c == '[') inside = true;
            else if (inside && c == ']') inside = false;
            if (!inside && c == '$') sb.Append("\\z");
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private static readonly ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);

    private sealed class RegexStep(string pattern, bool collapsed) : Step
    {
        // ECMAScript: \s, \d, \w and \b are ASCII-only, as std::regex's are in the C locale (non-ASCII whitespace is already \v).
        private readonly Regex _regex = Compiled.GetOrAdd(pattern, p => new Regex(p, RegexOptions.ECMAScript | RegexOptions.Compiled));

        public override void Split(Text text, int start, int end, List<int> output)
        {
            string input;
            int from, length;
            if (collapsed)
            {
                input = text.Collapsed;
                from = start;
                length = end - start;
            }
            else
            {
                input = text.Wide;
                from = text.WideStart(start);
                length = text.WideStart(end) - from;
            }

            // The piece is the regex's whole input: lookarounds and anchors stop at its edges, as std::regex_iterator over
            // [first, last) does in llama.cpp. EnumerateMatches over a span allocates nothing per match.
            int previous = start;
            foreach (var match in _regex.EnumerateMatches(input.AsSpan(from, length)))
            {
                int matchStart = collapsed ? start + match.Index : text.WideToCodepoint(from + match.Index);
                int matchEnd = collapsed ? matchStart + match.Length : text.WideToCodepoint(from + match.Index + match.Length);
                if (match.Length == 0)
                {
                    // An empty match (a bare lookahead) still cuts the text there, as in llama.cpp; the empty word itself is dropped.
                    if (matchStart > previous) output.Add(matchStart - previous);
                    previous = Math.Max(previous, matchStart);
                    continue;
                }
                if (matchStart > previous) output.Add(matchStart - previous);
                output.Add(matchEnd - matchStart);
                previous = matchEnd;
            }
            if (end > previous) output.Add(end - previous);
        }
    }

    // ---- llama.cpp's hand-written scanners ---------------------------------------------------------------------

    /// <summary>Helpers over one piece [start, end): outside it, classes are None and code points -1, as in llama.cpp.</summary>
    private ref struct Cursor(Text text, int start, int end, List<int> output)
    {
        private readonly int[] _cps = text.Codepoints;
        private readonly CodepointFlags[] _flags = text.Flags;
        public readonly int Start = start;
        public readonly int End = end;
        private int _previousEnd = start;

        public readonly int Cp(int position) => position >= Start && position < End ? _cps[position] : -1;

        public readonly CodepointFlags Flags(int position) => position >= Start && position < End ? _flags[position] : CodepointFlags.None;

        /// <summary>Ends the current word at <paramref name="wordEnd"/>.</summary>
        public void Emit(int wordEnd)
        {
            if (wordEnd > _previousEnd) output.Add(wordEnd - _previousEnd);
            _previousEnd = wordEnd;
        }
    }

    private const CodepointFlags WordClasses = CodepointFlags.Whitespace | CodepointFlags.Letter | CodepointFlags.Number;

    private static bool IsRn(int cp) => cp is '\r' or '\n';

    /// <summary>'s|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive) at <paramref name="pos"/>: the length matched, or 0.</summary>
    private static int Contraction(ref Cursor c, int pos, bool ignoreCase)
    {
        if (c.Cp(pos) != '\'' || pos + 1 >= c.End) return 0;
        int next = Lower(c.Cp(pos + 1), ignoreCase);
        if (next is 's' or 't' or 'm' or 'd') return 2;
        if (pos + 2 >= c.End) return 0;
        int nextNext = Lower(c.Cp(pos + 2), ignoreCase);
        return (next, nextNext) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 3 : 0;
    }

    private static int Lower(int cp, bool ignoreCase) => ignoreCase && cp is >= 'A' and <= 'Z' ? cp + 32 : cp;

    /// <summary>Whitespace run at <paramref name="pos"/>: \s+(?!\S) leaves its last character to the next word, \s+ takes it.</summary>
    private static int Whitespace(ref Cursor c, int pos)
    {
        int count = 0;
        while ((c.Flags(pos + count) & CodepointFlags.Whitespace) != 0) count++;
        if (count > 1 && c.Cp(pos + count) != -1) return pos + count - 1;
        if (count > 0) return pos + count;
        return pos + 1; // no alternative matched: the character is a word by itself
    }

    /// <summary>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)</summary>
    private sealed class Gpt2Scanner : Step
    {
        public override void Split(Text text, int start, int end, List<int> output)
        {
            var c = new Cursor(text, start, end, output);
            for (int pos = start; pos < end;)
            {
                int cp = c.Cp(pos);
                int contraction = Contraction(ref c, pos, ignoreCase: false);
                if (contraction > 0)
                {
                    c.Emit(pos += contraction);
                    continue;
                }

                var flags = cp == ' ' ? c.Flags(pos + 1) : c.Flags(pos);
                int body = cp == ' ' ? pos + 1 : pos;
                if ((flags & CodepointFlags.Letter) != 0)
                {
                    for (pos = body; (c.Flags(pos) & CodepointFlags.Letter) != 0; pos++) { }
                    c.Emit(pos);
                    continue;
                }
                if ((flags & CodepointFlags.Number) != 0)
                {
                    for (pos = body; (c.Flags(pos) & CodepointFlags.Number) != 0; pos++) { }
                    c.Emit(pos);
                    continue;
                }
                if ((flags & WordClasses) == 0 && flags != CodepointFlags.None)
                {
                    for (pos = body; (c.Flags(pos) & WordClasses) == 0 && c.Flags(pos) != CodepointFlags.None; pos++) { }
                    c.Emit(pos);
                    continue;
                }
                c.Emit(pos = Whitespace(ref c, pos));
            }
        }
    }

    /// <summary>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</summary>
    private sealed class Llama3Scanner : Step
    {
        public override void Split(Text text, int start, int end, List<int> output)
        {
            var c = new Cursor(text, start, end, output);
            for (int pos = start; pos < end;)
            {
                int cp = c.Cp(pos);
                var flags = c.Flags(pos);
                int contraction = Contraction(ref c, pos, ignoreCase: true);
                if (contraction > 0)
                {
                    c.Emit(pos += contraction);
                    continue;
                }

                // [^\r\n\p{L}\p{N}]?\p{L}+
                if (!IsRn(cp) && (flags & CodepointFlags.Number) == 0
                    && ((flags & CodepointFlags.Letter) != 0 || (c.Flags(pos + 1) & CodepointFlags.Letter) != 0))
                {
                    for (pos++; (c.Flags(pos) & CodepointFlags.Letter) != 0; pos++) { }
                    c.Emit(pos);
                    continue;
                }

                // (llama.cpp tests the current character's class, not the next one's, for being defined)
                c.Emit(pos = NumbersSymbolsWhitespace(ref c, pos, definedTest: flags));
            }
        }
    }

    /// <summary>
    /// The alternatives Llama 3's pattern and Kimi-K2's share after their letter rules, at <paramref name="pos"/>; returns
    /// where the word ends: <c>\p{N}{1,3}</c> (a digit run emitted in threes, the last group left to the caller),
    /// <c> ?[^\s\p{L}\p{N}]+[\r\n]*</c> (taken where <paramref name="definedTest"/> is a defined class: llama.cpp's
    /// Llama 3 splitter tests the current character, its Kimi-K2 splitter the one after an optional space),
    /// <c>\s*[\r\n]+</c>, <c>\s+(?!\S)</c>, <c>\s+</c>, else the character alone.
    /// </summary>
    private static int NumbersSymbolsWhitespace(ref Cursor c, int pos, CodepointFlags definedTest)
    {
        int cp = c.Cp(pos);
        var flags = c.Flags(pos);
        if ((flags & CodepointFlags.Number) != 0)
        {
            int groupStart = pos;
            while ((c.Flags(pos) & CodepointFlags.Number) != 0)
            {
                if (++pos - groupStart >= 3)
                {
                    c.Emit(pos);
                    groupStart = pos;
                }
            }
            return pos;
        }

        var next = cp == ' ' ? c.Flags(pos + 1) : flags;
        if ((next & WordClasses) == 0 && definedTest != CodepointFlags.None)
        {
            if (cp == ' ') pos++;
            while ((c.Flags(pos) & WordClasses) == 0 && c.Flags(pos) != CodepointFlags.None) pos++;
            while (IsRn(c.Cp(pos))) pos++;
            return pos;
        }

        // \s*[\r\n]+: the whitespace run up to its last \r or \n
        int count = 0, lastNewlineEnd = -1;
        while ((c.Flags(pos + count) & CodepointFlags.Whitespace) != 0)
        {
            if (IsRn(c.Cp(pos + count))) lastNewlineEnd = pos + count + 1;
            count++;
        }
        return lastNewlineEnd > 0 ? lastNewlineEnd : Whitespace(ref c, pos);
    }

    /// <summary>
    /// Kimi-K2's tiktoken pattern, as llama.cpp's hand-written splitter runs it (regex engines without class intersection
    /// cannot): <c>\p{Han}+ | [^\r\n\p{L}\p{N}]?(letters, not Han)+ (?i:'s|'t|'re|'ve|'m|'ll|'d)? | \p{N}{1,3} |
    /// ' ?[^\s\p{L}\p{N}]+[\r\n]*' | \s*[\r\n]+ | \s+(?!\S) | \s+</c>. Like llama.cpp's, it takes one run of non-Han letters
    /// as one word: Moonshot's own pattern splits "helloWorld" into "hello" and "World" by case, llama.cpp does not, and the
    /// oracle is llama.cpp. Combining marks are not letters here (as there), so they go with the punctuation runs.
    /// </summary>
    private sealed class KimiK2Scanner : Step
    {
        /// <summary>llama.cpp's unicode_cpt_is_han: the CJK unified ideographs, extensions A–F and compatibility ideographs.</summary>
        internal static bool IsHan(int cp) =>
            cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
                or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0x2CEB0 and <= 0x2EBEF or >= 0xF900 and <= 0xFAFF
                or >= 0x2F800 and <= 0x2FA1F;

        private static bool IsNonHanLetter(ref Cursor c, int pos) => (c.Flags(pos) & CodepointFlags.Letter) != 0 && !IsHan(c.Cp(pos));

        public override void Split(Text text, int start, int end, List<int> output)
        {
            var c = new Cursor(text, start, end, output);
            for (int pos = start; pos < end;)
            {
                int cp = c.Cp(pos);
                var flags = c.Flags(pos);

                // \p{Han}+
                if (IsHan(cp))
                {
                    while (IsHan(c.Cp(pos))) pos++;
                    c.Emit(pos);
                    continue;
                }

                // [^\r\n\p{L}\p{N}]?[letters, not Han]+ with an optional contraction
                bool leading = !IsRn(cp) && (flags & (CodepointFlags.Letter | CodepointFlags.Number)) == 0;
                if (IsNonHanLetter(ref c, pos) || (leading && IsNonHanLetter(ref c, pos + 1)))
                {
                    if (leading) pos++;
                    while (IsNonHanLetter(ref c, pos)) pos++;
                    pos += Contraction(ref c, pos, ignoreCase: true);
                    c.Emit(pos);
                    continue;
                }

                // digits, ' ?[^\s\p{L}\p{N}]+[\r\n]*' (the class after an optional space tested for being defined), whitespace
                c.Emit(pos = NumbersSymbolsWhitespace(ref c, pos, definedTest: cp == ' ' ? c.Flags(pos + 1) : flags));
            }
        }
    }
}
