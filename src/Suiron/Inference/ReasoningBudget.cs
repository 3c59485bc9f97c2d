namespace Suiron.Inference;

/// <summary>
/// Ends a reasoning block after <paramref name="Tokens"/> tokens of it, as llama-server's reasoning budget does: once
/// the model has spent the budget inside <c>&lt;think&gt;</c>, the tokens of <paramref name="CloseTokens"/>
/// (<c>&lt;/think&gt;</c>) are forced instead of sampled and the answer follows. Only a block at the start of the output
/// counts (<paramref name="OpenTokens"/> first), or the whole start when the prompt opened the block itself
/// (<paramref name="StartsInReasoning"/>). Ignored under a grammar, which already decides every token.
/// </summary>
public sealed record ReasoningBudget(int Tokens, IReadOnlyList<int> OpenTokens, IReadOnlyList<int> CloseTokens, bool StartsInReasoning)
{
    /// <summary>The per-sequence state that applies this budget.</summary>
    internal ReasoningBudgetTracker Track() => new(this);
}

/// <summary>Follows one sequence's tokens through its reasoning block and says when a token is forced. Not thread-safe.</summary>
internal sealed class ReasoningBudgetTracker(ReasoningBudget budget)
{
    private enum State { Opening, Reasoning, Closing, Done }

    private State _state = budget.StartsInReasoning ? State.Reasoning : State.Opening;
    private int _matched;  // tokens of the open or close sequence seen (or forced) in a row
    private int _spent;    // reasoning tokens generated

    /// <summary>The token to emit next instead of sampling, or -1 to sample.</summary>
    public int Forced
    {
        get
        {
            if (_state == State.Reasoning && _spent >= budget.Tokens && budget.CloseTokens.Count > 0)
            {
                _state = State.Closing;
                _matched = 0;
            }
            return _state == State.Closing ? budget.CloseTokens[_matched] : -1;
        }
    }

    /// <summary>Follows the token just emitted (sampled or forced).</summary>
    public void Observe(int token)
    {
        switch (_state)
        {
            case State.Opening:
                if (_matched < budget.OpenTokens.Count && budget.OpenTokens[_matched] == token)
                {
                    if (++_matched == budget.OpenTokens.Count) (_state, _matched) = (State.Reasoning, 0);
                }
                else _state = State.Done; // the output does not start with a reasoning block: nothing to limit
                break;
            case State.Reasoning:
                _spent++;
                _matched = budget.CloseTokens.Count > 0 && budget.CloseTokens[_matched] == token ? _matched + 1
                    : budget.CloseTokens.Count > 0 && budget.CloseTokens[0] == token ? 1 : 0;
                if (_matched == budget.CloseTokens.Count && _matched > 0) _state = State.Done; // the model closed it itself
                break;
            case State.Closing:
                if (++_matched == budget.CloseTokens.Count) _state = State.Done;
                break;
        }
    }
}
