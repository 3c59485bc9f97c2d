namespace Suiron.Tokenization;

/// <summary>
/// GPT-2's reversible byte ⇄ character table: printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
/// themselves, the other 68 bytes map in order to U+0100..U+0143 (so a space is 'Ġ', a newline 'Ċ').
/// Byte-level BPE vocabularies store token texts in this alphabet.
/// </summary>
internal static class ByteLevel
{
    /// <summary>Byte → its character.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Character → its byte, -1 for characters outside the alphabet (indexable up to U+0143).</summary>
    private static readonly short[] CharToByteTable = BuildCharToByte();

    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = printable[b] ? (char)b : (char)next++;
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var table = new short[0x144];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++) table[ByteToChar[b]] = (short)b;
        return table;
    }
}
