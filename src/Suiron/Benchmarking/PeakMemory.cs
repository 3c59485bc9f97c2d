using System.Diagnostics;

namespace Suiron.Benchmarking;

/// <summary>The process's peak resident set: mapped weight pages that were touched count, as they occupy memory.</summary>
public static class PeakMemory
{
    /// <summary>VmHWM from /proc/self/status on Linux; the peak working set elsewhere.</summary>
    public static long ResidentBytes()
    {
        try
        {
            if (OperatingSystem.IsLinux())
                foreach (string line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) * 1024;
        }
        catch (IOException) { }
        catch (FormatException) { }
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }
}
