namespace Suiron.Benchmarking;

/// <summary>
/// An engine under test with one loaded model: Suiron here, llama.cpp in the comparison bench. Each call starts from an
/// empty cache (cleared outside the timed region) and returns the seconds the test itself took, so that two engines
/// can be measured alternately with the same tokens.
/// </summary>
public interface IBenchmarkSubject
{
    /// <summary>Short name for tables: <c>suiron</c>, <c>llama.cpp</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Clears the cache and evaluates <paramref name="context"/> (untimed; empty for depth 0), then evaluates
    /// <paramref name="tokens"/> as one batch (logits of the last token only); returns the seconds of the latter.
    /// </summary>
    double TimePrompt(ReadOnlySpan<int> context, ReadOnlySpan<int> tokens);

    /// <summary>
    /// Clears the cache and evaluates <paramref name="context"/> (untimed), then decodes <paramref name="count"/> tokens
    /// one at a time: feeds <paramref name="firstToken"/>, then each time the argmax of the logits just computed;
    /// returns the seconds of the decoding.
    /// </summary>
    double TimeGeneration(ReadOnlySpan<int> context, int firstToken, int count);
}
