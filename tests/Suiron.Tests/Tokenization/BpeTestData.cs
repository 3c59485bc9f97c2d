using System.Text;
using System.Text.Json;
using Suiron.Gguf;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// Test data for the byte-level BPE tests: llama.cpp's vocab suite (<c>shared/vocab/ggml-vocab-NAME.gguf.inp/.out</c>),
/// tokenizers opened once per run, and vocab-only GGUFs written from Hugging Face tokenizer.json files for the suites
/// that come without a GGUF (qwen2, llama-bpe).
/// </summary>
internal static class BpeTestData
{
    /// <summary>llama.cpp's byte-level BPE vocab files that have a test suite (ggml-vocab-gpt-neox.gguf has none).</summary>
    public static readonly string[] GgufSuites = ["deepseek-llm", "deepseek-coder", "gpt-2", "falcon", "mpt", "refact", "starcoder"];

    /// <summary>Suites without a GGUF, with the tokenizer.json folder and tokenizer.ggml.pre that reproduce them.</summary>
    public static readonly Dictionary<string, (string Folder, string Pre)> HfSuites = new()
    {
        ["qwen2"] = ("qwen3", "qwen2"),
        ["llama-bpe"] = ("llama3", "llama-bpe"),
    };

    public static IEnumerable<string> AllSuites => GgufSuites.Concat(HfSuites.Keys);

    private static readonly Dictionary<string, (string[] Inputs, int[][] Expected)> Suites = new();
    private static readonly Dictionary<string, BpeTokenizer> Tokenizers = new();
    private static readonly object Lock = new();

    /// <summary>One row per (suite, input index).</summary>
    public static TheoryData<string, int> SuiteRows()
    {
        var rows = new TheoryData<string, int>();
        foreach (string suite in AllSuites)
            for (int i = 0; i < Suite(suite).Inputs.Length; i++) rows.Add(suite, i);
        return rows;
    }

    /// <summary>
    /// The inputs and expected ids of <c>ggml-vocab-SUITE.gguf.inp/.out</c>. Each input ends with
    /// "\n__ggml_vocab_test__\n" (the last one too), so splitting leaves an empty tail that is not an input;
    /// each .out line is the space-separated ids of one input, without BOS.
    /// </summary>
    public static (string[] Inputs, int[][] Expected) Suite(string suite)
    {
        lock (Lock)
        {
            if (Suites.TryGetValue(suite, out var cached)) return cached;
            string basePath = SharedData.Path("vocab", $"ggml-vocab-{suite}.gguf");
            string input = File.ReadAllText(basePath + ".inp", Encoding.UTF8);
            const string separator = "\n__ggml_vocab_test__\n";
            if (!input.EndsWith(separator, StringComparison.Ordinal)) throw new InvalidDataException($"{basePath}.inp does not end with the separator");
            string[] inputs = input[..^separator.Length].Split(separator);
            string[] lines = File.ReadAllText(basePath + ".out", Encoding.UTF8).Split('\n');
            if (lines[^1].Length == 0) lines = lines[..^1];
            if (lines.Length != inputs.Length) throw new InvalidDataException($"{basePath}: {inputs.Length} inputs but {lines.Length} expected lines");
            int[][] expected = lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()).ToArray();
            return Suites[suite] = (inputs, expected);
        }
    }

    /// <summary>The tokenizer a suite runs against: the GGUF from shared/vocab, or one written from tokenizer.json.</summary>
    public static BpeTokenizer Tokenizer(string suite)
    {
        string path = HfSuites.TryGetValue(suite, out var hf)
            ? HfVocabGguf(hf.Folder, hf.Pre)
            : SharedData.Path("vocab", $"ggml-vocab-{suite}.gguf");
        return TokenizerAt(path);
    }

    public static BpeTokenizer TokenizerAt(string ggufPath)
    {
        lock (Lock)
        {
            if (Tokenizers.TryGetValue(ggufPath, out var tokenizer)) return tokenizer;
            using var file = GgufFile.Open(ggufPath);
            return Tokenizers[ggufPath] = new BpeTokenizer(Vocabulary.FromGguf(file));
        }
    }

    private static readonly Dictionary<string, string> HfFiles = new();

    /// <summary>
    /// A vocab-only GGUF written from <c>shared/tokenizers/FOLDER/tokenizer.json</c> the way llama.cpp's
    /// convert_hf_to_gguf.py writes one: tokens by id (gaps as unused "[PADn]"), added tokens as control when special or
    /// special-looking (&lt;|…|&gt;, &lt;｜…｜&gt;), user-defined otherwise, merges as "left right", the given pre-tokenizer.
    /// Written once per test run.
    /// </summary>
    public static string HfVocabGguf(string folder, string pre)
    {
        lock (Lock)
        {
            string key = folder + "|" + pre;
            if (HfFiles.TryGetValue(key, out var existing)) return existing;

            using var json = JsonDocument.Parse(File.ReadAllBytes(SharedData.Path("tokenizers", folder, "tokenizer.json")));
            var model = json.RootElement.GetProperty("model");
            if (model.GetProperty("type").GetString() != "BPE") throw new InvalidDataException($"{folder}: not a BPE tokenizer.json");

            var byId = new SortedDictionary<int, (string Text, TokenKind Kind)>();
            foreach (var entry in model.GetProperty("vocab").EnumerateObject()) byId[entry.Value.GetInt32()] = (entry.Name, TokenKind.Normal);
            foreach (var added in json.RootElement.GetProperty("added_tokens").EnumerateArray())
            {
                string text = added.GetProperty("content").GetString()!;
                bool special = added.GetProperty("special").GetBoolean() || LooksSpecial(text);
                byId[added.GetProperty("id").GetInt32()] = special ? (text, TokenKind.Control) : (text.Replace('▁', ' '), TokenKind.UserDefined);
            }
            int count = byId.Keys.Max() + 1;
            var tokens = new string[count];
            var kinds = new int[count];
            for (int id = 0; id < count; id++)
            {
                var (text, kind) = byId.TryGetValue(id, out var t) ? t : ($"[PAD{id}]", TokenKind.Unused);
                tokens[id] = text;
                kinds[id] = (int)kind;
            }

            // tokenizer.json stores merges as "left right" strings or as [left, right] pairs.
            var merges = model.GetProperty("merges").EnumerateArray()
                .Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m[0].GetString() + " " + m[1].GetString())
                .ToArray();

            var writer = new GgufWriter()
                // Llama hyper-parameters (as in llama.cpp's own ggml-vocab-*.gguf) so llama.cpp can open the file vocab-only.
                .Set("general.architecture", "llama")
                .Set("general.name", folder)
                .Set("llama.block_count", 1u)
                .Set("llama.context_length", 4096u)
                .Set("llama.embedding_length", 64u)
                .Set("llama.feed_forward_length", 128u)
                .Set("llama.attention.head_count", 1u)
                .Set("llama.attention.head_count_kv", 1u)
                .Set("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .Set("llama.rope.dimension_count", 64u)
                .Set("tokenizer.ggml.model", "gpt2")
                .Set("tokenizer.ggml.pre", pre)
                .Set("tokenizer.ggml.tokens", tokens)
                .Set("tokenizer.ggml.token_type", kinds)
                .Set("tokenizer.ggml.merges", merges);
            var (bos, addBos) = BosFromConfig(folder, tokens);
            if (bos >= 0) writer.Set("tokenizer.ggml.bos_token_id", (uint)bos);
            if (addBos is bool add) writer.Set("tokenizer.ggml.add_bos_token", add);

            string directory = Path.Combine(Path.GetTempPath(), "suiron-tests", "bpe-" + Environment.ProcessId);
            if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
                AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                {
                    try { Directory.Delete(directory, recursive: true); }
                    catch (IOException) { } // a file still mapped; the OS temp cleaner gets it
                    catch (UnauthorizedAccessException) { }
                };
            }
            string path = Path.Combine(directory, $"{folder}-{pre}.gguf");
            writer.WriteTo(path);
            return HfFiles[key] = path;
        }
    }

    /// <summary>convert_hf_to_gguf.py's does_token_look_special (the parts that matter for these vocabularies).</summary>
    private static bool LooksSpecial(string text) =>
        text is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (text.StartsWith("<|", StringComparison.Ordinal) && text.EndsWith("|>", StringComparison.Ordinal))
        || (text.StartsWith("<｜", StringComparison.Ordinal) && text.EndsWith("｜>", StringComparison.Ordinal))
        || (text.StartsWith("<unused", StringComparison.Ordinal) && text.EndsWith('>'));

    /// <summary>
    /// BOS id and add_bos where the model's files state them, as convert_hf_to_gguf.py reads them: add_bos_token from
    /// tokenizer_config.json, else a TemplateProcessing post-processor that prepends the BOS text; null when neither says
    /// (then llama.cpp falls back to the pre-tokenizer's default, e.g. true for llama-bpe).
    /// </summary>
    private static (int Bos, bool? AddBos) BosFromConfig(string folder, string[] tokens)
    {
        using var config = JsonDocument.Parse(File.ReadAllBytes(SharedData.Path("tokenizers", folder, "tokenizer_config.json")));
        var root = config.RootElement;
        string? bosText = root.TryGetProperty("bos_token", out var b)
            ? b.ValueKind switch
            {
                JsonValueKind.String => b.GetString(),
                JsonValueKind.Object => b.GetProperty("content").GetString(),
                _ => null,
            }
            : null;
        int bos = bosText is null ? -1 : Array.IndexOf(tokens, bosText);
        if (root.TryGetProperty("add_bos_token", out var a)) return (bos, a.GetBoolean());

        using var json = JsonDocument.Parse(File.ReadAllBytes(SharedData.Path("tokenizers", folder, "tokenizer.json")));
        bool template = bosText is not null && json.RootElement.TryGetProperty("post_processor", out var post)
            && post.ValueKind == JsonValueKind.Object && post.GetRawText() is var raw
            && raw.Contains("TemplateProcessing", StringComparison.Ordinal) && raw.Contains(bosText, StringComparison.Ordinal);
        return (bos, template ? true : null);
    }
}
