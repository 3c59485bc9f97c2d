using System.Security.Cryptography;
using System.Text;
using Suiron.Inference;

namespace Suiron.Server;

/// <summary>What every endpoint shares: the served model, the options, the metrics, and whether the server is stopping.</summary>
public sealed class ServerState
{
    /// <summary>Model names every request may use besides the model's id (clients must send some name).</summary>
    public static readonly string[] Aliases = ["default", "suiron", "local"];

    public ServerState(LocalModel model, SuironServerOptions options)
        : this(model.Id, model, options, new ServerMetrics())
    {
    }

    /// <summary>
    /// One model of a router (<see cref="Routing.ModelRouter"/>), or with <paramref name="model"/> null an embedding or
    /// reranker file (its generator in <paramref name="options"/>) or the router itself, which no generation reaches.
    /// </summary>
    internal ServerState(string id, LocalModel? model, SuironServerOptions options, ServerMetrics metrics)
    {
        Id = id;
        _model = model;
        Options = options;
        Metrics = metrics;
        Responses = new ResponseStore(options.ResponseStoreCapacity);
        _ownEmbeddings = new(() => model is null
            ? throw new NotSupportedException("it is a reranker")
            : new Suiron.Embeddings.SuironEmbeddingGenerator(
                Suiron.Embeddings.EmbeddingModelLoader.Load(model.File, new Suiron.Models.ModelOptions { ContextSize = model.Model.Info.ContextSize }),
                model.Tokenizer, model.Id));
        long length = model?.File.FileLength ?? 0;
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{id}/{length}/{typeof(ServerState).Assembly.GetName().Version}"));
        SystemFingerprint = "fp_" + Convert.ToHexStringLower(hash)[..10];
    }

    /// <summary>The served model's name in APIs.</summary>
    public string Id { get; }

    private readonly LocalModel? _model;

    /// <summary>The served generative model; a request that needs one where there is none (an embedding file, or a
    /// router request that named no model) gets 400.</summary>
    public LocalModel Model => _model ?? throw new ApiError(400, !Routed
        ? "This server serves several models: name one in the request's 'model' field (GET /v1/models lists them)."
        : $"The model '{Id}' is an embedding or reranking model: it answers /v1/embeddings or /v1/rerank, not generation.", param: "model", code: "model_not_supported");

    /// <summary>Whether this state is one model of a router's.</summary>
    internal bool Routed { get; init; }

    /// <summary>Whether this state serves a generative model.</summary>
    internal bool HasModel => _model is not null;

    /// <summary>Releases the second model instance built for /v1/embeddings, if one was.</summary>
    internal void ReleaseOwnEmbeddings()
    {
        if (_ownEmbeddings.IsValueCreated && _ownEmbeddings.Value.Model is IDisposable model) model.Dispose();
    }

    /// <summary>What /v1/embeddings runs: <see cref="SuironServerOptions.EmbeddingModel"/>, else (built on first use) a
    /// second instance of the served model over the same memory-mapped file, so embedding never waits for generation.</summary>
    public Suiron.Embeddings.SuironEmbeddingGenerator Embeddings => Options.EmbeddingModel ?? _ownEmbeddings.Value;
    private Lazy<Suiron.Embeddings.SuironEmbeddingGenerator> _ownEmbeddings = null!;
    public SuironServerOptions Options { get; }
    public ServerMetrics Metrics { get; }
    /// <summary>Responses kept for <c>previous_response_id</c>.</summary>
    public ResponseStore Responses { get; }
    /// <summary>Identifies the model file and the build that served a response (OpenAI's system_fingerprint).</summary>
    public string SystemFingerprint { get; }
    /// <summary>Set when the host begins to stop: new generations get 503.</summary>
    public volatile bool Stopping;

    /// <summary>The model's id (file name without .gguf), the file name itself, an alias or one of
    /// <see cref="SuironServerOptions.ModelAliases"/>; case-insensitive. A missing name means this model.</summary>
    public bool Serves(string? name)
        => name is null
           || name.Equals(Id, StringComparison.OrdinalIgnoreCase)
           || name.Equals(Id + ".gguf", StringComparison.OrdinalIgnoreCase)
           || Aliases.Contains(name, StringComparer.OrdinalIgnoreCase)
           || Options.ModelAliases.Contains(name, StringComparer.OrdinalIgnoreCase);
}
