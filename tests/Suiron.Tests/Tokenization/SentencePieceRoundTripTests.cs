using System.Text;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// llama.cpp's test-tokenizer-1-spm: every token detokenizes to a text that tokenizes and detokenizes back to itself,
/// and every Unicode code point (bar surrogates and the unassigned planes 4–14) survives encode → decode (U+2581,
/// which decodes as a space, excepted).
/// </summary>
public class SentencePieceRoundTripTests
{
    public static IEnumerable<object[]> Vocabularies() => new[] { "llama-spm", "phi-3", "baichuan" }.Select(v => new object[] { v });

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void EveryTokenRoundTrips(string vocab)
    {
        var tokenizer = TokenizerCache.Vocab(vocab);
        var failures = new List<string>();
        for (int id = 0; id < tokenizer.Vocabulary.Count; id++)
        {
            string text = tokenizer.Decode([id], renderSpecial: true);
            string check = tokenizer.Decode(tokenizer.Encode(text, addSpecial: false, parseSpecial: true), renderSpecial: true);
            if (check != text) failures.Add($"{id}: '{text}' → '{check}'");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} tokens do not round-trip:\n{string.Join('\n', failures.Take(20))}");
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void EveryCodePointRoundTrips(string vocab)
    {
        var tokenizer = TokenizerCache.Vocab(vocab);
        var failures = new List<string>();
        for (int cp = 0; cp < 0x110000; cp++)
        {
            if (cp is (>= 0xD800 and <= 0xDFFF) or (>= 0x40000 and <= 0xE0000) or 0x2581) continue;
            string text = new Rune(cp).ToString();
            string check = tokenizer.Decode(tokenizer.Encode(text, addSpecial: false, parseSpecial: true), renderSpecial: true);
            if (check != text) failures.Add($"U+{cp:X4} → '{check}'");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} code points do not round-trip:\n{string.Join('\n', failures.Take(20))}");
    }
}
