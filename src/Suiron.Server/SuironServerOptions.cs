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
    /// The reranker behind /v1/rerank and /rerank (<c>suiron serve --rerank-model</c>: a bert cross-encoder GGUF such as
    /// bge-reranker, or Qwen3-Reranker); the caller owns it. Null: reranking answers 501.
    /// </summary>
    public Suiron.Embeddings.SuironReranker? Reranker { get; init; }

    /// <summary>
    /// Speculative decoding of every generation (<c>--spec ngram|mtp</c>): prompt-lookup drafts, or the model's
    /// multi-token-prediction head's, verified in the scheduler's batched passes; answers are token for token the same,
    /// faster where the drafts are accepted. Null: none.
    /// </summary>
    public Suiron.Inference.SpeculationOptions? Speculation { get; init; }

    /// <summary>
    /// How long a /v1/messages stream may wait for the model (queued, or evaluating a long prompt) before it sends a
    /// <c>ping</c> event, so that proxies and clients with idle timeouts keep the connection.
    /// </summary>
    public TimeSpan StreamKeepAlive { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most responses kept in memory for <c>previous_response_id</c> (<c>--responses-store</c>), least recently used
    /// evicted first; only those created with <c>store: true</c> are kept. 0 keeps none.
    /// </summary>
    public int ResponseStoreCapacity { get; init; } = 256;

    /// <summary>
    /// Reasoning tokens a chat generation may spend before its reasoning block is closed (<c>--reasoning-budget</c>,
    /// as llama-server's): null for no limit, 0 to close it at once. A request's own budget (Anthropic's
    /// <c>thinking.budget_tokens</c>, llama-server's <c>reasoning_budget_tokens</c>) takes precedence.
    /// </summary>
    public int? ReasoningBudget { get; init; }

    /// <summary>
    /// Folder for llama-server's slot files (<c>--slot-save-path</c>): POST /slots/{id}?action=save writes an idle slot's
    /// tokens and KV cache there, action=restore loads one back. Null: save and restore are off (erase still works).
    /// </summary>
    public string? SlotSavePath { get; init; }

    /// <summary>
    /// More names requests may give the served model (<c>suiron serve --alias</c>), besides its id, its file name and
    /// "default", "suiron", "local".
    /// </summary>
    public IReadOnlyList<string> ModelAliases { get; init; } = [];

    /// <summary>What a layer above the server adds to it (the cluster: <c>suiron serve --cluster</c>); null: none.</summary>
    public IServerExtension? Extension { get; init; }

    /// <summary>Log server events to the console (stderr).</summary>
    public bool Logging { get; init; }

    /// <summary>The least severe events logged when <see cref="Logging"/> is on: warnings by default; Information adds ASP.NET Core's request lines.</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Warning;

    /// <summary>How console log lines are written.</summary>
    public ServerLogFormat LogFormat { get; init; } = ServerLogFormat.Text;
}

/// <summary>Console log line format.</summary>
public enum ServerLogFormat
{
    /// <summary>One readable line per event.</summary>
    Text,
    /// <summary>One JSON object per line (timestamp, level, category, message, exception), for log collectors.</summary>
    Json,
}
