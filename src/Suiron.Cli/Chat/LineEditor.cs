using System.Globalization;
using System.Text;

namespace Suiron.Cli.Chat;

/// <summary>How a line read by <see cref="LineEditor"/> ended.</summary>
internal enum LineEnd
{
    /// <summary>Enter: the line is the text.</summary>
    Submitted,
    /// <summary>Ctrl+D on an empty line: the end of input.</summary>
    EndOfInput,
    /// <summary>Ctrl+C: the user wants out.</summary>
    Interrupted,
}

/// <summary>
/// The terminal line editor of <c>suiron chat</c>: cursor movement, history (Up/Down), and a display that knows East
/// Asian widths — a CJK character or an emoji takes two cells, a combining mark none — so that backspace over 日本語
/// leaves no blank cell, and input typed through an IME (whole characters, surrogate pairs in two keys) edits as one.
/// The line is redrawn from its first row on every change, wrapping as the terminal does at its width.
/// </summary>
internal sealed class LineEditor
{
    private readonly Func<ConsoleKeyInfo> _readKey;
    private readonly TextWriter _output;
    private readonly Func<int> _terminalWidth;
    private readonly List<string> _history = [];

    public LineEditor(Func<ConsoleKeyInfo> readKey, TextWriter output, Func<int> terminalWidth)
    {
        _readKey = readKey;
        _output = output;
        _terminalWidth = terminalWidth;
    }

    /// <summary>Lines entered so far, oldest first (empty lines are not kept, nor a line equal to the one before).</summary>
    public IReadOnlyList<string> History => _history;

    /// <summary>Shows <paramref name="prompt"/> (plain text, its width counted) and edits one line until Enter, Ctrl+D on an empty line or Ctrl+C.</summary>
    public (LineEnd End, string Text) ReadLine(string prompt)
    {
        var text = new StringBuilder();
        int cursor = 0;                 // in UTF-16 units, always on a text-element boundary
        int historyIndex = _history.Count;
        string draft = "";
        char? pendingHighSurrogate = null;
        int cursorRow = 0;              // the row of the terminal cursor, counted from the prompt's row
        Redraw();
        while (true)
        {
            var key = _readKey();
            bool control = (key.Modifiers & ConsoleModifiers.Control) != 0;
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    MoveToEnd();
                    _output.Write("\r\n");
                    string line = text.ToString();
                    if (line.Length > 0 && (_history.Count == 0 || _history[^1] != line)) _history.Add(line);
                    return (LineEnd.Submitted, line);
                case ConsoleKey.C when control:
                    MoveToEnd();
                    _output.Write("^C\r\n");
                    return (LineEnd.Interrupted, "");
                case ConsoleKey.D when control:
                    if (text.Length == 0)
                    {
                        _output.Write("\r\n");
                        return (LineEnd.EndOfInput, "");
                    }
                    if (cursor < text.Length) text.Remove(cursor, NextBoundary(cursor) - cursor);
                    break;
                case ConsoleKey.Backspace:
                    if (cursor > 0)
                    {
                        int start = PreviousBoundary(cursor);
                        text.Remove(start, cursor - start);
                        cursor = start;
                    }
                    break;
                case ConsoleKey.Delete:
                    if (cursor < text.Length) text.Remove(cursor, NextBoundary(cursor) - cursor);
                    break;
                case ConsoleKey.LeftArrow:
                case ConsoleKey.B when control:
                    if (cursor > 0) cursor = PreviousBoundary(cursor);
                    break;
                case ConsoleKey.RightArrow:
                case ConsoleKey.F when control:
                    if (cursor < text.Length) cursor = NextBoundary(cursor);
                    break;
                case ConsoleKey.Home:
                case ConsoleKey.A when control:
                    cursor = 0;
                    break;
                case ConsoleKey.End:
                case ConsoleKey.E when control:
                    cursor = text.Length;
                    break;
                case ConsoleKey.U when control:
                    text.Remove(0, cursor);
                    cursor = 0;
                    break;
                case ConsoleKey.K when control:
                    text.Remove(cursor, text.Length - cursor);
                    break;
                case ConsoleKey.UpArrow:
                case ConsoleKey.P when control:
                    if (historyIndex > 0)
                    {
                        if (historyIndex == _history.Count) draft = text.ToString();
                        historyIndex--;
                        text.Clear().Append(_history[historyIndex]);
                        cursor = text.Length;
                    }
                    break;
                case ConsoleKey.DownArrow:
                case ConsoleKey.N when control:
                    if (historyIndex < _history.Count)
                    {
                        historyIndex++;
                        text.Clear().Append(historyIndex == _history.Count ? draft : _history[historyIndex]);
                        cursor = text.Length;
                    }
                    break;
                default:
                    char c = key.KeyChar;
                    if (c == '\0' || char.IsControl(c) && c != '\t') continue;
                    // A character beyond the BMP (an emoji, a rare kanji) arrives as two keys, one per surrogate: it is
                    // inserted whole when the second arrives, so the cursor never sits between the halves.
                    if (char.IsHighSurrogate(c))
                    {
                        pendingHighSurrogate = c;
                        continue;
                    }
                    if (char.IsLowSurrogate(c))
                    {
                        if (pendingHighSurrogate is not { } high) continue;
                        text.Insert(cursor, new[] { high, c });
                        cursor += 2;
                        pendingHighSurrogate = null;
                        break;
                    }
                    text.Insert(cursor, c == '\t' ? ' ' : c);
                    cursor++;
                    break;
            }
            Redraw();
        }

        int PreviousBoundary(int at)
        {
            string s = text.ToString();
            int previous = 0;
            for (int i = 0; i < at; i += StringInfo.GetNextTextElementLength(s, i)) previous = i;
            return previous;
        }

        int NextBoundary(int at)
        {
            string s = text.ToString();
            return at + Math.Max(1, StringInfo.GetNextTextElementLength(s, at));
        }

        void MoveToEnd()
        {
            var (endRow, _) = Position(prompt, text.ToString(), text.Length, Width());
            if (endRow > cursorRow) _output.Write($"\u001b[{endRow - cursorRow}B");
            cursorRow = endRow;
        }

        void Redraw()
        {
            int width = Width();
            string s = text.ToString();
            // Back to the prompt's row, then prompt, text and a clear of whatever an older, longer line left below.
            if (cursorRow > 0) _output.Write($"\u001b[{cursorRow}A");
            _output.Write('\r');
            _output.Write(prompt);
            _output.Write(s);
            var (endRow, endColumn) = Position(prompt, s, s.Length, width);
            // A line that ends exactly at the right edge leaves the terminal's cursor pending on that edge; step onto the next row.
            if (endColumn == 0 && endRow > 0 && s.Length > 0) _output.Write("\r\n");
            _output.Write("\u001b[J");
            var (row, column) = Position(prompt, s, cursor, width);
            if (endRow > row) _output.Write($"\u001b[{endRow - row}A");
            _output.Write($"\u001b[{column + 1}G");
            cursorRow = row;
        }

        int Width() => Math.Max(2, _terminalWidth());
    }

    /// <summary>Row and column (0-based, from the prompt's first cell) of the cell after <paramref name="length"/> units of <paramref name="text"/>.</summary>
    internal static (int Row, int Column) Position(string prompt, string text, int length, int terminalWidth)
    {
        int row = 0, column = 0;
        void Advance(int cells)
        {
            if (cells == 0) return;
            if (column + cells > terminalWidth)
            {
                row++;
                column = 0;
            }
            column += cells;
            if (column == terminalWidth)
            {
                row++;
                column = 0;
            }
        }
        foreach (var (s, count) in new[] { (prompt, prompt.Length), (text, length) })
            for (int i = 0; i < count; i += StringInfo.GetNextTextElementLength(s, i))
                Advance(CellWidth(s, i));
        return (row, column);
    }

    /// <summary>Cells the text element at <paramref name="index"/> takes on a terminal: 2 for East Asian wide and fullwidth characters and emoji, 0 for a lone combining mark, 1 otherwise.</summary>
    internal static int CellWidth(string s, int index)
    {
        int rune = char.IsSurrogatePair(s, index) ? char.ConvertToUtf32(s[index], s[index + 1]) : s[index];
        if (char.IsSurrogate(s[index]) && !char.IsSurrogatePair(s, index)) return 1;
        var category = CharUnicodeInfo.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format) return 0;
        return IsWide(rune) ? 2 : 1;
    }

    /// <summary>East Asian Width W or F (Unicode 15's EastAsianWidth.txt, collapsed to its blocks) and the emoji blocks terminals draw wide.</summary>
    internal static bool IsWide(int rune) => rune switch
    {
        >= 0x1100 and <= 0x115F => true,    // Hangul Jamo initial consonants
        >= 0x231A and <= 0x231B => true,    // watch, hourglass
        >= 0x2329 and <= 0x232A => true,    // angle brackets
        >= 0x23E9 and <= 0x23EC => true,
        >= 0x2614 and <= 0x2615 => true,
        >= 0x2E80 and <= 0x303E => true,    // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
        >= 0x3041 and <= 0x33FF => true,    // hiragana, katakana, bopomofo, Hangul compatibility jamo, kanbun, CJK compatibility
        >= 0x3400 and <= 0x4DBF => true,    // CJK extension A
        >= 0x4E00 and <= 0x9FFF => true,    // CJK unified ideographs
        >= 0xA000 and <= 0xA4CF => true,    // Yi
        >= 0xA960 and <= 0xA97F => true,    // Hangul Jamo extended A
        >= 0xAC00 and <= 0xD7A3 => true,    // Hangul syllables
        >= 0xF900 and <= 0xFAFF => true,    // CJK compatibility ideographs
        >= 0xFE10 and <= 0xFE19 => true,    // vertical forms
        >= 0xFE30 and <= 0xFE6F => true,    // CJK compatibility forms, small form variants
        >= 0xFF00 and <= 0xFF60 => true,    // fullwidth forms
        >= 0xFFE0 and <= 0xFFE6 => true,    // fullwidth signs
        >= 0x16FE0 and <= 0x18AFF => true,  // Tangut and friends
        >= 0x1B000 and <= 0x1B2FF => true,  // kana supplement and extensions
        >= 0x1F300 and <= 0x1F64F => true,  // pictographs, emoticons
        >= 0x1F680 and <= 0x1F6FF => true,  // transport and map symbols
        >= 0x1F900 and <= 0x1F9FF => true,  // supplemental symbols and pictographs
        >= 0x1FA70 and <= 0x1FAFF => true,  // symbols and pictographs extended A
        >= 0x20000 and <= 0x3FFFD => true,  // CJK extensions B onwards
        _ => false,
    };
}
