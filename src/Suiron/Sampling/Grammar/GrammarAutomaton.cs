using System.Runtime.CompilerServices;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// The grammar as a byte automaton, built lazily. A state is what llama.cpp's matcher holds between characters — the
/// set of parse stacks — plus any partial UTF-8 sequence read so far. The first time a (state, byte) pair is asked
/// for, the stacks are advanced as llama.cpp does; the answer is kept, so walking the vocabulary's token trie costs
/// one array load per byte once the states it visits have been seen. That is what makes masking a 150k vocabulary cheap.
/// <para>
/// Stacks are linked lists of (position on top, rest) nodes, hash-consed so that equal stacks are the same node;
/// sets of stacks are interned too, so two ways of reaching the same parse configuration give the same state and
/// ambiguous grammars cannot multiply stacks beyond the distinct ones. Everything only grows; the owner calls
/// <see cref="Compact"/> between tokens when it has grown too much.
/// </para>
/// </summary>
internal sealed class GrammarAutomaton
{
    public const int Dead = -1;
    private const int Unknown = 0;
    /// <summary>More live parse stacks than this at once means a pathologically ambiguous grammar.</summary>
    private const int MaxStacksPerState = 1 << 16;

    private readonly Grammar _grammar;
    private readonly GrammarElement[] _elements;

    // Stack nodes. Node 0 is the empty stack: the grammar has been matched completely on that path.
    private int[] _nodePosition = new int[1024];
    private int[] _nodeParent = new int[1024];
    private int _nodeCount;
    private readonly Dictionary<long, int> _nodeIds = new();

    // Interned sets of stacks: set s is _setItems[_setStart[s] .. + _setLength[s]), node ids ascending.
    private int[] _setItems = new int[4096];
    private int _setItemCount;
    private int[] _setStart = new int[256];
    private int[] _setLength = new int[256];
    private int[] _setNextSameHash = new int[256];
    private int _setCount;
    private readonly Dictionary<ulong, int> _setByHash = new();

    // States (ids from 1, so a zeroed transition row means "not computed"): the set and the pending UTF-8 bytes.
    private int[] _stateSet = new int[256];
    private int[] _statePartialValue = new int[256];
    private byte[] _statePartialRemaining = new byte[256];
    private byte[] _statePartialLength = new byte[256];
    /// <summary>Transitions of all states in one table, state × 256 + byte: one load per step, no row pointer to chase.</summary>
    private int[] _transitions = new int[256 * 256];
    private int _stateCount;
    private readonly Dictionary<long, int> _stateIds = new();

    // Scratch for advancing a set.
    private int[] _stamps = new int[1024];
    private int _stamp;
    private int[] _scratch = new int[256];
    private int _scratchCount;
    private int[] _work = new int[256];

    public GrammarAutomaton(Grammar grammar)
    {
        _grammar = grammar;
        _elements = grammar.Elements;
        Reset();
        InitialState = StartState();
    }

    public int InitialState { get; private set; }
    public int NodeCount => _nodeCount;
    public int StateCount => _stateCount;

    /// <summary>The state after reading <paramref name="b"/> in <paramref name="state"/>, or <see cref="Dead"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Next(int state, byte b)
    {
        int next = _transitions[(state << 8) | b];
        return next != Unknown ? next : ComputeNext(state, b);
    }

    /// <summary>The grammar may end here: some stack is empty and no UTF-8 sequence is half read.</summary>
    public bool IsComplete(int state)
    {
        if (_statePartialRemaining[state] != 0) return false;
        int set = _stateSet[state];
        // Node 0 sorts first.
        return _setLength[set] > 0 && _setItems[_setStart[set]] == 0;
    }

    /// <summary>Throws away every cached state but <paramref name="keep"/>; returns its new id. Call between tokens only.</summary>
    public int Compact(int keep)
    {
        int set = _stateSet[keep];
        int partialValue = _statePartialValue[keep];
        int remaining = _statePartialRemaining[keep];
        int length = _statePartialLength[keep];
        var stacks = new List<int[]>();
        for (int i = 0; i < _setLength[set]; i++)
        {
            var chain = new List<int>();
            for (int n = _setItems[_setStart[set] + i]; n != 0; n = _nodeParent[n]) chain.Add(_nodePosition[n]);
            stacks.Add([.. chain]);
        }
        Reset();
        InitialState = StartState();
        BeginSet();
        foreach (var chain in stacks)
        {
            int node = 0;
            for (int i = chain.Length - 1; i >= 0; i--) node = InternNode(chain[i], node);
            AddScratch(node);
        }
        return InternState(EndSet(), partialValue, remaining, length);
    }

    private void Reset()
    {
        _nodeIds.Clear();
        _nodeCount = 1;
        _nodePosition[0] = -1;
        _setByHash.Clear();
        _setCount = 0;
        _setItemCount = 0;
        _stateIds.Clear();
        Array.Clear(_transitions);
        _stateCount = 1;
        Array.Clear(_stamps);
        _stamp = 0;
    }

    private int StartState()
    {
        BeginSet();
        int root = _grammar.RootRule;
        for (int a = _grammar.AlternativeOffsets[root]; a < _grammar.AlternativeOffsets[root + 1]; a++)
        {
            int start = _grammar.AlternativeStarts[a];
            Close(_elements[start].EndsAlternative ? 0 : InternNode(start, 0));
        }
        return InternState(EndSet(), 0, 0, 0);
    }

    private int ComputeNext(int state, byte b)
    {
        int set = _stateSet[state];
        int value = _statePartialValue[state];
        int remaining = _statePartialRemaining[state];
        int length = _statePartialLength[state];
        int next;
        if (remaining == 0)
        {
            // Well-formed UTF-8 only (RFC 3629): no overlong forms (C0, C1), nothing above U+10FFFF (F5..FF).
            if (b < 0x80) next = Advance(set, b);
            else if (b is >= 0xC2 and <= 0xDF) next = Partial(set, b & 0x1F, 1, 2);
            else if ((b & 0xF0) == 0xE0) next = Partial(set, b & 0x0F, 2, 3);
            else if (b is >= 0xF0 and <= 0xF4) next = Partial(set, b & 0x07, 3, 4);
            else next = Dead; // a continuation byte with nothing to continue, or not UTF-8 at all
        }
        else if ((b & 0xC0) != 0x80 || !SecondByteValid(length, remaining, value, b)) next = Dead;
        else
        {
            value = (value << 6) | (b & 0x3F);
            next = remaining == 1 ? Advance(set, value) : Partial(set, value, remaining - 1, length);
        }
        // Interning may have grown the table: index the field afresh.
        _transitions[(state << 8) | b] = next;
        return next;
    }

    /// <summary>
    /// The second byte decides what the lead byte left open: E0 and F0 sequences must not be overlong, ED must not
    /// encode a surrogate, F4 must stay within U+10FFFF. (Else "n" + F0 80 81 AF would spell "no" in disguise.)
    /// </summary>
    private static bool SecondByteValid(int length, int remaining, int lead, byte b)
    {
        if (length - remaining != 1) return true;
        return (length, lead) switch
        {
            (3, 0x0) => b >= 0xA0,
            (3, 0xD) => b < 0xA0,
            (4, 0x0) => b >= 0x90,
            (4, 0x4) => b < 0x90,
            _ => true,
        };
    }

    /// <summary>A state waiting for <paramref name="remaining"/> more continuation bytes, if any stack could still match.</summary>
    private int Partial(int set, int value, int remaining, int length)
    {
        // The code points this prefix can still become, leaving out the overlong forms the second byte will refuse.
        int low = Math.Max(value << (6 * remaining), length switch { 2 => 0x80, 3 => 0x800, _ => 0x10000 });
        int high = Math.Min((value << (6 * remaining)) | ((1 << (6 * remaining)) - 1), 0x10FFFF);
        if (low > high) return Dead;
        int start = _setStart[set];
        for (int i = 0; i < _setLength[set]; i++)
        {
            int node = _setItems[start + i];
            if (node != 0 && _grammar.MatchAnyInRange(_nodePosition[node], low, high))
                return InternState(set, value, remaining, length);
        }
        return Dead;
    }

    /// <summary>Advances every stack of <paramref name="set"/> over one code point (llama.cpp's accept step).</summary>
    private int Advance(int set, int codePoint)
    {
        BeginSet();
        int start = _setStart[set], length = _setLength[set];
        for (int i = 0; i < length; i++)
        {
            int node = _setItems[start + i];
            if (node == 0) continue;
            if (!_grammar.MatchChar(_nodePosition[node], codePoint, out int after)) continue;
            int parent = _nodeParent[node];
            Close(_elements[after].EndsAlternative ? parent : InternNode(after, parent));
            start = _setStart[set]; // interning nodes never moves sets, but keep the reads fresh
        }
        if (_scratchCount == 0) return Dead;
        return InternState(EndSet(), 0, 0, 0);
    }

    private void BeginSet()
    {
        _scratchCount = 0;
        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_stamps);
            _stamp = 1;
        }
    }

    private int EndSet()
    {
        Array.Sort(_scratch, 0, _scratchCount);
        return InternScratchSet();
    }

    /// <summary>
    /// Expands rule references on top of <paramref name="node"/> until every stack has a character class on top (or is
    /// empty), adding those to the scratch set: llama.cpp's advance_stack, with a work list instead of recursion and
    /// each node expanded once per set.
    /// </summary>
    private void Close(int node)
    {
        int top = 0;
        _work[top++] = node;
        while (top > 0)
        {
            int n = _work[--top];
            if (_stamps[n] == _stamp) continue;
            _stamps[n] = _stamp;
            if (n == 0 || _elements[_nodePosition[n]].StartsCharClass)
            {
                AddScratch(n);
                continue;
            }
            // A rule reference: replace it by each alternative of the rule, above what follows the reference.
            int position = _nodePosition[n];
            int rule = _elements[position].Value;
            int rest = _elements[position + 1].EndsAlternative ? _nodeParent[n] : InternNode(position + 1, _nodeParent[n]);
            for (int a = _grammar.AlternativeOffsets[rule]; a < _grammar.AlternativeOffsets[rule + 1]; a++)
            {
                int alternative = _grammar.AlternativeStarts[a];
                int child = _elements[alternative].EndsAlternative ? rest : InternNode(alternative, rest);
                if (top == _work.Length) Array.Resize(ref _work, top * 2);
                _work[top++] = child;
            }
        }
    }

    private void AddScratch(int node)
    {
        if (_scratchCount == MaxStacksPerState)
            throw new GrammarException($"Grammar too ambiguous: more than {MaxStacksPerState} parse stacks alive at once");
        if (_scratchCount == _scratch.Length) Array.Resize(ref _scratch, _scratchCount * 2);
        _scratch[_scratchCount++] = node;
    }

    private int InternNode(int position, int parent)
    {
        long key = ((long)position << 32) | (uint)parent;
        if (_nodeIds.TryGetValue(key, out int id)) return id;
        id = _nodeCount++;
        if (id == _nodePosition.Length)
        {
            Array.Resize(ref _nodePosition, id * 2);
            Array.Resize(ref _nodeParent, id * 2);
            Array.Resize(ref _stamps, id * 2);
        }
        _nodePosition[id] = position;
        _nodeParent[id] = parent;
        _nodeIds.Add(key, id);
        return id;
    }

    private int InternScratchSet()
    {
        var items = _scratch.AsSpan(0, _scratchCount);
        ulong hash = 14695981039346656037UL;
        foreach (int item in items) hash = (hash ^ (uint)item) * 1099511628211UL;
        hash ^= (ulong)items.Length << 40;

        int first = _setByHash.TryGetValue(hash, out int found) ? found : -1;
        for (int s = first; s >= 0; s = _setNextSameHash[s])
            if (_setItems.AsSpan(_setStart[s], _setLength[s]).SequenceEqual(items)) return s;

        int id = _setCount++;
        if (id == _setStart.Length)
        {
            Array.Resize(ref _setStart, id * 2);
            Array.Resize(ref _setLength, id * 2);
            Array.Resize(ref _setNextSameHash, id * 2);
        }
        if (_setItemCount + items.Length > _setItems.Length)
            Array.Resize(ref _setItems, Math.Max(_setItems.Length * 2, _setItemCount + items.Length));
        items.CopyTo(_setItems.AsSpan(_setItemCount));
        _setStart[id] = _setItemCount;
        _setLength[id] = items.Length;
        _setItemCount += items.Length;
        _setNextSameHash[id] = first;
        _setByHash[hash] = id;
        return id;
    }

    private int InternState(int set, int partialValue, int remaining, int length)
    {
        long key = ((long)set << 26) | ((long)length << 23) | ((long)remaining << 21) | (uint)partialValue;
        if (_stateIds.TryGetValue(key, out int id)) return id;
        id = _stateCount++;
        if (id == _stateSet.Length)
        {
            Array.Resize(ref _stateSet, id * 2);
            Array.Resize(ref _statePartialValue, id * 2);
            Array.Resize(ref _statePartialRemaining, id * 2);
            Array.Resize(ref _statePartialLength, id * 2);
            Array.Resize(ref _transitions, id * 2 * 256);
        }
        _stateSet[id] = set;
        _statePartialValue[id] = partialValue;
        _statePartialRemaining[id] = (byte)remaining;
        _statePartialLength[id] = (byte)length;
        Array.Clear(_transitions, id << 8, 256);
        _stateIds.Add(key, id);
        return id;
    }
}
