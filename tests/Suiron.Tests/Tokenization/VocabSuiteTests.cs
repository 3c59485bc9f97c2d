using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// llama.cpp's test-tokenizer-0 on the SentencePiece and WordPiece vocabularies: every input of the <c>.inp</c> file,
/// tokenized without special tokens (add_special = false, parse_special = false), must give the ids of the matching
/// <c>.out</c> line (produced by the Hugging Face tokenizer of the same model).
/// </summary>
public class VocabSuiteTests
{
    public static readonly string[] Vocabularies = ["llama-spm", "phi-3", "bert-bge"];

    public static IEnumerable<object[]> Cases() =>
        from vocab in Vocabularies
        from index in Enumerable.Range(0, VocabSuite.Inputs(vocab).Count)
        select new object[] { vocab, index };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesExpectedIds(string vocab, int index)
    {
        string input = VocabSuite.Inputs(vocab)[index];
        int[] expected = VocabSuite.Outputs(vocab)[index];

        int[] actual = TokenizerCache.Vocab(vocab).Encode(input, addSpecial: false, parseSpecial: false);

        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(VocabularyNames))]
    public void InputAndOutputFilesAgree(string vocab)
    {
        Assert.Equal(VocabSuite.Inputs(vocab).Count, VocabSuite.Outputs(vocab).Count);
        Assert.True(VocabSuite.Inputs(vocab).Count >= 40);
    }

    public static IEnumerable<object[]> VocabularyNames() => Vocabularies.Select(v => new object[] { v });
}
