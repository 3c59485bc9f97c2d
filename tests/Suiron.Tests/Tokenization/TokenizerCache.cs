using System.Collections.Concurrent;
using Suiron.Gguf;
using Suiron.Tokenization;

namespace Suiron.Tests.Tokenization;

/// <summary>One tokenizer per GGUF file for the whole test run.</summary>
internal static class TokenizerCache
{
    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new();

    public static Tokenizer For(string path) => Tokenizers.GetOrAdd(path, p => new Lazy<Tokenizer>(() =>
    {
        using var file = GgufFile.Open(p);
        return Tokenizer.FromGguf(file);
    })).Value;

    public static Tokenizer Vocab(string name) => For(SharedData.Path("vocab", $"ggml-vocab-{name}.gguf"));
}

/// <summary>llama.cpp's tokenizer suite files: <c>.inp</c> holds inputs each followed by "\n__ggml_vocab_test__\n", <c>.out</c> one line of ids per input.</summary>
internal static class VocabSuite
{
    private const string Separator = "\n__ggml_vocab_test__\n";

    /// <summary>The inputs, split as llama.cpp's test-tokenizer-0 does (the text after the last separator is empty and no input).</summary>
    public static List<string> Inputs(string vocab)
    {
        string raw = File.ReadAllText(SharedData.Path("vocab", $"ggml-vocab-{vocab}.gguf.inp"), new System.Text.UTF8Encoding(false, true));
        var inputs = new List<string>();
        int position = 0;
        while (position < raw.Length)
        {
            int next = raw.IndexOf(Separator, position, StringComparison.Ordinal);
            if (next < 0)
            {
                inputs.Add(raw[position..]);
                break;
            }
            inputs.Add(raw[position..next]);
            position = next + Separator.Length;
        }
        return inputs;
    }

    public static List<int[]> Outputs(string vocab) =>
        File.ReadAllLines(SharedData.Path("vocab", $"ggml-vocab-{vocab}.gguf.out"))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())
            .ToList();
}
