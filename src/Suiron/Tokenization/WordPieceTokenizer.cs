using System.Collections.Concurrent;
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
        foreach (Rune original in text.EnumerateRunes())
        {
            Rune rune = stripAccents ? NfdBase(original) : original;
            int cpt = rune.Value;
            if (IsWhitespace(cpt))
            {
                FinishWord();
                continue;
            }
            var category = Rune.GetUnicodeCategory(rune);
            if (cpt == 0 || cpt == 0xFFFD || IsControl(category)) continue;
            if (stripAccents && IsMark(category)) continue;

            Rune output = lowercase ? Rune.ToLowerInvariant(rune) : rune;
            if (IsPunctuation(category) || (cpt < 0x7F && IsSymbol(category)) || IsChineseCharacter(cpt))
            {
                FinishWord();
                words.Add(output.ToString());
            }
            else
            {
                word.Append(output.ToString());
            }
        }
        FinishWord();
        return words;
    }

    public override byte[] TokenBytes(int id, bool renderSpecial = false) =>
        SentencePieceTokenizer.SentencePiecePiece(Vocabulary, id, renderSpecial);

    private static readonly ConcurrentDictionary<int, Rune> NfdCache = new();

    /// <summary>The first code point of the canonical decomposition (llama.cpp's unicode_cpts_normalize_nfd table).</summary>
    private static Rune NfdBase(Rune rune)
    {
        if (rune.Value < 0xC0) return rune; // nothing below U+00C0 decomposes canonically
        return NfdCache.GetOrAdd(rune.Value, static value =>
        {
            string s = new Rune(value).ToString();
            string d = s.IsNormalized(NormalizationForm.FormD) ? s : s.Normalize(NormalizationForm.FormD);
            return Rune.GetRuneAt(d, 0);
        });
    }

    /// <summary>The Unicode White_Space property, which llama.cpp's tables use.</summary>
    private static bool IsWhitespace(int cpt) => cpt is (>= 0x09 and <= 0x0D) or 0x20 or 0x85 or 0xA0 or 0x1680
        or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    /// <summary>\p{C} without unassigned code points (llama.cpp files Cn as "undefined", not control).</summary>
    private static bool IsControl(UnicodeCategory c) => c is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    private static bool IsMark(UnicodeCategory c) => c is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
        or UnicodeCategory.EnclosingMark;

    private static bool IsPunctuation(UnicodeCategory c) => c is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
        or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
        or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsSymbol(UnicodeCategory c) => c is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
        or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    /// <summary>The CJK ranges BERT splits character by character (with HF's 0x2B920 quirk, as llama.cpp keeps it).</summary>
    private static bool IsChineseCharacter(int cpt) =>
        cpt is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
