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
    {
        Model = model;
        Options = options;
        Responses = new ResponseStore(options.ResponseStoreCapacity);
        _ownEmbeddings = new(() => new Suiron.Embeddings.SuironEmbeddingGenerator(
            Suiron.Embeddings.EmbeddingModelLoader.Load(model.File, new Suiron.Models.ModelOptions { ContextSize = model.Model.Info.ContextSize }),
            model.Tokenizer, model.Id));
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{model.Id}/{model.File.FileLength}/{typeof(ServerState).Assembly.GetName().Version}"));
        SystemFingerprint = "fp_" + Convert.ToHexStringLower(hash)[..10];
    }

    public LocalModel Model { get; }

    /// <summary>What /v1/embeddings runs: <see cref="SuironServerOptions.EmbeddingModel"/>, else (built on first use) a
    /// second instance of the served model over the same memory-mapped file, so embedding never waits for generation.</summary>
    public Suiron.Embeddings.SuironEmbeddingGenerator Embeddings => Options.EmbeddingModel ?? _ownEmbeddings.Value;
    private Lazy<Suiron.Embeddings.SuironEmbeddingGenerator> _ownEmbeddings = null!;
    public SuironServerOptions Options { get; }
    public ServerMetrics Metrics { get; } = new();
    /// <summary>Responses kept for <c>previous_response_id</c>.</summary>
    public ResponseStore Responses { get; }
    /// <summary>Identifies the model file and the build that served a response (OpenAI's system_fingerprint).</summary>
    public string SystemFingerprint { get; }
    /// <summary>Set when the host begins to stop: new generations get 503.</summary>
    public volatile bool Stopping;

    /// <summary>The model's id (file name without .gguf), the file name itself, or an alias; case-insensitive. A missing name means this model.</summary>
    public bool Serves(string? name)
        => name is null
           || name.Equals(Model.Id, StringComparison.OrdinalIgnoreCase)
           || name.Equals(Model.Id + ".gguf", StringComparison.OrdinalIgnoreCase)
           || Aliases.Contains(name, StringComparer.OrdinalIgnoreCase);
}
