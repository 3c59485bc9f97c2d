using System.Text.Json;
using Suiron.Tokenization;

namespace Suiron.Gguf;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer folder (<c>tokenizer.json</c> + <c>tokenizer_config.json</c>) turned into
/// GGUF <c>tokenizer.*</c> metadata the way llama.cpp's convert_hf_to_gguf.py writes it for GPT-2-style models
/// (Qwen, Llama 3, DeepSeek): tokens by id, ids the files do not name padded as unused <c>[PADn]</c> up to the model's
/// vocabulary size, added tokens as control when special (or special-looking, <c>&lt;|…|&gt;</c>) and user-defined
/// otherwise, merges as "left right", special token ids and the chat template from the config.
/// </summary>
public static class HuggingFaceTokenizer
{
    /// <param name="folder">The folder holding tokenizer.json and tokenizer_config.json.</param>
    /// <param name="pre">llama.cpp's pre-tokenizer name (tokenizer.ggml.pre), e.g. "qwen2" for Qwen2/2.5/3.</param>
    /// <param name="vocabularySize">The model's embedding rows (≥ the tokens named); 0 = exactly the tokens named.</param>
    /// <param name="writer">The GGUF writer that receives the tokenizer keys.</param>
    public static GgufWriter SetBpeTokenizer(this GgufWriter writer, string folder, string pre, int vocabularySize = 0)
    {
        string tokenizerPath = Path.Combine(folder, "tokenizer.json"), configPath = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(tokenizerPath)) throw new FileNotFoundException($"No tokenizer.json in {folder}.", tokenizerPath);
        using var json = JsonDocument.Parse(File.ReadAllBytes(tokenizerPath));
        var model = json.RootElement.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE")
            throw new InvalidDataException($"{tokenizerPath}: not a BPE tokenizer (model.type is '{model.GetProperty("type").GetString()}').");

        var byId = new Dictionary<int, (string Text, TokenKind Kind)>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) byId[entry.Value.GetInt32()] = (entry.Name, TokenKind.Normal);
        if (json.RootElement.TryGetProperty("added_tokens", out var addedTokens))
            foreach (var added in addedTokens.EnumerateArray())
            {
                string text = added.GetProperty("content").GetString()!;
                bool special = added.GetProperty("special").GetBoolean() || LooksSpecial(text);
                byId[added.GetProperty("id").GetInt32()] = (text, special ? TokenKind.Control : TokenKind.UserDefined);
            }
        int named = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
        if (vocabularySize != 0 && vocabularySize < named)
            throw new ArgumentException($"The tokenizer names {named} tokens; a vocabulary of {vocabularySize} cannot hold them.", nameof(vocabularySize));
        int count = Math.Max(named, vocabularySize);
        var tokens = new string[count];
        var kinds = new int[count];
        for (int id = 0; id < count; id++)
        {
            var (text, kind) = byId.TryGetValue(id, out var t) ? t : ($"[PAD{id}]", TokenKind.Unused);
            tokens[id] = text;
            kinds[id] = (int)kind;
        }
        // tokenizer.json stores merges as "left right" strings or as [left, right] pairs.
        string[] merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m[0].GetString() + " " + m[1].GetString())
            .ToArray();

        writer.Set("tokenizer.ggml.model", "gpt2")
            .Set("tokenizer.ggml.pre", pre)
            .Set("tokenizer.ggml.tokens", tokens)
            .Set("tokenizer.ggml.token_type", kinds)
            .Set("tokenizer.ggml.merges", merges);

        if (!File.Exists(configPath)) return writer;
        using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
        var root = config.RootElement;
        foreach (var (key, ggufKey) in new[] { ("bos_token", "bos"), ("eos_token", "eos"), ("pad_token", "padding"), ("unk_token", "unknown") })
            if (TokenText(root, key) is { } text && Array.IndexOf(tokens, text) is var id and >= 0)
                writer.Set($"tokenizer.ggml.{ggufKey}_token_id", (uint)id);
        if (root.TryGetProperty("add_bos_token", out var addBos) && addBos.ValueKind is JsonValueKind.True or JsonValueKind.False)
            writer.Set("tokenizer.ggml.add_bos_token", addBos.GetBoolean());
        if (root.TryGetProperty("chat_template", out var template) && template.ValueKind == JsonValueKind.String)
            writer.Set("tokenizer.chat_template", template.GetString()!);
        return writer;
    }

    /// <summary>A special token's text in tokenizer_config.json: a string, or an object with "content".</summary>
    private static string? TokenText(JsonElement config, string key) =>
        config.TryGetProperty(key, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Object when value.TryGetProperty("content", out var content) => content.GetString(),
                _ => null,
            }
            : null;

    /// <summary>convert_hf_to_gguf.py's does_token_look_special (the forms byte-level BPE vocabularies use).</summary>
    private static bool LooksSpecial(string text) =>
        text is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (text.StartsWith("<|", StringComparison.Ordinal) && text.EndsWith("|>", StringComparison.Ordinal))
        || (text.StartsWith("<｜", StringComparison.Ordinal) && text.EndsWith("｜>", StringComparison.Ordinal))
        || (text.StartsWith("<unused", StringComparison.Ordinal) && text.EndsWith('>'));
}
