using System.Text;

namespace Suiron.Sampling.Grammar;

/// <summary>
/// Matches text against a grammar incrementally, byte by byte (UTF-8; a character may arrive split over several calls).
/// One per sequence.
/// </summary>
public sealed class GrammarMatcher
{
    /// <summary>Above these, cached states are dropped between tokens (each state holds a 1 KB transition row).</summary>
    private const int MaxCachedStates = 8192;
    private const int MaxCachedNodes = 1 << 20;

    private readonly GrammarAutomaton _automaton;

    /// <summary>A matcher at the start of <paramref name="grammar"/>.</summary>
    public GrammarMatcher(Grammar grammar)
    {
        Grammar = grammar;
        _automaton = new GrammarAutomaton(grammar);
        State = _automaton.InitialState;
    }

    /// <summary>The grammar matched.</summary>
    public Grammar Grammar { get; }

    /// <summary>The grammar may end here: the text so far is a complete match.</summary>
    public bool IsComplete => _automaton.IsComplete(State);

    internal GrammarAutomaton Automaton => _automaton;
    internal int State { get; private set; }

    /// <summary>Incremented whenever cached states are dropped (state ids are then renumbered).</summary>
    internal int Generation { get; private set; }

    /// <summary>Whether <paramref name="utf8"/> could come next (the text so far plus it is a prefix of some match).</summary>
    public bool CanAccept(ReadOnlySpan<byte> utf8) => Walk(utf8) != GrammarAutomaton.Dead;

    /// <summary>Consumes <paramref name="utf8"/> if it can come next and returns true; otherwise changes nothing and returns false.</summary>
    public bool TryAccept(ReadOnlySpan<byte> utf8)
    {
        int next = Walk(utf8);
        if (next == GrammarAutomaton.Dead) return false;
        State = next;
        if (_automaton.StateCount > MaxCachedStates || _automaton.NodeCount > MaxCachedNodes)
        {
            State = _automaton.Compact(State);
            Generation++;
        }
        return true;
    }

    /// <summary>Advances over <paramref name="text"/> if the grammar allows it; false, with the matcher unchanged, if not.</summary>
    public bool TryAccept(string text) => TryAccept(Encoding.UTF8.GetBytes(text));

    /// <summary>Back to the start of the grammar.</summary>
    public void Reset() => State = _automaton.InitialState;

    /// <summary>Whether the whole of <paramref name="text"/> matches <paramref name="grammar"/>.</summary>
    public static bool Matches(Grammar grammar, string text)
    {
        var matcher = new GrammarMatcher(grammar);
        return matcher.TryAccept(text) && matcher.IsComplete;
    }

    private int Walk(ReadOnlySpan<byte> utf8)
    {
        int state = State;
        foreach (byte b in utf8)
        {
            state = _automaton.Next(state, b);
            if (state == GrammarAutomaton.Dead) break;
        }
        return state;
    }
}
