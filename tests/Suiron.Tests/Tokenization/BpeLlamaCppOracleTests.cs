using System.Text;
using LLama;
using LLama.Common;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// llama.cpp itself (LLamaSharp.Backend.Cpu, same GGUF file, vocab only) as the truth where no recorded suite exists
/// (gpt-neox with the "default" pre-tokenizer, deepseek-v3) and on random text that stresses the pre-tokenizers:
/// mixed scripts, whitespace runs, contractions, digits, astral code points, combining marks.
/// </summary>
public class BpeLlamaCppOracleTests
{
    /// <summary>Vocabularies: the suites, plus GPT-NeoX (no suite) and DeepSeek-V3 (written from its tokenizer.json).</summary>
    public static TheoryData<string> Vocabs()
    {
        var rows = new TheoryData<string>();
        foreach (string suite in BpeTestData.AllSuites) rows.Add(suite);
        rows.Add("gpt-neox");
        rows.Add("deepseek-v3");
        foreach (string pre in PreTokenizersOnDeepSeekV3) rows.Add(pre);
        return rows;
    }

    /// <summary>
    /// The pre-tokenizers of the newer families (Kimi-K2, Hunyuan, Hunyuan dense, MiniMax-M2, Qwen3.5, and GLM-4.5 to
    /// GLM-5's "glm4"), each over DeepSeek-V3's real byte-level vocabulary (their own tokenizer files are not in
    /// ../shared): the splitting is the pre-tokenizer's alone, and llama.cpp runs the same file.
    /// </summary>
    private static readonly string[] PreTokenizersOnDeepSeekV3 = ["kimi-k2", "hunyuan", "hunyuan-dense", "minimax-m2", "qwen35", "glm4"];

    private static string PathOf(string vocab) => vocab switch
    {
        "deepseek-v3" => BpeTestData.HfVocabGguf("deepseek_v3", "deepseek-v3"),
        _ when PreTokenizersOnDeepSeekV3.Contains(vocab) => BpeTestData.HfVocabGguf("deepseek_v3", vocab),
        _ when BpeTestData.HfSuites.TryGetValue(vocab, out var hf) => BpeTestData.HfVocabGguf(hf.Folder, hf.Pre),
        _ => SharedData.Path("vocab", $"ggml-vocab-{vocab}.gguf"),
    };

    [Theory]
    [MemberData(nameof(Vocabs))]
    public void Bpe_encodes_random_and_suite_text_like_llama_cpp(string vocab)
    {
        string path = PathOf(vocab);
        var tokenizer = BpeTestData.TokenizerAt(path);
        var oracle = Oracle.For(path);

        var texts = BpeTestData.Suite("gpt-2").Inputs.Concat(RandomTexts(seed: vocab.Length * 7919, count: 300)).ToList();
        var failures = new List<string>();
        foreach (string text in texts)
        {
            int[] expected = oracle.Tokenize(text, addSpecial: false, parseSpecial: false);
            int[] actual = tokenizer.Encode(text, addSpecial: false, parseSpecial: false);
            if (!expected.SequenceEqual(actual))
                failures.Add($"{Escape(text)}\n   llama.cpp {string.Join(' ', expected)}\n   suiron    {string.Join(' ', actual)}");
        }
        Assert.True(failures.Count == 0, $"{vocab}: {failures.Count}/{texts.Count} differ\n" + string.Join("\n", failures.Take(10)));
    }

    [Theory]
    [MemberData(nameof(Vocabs))]
    public void Bpe_token_bytes_match_llama_cpp_pieces(string vocab)
    {
        string path = PathOf(vocab);
        var tokenizer = BpeTestData.TokenizerAt(path);
        var oracle = Oracle.For(path);

        var failures = new List<string>();
        for (int id = 0; id < tokenizer.Vocabulary.Count; id++)
        {
            foreach (bool special in (bool[])[false, true])
            {
                byte[] expected = oracle.Piece(id, special);
                byte[] actual = tokenizer.TokenBytes(id, special);
                if (!expected.AsSpan().SequenceEqual(actual))
                    failures.Add($"{id} '{tokenizer.Vocabulary.Tokens[id]}' {tokenizer.Vocabulary.Kinds[id]} special={special}: "
                                 + $"llama.cpp [{Convert.ToHexString(expected)}] suiron [{Convert.ToHexString(actual)}]");
            }
        }
        Assert.True(failures.Count == 0, $"{vocab}: {failures.Count} pieces differ\n" + string.Join("\n", failures.Take(20)));
    }

    /// <summary>Random strings from pieces chosen to hit every branch of the pre-tokenizer regexes.</summary>
    internal static IEnumerable<string> RandomTexts(int seed, int count)
    {
        string[] pieces =
        [
            "a", "Z", "hello", "World", "HTTPServer", "don", "'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'LL", "'d", "'", "''",
            "0", "7", "42", "123", "2024", "31415926", "٣", "٤٥", "²", "½", "Ⅻ",
            " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\t", "\u00A0", "\u3000", "\u2028", "\u200B", "\u2009",
            ".", ",", "!", "?", "...", "!!", "?!", "(", ")", "[", "]", "{", "}", "<", ">", "=", "==", "=>", "+", "-", "_", "*", "/", "\\",
            "$", "#", "@", "%", "^", "&", "|", "~", "`", "\"", ";", ":", "—", "–", "…", "«", "»", "“", "”", "‘", "’", "€", "¥", "©", "°",
            "Ä", "é", "ñ", "ß", "ø", "Ł", "ı", "İ", "ǅ", "ʼ", "ˈ", "ɑ", "Ω", "ω", "ΐ", "ᾳ", "Ж", "ж", "ё", "Ք", "ა",
            "日本語", "漢字", "東京", "の", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "한국어", "ㄱ", "中文", "龥", "𠀀", "𪚥",
            "ไทย", "ភាសាខ្មែរ", "हिन्दी", "العربية", "עברית", "ܐ", "ꙋ", "Ꙋ",
            "e\u0301", "a\u0308", "\u0301", "\u20DD", "क\u094D", "🦙", "😀", "👍🏽", "👨\u200D👩\u200D👧", "🏳️\u200D🌈", "\uFE0F", "🇯🇵",
            "𝔘𝔫𝔦", "𐐀", "𐐨", "𞤀", "ﬁ", "Ａ", "ａ", "！", "：", "～", "　", "。", "、",
            "def f(x):\n    return x", "if (a && b) {\n\tc++;\n}", "<|endoftext|>", "<s>", "</s>", "[PAD]", "ied 4 ½ months",
            "今日は良い天気ですね。", "東京タワーに行きましょう！", "我爱北京天安门", "推論エンジンSuiron", "helloWorld", "iPhone15",
            "ＡＩモデル", "データ2026年12月", "“中文”和'English'",
        ];
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            int n = random.Next(1, 24);
            for (int j = 0; j < n; j++) sb.Append(pieces[random.Next(pieces.Length)]);
            yield return sb.ToString();
        }
    }

    private static string Escape(string s) =>
        "'" + string.Concat(s.Select(c => c < ' ' || c is '\u00A0' or '\u3000' or '\u2028' or '\u200B' or '\u2009' ? $"\\u{(int)c:X4}" : c.ToString())) + "'";

    /// <summary>One vocab-only llama.cpp model per file, kept for the run (loading is the slow part).</summary>
    private sealed class Oracle
    {
        private static readonly Dictionary<string, Oracle> Cache = new();
        private readonly LLamaWeights _weights;

        private Oracle(string path) =>
            _weights = LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 256, GpuLayerCount = 0, VocabOnly = true });

        public static Oracle For(string path)
        {
            lock (Cache)
            {
                if (!Cache.TryGetValue(path, out var oracle)) Cache[path] = oracle = new Oracle(path);
                return oracle;
            }
        }

        public int[] Tokenize(string text, bool addSpecial, bool parseSpecial)
        {
            lock (this) return Array.ConvertAll(_weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8), t => (int)t);
        }

        public byte[] Piece(int id, bool special)
        {
            lock (this)
            {
                var buffer = new byte[64];
                uint n = _weights.NativeHandle.TokenToSpan(id, buffer, 0, special);
                if (n > buffer.Length)
                {
                    buffer = new byte[n];
                    n = _weights.NativeHandle.TokenToSpan(id, buffer, 0, special);
                }
                return buffer[..(int)n];
            }
        }
    }
}
