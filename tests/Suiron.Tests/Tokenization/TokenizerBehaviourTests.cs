using System.Text;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Tokenization;

public class TokenizerBehaviourTests
{
    [Fact]
    public void FactoryPicksTheTokenizerTheModelNames()
    {
        Assert.IsType<SentencePieceTokenizer>(TokenizerCache.Vocab("llama-spm"));
        Assert.IsType<WordPieceTokenizer>(TokenizerCache.Vocab("bert-bge"));
        Assert.IsType<BpeTokenizer>(TokenizerCache.Vocab("gpt-2"));
    }

    [Fact]
    public void EmptyTextGivesOnlyTheAddedSpecialTokens()
    {
        Assert.Empty(TokenizerCache.Vocab("llama-spm").Encode("", addSpecial: false));
        Assert.Equal([1], TokenizerCache.Vocab("llama-spm").Encode("", addSpecial: true));
        Assert.Equal([101, 102], TokenizerCache.Vocab("bert-bge").Encode("", addSpecial: true));
    }

    [Fact]
    public void SpacePrefixIsAddedAgainAfterASpecialToken()
    {
        var tokenizer = TokenizerCache.Vocab("llama-spm");
        // "<s>Hello" with special parsing: BOS, then "▁Hello" (prefix space after the special token).
        Assert.Equal([1, 15043], tokenizer.Encode("<s>Hello", addSpecial: false, parseSpecial: true));
        // Without special parsing "<s>" is text.
        Assert.NotEqual(1, tokenizer.Encode("<s>Hello", addSpecial: false, parseSpecial: false)[0]);
    }

    [Fact]
    public void EndOfGenerationSets()
    {
        Assert.Equal(new HashSet<int> { 2 }, TokenizerCache.Vocab("llama-spm").Vocabulary.EndOfGeneration);
        // Phi-3: <|endoftext|> (EOS), <|end|> and </s>.
        Assert.Equal(new HashSet<int> { 32000, 32007, 2 }, TokenizerCache.Vocab("phi-3").Vocabulary.EndOfGeneration);
    }

    /// <summary>
    /// Encoding grows linearly with the text: the merges use a priority queue and nothing builds strings quadratically.
    /// What the encoder allocates is deterministic and follows its work, so 40 KB against 10 KB gives about 4 for a linear
    /// encoder and about 16 for a quadratic one. (Speed is for benchmarks, not timed tests.)
    /// </summary>
    [Theory]
    [InlineData("llama-spm")]
    [InlineData("bert-bge")]
    public void EncodingGrowsLinearlyWithTheText(string vocab)
    {
        var tokenizer = TokenizerCache.Vocab(vocab);
        string Text(int length)
        {
            var text = new StringBuilder();
            while (text.Length < length)
                text.Append("The llama (Lama glama) is a domesticated South American camelid 🦙, 日本語のテキスト, code: x[i] += 2;\n");
            return text.ToString();
        }
        string small = Text(10_000), large = Text(40_000);
        tokenizer.Encode("Warm-up (JIT): " + Text(1_000));
        int[] ids = [];
        long smallBytes = ThreadAllocation.Bytes(() => ids = tokenizer.Encode(small));
        Assert.True(ids.Length > 1000);
        long largeBytes = ThreadAllocation.Bytes(() => tokenizer.Encode(large));
        Assert.InRange(largeBytes / (double)smallBytes, 1.5, 6.0);
    }
}
