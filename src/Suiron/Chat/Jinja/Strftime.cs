using System.Globalization;
using System.Text;

namespace Suiron.Chat.Jinja;

/// <summary>C-locale <c>strftime</c> as Python calls it on Linux (glibc), including the <c>%-d</c> no-padding form.</summary>
internal static class Strftime
{
    private static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static string Format(DateTime time, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                sb.Append(c);
                continue;
            }
            char code = format[++i];
            bool noPad = false;
            if (code == '-' && i + 1 < format.Length)
            {
                noPad = true;
                code = format[++i];
            }
            string Number(int value, int width) => noPad ? value.ToString(CultureInfo.InvariantCulture) : value.ToString(new string('0', width), CultureInfo.InvariantCulture);
            int hour12 = time.Hour % 12 == 0 ? 12 : time.Hour % 12;
            sb.Append(code switch
            {
                'a' => Days[(int)time.DayOfWeek][..3],
                'A' => Days[(int)time.DayOfWeek],
                'b' or 'h' => Months[time.Month - 1][..3],
                'B' => Months[time.Month - 1],
                'd' => Number(time.Day, 2),
                'e' => noPad ? time.Day.ToString(CultureInfo.InvariantCulture) : time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'm' => Number(time.Month, 2),
                'y' => Number(time.Year % 100, 2),
                'Y' => time.Year.ToString(CultureInfo.InvariantCulture),
                'H' => Number(time.Hour, 2),
                'I' => Number(hour12, 2),
                'M' => Number(time.Minute, 2),
                'S' => Number(time.Second, 2),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => Number(time.DayOfYear, 3),
                'w' => ((int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'u' => (time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'U' => Number((time.DayOfYear + 6 - (int)time.DayOfWeek) / 7, 2),
                'W' => Number((time.DayOfYear + 6 - ((int)time.DayOfWeek + 6) % 7) / 7, 2),
                'V' => Number(ISOWeek.GetWeekOfYear(time), 2),
                'G' => ISOWeek.GetYear(time).ToString(CultureInfo.InvariantCulture),
                'c' => Format(time, "%a %b %e %H:%M:%S %Y"),
                'x' => Format(time, "%m/%d/%y"),
                'X' or 'T' => Format(time, "%H:%M:%S"),
                'D' => Format(time, "%m/%d/%y"),
                'F' => Format(time, "%Y-%m-%d"),
                'R' => Format(time, "%H:%M"),
                'r' => Format(time, "%I:%M:%S %p"),
                'n' => "\n",
                't' => "\t",
                'Z' or 'z' => "",
                '%' => "%",
                _ => "%" + (noPad ? "-" : "") + code,
            });
        }
        return sb.ToString();
    }
}
