using System.Text.Json;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// Ids that Python transformers produced (recorded by transformers.js's tests) for GPT-2, Qwen (Qwen1.5 has the
/// Qwen2/2.5/3 byte-level vocabulary), Llama 3 and DeepSeek-Coder, run through our tokenizer on the same vocabulary.
/// Transformers splits added tokens out of the text, so special tokens are parsed here.
/// </summary>
public class BpeTransformersCasesTests
{
    /// <summary>(cases file, model key, how we get the vocabulary, whether the recorded ids start with BOS).</summary>
    private static readonly (string File, string Model, string Vocab, bool WithBos)[] Sources =
    [
        ("transformersjs-gpt2.json", "Xenova/gpt2", "gguf:gpt-2", false),
        ("transformersjs-qwen2-Qwen1.5-0.5B-Chat.json", "Xenova/Qwen1.5-0.5B-Chat", "hf:qwen2", false),
        ("transformersjs-llama-family.json", "Xenova/llama3-tokenizer", "hf:llama-bpe", false),
        // The newer Llama 3 tokenizer.json has a post-processor that prepends <|begin_of_text|>.
        ("transformersjs-llama-family.json", "Xenova/llama3-tokenizer-new", "hf:llama-bpe", true),
        ("transformersjs-llama-family.json", "Xenova/deepseek-coder-1.3b-instruct", "gguf:deepseek-coder", true),
    ];

    public static TheoryData<string, string, string> Cases()
    {
        var rows = new TheoryData<string, string, string>();
        foreach (var (file, model, _, _) in Sources)
            foreach (var name in Load(file).GetProperty(model).EnumerateObject()) rows.Add(file, model, name.Name);
        return rows;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bpe_transformers_case_encodes_like_python(string file, string model, string name)
    {
        var source = Sources.Single(s => s.File == file && s.Model == model);
        var testCase = Load(file).GetProperty(model).GetProperty(name);
        string text = testCase.GetProperty("text").GetString()!;
        int[] expected = testCase.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var tokenizer = source.Vocab.StartsWith("hf:") ? BpeTestData.Tokenizer(source.Vocab[3..]) : BpeTestData.Tokenizer(source.Vocab[5..]);

        int[] actual = tokenizer.Encode(text, addSpecial: false, parseSpecial: true);
        if (source.WithBos)
        {
            // The BOS itself: the vocabulary's BOS id, which llama.cpp adds by default for this pre-tokenizer
            // (add_bos is on for llama-bpe even when the GGUF does not say; deepseek-coder's GGUF says so).
            Assert.Equal(tokenizer.Vocabulary.BosId, expected[0]);
            Assert.True(tokenizer.Vocabulary.AddBos || tokenizer.Spec.AddBos == true, "llama.cpp would add BOS here");
            expected = expected[1..];
        }

        Assert.True(expected.SequenceEqual(actual),
            $"{model} {name}\n expected {string.Join(' ', expected)}\n actual   {string.Join(' ', actual)}");
    }

    private static readonly Dictionary<string, JsonElement> Files = new();

    private static JsonElement Load(string file)
    {
        lock (Files)
        {
            if (!Files.TryGetValue(file, out var root))
                Files[file] = root = JsonDocument.Parse(File.ReadAllBytes(SharedData.Path("tokenizers", "cases", file))).RootElement.Clone();
            return root;
        }
    }
}
