using Suiron.Tokenization;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// What a grammar needs to know about a vocabulary, computed once per vocabulary and shared by every sequence: each
/// token's bytes, which tokens end generation, and a byte trie of the tokens in depth-first order so that tokens
/// sharing a prefix are checked against the grammar once for that prefix.
/// </summary>
public sealed class GrammarVocabulary
{
    private readonly byte[][] _pieces;
    private readonly bool[] _endsGeneration;

    // The trie, depth-first (a node's subtree is [i, SubtreeEnd[i])). The root is implicit: node depths start at 1.
    internal readonly byte[] NodeByte;
    internal readonly int[] NodeDepth;
    internal readonly int[] SubtreeEnd;
    /// <summary>Tokens whose bytes end at node i: TokenIds[TokenStart[i] .. TokenStart[i + 1]).</summary>
    internal readonly int[] TokenStart;
    internal readonly int[] TokenIds;
    internal readonly int MaxDepth;
    internal readonly int[] EndOfGenerationIds;

    /// <summary>
    /// <paramref name="pieces"/>[id] is the text token id decodes to, as UTF-8 (possibly a fragment of a character).
    /// Tokens with no bytes (hidden control tokens) can never be chosen under a grammar, except the end-of-generation
    /// tokens, which are allowed exactly when the grammar is complete.
    /// </summary>
    public GrammarVocabulary(IReadOnlyList<byte[]> pieces, IEnumerable<int> endOfGeneration)
    {
        int count = pieces.Count;
        _pieces = new byte[count][];
        for (int i = 0; i < count; i++) _pieces[i] = pieces[i] ?? [];
        _endsGeneration = new bool[count];
        foreach (int id in endOfGeneration)
            if ((uint)id < (uint)count) _endsGeneration[id] = true;

        EndOfGenerationIds = Enumerable.Range(0, count).Where(id => _endsGeneration[id]).ToArray();
        int[] order = Enumerable.Range(0, count).Where(id => !_endsGeneration[id] && _pieces[id].Length > 0).ToArray();
        Array.Sort(order, (a, b) =>
        {
            int c = _pieces[a].AsSpan().SequenceCompareTo(_pieces[b]);
            return c != 0 ? c : a.CompareTo(b);
        });

        var nodeByte = new List<byte>();
        var nodeDepth = new List<int>();
        var subtreeEnd = new List<int>();
        var tokenCountAt = new List<int>();
        var open = new Stack<int>(); // nodes on the path to the current one, deepest on top
        byte[] previous = [];
        foreach (int id in order)
        {
            byte[] piece = _pieces[id];
            int common = piece.AsSpan().CommonPrefixLength(previous);
            while (open.Count > common) subtreeEnd[open.Pop()] = nodeByte.Count;
            for (int d = common; d < piece.Length; d++)
            {
                open.Push(nodeByte.Count);
                nodeByte.Add(piece[d]);
                nodeDepth.Add(d + 1);
                subtreeEnd.Add(0);
                tokenCountAt.Add(0);
            }
            tokenCountAt[open.Peek()]++;
            MaxDepth = Math.Max(MaxDepth, piece.Length);
            previous = piece;
        }
        while (open.Count > 0) subtreeEnd[open.Pop()] = nodeByte.Count;

        NodeByte = [.. nodeByte];
        NodeDepth = [.. nodeDepth];
        SubtreeEnd = [.. subtreeEnd];
        TokenStart = new int[NodeByte.Length + 1];
        for (int i = 0; i < NodeByte.Length; i++) TokenStart[i + 1] = TokenStart[i] + tokenCountAt[i];
        TokenIds = order; // sorted order lists each node's tokens together, nodes in depth-first order
    }

    /// <summary>Pieces as the detokenizer produces them (control tokens hidden), end-of-generation ids from the vocabulary.</summary>
    public static GrammarVocabulary FromTokenizer(Tokenizer tokenizer)
    {
        var vocabulary = tokenizer.Vocabulary;
        var pieces = new byte[vocabulary.Count][];
        for (int id = 0; id < pieces.Length; id++) pieces[id] = tokenizer.Piece(id).ToArray();
        return new GrammarVocabulary(pieces, vocabulary.EndOfGeneration);
    }

    /// <summary>Tokens in the vocabulary.</summary>
    public int Count => _pieces.Length;

    /// <summary>Number of trie nodes: the most byte steps one full mask can take.</summary>
    public int TrieNodeCount => NodeByte.Length;

    internal ReadOnlySpan<byte> Piece(int id) => _pieces[id];

    internal bool EndsGeneration(int id) => _endsGeneration[id];
}
