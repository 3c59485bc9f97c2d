using System.Text;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// llama.cpp's tokenizer suite for byte-level BPE vocabularies: every input of ggml-vocab-NAME.gguf.inp, encoded
/// without special tokens, must give the ids on its line of the .out file (which llama.cpp's test-tokenizer-0 checks).
/// </summary>
public class BpeVocabSuiteTests
{
    public static TheoryData<string, int> Rows() => BpeTestData.SuiteRows();

    [Theory]
    [MemberData(nameof(Rows))]
    public void Bpe_suite_input_encodes_like_llama_cpp(string suite, int index)
    {
        var (inputs, expected) = BpeTestData.Suite(suite);
        var tokenizer = BpeTestData.Tokenizer(suite);

        int[] actual = tokenizer.Encode(inputs[index], addSpecial: false, parseSpecial: false);

        Assert.True(expected[index].SequenceEqual(actual),
            $"{suite} #{index} {Show(inputs[index])}\n expected {string.Join(' ', expected[index])}\n actual   {string.Join(' ', actual)}");
    }

    /// <summary>Byte-level BPE loses nothing: concatenating the tokens' bytes gives back the input.</summary>
    [Theory]
    [MemberData(nameof(Rows))]
    public void Bpe_suite_input_round_trips(string suite, int index)
    {
        string input = BpeTestData.Suite(suite).Inputs[index];
        var tokenizer = BpeTestData.Tokenizer(suite);

        int[] ids = tokenizer.Encode(input, addSpecial: false, parseSpecial: false);
        var bytes = ids.SelectMany(id => tokenizer.TokenBytes(id)).ToArray();

        Assert.Equal(Encoding.UTF8.GetBytes(input), bytes);
        // Whole-sequence decoding gives the text back too, unless the vocabulary asks for llama.cpp's
        // clean_up_tokenization_spaces (GPT-2, Falcon, MPT, StarCoder, Refact, Llama 3: " ?" becomes "?").
        if (!tokenizer.CleanSpaces) Assert.Equal(input, tokenizer.Decode(ids));
    }

    [Fact]
    public void Bpe_suites_cover_every_byte_level_vocab_with_a_suite()
    {
        // Every .inp whose GGUF is a byte-level BPE vocabulary (or that we rebuild from tokenizer.json) is exercised.
        var covered = BpeTestData.AllSuites.ToHashSet();
        foreach (string inp in Directory.GetFiles(SharedData.Path("vocab"), "ggml-vocab-*.gguf.inp"))
        {
            string name = Path.GetFileName(inp)["ggml-vocab-".Length..^".gguf.inp".Length];
            string gguf = inp[..^".inp".Length];
            if (!File.Exists(gguf)) continue;
            using var file = Suiron.Gguf.GgufFile.Open(gguf);
            if (file.GetStringOrNull("tokenizer.ggml.model") == "gpt2") Assert.Contains(name, covered);
        }
        Assert.Equal(46, BpeTestData.Suite("gpt-2").Inputs.Length);
    }

    private static string Show(string s) =>
        "'" + string.Concat(s.Take(80).Select(c => c < ' ' ? $"\\x{(int)c:x2}" : c.ToString())) + (s.Length > 80 ? "…" : "") + "'";
}
