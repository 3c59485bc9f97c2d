using System.Text;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// Our tokenizers against llama.cpp itself (LLamaSharp), live, on the same GGUF files: ids for every combination of
/// add_special/parse_special, token-to-piece for every token, llama_detokenize, token attributes and the
/// end-of-generation set. Covers the two shared models and the SentencePiece/WordPiece vocab-only files
/// (baichuan has no .inp/.out of its own, so llama.cpp is its only truth).
/// </summary>
public class LlamaCppOracleTests
{
    public static readonly string[] Files =
    [
        "models/stories260K.gguf",
        "models/llama-2-tiny-random.gguf",
        "vocab/ggml-vocab-llama-spm.gguf",
        "vocab/ggml-vocab-phi-3.gguf",
        "vocab/ggml-vocab-baichuan.gguf",
        "vocab/ggml-vocab-bert-bge.gguf",
    ];

    /// <summary>Prompts beyond the vocab suite: scripts, emoji, code, whitespace runs, special-token texts, strip attributes.</summary>
    public static readonly string[] Prompts =
    [
        "Once upon a time",
        "Once upon a time, there was a little girl named Lily. She loved to play outside.",
        "日本語のテキスト",
        "東京は日本の首都です。カタカナ、ひらがな、漢字。",
        "🦙🎉",
        "emoji 👩‍👩‍👧‍👦 and flags 🏴󠁧󠁢󠁥󠁮󠁧󠁿 ❤️",
        "   x",
        " leading and trailing  ",
        "line one\nline two\n\n\nline five\r\n",
        "def add(a, b):\n    return a + b  # sum\n\tprint(add(1, 2))",
        "for (int i = 0; i < n; i++) { sum += x[i]; }",
        "<s>",
        "<s>Hello</s>",
        "text with <s> inside and </s> too",
        "<unk> <s> </s>",
        "[CLS] bert [SEP] tokens [MASK] [UNK] [PAD]",
        "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>",
        "<|endoftext|>  after <|system|>   spaces",
        "▁already escaped ▁▁ markers",
        "<0x0A> is not a newline",
        "Ünïcödé àççéñts: Ångström, naïve café, Łódź, İstanbul",
        "Ελληνικά και Кириллица, עברית, العربية, हिन्दी, ไทย",
        "한국어 텍스트",
        "1234567890 3.14159 1e-10 0x1F",
        "\u0000null\u0001ctrl\u007f",
        "\u00a0non-breaking\u2003em space\u3000ideographic",
        "a'b 'c d' 're 've 's 'm 'll 'd ' ? ! . ,",
        "tabs\t\tand\u000bvertical\u000cform",
        "",
        " ",
        "\n",
    ];

    private static readonly (bool AddSpecial, bool ParseSpecial)[] Modes = [(false, false), (false, true), (true, false), (true, true)];

    public static IEnumerable<object[]> FileAndPrompt() =>
        from file in Files
        from index in Enumerable.Range(0, Prompts.Length)
        select new object[] { file, index };

    public static IEnumerable<object[]> FileAndSuiteInput() =>
        from file in Files
        from index in Enumerable.Range(0, VocabSuite.Inputs("llama-spm").Count)
        select new object[] { file, index };

    public static IEnumerable<object[]> FileNames() => Files.Select(f => new object[] { f });

    private static Tokenizer Ours(string file) => TokenizerCache.For(SharedData.Path(file));
    private static LlamaCppOracle Oracle(string file) => LlamaCppOracle.For(SharedData.Path(file));

    [Theory]
    [MemberData(nameof(FileAndPrompt))]
    public void PromptIdsMatchLlamaCpp(string file, int index) => AssertSameIds(file, Prompts[index]);

    [Theory]
    [MemberData(nameof(FileAndSuiteInput))]
    public void SuiteInputIdsMatchLlamaCpp(string file, int index) => AssertSameIds(file, VocabSuite.Inputs("llama-spm")[index]);

    private static void AssertSameIds(string file, string text)
    {
        var ours = Ours(file);
        var oracle = Oracle(file);
        foreach (var (addSpecial, parseSpecial) in Modes)
        {
            int[] expected = oracle.Tokenize(text, addSpecial, parseSpecial);
            int[] actual = ours.Encode(text, addSpecial, parseSpecial);
            Assert.True(expected.SequenceEqual(actual),
                $"addSpecial={addSpecial} parseSpecial={parseSpecial}: llama.cpp [{string.Join(' ', expected)}], ours [{string.Join(' ', actual)}]");
        }
    }

    [Theory]
    [MemberData(nameof(FileAndPrompt))]
    public void DetokenizeMatchesLlamaCpp(string file, int index)
    {
        var ours = Ours(file);
        var oracle = Oracle(file);
        foreach (var (addSpecial, parseSpecial) in Modes)
        {
            int[] ids = oracle.Tokenize(Prompts[index], addSpecial, parseSpecial);
            foreach (bool removeSpecial in (bool[])[false, true])
            foreach (bool renderSpecial in (bool[])[false, true])
            {
                byte[] expected = oracle.DetokenizeBytes(ids, removeSpecial, renderSpecial);
                byte[] actual = ours.DecodeToBytes(ids, renderSpecial, removeSpecial);
                Assert.True(expected.AsSpan().SequenceEqual(actual),
                    $"ids [{string.Join(' ', ids)}] removeSpecial={removeSpecial} renderSpecial={renderSpecial}: " +
                    $"llama.cpp '{Encoding.UTF8.GetString(expected)}', ours '{Encoding.UTF8.GetString(actual)}'");
            }
            Assert.Equal(oracle.Detokenize(ids, removeSpecial: false, unparseSpecial: false), ours.Decode(ids));
        }
    }

    /// <summary>Every token's piece (special and not, with and without the leading-space strip) equals llama_token_to_piece.</summary>
    [Theory]
    [MemberData(nameof(FileNames))]
    public void EveryTokenPieceMatchesLlamaCpp(string file)
    {
        var ours = Ours(file);
        var oracle = Oracle(file);
        Assert.Equal(oracle.Count, ours.Vocabulary.Count);
        var mismatches = new List<string>();
        for (int id = 0; id < ours.Vocabulary.Count; id++)
        {
            foreach (bool special in (bool[])[false, true])
            foreach (int lstrip in (int[])[0, 1])
            {
                byte[] expected = oracle.TokenToPiece(id, special, lstrip);
                var actual = ours.Piece(id, special, stripLeadingSpace: lstrip == 1);
                if (!actual.SequenceEqual(expected))
                    mismatches.Add($"{id} special={special} lstrip={lstrip}: '{Encoding.UTF8.GetString(expected)}' vs '{Encoding.UTF8.GetString(actual)}'");
            }
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} mismatches:\n{string.Join('\n', mismatches.Take(20))}");
    }

    /// <summary>Token attributes after llama.cpp's load-time fix-ups, and the end-of-generation set.</summary>
    [Theory]
    [MemberData(nameof(FileNames))]
    public void AttributesAndEndOfGenerationMatchLlamaCpp(string file)
    {
        var vocabulary = Ours(file).Vocabulary;
        var oracle = Oracle(file);
        var mismatches = new List<string>();
        for (int id = 0; id < vocabulary.Count; id++)
        {
            int expected = oracle.Attributes(id);
            if (expected != (int)vocabulary.Attributes[id])
                mismatches.Add($"{id} '{vocabulary.Tokens[id]}': llama.cpp {(TokenAttributes)expected}, ours {vocabulary.Attributes[id]}");
            bool eog = oracle.IsEndOfGeneration(id);
            if (eog != vocabulary.IsEndOfGeneration(id))
                mismatches.Add($"{id} '{vocabulary.Tokens[id]}': llama.cpp EOG={eog}, ours {!eog}");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} mismatches:\n{string.Join('\n', mismatches.Take(20))}");
    }
}
