using System.Globalization;
using System.Text;

namespace Suiron.Tokenization;

/// <summary>
/// WordPiece (<c>tokenizer.ggml.model</c> = "bert"), as llama.cpp's WPM tokenizer. The GGUF converter rewrote the vocabulary:
/// word-initial pieces carry a leading ▁, continuation pieces lost their "##". Encoding: normalize (NFD base character,
/// drop combining marks, lowercase, drop control characters), split on whitespace, make every punctuation character,
/// ASCII symbol and CJK ideograph a word of its own, then cover "▁" + word greedily with the longest matching tokens;
/// a word that cannot be covered becomes [UNK]. With <c>addSpecial</c> the sequence is [CLS] … [SEP].
/// </summary>
internal sealed class WordPieceTokenizer : Tokenizer
{
    private const char SpaceMarker = '\u2581';

    public WordPieceTokenizer(Vocabulary vocabulary) : base(vocabulary)
    {
    }

    protected override void AddLeadingSpecial(List<int> output)
    {
        // llama.cpp adds BOS (= CLS) whenever special tokens are asked for, whatever add_bos says.
        if (Vocabulary.BosId >= 0) output.Add(Vocabulary.BosId);
    }

    protected override void AddTrailingSpecial(List<int> output)
    {
        if (Vocabulary.SeparatorId >= 0) output.Add(Vocabulary.SeparatorId);
    }

    protected override void EncodeText(string text, bool atStartOrAfterSpecial, List<int> output)
    {
        int maxLength = Vocabulary.MaxTokenLength;
        foreach (string word in Words(text))
        {
            string marked = SpaceMarker + word;
            int n = marked.Length;
            int before = output.Count;
            for (int i = 0; i < n;)
            {
                int matched = -1;
                for (int j = Math.Min(n, i + maxLength); j > i; j--)
                {
                    if (Vocabulary.TryGetId(marked.AsSpan(i, j - i), out int id))
                    {
                        output.Add(id);
                        matched = j;
                        break;
                    }
                }
                if (matched < 0)
                {
                    output.RemoveRange(before, output.Count - before);
                    break;
                }
                i = matched;
            }
            if (output.Count == before) output.Add(Vocabulary.UnknownId);
        }
    }

    /// <summary>llama.cpp's WPM preprocess: the normalized words of <paramref name="text"/>, none empty.</summary>
    private List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        void FinishWord()
        {
            if (word.Length == 0) return;
            words.Add(word.ToString());
            word.Clear();
        }

        bool stripAccents = Vocabulary.StripAccents, lowercase = Vocabulary.Lowercase;
        Span<char> utf16 = stackalloc char[2];
        foreach (Rune original in text.EnumerateRunes())
        {
            int cpt = stripAccents ? UnicodeData.NfdBase(original.Value) : original.Value;
            if (UnicodeData.IsWhitespace(cpt))
            {
                FinishWord();
                continue;
            }
            var category = CharUnicodeInfo.GetUnicodeCategory(cpt);
            if (cpt == 0 || cpt == 0xFFFD || UnicodeData.IsControl(category)) continue;
            if (stripAccents && UnicodeData.IsMark(category)) continue;

            var output = new Rune(lowercase ? UnicodeData.ToLower(cpt) : cpt);
            if (UnicodeData.IsPunctuation(category) || (cpt < 0x7F && UnicodeData.IsSymbol(category)) || IsChineseCharacter(cpt))
            {
                FinishWord();
                words.Add(output.ToString());
            }
            else
            {
                word.Append(utf16[..output.EncodeToUtf16(utf16)]);
            }
        }
        FinishWord();
        return words;
    }

    public override byte[] TokenBytes(int id, bool renderSpecial = false) =>
        SentencePieceTokenizer.SentencePiecePiece(Vocabulary, id, renderSpecial);

    /// <summary>The CJK ranges BERT splits character by character (with HF's 0x2B920 quirk, as llama.cpp keeps it).</summary>
    private static bool IsChineseCharacter(int cpt) =>
        cpt is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
