using System.Runtime.CompilerServices;

namespace Suiron.Kernels;

/// <summary>Bit-unpacking helpers for the k-quant scale bytes.</summary>
internal static unsafe class KQuantLayout
{
    /// <summary>
    /// Q4_K/Q5_K: scale and min of group <paramref name="group"/> (0..7), six bits each, packed in 12 bytes:
    /// bytes 0..3 hold scales 0..3 (low 6 bits), bytes 4..7 mins 0..3; groups 4..7 keep their low 4 bits in
    /// bytes 8..11 and their high 2 bits in the top bits of bytes 0..7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMin(int group, byte* packed, out byte scale, out byte min)
    {
        if (group < 4)
        {
            scale = (byte)(packed[group] & 63);
            min = (byte)(packed[group + 4] & 63);
        }
        else
        {
            scale = (byte)((packed[group + 4] & 0xF) | ((packed[group - 4] >> 6) << 4));
            min = (byte)((packed[group + 4] >> 4) | ((packed[group] >> 6) << 4));
        }
    }

    /// <summary>Q4_K/Q5_K: all 8 scales and 8 mins at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScalesMins(byte* packed, byte* scales, byte* mins)
    {
        for (int g = 0; g < 8; g++) ScaleMin(g, packed, out scales[g], out mins[g]);
    }

    /// <summary>
    /// Q3_K: the 16 signed six-bit group scales (already minus 32). Low 4 bits: bytes 0..7 (groups 0..7 low nibble,
    /// groups 8..15 high nibble); high 2 bits: bytes 8..11, two bits per group at shift 2*(group/4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q3Scales(byte* packed, sbyte* scales)
    {
        for (int g = 0; g < 16; g++)
        {
            int low = g < 8 ? packed[g] & 0xF : packed[g - 8] >> 4;
            int high = (packed[8 + g % 4] >> (2 * (g / 4))) & 3;
            scales[g] = (sbyte)((low | (high << 4)) - 32);
        }
    }
}
