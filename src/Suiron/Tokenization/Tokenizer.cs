using System.Buffers;
using System.Text;
using Suiron.Gguf;

namespace Suiron.Tokenization;

/// <summary>
/// Text ⇄ token ids for one vocabulary, tokenizing exactly as llama.cpp does. Built from GGUF metadata by
/// <see cref="FromGguf(GgufFile)"/>, which picks SentencePiece, byte-level BPE (with the pre-tokenizer named by
/// <c>tokenizer.ggml.pre</c>) or WordPiece.
/// The shared part lives here: BOS/EOS, splitting the text around special tokens before the model-specific
/// algorithm sees each plain-text fragment, and detokenization (llama.cpp's <c>llama_detokenize</c>).
/// </summary>
public abstract class Tokenizer
{
    private const TokenAttributes HiddenUnlessSpecial = TokenAttributes.Unknown | TokenAttributes.Control;

    /// <summary>Control, user-defined and unknown tokens, longest text first: the order llama.cpp splits them out in.</summary>
    private readonly int[] _specialTokens;
    /// <summary>Lazily filled cache of <see cref="TokenBytes"/>(id, renderSpecial: true), as llama.cpp's token-to-piece cache.</summary>
    private readonly byte[]?[] _pieces;

    /// <summary>A tokenizer over <paramref name="vocabulary"/>.</summary>
    protected Tokenizer(Vocabulary vocabulary)
    {
        Vocabulary = vocabulary;
        var attributes = vocabulary.Attributes;
        _specialTokens = Enumerable.Range(0, vocabulary.Count)
            .Where(i => (attributes[i] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0
                        && vocabulary.Tokens[i].Length > 0)
            .OrderByDescending(i => Encoding.UTF8.GetByteCount(vocabulary.Tokens[i])).ThenBy(i => i)
            .ToArray();
        _pieces = new byte[vocabulary.Count][];
    }

    /// <summary>The vocabulary the tokenizer uses.</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>Reads the vocabulary from GGUF metadata and builds the tokenizer its <c>tokenizer.ggml.model</c> names.</summary>
    public static Tokenizer FromGguf(GgufFile file) => FromVocabulary(Vocabulary.FromGguf(file));

    /// <summary>The tokenizer the vocabulary's model names (SentencePiece, byte-level BPE, WordPiece …).</summary>
    public static Tokenizer FromVocabulary(Vocabulary vocabulary) => vocabulary.Model switch
    {
        TokenizerModel.SentencePiece => new SentencePieceTokenizer(vocabulary),
        TokenizerModel.BytePairEncoding => new BpeTokenizer(vocabulary),
        TokenizerModel.WordPiece => new WordPieceTokenizer(vocabulary),
        _ => throw new NotSupportedException($"No tokenizer for vocabulary model {vocabulary.Model}"),
    };

    /// <summary>
    /// Encodes <paramref name="text"/> as llama.cpp's <c>llama_tokenize</c>. <paramref name="addSpecial"/>: add BOS/EOS as
    /// the vocabulary asks (WordPiece: CLS … SEP). <paramref name="parseSpecial"/>: control and unknown-token texts in the
    /// input (e.g. "&lt;|im_start|&gt;") become those tokens instead of being encoded as plain text. User-defined tokens
    /// are always matched, as llama.cpp does.
    /// </summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        text = WithoutLoneSurrogates(text);
        var output = new List<int>(text.Length / 3 + 4);
        if (addSpecial) AddLeadingSpecial(output);
        bool afterSpecial = true;
        foreach (var fragment in SplitSpecial(text, parseSpecial))
        {
            if (fragment.Text is null)
            {
                output.Add(fragment.Id);
                afterSpecial = true;
            }
            else
            {
                EncodeText(fragment.Text, afterSpecial, output);
                afterSpecial = false;
            }
        }
        if (addSpecial) AddTrailingSpecial(output);
        // A vocabulary with neither byte tokens nor an unknown token cannot represent some text; its pieces come back as
        // -1 (llama.cpp aborts there). They are dropped rather than handed to a model that has no row for them.
        output.RemoveAll(id => id < 0);
        return output.ToArray();
    }

    /// <summary>llama.cpp sees UTF-8, where a lone surrogate can only arrive as U+FFFD; make the text say so.</summary>
    private static string WithoutLoneSurrogates(string text)
    {
        int bad = -1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            bad = i;
            break;
        }
        if (bad < 0) return text;
        var fixedText = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes()) fixedText.Append(rune.ToString());
        return fixedText.ToString();
    }

    /// <summary>Tokens that start a sequence when <c>addSpecial</c> is set (default: BOS when the vocabulary adds it).</summary>
    protected virtual void AddLeadingSpecial(List<int> output)
    {
        if (Vocabulary.AddBos && Vocabulary.BosId >= 0) output.Add(Vocabulary.BosId);
    }

    /// <summary>Tokens that end a sequence when <c>addSpecial</c> is set (default: EOS when the vocabulary adds it).</summary>
    protected virtual void AddTrailingSpecial(List<int> output)
    {
        if (Vocabulary.AddEos && Vocabulary.EosId >= 0) output.Add(Vocabulary.EosId);
    }

    /// <summary>
    /// Encodes one non-empty fragment of plain text (no special tokens in it) and appends the ids.
    /// <paramref name="atStartOrAfterSpecial"/> is true for the first fragment and for fragments right after a special token.
    /// </summary>
    protected abstract void EncodeText(string text, bool atStartOrAfterSpecial, List<int> output);

    /// <summary>
    /// Splits text into plain fragments and special tokens (Text null, Id set), in order, as llama.cpp's
    /// <c>tokenizer_st_partition</c>: special tokens longest first, each cutting every remaining plain fragment;
    /// whitespace next to a token with <see cref="TokenAttributes.LeftStrip"/>/<see cref="TokenAttributes.RightStrip"/>
    /// is dropped. Fragments are never empty.
    /// </summary>
    protected List<(string? Text, int Id)> SplitSpecial(string text, bool parseSpecial)
    {
        // Plain fragments are (start, length) into text; tokens have Id >= 0.
        var fragments = new List<(int Start, int Length, int Id)>();
        if (text.Length > 0) fragments.Add((0, text.Length, -1));
        var attributes = Vocabulary.Attributes;
        List<(int Start, int Length, int Id)>? next = null;
        foreach (int id in _specialTokens)
        {
            var attribute = attributes[id];
            if (!parseSpecial && (attribute & HiddenUnlessSpecial) != 0) continue;
            string special = Vocabulary.Tokens[id];
            bool changed = false;
            next ??= new List<(int, int, int)>(fragments.Count + 4);
            next.Clear();
            foreach (var fragment in fragments)
            {
                int at = fragment.Id >= 0 ? -1 : text.IndexOf(special, fragment.Start, fragment.Length, StringComparison.Ordinal);
                if (at < 0)
                {
                    next.Add(fragment);
                    continue;
                }
                changed = true;
                int start = fragment.Start, end = fragment.Start + fragment.Length;
                while (at >= 0)
                {
                    int leftEnd = at;
                    if ((attribute & TokenAttributes.LeftStrip) != 0)
                        while (leftEnd > start && IsCSpace(text[leftEnd - 1])) leftEnd--;
                    if (leftEnd > start) next.Add((start, leftEnd - start, -1));
                    next.Add((0, 0, id));
                    start = at + special.Length;
                    if ((attribute & TokenAttributes.RightStrip) != 0)
                        while (start < end && IsCSpace(text[start])) start++;
                    at = start < end ? text.IndexOf(special, start, end - start, StringComparison.Ordinal) : -1;
                }
                if (start < end) next.Add((start, end - start, -1));
            }
            if (changed) (fragments, next) = (next, fragments);
        }
        var result = new List<(string? Text, int Id)>(fragments.Count);
        foreach (var f in fragments)
            result.Add(f.Id >= 0 ? (null, f.Id) : (f.Start == 0 && f.Length == text.Length ? text : text.Substring(f.Start, f.Length), -1));
        return result;
    }

    /// <summary>C's isspace in the "C" locale, which llama.cpp uses for the strip attributes.</summary>
    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    /// <summary>
    /// The bytes a token stands for when detokenized, as llama.cpp's <c>token_to_piece</c> without lstrip: control and
    /// unknown tokens give their text only when <paramref name="renderSpecial"/>, user-defined tokens always.
    /// The base class caches the <paramref name="renderSpecial"/> = true result per id and applies the control/unknown
    /// rule itself (see <see cref="Piece(int, bool)"/>), so this is called once per token.
    /// </summary>
    public abstract byte[] TokenBytes(int id, bool renderSpecial = false);

    /// <summary>The cached piece of a token (llama.cpp's token-to-piece cache); empty for hidden control/unknown tokens.</summary>
    public ReadOnlySpan<byte> Piece(int id, bool renderSpecial = false)
    {
        if ((uint)id >= (uint)_pieces.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id outside the vocabulary of {_pieces.Length}");
        if (!renderSpecial && (Vocabulary.Attributes[id] & HiddenUnlessSpecial) != 0) return [];
        return _pieces[id] ??= TokenBytes(id, renderSpecial: true);
    }

    /// <summary>
    /// A token's piece as llama.cpp's <c>llama_token_to_piece</c>: <paramref name="stripLeadingSpace"/> drops one leading
    /// space (what llama.cpp's lstrip = 1 does).
    /// </summary>
    public ReadOnlySpan<byte> Piece(int id, bool renderSpecial, bool stripLeadingSpace)
    {
        var piece = Piece(id, renderSpecial);
        return stripLeadingSpace && piece.Length > 0 && piece[0] == (byte)' ' ? piece[1..] : piece;
    }

    /// <summary>Decodes a whole sequence to text (invalid UTF-8 becomes U+FFFD), as llama.cpp's <c>common_detokenize</c>.</summary>
    public virtual string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false) =>
        Encoding.UTF8.GetString(DecodeToBytes(ids, renderSpecial, removeSpecial: false));

    /// <summary>
    /// Decodes as llama.cpp's <c>llama_detokenize</c>: with <paramref name="removeSpecial"/> a leading BOS and a trailing EOS
    /// that the vocabulary adds are dropped; with <see cref="Vocabulary.AddSpacePrefix"/> the first piece loses one leading
    /// space (unless a removed BOS came first); then the <see cref="Vocabulary.CleanSpaces"/> clean-up runs.
    /// </summary>
    public byte[] DecodeToBytes(ReadOnlySpan<int> ids, bool renderSpecial = false, bool removeSpecial = false)
    {
        bool removeSpace = Vocabulary.AddSpacePrefix;
        if (removeSpecial && Vocabulary.AddBos && ids.Length > 0 && ids[0] == Vocabulary.BosId)
        {
            removeSpace = false;
            ids = ids[1..];
        }
        if (removeSpecial && Vocabulary.AddEos && ids.Length > 0 && ids[^1] == Vocabulary.EosId) ids = ids[..^1];

        var buffer = new ArrayBufferWriter<byte>(ids.Length * 4 + 16);
        foreach (int id in ids)
        {
            buffer.Write(Piece(id, renderSpecial, removeSpace));
            removeSpace = false;
        }
        byte[] bytes = buffer.WrittenSpan.ToArray();
        return Vocabulary.CleanSpaces ? bytes[..CleanSpaces(bytes)] : bytes;
    }

    /// <summary>
    /// llama.cpp's detokenizer clean-up, in place; returns the new length. Three passes: drop the space before
    /// <c>? ! . ,</c>; turn " ' " into "'"; drop the space before the contractions 's 'm 're 've.
    /// </summary>
    private static int CleanSpaces(Span<byte> text)
    {
        int total = text.Length;

        int length = total;
        total = length > 0 ? 1 : 0;
        for (int i = 1; i < length; i++)
        {
            byte x = text[i];
            if (text[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',') total--;
            text[total++] = x;
        }

        length = total;
        total = length > 0 ? 1 : 0;
        for (int i = 1; i < length; i++)
        {
            byte x = text[i];
            if (x == '\'' && i + 1 < length && text[i - 1] == ' ' && text[i + 1] == ' ')
            {
                total--;         // the space before
                text[++i] = 0;   // the space after (skipped; the marker stops a second match reading it as a space)
            }
            text[total++] = x;
        }

        length = total;
        total = length > 0 ? 1 : 0;
        for (int i = 1; i < length; i++)
        {
            byte x = text[i];
            if (text[i - 1] == ' ' && x == '\'' && i + 1 < length)
            {
                byte x1 = text[i + 1];
                if (x1 is (byte)'s' or (byte)'m') total--;
                else if (i + 2 < length && ((x1 == 'r' && text[i + 2] == 'e') || (x1 == 'v' && text[i + 2] == 'e'))) total--;
            }
            text[total++] = x;
        }
        return total;
    }
}
