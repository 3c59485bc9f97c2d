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
}
