using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Embeddings;

/// <summary>
/// A cross-encoder reranker (a bert GGUF with rank pooling and a classification head, such as bge-reranker): scores how
/// relevant a document is to a query, reading both at once. Pairs are tokenized as llama-server's rerank does it:
/// <c>[BOS] query [EOS] [SEP] document [EOS]</c>, each special token where the vocabulary's add_bos / add_eos / add_sep
/// flags ask for it (EOS falling back to SEP), so bge's WordPiece vocabulary gives <c>[CLS] query [SEP] document</c>.
/// The score is the head's first output, unnormalized, as llama-server reports it. One call at a time runs.
/// </summary>
public sealed class SuironReranker : IDisposable
{
    private readonly IEmbeddingModel _model;
    private readonly Tokenizer _tokenizer;
    private readonly IDisposable? _owned;

    private SuironReranker(IEmbeddingModel model, Tokenizer tokenizer, string modelId, IDisposable? owned)
    {
        _model = model;
        _tokenizer = tokenizer;
        _owned = owned;
        ModelId = modelId;
    }

    public string ModelId { get; }

    /// <summary>The longest pair in tokens, special tokens included.</summary>
    public int MaxTokens => _model.MaxTokens;

    /// <summary>
    /// Opens a reranker GGUF (a bert file with a classification head; rank pooling whatever its pooling_type says).
    /// A file that is not one → NotSupportedException. The reranker owns the file.
    /// </summary>
    public static SuironReranker Load(string path, ModelOptions? options = null)
    {
        var file = GgufFile.Open(path);
        IEmbeddingModel? model = null;
        try
        {
            if (file.Architecture != Bert.ArchitectureName)
                throw new NotSupportedException($"'{path}' is a {file.Architecture} model; reranking supports bert cross-encoders (bge-reranker and the like).");
            var tokenizer = Tokenizer.FromGguf(file);
            model = EmbeddingModelLoader.Load(file, options, EmbeddingPooling.Rank);
            string id = Path.GetFileName(path);
            if (id.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) id = id[..^5];
            return new SuironReranker(model, tokenizer, id, new Owned(model, file));
        }
        catch
        {
            model?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The tokens of a (query, document) pair as llama-server forms them.</summary>
    public int[] Tokenize(string query, string document)
    {
        var vocabulary = _tokenizer.Vocabulary;
        int eos = vocabulary.EosId >= 0 ? vocabulary.EosId : vocabulary.SeparatorId;
        var tokens = new List<int>();
        if (vocabulary.AddBos && vocabulary.BosId >= 0) tokens.Add(vocabulary.BosId);
        tokens.AddRange(_tokenizer.Encode(query, addSpecial: false, parseSpecial: false));
        if (vocabulary.AddEos && eos >= 0) tokens.Add(eos);
        if (vocabulary.AddSeparator && vocabulary.SeparatorId >= 0) tokens.Add(vocabulary.SeparatorId);
        tokens.AddRange(_tokenizer.Encode(document, addSpecial: false, parseSpecial: false));
        if (vocabulary.AddEos && eos >= 0) tokens.Add(eos);
        return tokens.ToArray();
    }

    /// <summary>The relevance score of a tokenized pair (<see cref="Tokenize"/>); too long → ArgumentException.</summary>
    public float Score(ReadOnlySpan<int> tokens) => _model.Embed(tokens, normalize: false)[0];

    public void Dispose() => _owned?.Dispose();

    private sealed class Owned(IDisposable model, IDisposable file) : IDisposable
    {
        public void Dispose()
        {
            model.Dispose();
            file.Dispose();
        }
    }
}
