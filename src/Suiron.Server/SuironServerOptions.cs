namespace Suiron.Server;

/// <summary>Where and how the server listens.</summary>
public sealed record SuironServerOptions
{
    /// <summary>Address to bind: loopback by default, so nothing outside this machine can reach the model unless asked.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="SuironServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, API requests need <c>Authorization: Bearer ApiKey</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest request body accepted; beyond it 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>On shutdown, running generations may finish for this long before they are cancelled.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The model behind /v1/embeddings when it is not the served model (<c>suiron serve --embedding-model</c>: a bert
    /// file, say); the caller owns it. Null: the served model's own final hidden states, pooled as its file says, else
    /// by the last token.
    /// </summary>
    public Suiron.Embeddings.SuironEmbeddingGenerator? EmbeddingModel { get; init; }

    /// <summary>Log each request and server events to the console.</summary>
    public bool Logging { get; init; }
}
