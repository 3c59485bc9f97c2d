using System.Text.Json;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// transformers.js' Llama 2 cases (ids and decodings produced by Python transformers for "Xenova/llama-tokenizer",
/// the Llama 2 SentencePiece vocabulary that ggml-vocab-llama-spm.gguf holds), through our SentencePiece tokenizer.
/// The ids include BOS, so they are encoded with special tokens added.
/// </summary>
public class LlamaFamilyCasesTests
{
    private const string Model = "Xenova/llama-tokenizer";

    private static readonly Lazy<Dictionary<string, (string Text, int[] Ids, string Decoded)>> Cases = new(() =>
    {
        using var json = JsonDocument.Parse(File.ReadAllText(SharedData.Path("tokenizers", "cases", "transformersjs-llama-family.json")));
        var cases = new Dictionary<string, (string, int[], string)>();
        foreach (var entry in json.RootElement.GetProperty(Model).EnumerateObject())
        {
            var value = entry.Value;
            cases[entry.Name] = (value.GetProperty("text").GetString()!,
                value.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                value.GetProperty("decoded").GetString()!);
        }
        return cases;
    });

    public static IEnumerable<object[]> CaseNames() => Cases.Value.Keys.Select(k => new object[] { k });

    [Fact]
    public void HasTheLlama2Cases() => Assert.True(Cases.Value.Count >= 30, $"only {Cases.Value.Count} cases for {Model}");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void IdsMatchTransformers(string name)
    {
        var (text, ids, _) = Cases.Value[name];
        Assert.Equal(ids, TokenizerCache.Vocab("llama-spm").Encode(text, addSpecial: true, parseSpecial: false));
    }

    /// <summary>Transformers renders BOS as "&lt;s&gt;" and keeps the space after it, as llama.cpp does when special tokens are rendered.</summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void DecodingMatchesTransformers(string name)
    {
        var (_, ids, decoded) = Cases.Value[name];
        Assert.Equal(decoded, TokenizerCache.Vocab("llama-spm").Decode(ids, renderSpecial: true));
    }
}
