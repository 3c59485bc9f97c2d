using System.Globalization;
using System.Text;

namespace Suiron.Tokenization;

/// <summary>
/// The character classes llama.cpp's tokenizers use (its unicode-data tables), independent of the globalization mode:
/// the project runs with InvariantGlobalization, where string.Normalize is unavailable, so the NFD table is built in.
/// </summary>
internal static partial class UnicodeData
{
    /// <summary>
    /// The first code point of the canonical decomposition (NFD) of <paramref name="codePoint"/>: the base letter of an
    /// accented one ("é" → "e", "ǖ" → "u"), the leading consonant of a Hangul syllable. llama.cpp's
    /// <c>unicode_cpts_normalize_nfd</c> maps each code point this way (it keeps only the first).
    /// </summary>
    public static int NfdBase(int codePoint)
    {
        if (codePoint < 0xC0) return codePoint;
        if (codePoint is >= 0xAC00 and <= 0xD7A3) return 0x1100 + (codePoint - 0xAC00) / 588; // L + (V·T block of 21·28)
        int low = 0, high = NfdBaseRanges.Length / 3 - 1;
        while (low <= high)
        {
            int middle = (low + high) >> 1;
            int first = NfdBaseRanges[middle * 3], last = NfdBaseRanges[middle * 3 + 1];
            if (codePoint < first) high = middle - 1;
            else if (codePoint > last) low = middle + 1;
            else return NfdBaseRanges[middle * 3 + 2];
        }
        return codePoint;
    }

    /// <summary>The Unicode White_Space property.</summary>
    public static bool IsWhitespace(int cpt) => cpt is (>= 0x09 and <= 0x0D) or 0x20 or 0x85 or 0xA0 or 0x1680
        or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    /// <summary>\p{C} without unassigned code points (llama.cpp files Cn as "undefined", not control).</summary>
    public static bool IsControl(UnicodeCategory c) => c is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    /// <summary>\p{M}.</summary>
    public static bool IsMark(UnicodeCategory c) => c is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
        or UnicodeCategory.EnclosingMark;

    /// <summary>\p{P}.</summary>
    public static bool IsPunctuation(UnicodeCategory c) => c is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
        or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
        or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    /// <summary>\p{S}.</summary>
    public static bool IsSymbol(UnicodeCategory c) => c is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
        or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    /// <summary>Simple (one code point) lowercase mapping, as UnicodeData.txt gives it.</summary>
    public static int ToLower(int cpt) => Rune.ToLowerInvariant(new Rune(cpt)).Value;
}
