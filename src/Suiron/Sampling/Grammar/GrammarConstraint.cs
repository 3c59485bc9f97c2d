namespace Suiron.Sampling.Grammar;

/// <summary>
/// Constrains sampling to a grammar: <see cref="Apply"/> masks every token whose bytes cannot come next, end-of-generation
/// tokens included unless the grammar may end; <see cref="Accept"/> advances. One per sequence.
/// </summary>
/// <remarks>
/// A full mask walks the vocabulary's byte trie through the grammar's cached byte automaton, skipping every subtree
/// whose prefix the grammar rejects. Masks are also kept per automaton state: generation often returns to the same
/// state (inside a string, between array items), and then the mask costs a copy.
/// </remarks>
public sealed class GrammarConstraint : IGrammarConstraint
{
    private const int MaxCachedMasks = 64;

    private readonly GrammarMatcher _matcher;
    private readonly GrammarVocabulary _vocabulary;
    private readonly int[] _depthStates;
    private readonly Dictionary<int, ulong[]> _masks = new();
    private readonly Stack<ulong[]> _freeMasks = new();
    private int _masksGeneration;

    /// <summary>A constraint that keeps generation inside <paramref name="grammar"/>, over the pieces of <paramref name="vocabulary"/>.</summary>
    public GrammarConstraint(Grammar grammar, GrammarVocabulary vocabulary)
    {
        _matcher = new GrammarMatcher(grammar);
        _vocabulary = vocabulary;
        _depthStates = new int[vocabulary.MaxDepth + 1];
    }

    /// <summary>The grammar may end now (end-of-generation tokens are allowed).</summary>
    public bool IsComplete => _matcher.IsComplete;

    /// <summary>An end-of-generation token has been accepted.</summary>
    public bool IsFinished { get; private set; }

    /// <summary>Sets the logits of tokens the grammar does not allow next to negative infinity.</summary>
    public void Apply(Span<float> logits)
    {
        if (logits.Length != _vocabulary.Count)
            throw new ArgumentException($"Expected {_vocabulary.Count} logits, got {logits.Length}.", nameof(logits));
        var mask = AllowedTokensOrDeadEnd();
        for (int word = 0; word < mask.Length; word++)
        {
            ulong bits = mask[word];
            if (bits == ulong.MaxValue) continue;
            int first = word * 64;
            int end = Math.Min(first + 64, logits.Length);
            for (int token = first; token < end; token++)
                if ((bits & (1UL << (token - first))) == 0) logits[token] = float.NegativeInfinity;
        }
    }

    /// <summary>Fills <paramref name="allowed"/>[id] with whether token id may come next.</summary>
    public void GetAllowedTokens(Span<bool> allowed)
    {
        var mask = AllowedTokensOrDeadEnd();
        for (int token = 0; token < allowed.Length && token < _vocabulary.Count; token++)
            allowed[token] = (mask[token >> 6] & (1UL << (token & 63))) != 0;
    }

    /// <summary>Whether the grammar allows <paramref name="token"/> next.</summary>
    public bool IsAllowed(int token)
    {
        if (IsFinished) return false;
        if (_vocabulary.EndsGeneration(token)) return _matcher.IsComplete;
        var piece = _vocabulary.Piece(token);
        try
        {
            return piece.Length > 0 && _matcher.CanAccept(piece);
        }
        catch (GrammarException e)
        {
            throw DeadEnd(e);
        }
    }

    /// <summary>
    /// How many of <paramref name="tokens"/>, in order from the current state, the grammar allows, without advancing: their
    /// pieces are walked as one byte string. An end-of-generation token ends the count (whether the grammar may end there
    /// is not known without advancing).
    /// </summary>
    public int AllowedPrefix(ReadOnlySpan<int> tokens)
    {
        if (IsFinished) return 0;
        int total = 0;
        foreach (int token in tokens) total += _vocabulary.Piece(token).Length;
        byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        try
        {
            int length = 0, allowed = 0;
            foreach (int token in tokens)
            {
                var piece = _vocabulary.Piece(token);
                if (_vocabulary.EndsGeneration(token) || piece.Length == 0) break;
                piece.CopyTo(rented.AsSpan(length));
                length += piece.Length;
                if (!_matcher.CanAccept(rented.AsSpan(0, length))) break;
                allowed++;
            }
            return allowed;
        }
        catch (GrammarException)
        {
            return 0; // too ambiguous to look ahead: no draft; sampling reports the dead end itself if it is one
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Advances the grammar over <paramref name="token"/>, which must be allowed.</summary>
    public void Accept(int token)
    {
        if (!IsAllowed(token)) throw new InvalidOperationException($"Token {token} is not allowed by the grammar here.");
        if (_vocabulary.EndsGeneration(token)) IsFinished = true;
        else
        {
            try
            {
                _matcher.TryAccept(_vocabulary.Piece(token));
            }
            catch (GrammarException e)
            {
                throw DeadEnd(e);
            }
        }
    }

    /// <summary>
    /// A grammar that turns too ambiguous mid-generation (more parse stacks than the automaton keeps, which a check of
    /// the first step cannot foresee) is reported as the InvalidOperationException of a grammar that allows no token:
    /// the sampler's caller ends the sequence there, as at any dead end, and no exception of another type escapes the
    /// scheduler's loop.
    /// </summary>
    private static InvalidOperationException DeadEnd(GrammarException e) => new($"The grammar cannot be followed further: {e.Message}", e);

    private ulong[] AllowedTokensOrDeadEnd()
    {
        try
        {
            return AllowedTokens();
        }
        catch (GrammarException e)
        {
            throw DeadEnd(e);
        }
    }

    /// <summary>Consumes raw text (e.g. a forced prefix) if the grammar allows it.</summary>
    internal bool TryAcceptBytes(ReadOnlySpan<byte> utf8) => !IsFinished && _matcher.TryAccept(utf8);

    /// <summary>Back to the start of the grammar, for a new generation.</summary>
    public void Reset()
    {
        _matcher.Reset();
        IsFinished = false;
    }

    private ulong[] AllowedTokens()
    {
        if (_masksGeneration != _matcher.Generation)
        {
            ReleaseMasks();
            _masksGeneration = _matcher.Generation;
        }
        int state = IsFinished ? -1 : _matcher.State;
        if (_masks.TryGetValue(state, out var cached)) return cached;
        if (_masks.Count == MaxCachedMasks) ReleaseMasks();

        var mask = _freeMasks.Count > 0 ? _freeMasks.Pop() : new ulong[(_vocabulary.Count + 63) / 64];
        Array.Clear(mask);
        if (!IsFinished) FillMask(state, mask);
        _masks[state] = mask;
        return mask;
    }

    private void ReleaseMasks()
    {
        foreach (var mask in _masks.Values) _freeMasks.Push(mask);
        _masks.Clear();
    }

    /// <summary>The hot loop: one transition lookup per trie node whose prefix the grammar still accepts.</summary>
    private void FillMask(int state, ulong[] mask)
    {
        var automaton = _matcher.Automaton;
        var vocabulary = _vocabulary;
        var nodeByte = vocabulary.NodeByte;
        var nodeDepth = vocabulary.NodeDepth;
        var subtreeEnd = vocabulary.SubtreeEnd;
        var tokenStart = vocabulary.TokenStart;
        var tokenIds = vocabulary.TokenIds;
        var states = _depthStates;
        states[0] = state;
        int nodes = nodeByte.Length;
        for (int i = 0; i < nodes;)
        {
            int depth = nodeDepth[i];
            int next = automaton.Next(states[depth - 1], nodeByte[i]);
            if (next == GrammarAutomaton.Dead)
            {
                i = subtreeEnd[i];
                continue;
            }
            states[depth] = next;
            for (int t = tokenStart[i]; t < tokenStart[i + 1]; t++)
            {
                int token = tokenIds[t];
                mask[token >> 6] |= 1UL << (token & 63);
            }
            i++;
        }
        if (automaton.IsComplete(state))
            foreach (int token in vocabulary.EndOfGenerationIds) mask[token >> 6] |= 1UL << (token & 63);
    }
}
