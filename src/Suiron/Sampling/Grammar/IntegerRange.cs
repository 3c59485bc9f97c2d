using System.Text;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// GBNF for the decimal integers in [min, max] (either side open), written without leading zeros as JSON requires,
/// by splitting the range into runs of equal digit count and those into digit-by-digit classes (as regex range
/// generators do). Open ends stop at 16 digits, the most llama.cpp's integer rule writes.
/// </summary>
internal static class IntegerRange
{
    private const int MaxDigits = 16;
    private static readonly long Limit = Pow10(MaxDigits) - 1;

    public static string Expression(long? min, long? max)
    {
        if (min > max) throw new GrammarException($"Integer range is empty: minimum {min} > maximum {max}");
        // Beyond 16 digits the grammar cannot go anyway: treat such bounds as open.
        if (min < -Limit) min = null;
        if (max > Limit) max = null;
        var alternatives = new List<string>();
        if (min is null || min < 0)
        {
            // Negative values by magnitude: from max(1, -max) to -min.
            long low = max is long hi && hi < 0 ? -hi : 1;
            alternatives.Add("\"-\" " + NonNegative(low, min is long lo ? -lo : null));
        }
        if (max is null || max >= 0)
            alternatives.Add(NonNegative(min is long lo && lo > 0 ? lo : 0, max));
        return alternatives.Count == 1 ? alternatives[0] : "(" + string.Join(" | ", alternatives) + ")";
    }

    /// <summary>low..high (high null: no end), low ≥ 0.</summary>
    private static string NonNegative(long low, long? high)
    {
        var alternatives = new List<string>();
        int lowDigits = Digits(low);
        int highDigits = high is long h ? Digits(h) : MaxDigits;
        for (int digits = lowDigits; digits <= highDigits; digits++)
        {
            long from = Math.Max(low, digits == 1 ? 0 : Pow10(digits - 1));
            long to = Math.Min(high ?? Limit, Pow10(digits) - 1);
            if (from > to) continue;
            if (high is null && from == Pow10(digits - 1) && digits > lowDigits)
            {
                // Every number of this length and longer: one rule.
                alternatives.Add(digits == MaxDigits ? "[1-9] [0-9]{15}" : $"[1-9] [0-9]{{{digits - 1},{MaxDigits - 1}}}");
                break;
            }
            alternatives.Add(SameLength(from.ToString(), to.ToString()));
        }
        return alternatives.Count == 1 ? alternatives[0] : "(" + string.Join(" | ", alternatives) + ")";
    }

    /// <summary>The numbers between two digit strings of the same length.</summary>
    private static string SameLength(string low, string high)
    {
        if (low.Length == 0) return "";
        int common = 0;
        while (common < low.Length && low[common] == high[common]) common++;
        var prefix = new StringBuilder();
        if (common > 0) prefix.Append('"').Append(low, 0, common).Append("\" ");
        if (common == low.Length) return prefix.ToString().Trim();

        char lo = low[common], hi = high[common];
        string lowRest = low[(common + 1)..], highRest = high[(common + 1)..];
        int rest = lowRest.Length;
        if (rest == 0) return (prefix + DigitClass(lo, hi)).Trim();

        bool lowFree = lowRest.All(c => c == '0');
        bool highFree = highRest.All(c => c == '9');
        string any = rest == 1 ? "[0-9]" : $"[0-9]{{{rest}}}";
        var parts = new List<string>();
        char middleFrom = lowFree ? lo : (char)(lo + 1);
        char middleTo = highFree ? hi : (char)(hi - 1);
        if (!lowFree) parts.Add($"\"{lo}\" {Group(SameLength(lowRest, new string('9', rest)))}");
        if (middleFrom <= middleTo) parts.Add($"{DigitClass(middleFrom, middleTo)} {any}");
        if (!highFree) parts.Add($"\"{hi}\" {Group(SameLength(new string('0', rest), highRest))}");
        return (prefix + (parts.Count == 1 ? parts[0] : "(" + string.Join(" | ", parts) + ")")).Trim();
    }

    private static string Group(string expression) => expression.Contains('|') || expression.Contains(' ') ? "(" + expression + ")" : expression;

    private static string DigitClass(char from, char to) => from == to ? $"\"{from}\"" : $"[{from}-{to}]";

    private static int Digits(long value) => value < 10 ? 1 : 1 + Digits(value / 10);

    private static long Pow10(int n)
    {
        long p = 1;
        for (int i = 0; i < n; i++) p *= 10;
        return p;
    }
}
