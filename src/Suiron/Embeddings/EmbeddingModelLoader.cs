using Suiron.Gguf;
using Suiron.Models;

namespace Suiron.Embeddings;

/// <summary>Builds the <see cref="IEmbeddingModel"/> a GGUF file describes: a BERT encoder, or a decoder LLM as an embedder.</summary>
public static class EmbeddingModelLoader
{
    /// <summary>Whether the file is meant for embeddings: a <c>bert</c> model, or any model that declares <c>{arch}.pooling_type</c>.</summary>
    public static bool IsEmbeddingModel(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return file.Architecture == Bert.ArchitectureName || file.Contains(file.Architecture + ".pooling_type");
    }

    /// <summary>
    /// Loads <paramref name="file"/> for embeddings (the file must stay open while the model is used).
    /// <paramref name="pooling"/> overrides the file's <c>{arch}.pooling_type</c>; without either, BERT gives per-token
    /// vectors only (pooling none, as llama.cpp) and a decoder pools its last token.
    /// </summary>
    public static IEmbeddingModel Load(GgufFile file, ModelOptions? options = null, EmbeddingPooling pooling = EmbeddingPooling.Unspecified)
    {
        ArgumentNullException.ThrowIfNull(file);
        options ??= new ModelOptions();
        if (file.Architecture == Bert.ArchitectureName)
        {
            var bert = new Bert(file, options, pooling);
            try
            {
                ModelLoader.CheckVocabularyFits(file, bert.VocabSize);
            }
            catch
            {
                bert.Dispose();
                throw;
            }
            return bert;
        }

        if (pooling == EmbeddingPooling.Unspecified)
        {
            int declared = file.GetInt32(file.Architecture + ".pooling_type", (int)EmbeddingPooling.Last);
            if (declared is < 0 or > 4) throw new GgufException($"{file.Architecture}.pooling_type = {declared} is not a pooling type (0..4)", -1, file.Path);
            pooling = (EmbeddingPooling)declared;
        }
        float[]? rankHead = null, rankBias = null;
        if (pooling == EmbeddingPooling.Rank)
        {
            // As llama.cpp: a decoder reranks as Qwen3-Reranker is converted (cls.output = the "yes" and "no" output rows).
            if (file.Architecture != "qwen3" || file.TryGetTensor("cls.output.weight") is not { } head)
                throw new NotSupportedException("Rank pooling (rerankers) is supported for bert cross-encoders and Qwen3-Reranker (a qwen3 file with cls.output.weight); use mean, cls, last or none.");
            rankHead = WeightReader.DecodeRows(head, 0, checked((int)head.Rows));
            if (file.TryGetTensor("cls.output.bias") is { } bias) rankBias = WeightReader.DecodeRows(bias, 0, 1);
        }
        ILanguageModel model = ModelLoader.Load(file, options);
        try
        {
            if (rankHead is not null && rankHead.Length % model.Info.HyperParameters.EmbeddingLength != 0)
                throw new GgufException($"cls.output.weight has {rankHead.Length} elements, not whole rows of the embedding width {model.Info.HyperParameters.EmbeddingLength}", -1, file.Path);
            return new DecoderEmbedder(model, pooling, ownsModel: true, rankHead, rankBias);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
