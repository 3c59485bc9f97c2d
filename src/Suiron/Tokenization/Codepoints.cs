using System.Globalization;

namespace Suiron.Tokenization;

/// <summary>Unicode classes of a code point, as llama.cpp's <c>unicode_cpt_flags</c> sees them (one category bit + whitespace).</summary>
[Flags]
internal enum CodepointFlags : byte
{
    None = 0,
    /// <summary>\p{N}: Nd, Nl, No.</summary>
    Number = 1 << 0,
    /// <summary>\p{L}: Lu, Ll, Lt, Lm, Lo.</summary>
    Letter = 1 << 1,
    /// <summary>\p{Z}: Zs, Zl, Zp.</summary>
    Separator = 1 << 2,
    /// <summary>\p{M}: Mn, Mc, Me.</summary>
    AccentMark = 1 << 3,
    /// <summary>\p{P}.</summary>
    Punctuation = 1 << 4,
    /// <summary>\p{S}.</summary>
    Symbol = 1 << 5,
    /// <summary>\p{C}: Cc, Cf, Cs, Co, Cn.</summary>
    Control = 1 << 6,
    /// <summary>The Unicode White_Space property (what Python's <c>regex</c> module matches with \s).</summary>
    Whitespace = 1 << 7,
}

/// <summary>
/// Code point helpers shared by the pre-tokenizers: classification and UTF-16 → code points. Categories come from .NET's
/// Unicode data; llama.cpp's table was generated from Python's at some Unicode version, so a code point whose category
/// changed between versions could split differently (none in the test suites or the random-text oracle test).
/// </summary>
internal static class Codepoints
{
    private static readonly CodepointFlags[] Bmp = BuildBmp();

    public static CodepointFlags Flags(int codepoint) =>
        (uint)codepoint < (uint)Bmp.Length ? Bmp[codepoint] : Classify(codepoint);

    public static bool IsWhitespace(int codepoint) => codepoint switch
    {
        >= 0x09 and <= 0x0D => true,
        0x20 or 0x85 or 0xA0 or 0x1680 => true,
        >= 0x2000 and <= 0x200A => true,
        0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>Code points of <paramref name="text"/>; a lone surrogate becomes U+FFFD, as UTF-8 encoding would make it.</summary>
    public static int[] FromString(string text)
    {
        var result = new int[text.Length];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                result[n++] = char.ConvertToUtf32(c, text[i + 1]);
                i++;
            }
            else
            {
                result[n++] = char.IsSurrogate(c) ? 0xFFFD : c;
            }
        }
        return n == result.Length ? result : result[..n];
    }

    private static CodepointFlags[] BuildBmp()
    {
        var table = new CodepointFlags[0x10000];
        for (int cp = 0; cp < table.Length; cp++) table[cp] = Classify(cp);
        return table;
    }

    private static CodepointFlags Classify(int codepoint)
    {
        if (codepoint > 0x10FFFF) return CodepointFlags.None;
        var category = codepoint is >= 0xD800 and <= 0xDFFF
            ? UnicodeCategory.Surrogate
            : CharUnicodeInfo.GetUnicodeCategory(codepoint);
        var flags = category switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodepointFlags.Letter,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CodepointFlags.AccentMark,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CodepointFlags.Number,
            UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CodepointFlags.Separator,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
                or UnicodeCategory.OtherPunctuation => CodepointFlags.Punctuation,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol => CodepointFlags.Symbol,
            _ => CodepointFlags.Control,
        };
        if (IsWhitespace(codepoint)) flags |= CodepointFlags.Whitespace;
        return flags;
    }
}
