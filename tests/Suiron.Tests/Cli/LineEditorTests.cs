using Suiron.Cli.Chat;
using Xunit;

namespace Suiron.Tests.Cli;

/// <summary>
/// The chat's line editor driven by scripted keys. Cell widths are checked against Unicode's East Asian Width classes
/// (UAX #11: 日 W, Ａ F, ｱ H, a Na, é as e + U+0301 a combining mark) and cursor columns against hand-counted cells.
/// </summary>
public sealed class LineEditorTests
{
    private static ConsoleKeyInfo Key(ConsoleKey key, bool control = false) => new('\0', key, false, false, control);

    private static ConsoleKeyInfo Char(char c) => new(c, ConsoleKey.NoName, false, false, false);

    private static IEnumerable<ConsoleKeyInfo> Type(string text) => text.Select(Char);

    private static (LineEditor Editor, StringWriter Output, Queue<ConsoleKeyInfo> Keys) Create(int width = 80)
    {
        var keys = new Queue<ConsoleKeyInfo>();
        var output = new StringWriter();
        return (new LineEditor(keys.Dequeue, output, () => width), output, keys);
    }

    [Theory]
    [InlineData("a", 1)]
    [InlineData("日本語", 6)]
    [InlineData("ＡＢ", 4)]      // fullwidth Latin
    [InlineData("ｱｲ", 2)]        // halfwidth katakana
    [InlineData("e\u0301", 1)]   // e + combining acute: one cell
    [InlineData("🦙", 2)]
    [InlineData("表の列", 6)]
    public void CellWidthsFollowEastAsianWidth(string text, int cells)
    {
        var (_, column) = LineEditor.Position("", text, text.Length, 80);
        Assert.Equal(cells, column);
    }

    [Fact]
    public void BackspaceOverAKanjiMovesTheCursorBackTwoCells()
    {
        var (editor, output, keys) = Create();
        foreach (var k in Type("日本語")) keys.Enqueue(k);
        keys.Enqueue(Key(ConsoleKey.Backspace));
        keys.Enqueue(Key(ConsoleKey.Enter));
        var (end, text) = editor.ReadLine("> ");
        Assert.Equal((LineEnd.Submitted, "日本"), (end, text));
        // After the backspace the line is redrawn: "> 日本" then the cursor set to column 2 + 4 cells, 1-based: 7.
        string redraw = output.ToString().Split('\r')[^2];
        Assert.Equal("> 日本\u001b[J\u001b[7G", redraw);
    }

    [Fact]
    public void AnEmojiTypedAsTwoSurrogateKeysIsEditedAsOneCharacter()
    {
        var (editor, _, keys) = Create();
        foreach (var k in Type("a🦙b")) keys.Enqueue(k);
        keys.Enqueue(Key(ConsoleKey.LeftArrow));
        keys.Enqueue(Key(ConsoleKey.Backspace));   // removes the whole emoji, not half of it
        keys.Enqueue(Key(ConsoleKey.Enter));
        Assert.Equal("ab", editor.ReadLine("> ").Text);
    }

    [Fact]
    public void UpArrowRecallsEarlierLinesAndDownReturnsToTheDraft()
    {
        var (editor, _, keys) = Create();
        foreach (var line in new[] { "first", "second" })
        {
            foreach (var k in Type(line)) keys.Enqueue(k);
            keys.Enqueue(Key(ConsoleKey.Enter));
        }
        editor.ReadLine("> ");
        editor.ReadLine("> ");
        foreach (var k in Type("dra")) keys.Enqueue(k);
        keys.Enqueue(Key(ConsoleKey.UpArrow));
        keys.Enqueue(Key(ConsoleKey.UpArrow));
        keys.Enqueue(Key(ConsoleKey.Enter));
        Assert.Equal("first", editor.ReadLine("> ").Text);
        foreach (var k in Type("dra")) keys.Enqueue(k);
        keys.Enqueue(Key(ConsoleKey.UpArrow));
        keys.Enqueue(Key(ConsoleKey.DownArrow));
        keys.Enqueue(Char('f'));
        keys.Enqueue(Key(ConsoleKey.Enter));
        Assert.Equal("draf", editor.ReadLine("> ").Text);
        Assert.Equal(["first", "second", "first", "draf"], editor.History);
    }

    [Fact]
    public void CtrlCAndCtrlDOnAnEmptyLineEndTheInput()
    {
        var (editor, _, keys) = Create();
        keys.Enqueue(Char('x'));
        keys.Enqueue(Key(ConsoleKey.C, control: true));
        Assert.Equal(LineEnd.Interrupted, editor.ReadLine("> ").End);
        keys.Enqueue(Key(ConsoleKey.D, control: true));
        Assert.Equal(LineEnd.EndOfInput, editor.ReadLine("> ").End);
    }

    [Fact]
    public void WideCharactersWrapWholeAtTheRightEdge()
    {
        // Width 7: "> " (2 cells) + 日本 (4) = 6 cells; 語 does not fit in the one cell left, so it starts row 1.
        Assert.Equal((1, 2), LineEditor.Position("> ", "日本語", 3, 7));
        // Exactly full: the cursor goes to the next row's first cell.
        Assert.Equal((1, 0), LineEditor.Position("> ", "abcde", 5, 7));
    }

    [Fact]
    public void CursorMovementInsertsInTheMiddle()
    {
        var (editor, _, keys) = Create();
        foreach (var k in Type("東京")) keys.Enqueue(k);
        keys.Enqueue(Key(ConsoleKey.Home));
        keys.Enqueue(Char('「'));
        keys.Enqueue(Key(ConsoleKey.End));
        keys.Enqueue(Char('」'));
        keys.Enqueue(Key(ConsoleKey.Enter));
        Assert.Equal("「東京」", editor.ReadLine("> ").Text);
    }
}
