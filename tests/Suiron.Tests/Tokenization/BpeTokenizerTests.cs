using System.Text;
using Suiron.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Tokenization;

/// <summary>Decoding rules, the pre-tokenizer table and linear growth of the byte-level BPE tokenizer.</summary>
public class BpeTokenizerTests(ITestOutputHelper output)
{
    [Fact]
    public void Bpe_control_tokens_render_only_when_asked()
    {
        var tokenizer = BpeTestData.Tokenizer("gpt-2");
        int endOfText = tokenizer.Vocabulary.Ids["<|endoftext|>"];

        Assert.Empty(tokenizer.TokenBytes(endOfText));
        Assert.Equal("<|endoftext|>"u8.ToArray(), tokenizer.TokenBytes(endOfText, renderSpecial: true));
        Assert.Equal("Hello<|endoftext|>", tokenizer.Decode([15496, endOfText], renderSpecial: true));
        Assert.Equal("Hello", tokenizer.Decode([15496, endOfText]));
    }

    [Fact]
    public void Bpe_normal_tokens_decode_through_the_byte_table()
    {
        var tokenizer = BpeTestData.Tokenizer("gpt-2");

        Assert.Equal(" Hello"u8.ToArray(), tokenizer.TokenBytes(tokenizer.Vocabulary.Ids["ĠHello"]));
        Assert.Equal("\n"u8.ToArray(), tokenizer.TokenBytes(tokenizer.Vocabulary.Ids["Ċ"]));
        // A single byte of a multi-byte character is a token of its own: byte 0xF0 is written 'ð'.
        Assert.Equal(new byte[] { 0xF0 }, tokenizer.TokenBytes(tokenizer.Vocabulary.Ids["ð"]));
    }

    [Fact]
    public void Bpe_user_defined_tokens_render_their_text_and_are_matched_in_plain_text()
    {
        // GPT-NeoX/MPT define runs of spaces as user-defined tokens; llama.cpp splits them out even without parse_special.
        var tokenizer = BpeTestData.Tokenizer("mpt");
        int spaces = tokenizer.Vocabulary.Ids["        "];
        Assert.Equal(TokenKind.UserDefined, tokenizer.Vocabulary.Kinds[spaces]);

        Assert.Equal("        "u8.ToArray(), tokenizer.TokenBytes(spaces));
        Assert.Contains(spaces, tokenizer.Encode("a        b", addSpecial: false));
    }

    [Fact]
    public void Bpe_special_tokens_are_parsed_only_when_asked()
    {
        var tokenizer = BpeTestData.Tokenizer("qwen2");
        int imStart = tokenizer.Vocabulary.Ids["<|im_start|>"];

        Assert.Equal([imStart, 872], tokenizer.Encode("<|im_start|>user", addSpecial: false, parseSpecial: true));
        Assert.DoesNotContain(imStart, tokenizer.Encode("<|im_start|>user", addSpecial: false, parseSpecial: false));
    }

    [Fact]
    public void Bpe_llama3_ignores_merges_for_whole_word_tokens()
    {
        var tokenizer = BpeTestData.Tokenizer("llama-bpe");
        Assert.True(tokenizer.Spec.IgnoreMerges);
        Assert.Equal(true, tokenizer.Spec.AddBos);
        // " grabbed" is one token although the merges alone would build it differently (transformers case BPE_SCORES_PRIORITY_2).
        Assert.Equal([30418], tokenizer.Encode(" grabbed", addSpecial: false));
    }

    [Fact]
    public void Bpe_every_pre_tokenizer_in_the_table_compiles_and_splits_without_losing_text()
    {
        string sample = BpeTestData.Suite("gpt-2").Inputs[^1];
        int[] codepoints = Codepoints.FromString(sample);
        foreach (string name in PreTokenizers.Names)
        {
            var splitter = new RegexPreTokenizer(PreTokenizers.Get(name).Patterns);
            var lengths = splitter.Split(codepoints);
            Assert.All(lengths, l => Assert.True(l > 0, name));
            Assert.Equal(codepoints.Length, lengths.Sum());
        }
    }

    [Fact]
    public void Bpe_unknown_pre_tokenizer_is_refused_by_name()
    {
        var error = Assert.Throws<NotSupportedException>(() => PreTokenizers.Get("no-such-pre"));
        Assert.Contains("no-such-pre", error.Message);
        Assert.Throws<NotSupportedException>(() => PreTokenizers.Get("afmoe")); // needs a hand-written splitter Suiron does not have yet
        Assert.Equal("kimi-k2", PreTokenizers.Get("kimi-k2").Name);
        Assert.Equal("default", PreTokenizers.Get("").Name);
    }

    [Fact]
    public void Bpe_the_regex_engine_agrees_with_the_hand_written_scanners()
    {
        // llama.cpp's GPT-2 and Llama 3 scanners stand in for their regexes; run the same regexes through the general
        // engine (an equivalent spelling defeats the fast path) and expect the same words.
        var gpt2Regex = new RegexPreTokenizer([PreTokenizers.Gpt2 + "|(?!)"]);
        var gpt2Scanner = new RegexPreTokenizer([PreTokenizers.Gpt2]);
        var llama3Regex = new RegexPreTokenizer([PreTokenizers.Llama3 + "|(?!)"]);
        var llama3Scanner = new RegexPreTokenizer([PreTokenizers.Llama3]);
        foreach (string text in BpeTestData.Suite("gpt-2").Inputs.Concat(BpeLlamaCppOracleTests.RandomTexts(seed: 12345, count: 500)))
        {
            int[] cps = Codepoints.FromString(text);
            Assert.Equal(gpt2Scanner.Split(cps), gpt2Regex.Split(cps));
            Assert.Equal(llama3Scanner.Split(cps), llama3Regex.Split(cps));
        }
    }

    [Theory]
    [InlineData("gpt-2")]
    [InlineData("qwen2")]
    [InlineData("llama-bpe")]
    [InlineData("deepseek-llm")]
    [InlineData("falcon")]
    public void Bpe_encoding_grows_linearly_with_the_text(string suite)
    {
        var tokenizer = BpeTestData.Tokenizer(suite);
        tokenizer.Encode(TenKilobytes(seed: 100), addSpecial: false); // JIT and regex compilation

        // Fresh text (so the word cache does not hide the work): 10 KB, then 40 KB. What the encoder allocates is
        // deterministic and grows with its work, so a quadratic step (a string rebuilt per merge, a rescan per token)
        // shows as a ratio near 16 where a linear encoder gives about 4. (Speed is for benchmarks, not timed tests.)
        string small = TenKilobytes(seed: 1);
        string large = TenKilobytes(seed: 2) + TenKilobytes(seed: 3) + TenKilobytes(seed: 4) + TenKilobytes(seed: 5);
        int[] smallIds = [], largeIds = [];
        long smallBytes = ThreadAllocation.Bytes(() => smallIds = tokenizer.Encode(small, addSpecial: false));
        long largeBytes = ThreadAllocation.Bytes(() => largeIds = tokenizer.Encode(large, addSpecial: false));
        output.WriteLine($"{suite}: 10 KB → {smallIds.Length} tokens, {smallBytes} bytes allocated; 40 KB → {largeIds.Length} tokens, {largeBytes} bytes");
        Assert.Equal(Encoding.UTF8.GetBytes(small), smallIds.SelectMany(id => tokenizer.TokenBytes(id)).ToArray());
        Assert.Equal(Encoding.UTF8.GetBytes(large), largeIds.SelectMany(id => tokenizer.TokenBytes(id)).ToArray());
        Assert.InRange(largeBytes / (double)smallBytes, 1.5, 6.0);
    }

    [Fact]
    public void Bpe_long_runs_stay_linear()
    {
        var tokenizer = BpeTestData.Tokenizer("qwen2");
        tokenizer.Encode(TenKilobytes(seed: 100) + new string(' ', 100) + new string('a', 100), addSpecial: false); // JIT
        foreach (string unit in (string[])[" ", "a", "7", "🦙"])
        {
            int count = unit.Length == 1 ? 10_000 : 3_000;
            string run = string.Concat(Enumerable.Repeat(unit, count)), longRun = string.Concat(Enumerable.Repeat(unit, 4 * count));
            int[] ids = [], longIds = [];
            long bytes = ThreadAllocation.Bytes(() => ids = tokenizer.Encode(run, addSpecial: false));
            long longBytes = ThreadAllocation.Bytes(() => longIds = tokenizer.Encode(longRun, addSpecial: false));
            output.WriteLine($"{run.Length} chars of '{run[0]}': {ids.Length} tokens, {bytes} bytes allocated; ×4: {longIds.Length} tokens, {longBytes} bytes");
            Assert.Equal(Encoding.UTF8.GetBytes(run), ids.SelectMany(id => tokenizer.TokenBytes(id)).ToArray());
            Assert.Equal(Encoding.UTF8.GetBytes(longRun), longIds.SelectMany(id => tokenizer.TokenBytes(id)).ToArray());
            Assert.InRange(longBytes / (double)bytes, 1.5, 6.0);
        }
    }

    /// <summary>About 10 KB of mixed prose, code, numbers, CJK and emoji, different for each seed.</summary>
    private static string TenKilobytes(int seed)
    {
        var sb = new StringBuilder();
        foreach (string piece in BpeLlamaCppOracleTests.RandomTexts(seed, 10_000))
        {
            sb.Append(piece).Append(' ');
            if (Encoding.UTF8.GetByteCount(sb.ToString()) >= 10_000) break;
        }
        return sb.ToString();
    }
}
