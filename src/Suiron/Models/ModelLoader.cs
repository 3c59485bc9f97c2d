using Suiron.Gguf;

namespace Suiron.Models;

/// <summary>Builds the model a GGUF file describes, chosen by its <c>general.architecture</c>.</summary>
public static class ModelLoader
{
    // Adding an architecture = its file + one line here.
    private static readonly Dictionary<string, Func<GgufFile, ModelOptions, ILanguageModel>> Factories = new(StringComparer.Ordinal)
    {
        [Llama.Architecture.Name] = Llama.Load,
        [Qwen2.Architecture.Name] = Qwen2.Load,
        [Qwen3.Architecture.Name] = Qwen3.Load,
        [DeepSeek2.Architecture.Name] = DeepSeek2.Load,
        [DeepSeek32.Architecture.Name] = DeepSeek32.Load,
        [GlmDsa.Architecture.Name] = GlmDsa.Load,
        [Qwen3Moe.Architecture.Name] = Qwen3Moe.Load,
        [Glm4.Architecture.Name] = Glm4.Load,
        [Glm4Moe.Architecture.Name] = Glm4Moe.Load,
        [Ernie4_5.Architecture.Name] = Ernie4_5.Load,
        [Ernie4_5Moe.Architecture.Name] = Ernie4_5Moe.Load,
        [HunyuanDense.Architecture.Name] = HunyuanDense.Load,
        [HunyuanMoe.Architecture.Name] = HunyuanMoe.Load,
        [MiniMaxM2.Architecture.Name] = MiniMaxM2.Load,
        [Qwen3Next.Architecture.Name] = Qwen3Next.Load,
        [Qwen35.Architecture.Name] = Qwen35.Load,
        [Qwen35Moe.Architecture.Name] = Qwen35Moe.Load,
    };

    /// <summary>Architectures this build can run.</summary>
    public static IReadOnlyCollection<string> SupportedArchitectures => Factories.Keys;

    /// <summary>
    /// Loads the model in <paramref name="file"/>. The model reads its weights from the file's memory map, so the file
    /// must stay open as long as the model is used. Throws <see cref="GgufException"/> for an unknown architecture,
    /// a missing tensor or a tensor of the wrong shape, a hyper-parameter out of range or contradicting the tensors —
    /// any malformed file — and <see cref="NotSupportedException"/> for a well-formed file that needs something Suiron
    /// does not implement (a cache type its head size cannot take, a pre-tokenizer). No file content makes it throw
    /// anything else; GgufFuzzTests holds it to that.
    /// </summary>
    public static ILanguageModel Load(GgufFile file, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        string architecture = file.Architecture;
        if (architecture == Bert.ArchitectureName)
            throw new GgufException("'bert' is an encoder for embeddings, not a language model: load it with Suiron.Embeddings.EmbeddingModelLoader (suiron serve --embedding-model)", -1, file.Path);
        if (!Factories.TryGetValue(architecture, out var factory))
            throw new GgufException(
                $"Unsupported model architecture '{architecture}' (supported: {string.Join(", ", Factories.Keys)})", -1, file.Path);
        ILanguageModel model = factory(file, options ?? new ModelOptions());
        try
        {
            CheckVocabularyFits(file, model.Info.VocabSize);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>
    /// The tokenizer must not make ids the weights have no rows for: llama.cpp refuses such files too, and here they
    /// would fail on the first prompt instead of at load.
    /// </summary>
    internal static void CheckVocabularyFits(GgufFile file, int modelVocabulary)
    {
        if (file.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens.IsArray && tokens.ArrayLength > modelVocabulary)
            throw new GgufException(
                $"tokenizer.ggml.tokens has {tokens.ArrayLength} tokens but token_embd.weight only {modelVocabulary} rows", -1, file.Path);
    }
}
