using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Suiron.Gguf;
using Suiron.Sampling.Grammar;
using Suiron.Tests.Tokenization;
using Suiron.Tokenization;

namespace Suiron.Tests.Grammar;

/// <summary>Real vocabularies as grammar vocabularies, built once per test run.</summary>
internal static class GrammarTestVocabularies
{
    private static readonly ConcurrentDictionary<string, Lazy<GrammarVocabulary>> Cache = new();

    /// <summary>Llama 2's 32k SentencePiece vocabulary, pieces from our SentencePiece tokenizer (byte-fallback tokens are single bytes).</summary>
    public static GrammarVocabulary LlamaSpm => Get("llama-spm", () => GrammarVocabulary.FromTokenizer(TokenizerCache.Vocab("llama-spm")));

    /// <summary>GPT-2's 50k byte-level BPE vocabulary, pieces decoded from the token texts by the GPT-2 byte↔unicode map.</summary>
    public static GrammarVocabulary Gpt2 => Get("gpt-2", () =>
    {
        using var file = GgufFile.Open(SharedData.Path("vocab", "ggml-vocab-gpt-2.gguf"));
        var vocabulary = Vocabulary.FromGguf(file);
        var pieces = new byte[vocabulary.Count][];
        for (int id = 0; id < pieces.Length; id++)
            pieces[id] = vocabulary.IsControl(id) ? [] : ByteLevelBytes(vocabulary.Tokens[id]);
        var endOfGeneration = vocabulary.EndOfGeneration.Count > 0 ? vocabulary.EndOfGeneration : new HashSet<int> { vocabulary.EosId };
        return new GrammarVocabulary(pieces, endOfGeneration);
    });

    /// <summary>Qwen3's 151k byte-level BPE vocabulary from its tokenizer.json (added tokens: hidden, &lt;|im_end|&gt; and &lt;|endoftext|&gt; end generation).</summary>
    public static GrammarVocabulary Qwen3 => Get("qwen3", () => FromTokenizerJson(SharedData.Path("tokenizers", "qwen3", "tokenizer.json"), "<|im_end|>", "<|endoftext|>"));

    public static GrammarVocabulary FromTokenizerJson(string path, params string[] endOfGeneration)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var vocab = document.RootElement.GetProperty("model").GetProperty("vocab");
        var byId = new Dictionary<int, byte[]>();
        foreach (var entry in vocab.EnumerateObject()) byId[entry.Value.GetInt32()] = ByteLevelBytes(entry.Name);
        var ends = new List<int>();
        foreach (var added in document.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            int id = added.GetProperty("id").GetInt32();
            byId[id] = []; // special: never part of constrained text
            if (endOfGeneration.Contains(added.GetProperty("content").GetString())) ends.Add(id);
        }
        var pieces = new byte[byId.Keys.Max() + 1][];
        for (int id = 0; id < pieces.Length; id++) pieces[id] = byId.TryGetValue(id, out var p) ? p : [];
        return new GrammarVocabulary(pieces, ends);
    }

    private static GrammarVocabulary Get(string key, Func<GrammarVocabulary> build) =>
        Cache.GetOrAdd(key, _ => new Lazy<GrammarVocabulary>(build)).Value;

    private static readonly Lazy<Dictionary<char, byte>> UnicodeToByte = new(() =>
    {
        // GPT-2: printable bytes stand for themselves, the other 68 are moved to U+0100 upwards in byte order.
        var map = new Dictionary<char, byte>();
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
            map[printable ? (char)b : (char)(256 + next++)] = (byte)b;
        }
        return map;
    });

    public static byte[] ByteLevelBytes(string tokenText)
    {
        var map = UnicodeToByte.Value;
        var bytes = new byte[tokenText.Length];
        for (int i = 0; i < tokenText.Length; i++)
        {
            // A few vocabularies hold texts outside the byte alphabet (added tokens): keep those as UTF-8.
            if (!map.TryGetValue(tokenText[i], out bytes[i])) return Encoding.UTF8.GetBytes(tokenText);
        }
        return bytes;
    }
}
