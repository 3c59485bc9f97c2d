using System.Text;

namespace Suiron.Tokenization;

/// <summary>
/// SentencePiece BPE (<c>tokenizer.ggml.model</c> = "llama": Llama 1/2, Mistral v1, Phi-3, Baichuan …), as llama.cpp's
/// SPM tokenizer: spaces become ▁ (U+2581), a space is prepended at the start and after every special token when
/// <see cref="Vocabulary.AddSpacePrefix"/>, then adjacent symbols (starting from single characters) are merged greedily,
/// the pair whose merged text is the highest-scoring token first (ties: leftmost). Symbols left that are not tokens
/// fall back to one &lt;0xXX&gt; token per UTF-8 byte.
/// </summary>
internal sealed class SentencePieceTokenizer : Tokenizer
{
    private const char SpaceMarker = '\u2581'; // ▁

    /// <summary>Byte → its &lt;0xXX&gt; token (or the single-character token, or unknown), for byte fallback.</summary>
    private readonly int[] _byteTokens = new int[256];

    public SentencePieceTokenizer(Vocabulary vocabulary) : base(vocabulary)
    {
        for (int b = 0; b < 256; b++)
        {
            int id = vocabulary.IdOf($"<0x{b:X2}>");
            if (id < 0 && b < 0x80) id = vocabulary.IdOf(((char)b).ToString());
            _byteTokens[b] = id >= 0 ? id : vocabulary.UnknownId;
        }
    }

    /// <summary>One symbol of the merge: a run of the escaped text, in a doubly linked list of live symbols.</summary>
    private struct Symbol
    {
        public int Start;
        public int Length;   // 0 once merged into its left neighbour
        public int Previous; // -1 at the start
        public int Next;     // -1 at the end
    }

    /// <summary>Bigram order: highest score first, then leftmost (llama.cpp's llm_bigram_spm comparator).</summary>
    private sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            int byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }

    protected override void EncodeText(string text, bool atStartOrAfterSpecial, List<int> output)
    {
        bool prefix = Vocabulary.AddSpacePrefix && atStartOrAfterSpecial;
        int length = text.Length + (prefix ? 1 : 0);
        if (length == 0) return;

        // The escaped text: optional leading space, then every ' ' as ▁.
        char[] escaped = new char[length];
        int offset = 0;
        if (prefix) escaped[offset++] = SpaceMarker;
        foreach (char c in text) escaped[offset++] = c == ' ' ? SpaceMarker : c;

        // One symbol per code point (a surrogate pair stays together).
        var symbols = new Symbol[length];
        int count = 0;
        for (int i = 0; i < length;)
        {
            int width = char.IsHighSurrogate(escaped[i]) && i + 1 < length && char.IsLowSurrogate(escaped[i + 1]) ? 2 : 1;
            symbols[count] = new Symbol { Start = i, Length = width, Previous = count - 1, Next = i + width == length ? -1 : count + 1 };
            count++;
            i += width;
        }

        // Candidate merges: (left, right, merged length) by (score, left). Stale entries are skipped when popped.
        var queue = new PriorityQueue<(int Left, int Right, int Length), (float Score, int Left)>(count, BigramOrder.Instance);
        var scores = Vocabulary.Scores;

        void TryAddBigram(int left, int right)
        {
            if (left < 0 || right < 0) return;
            int mergedLength = symbols[left].Length + symbols[right].Length;
            if (!Vocabulary.TryGetId(escaped.AsSpan(symbols[left].Start, mergedLength), out int id)) return;
            queue.Enqueue((left, right, mergedLength), (scores[id], left));
        }

        for (int i = 1; i < count; i++) TryAddBigram(i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            ref Symbol left = ref symbols[bigram.Left];
            ref Symbol right = ref symbols[bigram.Right];
            // Skip if either side has changed since this pair was queued.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Length) continue;

            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) symbols[right.Next].Previous = bigram.Left;

            TryAddBigram(left.Previous, bigram.Left);
            TryAddBigram(bigram.Left, left.Next);
        }

        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = escaped.AsSpan(symbols[i].Start, symbols[i].Length);
            if (Vocabulary.TryGetId(piece, out int id))
            {
                output.Add(id);
                continue;
            }
            // Not a token: one token per UTF-8 byte. Merged symbols are always tokens, so this is a single code point.
            int n = Encoding.UTF8.GetBytes(piece, utf8);
            for (int b = 0; b < n; b++) output.Add(_byteTokens[utf8[b]]);
        }
    }

    public override byte[] TokenBytes(int id, bool renderSpecial = false) => SentencePiecePiece(Vocabulary, id, renderSpecial);

    /// <summary>
    /// llama.cpp's token_to_piece for SentencePiece-style vocabularies (SPM, WordPiece): control/unknown/user-defined
    /// tokens are their text (control and unknown only when rendering special tokens), normal tokens their text with
    /// ▁ as space, byte tokens the byte; anything else (unused, undefined) nothing.
    /// </summary>
    internal static byte[] SentencePiecePiece(Vocabulary vocabulary, int id, bool renderSpecial)
    {
        var attributes = vocabulary.Attributes[id];
        string text = vocabulary.Tokens[id];
        if (!renderSpecial && (attributes & (TokenAttributes.Unknown | TokenAttributes.Control)) != 0) return [];
        if ((attributes & (TokenAttributes.Unknown | TokenAttributes.Control | TokenAttributes.UserDefined)) != 0)
            return Encoding.UTF8.GetBytes(text);
        if ((attributes & TokenAttributes.Normal) != 0)
            return Encoding.UTF8.GetBytes(text.Replace(SpaceMarker, ' '));
        if ((attributes & TokenAttributes.Byte) != 0)
            return [ParseByteToken(text)];
        return [];
    }

    /// <summary>The byte of a "&lt;0xXX&gt;" token (llama.cpp reads the two hex digits at offset 3).</summary>
    internal static byte ParseByteToken(string text) =>
        text.Length >= 5 && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b) ? b : (byte)0;
}
