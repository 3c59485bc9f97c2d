using System.Text;

namespace Suiron.Tokenization;

/// <summary>
/// Turns generated tokens into text one token at a time without ever splitting a UTF-8 character: bytes of a character
/// that is still incomplete (a Japanese character or an emoji spread over &lt;0xXX&gt; byte-fallback tokens, or a
/// byte-level BPE token ending mid-character) are held back until the rest arrives. The first token loses one leading
/// space when the vocabulary adds a space prefix, as <see cref="Tokenizer.Decode"/> does, so the concatenated output of
/// <see cref="Push"/> and <see cref="Flush"/> equals Decode of the whole sequence (for vocabularies without
/// <see cref="Vocabulary.CleanSpaces"/>, whose clean-up looks across token boundaries; for those the pieces come out
/// unclean, as llama.cpp's own streaming does).
/// One decoder per sequence; not thread-safe.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _renderSpecial;
    private readonly IReadOnlySet<int>? _renderedTokens;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    private readonly bool _continuesText;
    private bool _first;

    /// <param name="continuesText">
    /// True when the tokens continue text that came before (a generated continuation of a prompt): then no leading space
    /// is stripped, as llama.cpp prints generated pieces. False when the tokens are a whole text from its start.
    /// </param>
    /// <param name="renderedTokens">Control tokens printed as their text even when <paramref name="renderSpecial"/> is off (tool-call markers a parser must see).</param>
    /// <param name="tokenizer">The tokenizer whose pieces are decoded.</param>
    /// <param name="renderSpecial">Whether special tokens are written as their text.</param>
    public StreamingDecoder(Tokenizer tokenizer, bool renderSpecial = false, bool continuesText = false, IReadOnlySet<int>? renderedTokens = null)
    {
        _renderedTokens = renderedTokens;
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
        _continuesText = continuesText;
        _first = !continuesText;
    }

    /// <summary>Adds a token; returns the text completed by it ("" while a character is still incomplete).</summary>
    public string Push(int tokenId)
    {
        var piece = _tokenizer.Piece(tokenId, _renderSpecial || _renderedTokens?.Contains(tokenId) == true, stripLeadingSpace: _first && _tokenizer.Vocabulary.AddSpacePrefix);
        _first = false;
        return Decode(piece, flush: false);
    }

    /// <summary>Emits whatever is held back (bytes that never completed a character become U+FFFD) and starts over.</summary>
    public string Flush()
    {
        string rest = Decode([], flush: true);
        _first = !_continuesText;
        return rest;
    }

    /// <summary>Forgets held-back bytes and starts a new sequence.</summary>
    public void Reset()
    {
        _utf8.Reset();
        _first = !_continuesText;
    }

    private string Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        // Each byte, plus the up to three held back, gives at most one UTF-16 unit (a 4-byte character gives two).
        if (_chars.Length < bytes.Length + 4) _chars = new char[Math.Max(bytes.Length + 4, _chars.Length * 2)];
        int written = _utf8.GetChars(bytes, _chars, flush);
        return written == 0 ? string.Empty : new string(_chars, 0, written);
    }
}
