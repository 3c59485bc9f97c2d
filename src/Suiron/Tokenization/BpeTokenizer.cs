using System.Collections.Concurrent;
using System.Text;

namespace Suiron.Tokenization;

/// <summary>
/// Byte-level BPE (GPT-2 style), token for token as llama.cpp's <c>llm_tokenizer_bpe</c>: the text is split into words by
/// the regexes of its <c>tokenizer.ggml.pre</c> (<see cref="PreTokenizers"/>), each word's UTF-8 bytes are written in the
/// byte-level alphabet (<see cref="ByteLevel"/>), and adjacent symbols are merged, lowest merge rank first (leftmost on
/// ties), until no pair of neighbours is a merge.
/// </summary>
internal sealed class BpeTokenizer : Tokenizer
{
    private const int CacheLimit = 1 << 16;

    private readonly RegexPreTokenizer _preTokenizer;
    private readonly MergeTable _merges;
    private readonly ConcurrentDictionary<string, int[]> _wordCache = new(StringComparer.Ordinal);
    private readonly byte[]?[] _pieces;

    public BpeTokenizer(Vocabulary vocabulary) : base(vocabulary)
    {
        if (vocabulary.Model != TokenizerModel.BytePairEncoding)
            throw new ArgumentException($"BpeTokenizer needs a byte-level BPE vocabulary (tokenizer.ggml.model 'gpt2'), got {vocabulary.Model}.", nameof(vocabulary));
        Spec = PreTokenizers.Get(vocabulary.PreTokenizer);
        _preTokenizer = new RegexPreTokenizer(Spec.Patterns);
        _merges = new MergeTable(vocabulary);
        _pieces = new byte[vocabulary.Count][];
    }

    /// <summary>The pre-tokenizer family and flags chosen by <c>tokenizer.ggml.pre</c>.</summary>
    internal PreTokenizerSpec Spec { get; }

    /// <summary>Whether llama.cpp's detokenizer would apply clean_up_tokenization_spaces for this vocabulary.</summary>
    public bool CleanSpaces => Spec.CleanSpaces;

    protected override void EncodeText(string text, bool atStartOrAfterSpecial, List<int> output)
    {
        if (text.Length == 0) return;
        int[] codepoints = Codepoints.FromString(text);
        int start = 0;
        foreach (int length in _preTokenizer.Split(codepoints))
        {
            EncodeWord(ByteLevelWord(codepoints.AsSpan(start, length)), output);
            start += length;
        }
    }

    /// <summary>The word's UTF-8 bytes, one byte-level character each.</summary>
    private static string ByteLevelWord(ReadOnlySpan<int> codepoints)
    {
        int byteCount = 0;
        foreach (int cp in codepoints) byteCount += new Rune(cp).Utf8SequenceLength;
        Span<char> chars = byteCount <= 256 ? stackalloc char[byteCount] : new char[byteCount];
        Span<byte> utf8 = stackalloc byte[4];
        int n = 0;
        foreach (int cp in codepoints)
        {
            int written = new Rune(cp).EncodeToUtf8(utf8);
            for (int i = 0; i < written; i++) chars[n++] = ByteLevel.ByteToChar[utf8[i]];
        }
        return new string(chars);
    }

    private void EncodeWord(string word, List<int> output)
    {
        // Llama 3 style: a word that is a whole token is that token, whatever the merges would make of it.
        if (Spec.IgnoreMerges && Vocabulary.Ids.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        if (_wordCache.TryGetValue(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        int[] ids = _merges.Encode(word);
        if (_wordCache.Count >= CacheLimit) _wordCache.Clear();
        _wordCache.TryAdd(word, ids);
        output.AddRange(ids);
    }

    /// <summary>
    /// The bytes of a token: normal tokens are byte-level text turned back into bytes; user-defined tokens are their text;
    /// control and unknown tokens are their text only when <paramref name="renderSpecial"/>; unused/undefined ones are empty.
    /// </summary>
    public override byte[] TokenBytes(int id, bool renderSpecial = false)
    {
        if ((uint)id >= (uint)Vocabulary.Count) throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id outside the vocabulary of {Vocabulary.Count}.");
        // IsControl also covers tokens the loader turns into control tokens (end-of-generation and FIM texts), as llama.cpp does.
        bool special = Vocabulary.IsControl(id) || Vocabulary.Kinds[id] == TokenKind.Unknown;
        if (!renderSpecial && special) return [];
        byte[] piece = _pieces[id] ??= DecodeToken(id, special);
        return piece.Length == 0 ? [] : (byte[])piece.Clone();
    }

    private byte[] DecodeToken(int id, bool special)
    {
        string text = Vocabulary.Tokens[id];
        if (special) return Encoding.UTF8.GetBytes(text);
        return Vocabulary.Kinds[id] switch
        {
            TokenKind.UserDefined => Encoding.UTF8.GetBytes(text),
            TokenKind.Normal => DecodeByteLevel(text),
            TokenKind.Byte => [ParseByteToken(text)],
            _ => [],
        };
    }

    private static byte[] DecodeByteLevel(string text)
    {
        var bytes = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            int b = rune.Value <= char.MaxValue ? ByteLevel.CharToByte((char)rune.Value) : -1;
            if (b >= 0)
            {
                bytes.Add((byte)b);
                continue;
            }
            // As llama.cpp: a character outside the byte alphabet shows up as a marker holding its UTF-8 and the token text.
            int n = rune.EncodeToUtf8(utf8);
            var marker = new StringBuilder("[UNK_BYTE_0x");
            for (int i = 0; i < n; i++) marker.Append(utf8[i].ToString("x2"));
            marker.Append(text).Append(']');
            bytes.AddRange(Encoding.UTF8.GetBytes(marker.ToString()));
        }
        return bytes.ToArray();
    }

    private static byte ParseByteToken(string text) =>
        text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>'
            ? Convert.ToByte(text.Substring(3, 2), 16)
            : throw new FormatException($"Byte token '{text}' is not of the form <0xXX>.");

    /// <summary>
    /// The merges as integer pairs. Every string a merge mentions (left, right and their concatenation) and every
    /// single byte-level character gets a symbol id, so a merge step is one dictionary lookup on two ints.
    /// </summary>
    private sealed class MergeTable
    {
        private readonly Dictionary<string, int> _symbolIds = new(StringComparer.Ordinal);
        private readonly List<string> _symbolTexts = [];
        /// <summary>(left symbol, right symbol) → (rank, merged symbol), first listing of a pair wins as in llama.cpp.</summary>
        private readonly Dictionary<long, (int Rank, int Merged)> _pairs;
        private readonly int[] _charSymbols = new int[256 + 68];
        private readonly int[] _symbolTokens;
        private readonly Vocabulary _vocabulary;

        public MergeTable(Vocabulary vocabulary)
        {
            _vocabulary = vocabulary;
            for (int b = 0; b < 256; b++) _charSymbols[ByteLevel.ByteToChar[b]] = Intern(ByteLevel.ByteToChar[b].ToString());

            string[] merges = vocabulary.Merges;
            _pairs = new Dictionary<long, (int, int)>(merges.Length, PairComparer.Instance);
            for (int rank = 0; rank < merges.Length; rank++)
            {
                string merge = merges[rank];
                int space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1; // the separator is the first space after the first character
                if (space < 0) continue;
                string left = merge[..space], right = merge[(space + 1)..];
                if (left.Length == 0 || right.Length == 0) continue;
                long key = Key(Intern(left), Intern(right));
                if (!_pairs.ContainsKey(key)) _pairs[key] = (rank, Intern(left + right));
            }

            _symbolTokens = new int[_symbolTexts.Count];
            for (int s = 0; s < _symbolTokens.Length; s++)
                _symbolTokens[s] = vocabulary.Ids.TryGetValue(_symbolTexts[s], out int id) ? id : -1;
        }

        private int Intern(string text)
        {
            if (!_symbolIds.TryGetValue(text, out int id))
            {
                id = _symbolTexts.Count;
                _symbolIds.Add(text, id);
                _symbolTexts.Add(text);
            }
            return id;
        }

        private static long Key(int left, int right) => (long)left << 32 | (uint)right;

        /// <summary>
        /// long.GetHashCode is left ^ right here, which piles pairs like (x, x ^ k) into one bucket; Fibonacci hashing
        /// spreads them (this made Qwen's 151k-merge table ~20x faster).
        /// </summary>
        private sealed class PairComparer : IEqualityComparer<long>
        {
            public static readonly PairComparer Instance = new();
            public bool Equals(long x, long y) => x == y;
            public int GetHashCode(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);
        }

        /// <summary>Token ids of one byte-level word.</summary>
        public int[] Encode(string word)
        {
            int n = word.Length;
            if (n == 0) return [];
            // The word is a doubly linked list of symbols; a merged-away symbol has -1.
            var symbols = new int[n];
            var previous = new int[n];
            var next = new int[n];
            for (int i = 0; i < n; i++)
            {
                symbols[i] = _charSymbols[word[i]];
                previous[i] = i - 1;
                next[i] = i + 1 < n ? i + 1 : -1;
            }

            // Candidate merges ordered by (rank, left position); stale ones are skipped when popped.
            var queue = new PriorityQueue<(int Left, int Right, int LeftSymbol, int RightSymbol, int Merged), long>();
            void Consider(int left, int right)
            {
                if (left < 0 || right < 0) return;
                if (_pairs.TryGetValue(Key(symbols[left], symbols[right]), out var merge))
                    queue.Enqueue((left, right, symbols[left], symbols[right], merge.Merged), (long)merge.Rank << 32 | (uint)left);
            }

            for (int i = 1; i < n; i++) Consider(i - 1, i);
            while (queue.TryDequeue(out var candidate, out _))
            {
                // Symbols only grow, so a changed symbol on either side means the candidate is out of date.
                if (symbols[candidate.Left] != candidate.LeftSymbol || symbols[candidate.Right] != candidate.RightSymbol) continue;
                int left = candidate.Left, right = candidate.Right;
                symbols[left] = candidate.Merged;
                symbols[right] = -1;
                next[left] = next[right];
                if (next[right] >= 0) previous[next[right]] = left;
                Consider(previous[left], left);
                Consider(left, next[left]);
            }

            var ids = new List<int>();
            for (int i = 0; i >= 0; i = next[i])
            {
                int token = _symbolTokens[symbols[i]];
                if (token >= 0)
                {
                    ids.Add(token);
                    continue;
                }
                // Not a token (only in inconsistent vocabularies): llama.cpp looks up each UTF-8 byte of the symbol
                // on its own, so only ASCII characters can survive.
                foreach (char c in _symbolTexts[symbols[i]])
                    if (c < 0x80 && _vocabulary.Ids.TryGetValue(c.ToString(), out int single)) ids.Add(single);
            }
            return ids.ToArray();
        }
    }
}
