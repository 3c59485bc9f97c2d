using Suiron.Gguf;

namespace Suiron.Bench;

/// <summary>
/// Copies a GGUF file with its tokenizer replaced by a real Hugging Face one (padded to the model's embedding rows, as
/// convert_hf_to_gguf.py pads Qwen's 151,669 tokens to 151,936). The bench model files carry a synthetic vocabulary
/// (fillers <c>t{i}</c>), which is all that speed needs — except grammar masking, whose cost depends on what the
/// token strings are: a JSON grammar prunes the trie of real English/code/CJK pieces very differently.
/// </summary>
internal static class VocabularySwap
{
    public static void Write(string source, string tokenizerFolder, string pre, string destination)
    {
        using var file = GgufFile.Open(source);
        var embedding = file.Tensors.FirstOrDefault(t => t.Name == "token_embd.weight")
            ?? throw new InvalidDataException($"{source} has no token_embd.weight.");
        var writer = new GgufWriter().CopyMetadataFrom(file);
        foreach (string key in file.MetadataKeys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)).ToList()) writer.Remove(key);
        writer.SetBpeTokenizer(tokenizerFolder, pre, checked((int)embedding.Shape[1]));
        string name = file.Metadata.TryGetValue("general.name", out var value) ? value.AsString() : Path.GetFileNameWithoutExtension(source);
        writer.Set("general.name", $"{name} + {Path.GetFileName(Path.GetFullPath(tokenizerFolder).TrimEnd('/'))} tokenizer");
        foreach (var info in file.Tensors)
        {
            var tensor = file.GetTensor(info);
            writer.AddTensor(info.Name, info.Type, info.Shape, stream =>
            {
                unsafe
                {
                    using var view = new UnmanagedMemoryStream((byte*)tensor.Data, tensor.ByteLength);
                    view.CopyTo(stream, 1 << 20);
                }
            });
        }
        writer.WriteTo(destination);
    }
}
