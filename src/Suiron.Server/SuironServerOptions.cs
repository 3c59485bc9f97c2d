namespace Suiron.Server;

/// <summary>Where and how the server listens.</summary>
public sealed record SuironServerOptions
{
    /// <summary>Address to bind: loopback by default, so nothing outside this machine can reach the model unless asked.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="SuironServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>
    /// Host names requests may carry besides IP literals, <c>localhost</c> and <see cref="Host"/> (<c>--allowed-host</c>):
    /// the names the server is reached by (a LAN name, a reverse proxy's), or "*" for any. Other names get 403, which
    /// is what stops DNS rebinding.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>
    /// Web origins (<c>https://app.example</c>) whose pages may call the API from a browser (<c>--cors-origin</c>), or
    /// "*" for any; they get CORS headers. Other cross-origin requests get 403.
    /// </summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// <summary>When set, API requests need <c>Authorization: Bearer ApiKey</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest request body accepted; beyond it 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>
    /// On shutdown, running generations may finish for this long before they are cancelled; meanwhile the server
    /// still listens and answers new requests 503 with Retry-After (and /health "draining"), so a load balancer moves on.
    /// </summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The model behind /v1/embeddings when it is not the served model (<c>suiron serve --embedding-model</c>: a bert
    /// file, say); the caller owns it. Null: the served model's own final hidden states, pooled as its file says, else
    /// by the last token.
    /// </summary>
    public Suiron.Embeddings.SuironEmbeddingGenerator? EmbeddingModel { get; init; }

    /// <summary>
    /// Speculative decoding of every generation (<c>--spec ngram</c>): prompt-lookup drafts verified in the scheduler's
    /// batched passes; answers are token for token the same, faster where they repeat their context. Null: none.
    /// </summary>
    public Suiron.Inference.SpeculationOptions? Speculation { get; init; }

    /// <summary>
    /// How long a /v1/messages stream may wait for the model (queued, or evaluating a long prompt) before it sends a
    /// <c>ping</c> event, so that proxies and clients with idle timeouts keep the connection.
    /// </summary>
    public TimeSpan StreamKeepAlive { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>What a layer above the server adds to it (the cluster: <c>suiron serve --cluster</c>); null: none.</summary>
    public IServerExtension? Extension { get; init; }

    /// <summary>Log each request and server events to the console.</summary>
    public bool Logging { get; init; }
}
