using System.Text;
using Suiron.Gguf;

namespace Suiron.Tokenization;

/// <summary>
/// Text ⇄ token ids for one vocabulary. Built from GGUF metadata by <see cref="FromGguf(GgufFile)"/>, which picks
/// SentencePiece, byte-level BPE (with the pre-tokenizer named by <c>tokenizer.ggml.pre</c>) or WordPiece.
/// The shared part lives here: BOS/EOS, and splitting the text around special tokens before the
/// model-specific algorithm sees each plain-text fragment.
/// </summary>
public abstract class Tokenizer
{
    private readonly (string Text, int Id)[] _specialTokens;

    protected Tokenizer(Vocabulary vocabulary)
    {
        Vocabulary = vocabulary;
        // Longest first, so "<|im_start|>" wins over a shorter token that is its prefix.
        _specialTokens = Enumerable.Range(0, vocabulary.Count)
            .Where(i => vocabulary.Kinds[i] is TokenKind.Control or TokenKind.UserDefined && vocabulary.Tokens[i].Length > 0)
            .Select(i => (vocabulary.Tokens[i], i))
            .OrderByDescending(t => t.Item1.Length).ThenBy(t => t.i)
            .ToArray();
    }

    public Vocabulary Vocabulary { get; }

    /// <summary>
    /// Encodes <paramref name="text"/>. <paramref name="addSpecial"/>: add BOS/EOS as the vocabulary asks (add_bos/add_eos).
    /// <paramref name="parseSpecial"/>: control-token texts in the input (e.g. "&lt;|im_start|&gt;") become those tokens
    /// instead of being encoded as plain text. User-defined tokens are always matched, as llama.cpp does.
    /// </summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        var output = new List<int>(text.Length / 2 + 4);
        if (addSpecial && Vocabulary.AddBos && Vocabulary.BosId >= 0) output.Add(Vocabulary.BosId);
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
        if (addSpecial && Vocabulary.AddEos && Vocabulary.EosId >= 0) output.Add(Vocabulary.EosId);
        return output.ToArray();
    }

    /// <summary>
    /// Encodes one fragment of plain text (no special tokens in it) and appends the ids.
    /// <paramref name="atStartOrAfterSpecial"/> is true for the first fragment and for fragments right after a special token.
    /// </summary>
    protected abstract void EncodeText(string text, bool atStartOrAfterSpecial, List<int> output);

    /// <summary>Splits text into plain fragments and special tokens (Text null, Id set), in order.</summary>
    protected List<(string? Text, int Id)> SplitSpecial(string text, bool parseSpecial)
    {
        var fragments = new List<(string? Text, int Id)> { (text, -1) };
        foreach (var (special, id) in _specialTokens)
        {
            if (!parseSpecial && Vocabulary.Kinds[id] != TokenKind.UserDefined) continue;
            for (int f = 0; f < fragments.Count; f++)
            {
                string? fragmentText = fragments[f].Text;
                if (fragmentText is null) continue;
                int at = fragmentText.IndexOf(special, StringComparison.Ordinal);
                if (at < 0) continue;
                var pieces = new List<(string? Text, int Id)>();
                int start = 0;
                while (at >= 0)
                {
                    if (at > start) pieces.Add((fragmentText[start..at], -1));
                    pieces.Add((null, id));
                    start = at + special.Length;
                    at = fragmentText.IndexOf(special, start, StringComparison.Ordinal);
                }
                if (start < fragmentText.Length) pieces.Add((fragmentText[start..], -1));
                fragments.RemoveAt(f);
                fragments.InsertRange(f, pieces);
                f += pieces.Count - 1;
            }
        }
        return fragments;
    }

    /// <summary>The bytes a token stands for when detokenized (control tokens give their text only when <paramref name="renderSpecial"/>).</summary>
    public abstract byte[] TokenBytes(int id, bool renderSpecial = false);

    /// <summary>Decodes a whole sequence to text (invalid UTF-8 becomes U+FFFD).</summary>
    public virtual string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false)
    {
        var bytes = new List<byte>();
        foreach (int id in ids) bytes.AddRange(TokenBytes(id, renderSpecial));
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
