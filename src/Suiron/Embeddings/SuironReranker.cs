using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Embeddings;

/// <summary>
/// A reranker: scores how relevant a document is to a query, reading both at once — a bert cross-encoder with rank
/// pooling and a classification head (bge-reranker …), or Qwen3-Reranker as llama.cpp converts it (a qwen3 decoder whose
/// cls.output holds the "yes"/"no" rows, and a reranking prompt in <c>tokenizer.chat_template.rerank</c>). Pairs are
/// tokenized as llama-server's rerank does it: the file's reranking prompt filled in, else
/// <c>[BOS] query [EOS] [SEP] document [EOS]</c>, each special token where the vocabulary's add_bos / add_eos / add_sep
/// flags ask for it (EOS falling back to SEP), so bge's WordPiece vocabulary gives <c>[CLS] query [SEP] document</c>.
/// The score is the model's first rank output, as llama-server reports it: a bert head's raw value, Qwen3-Reranker's
/// probability of "yes". One call at a time runs.
/// </summary>
public sealed class SuironReranker : IDisposable
{
    private readonly IEmbeddingModel _model;
    private readonly Tokenizer _tokenizer;
    private readonly IDisposable? _owned;

    private readonly string? _template;

    private SuironReranker(IEmbeddingModel model, Tokenizer tokenizer, string? template, string modelId, IDisposable? owned)
    {
        _model = model;
        _tokenizer = tokenizer;
        _template = template;
        _owned = owned;
        ModelId = modelId;
    }

    /// <summary>The name the server reports for this model: its file name without <c>.gguf</c>.</summary>
    public string ModelId { get; }

    /// <summary>The longest pair in tokens, special tokens included.</summary>
    public int MaxTokens => _model.MaxTokens;

    /// <summary>
    /// Opens a reranker GGUF (a bert file with a classification head, or a qwen3 file with cls.output; rank pooling whatever
    /// its pooling_type says). A file that is not one → NotSupportedException. The reranker owns the file.
    /// </summary>
    public static SuironReranker Load(string path, ModelOptions? options = null)
    {
        var file = GgufFile.Open(path);
        IEmbeddingModel? model = null;
        try
        {
            var tokenizer = Tokenizer.FromGguf(file);
            model = EmbeddingModelLoader.Load(file, options, EmbeddingPooling.Rank);
            string id = Path.GetFileName(path);
            if (id.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) id = id[..^5];
            return new SuironReranker(model, tokenizer, file.GetStringOrNull(RerankTemplateKey), id, new Owned(model, file));
        }
        catch
        {
            model?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The reranking prompt a converted Qwen3-Reranker carries, with <c>{query}</c> and <c>{document}</c> in it.</summary>
    public const string RerankTemplateKey = "tokenizer.chat_template.rerank";

    /// <summary>The tokens of a (query, document) pair as llama-server forms them.</summary>
    public int[] Tokenize(string query, string document)
    {
        if (_template is not null)
        {
            // The file's reranking prompt, filled in and read with its special tokens.
            string prompt = _template.Replace("{query}", query, StringComparison.Ordinal).Replace("{document}", document, StringComparison.Ordinal);
            return _tokenizer.Encode(prompt, addSpecial: false, parseSpecial: true);
        }
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

    /// <summary>Releases the model and its file when this reranker loaded them.</summary>
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
