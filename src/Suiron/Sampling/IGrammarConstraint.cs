namespace Suiron.Sampling;

/// <summary>
/// Restricts which tokens a <see cref="Sampler"/> may pick (e.g. a grammar). Stateful, one per sequence: the sampler
/// tells it each token it picks.
/// </summary>
public interface IGrammarConstraint
{
    /// <summary>Sets the logits of tokens not allowed now to -∞.</summary>
    void Apply(Span<float> logits);

    /// <summary>Whether <paramref name="token"/> is allowed now (cheaper than <see cref="Apply"/> for a single token).</summary>
    bool IsAllowed(int token);

    /// <summary>Advances past <paramref name="token"/>, which must be allowed.</summary>
    void Accept(int token);

    /// <summary>
    /// How many of <paramref name="tokens"/>, taken in order from now, the constraint allows, without advancing (a speculative
    /// draft is cut there). This default looks at the first token only; a constraint that can look further overrides it.
    /// </summary>
    int AllowedPrefix(ReadOnlySpan<int> tokens) => tokens.Length > 0 && IsAllowed(tokens[0]) ? 1 : 0;
}
