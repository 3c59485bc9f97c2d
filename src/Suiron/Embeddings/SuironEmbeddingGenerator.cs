using Microsoft.Extensions.AI;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Embeddings;

/// <summary>
/// A local embedding model as a Microsoft.Extensions.AI <see cref="IEmbeddingGenerator{String, Embedding}"/>: each
/// text is tokenized as llama.cpp's embedding tools do (special tokens added and parsed: [CLS] … [SEP] for BERT, the
/// EOS a Qwen3-Embedding file asks for), pooled as the model says, and L2-normalized. Inputs longer than the model
/// takes are refused (<see cref="ArgumentException"/>), not truncated. <c>EmbeddingGenerationOptions.Dimensions</c>
/// must be null or the model's width.
/// </summary>
/// <example><c>using var generator = SuironEmbeddingGenerator.Load("bge-small-en-v1.5-f16.gguf"); var e = await generator.GenerateAsync(["hello"]);</c></example>
public sealed class SuironEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly IEmbeddingModel _model;
    private readonly Tokenizer _tokenizer;
    private readonly IDisposable? _owned;

    /// <param name="model">The model; it must stay usable as long as this generator.</param>
    /// <param name="tokenizer">The tokenizer of the model's file.</param>
    /// <param name="modelId">The name reported in <see cref="EmbeddingGeneratorMetadata"/> and on each embedding.</param>
    public SuironEmbeddingGenerator(IEmbeddingModel model, Tokenizer tokenizer, string modelId)
        : this(model, tokenizer, modelId, null)
    {
    }

    private SuironEmbeddingGenerator(IEmbeddingModel model, Tokenizer tokenizer, string modelId, IDisposable? owned)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (model.Pooling is EmbeddingPooling.None or EmbeddingPooling.Unspecified)
            throw new ArgumentException("The model has no pooling (pooling_type none): it gives one vector per token, not per text. Load it with a pooling.", nameof(model));
        if (model.Pooling == EmbeddingPooling.Rank)
            throw new ArgumentException("The model is a reranker (pooling_type rank): it scores query–document pairs (SuironReranker), it does not embed texts.", nameof(model));
        _model = model;
        _tokenizer = tokenizer;
        _owned = owned;
        ModelId = modelId;
        Metadata = new EmbeddingGeneratorMetadata("suiron", null, modelId, model.Dimensions);
    }

    /// <summary>
    /// Opens the GGUF at <paramref name="path"/> for embeddings (a bert model, or a decoder pooled as its file says,
    /// else by its last token); <paramref name="pooling"/> overrides the file. The generator owns the file and model.
    /// </summary>
    public static SuironEmbeddingGenerator Load(string path, ModelOptions? options = null, EmbeddingPooling pooling = EmbeddingPooling.Unspecified)
    {
        var file = GgufFile.Open(path);
        IEmbeddingModel? model = null;
        try
        {
            var tokenizer = Tokenizer.FromGguf(file);
            model = EmbeddingModelLoader.Load(file, options, pooling);
            if (model.Pooling == EmbeddingPooling.None) throw new NotSupportedException($"'{path}' declares pooling none; pass a pooling (mean, cls or last).");
            string id = Path.GetFileName(path);
            if (id.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) id = id[..^5];
            return new SuironEmbeddingGenerator(model, tokenizer, id, new Owned(model, file));
        }
        catch
        {
            model?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The provider name, the model's id and its embedding width.</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }
    /// <summary>The model's id: its file name without <c>.gguf</c>.</summary>
    public string ModelId { get; }
    /// <summary>The model that computes the embeddings.</summary>
    public IEmbeddingModel Model => _model;

    /// <summary>The tokens an input text is embedded from.</summary>
    public int[] Tokenize(string text) => _tokenizer.Encode(text, addSpecial: true, parseSpecial: true);

    /// <summary>One L2-normalized embedding per text, in order.</summary>
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is int dimensions && dimensions != _model.Dimensions)
            throw new NotSupportedException($"This model's embeddings have {_model.Dimensions} dimensions; {dimensions} were asked for (truncation is not supported).");
        // The forward pass is CPU-bound and synchronous; run it off the caller's thread like other local generators.
        return Task.Run(() =>
        {
            var result = new GeneratedEmbeddings<Embedding<float>>();
            long tokenCount = 0;
            foreach (string text in values)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ArgumentNullException.ThrowIfNull(text, nameof(values));
                int[] tokens = Tokenize(text);
                if (tokens.Length == 0) throw new ArgumentException("An input text has no tokens.", nameof(values));
                tokenCount += tokens.Length;
                result.Add(new Embedding<float>(_model.Embed(tokens)) { ModelId = ModelId, CreatedAt = DateTimeOffset.UtcNow });
            }
            result.Usage = new UsageDetails { InputTokenCount = tokenCount, TotalTokenCount = tokenCount };
            return result;
        }, cancellationToken);
    }

    /// <summary>This generator, its model or its metadata when asked for their type; null otherwise.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(_model)) return _model;
        return null;
    }

    /// <summary>Disposes the model when the generator loaded it.</summary>
    public void Dispose() => _owned?.Dispose();

    private sealed class Owned(IEmbeddingModel model, GgufFile file) : IDisposable
    {
        public void Dispose()
        {
            model.Dispose();
            file.Dispose();
        }
    }
}
