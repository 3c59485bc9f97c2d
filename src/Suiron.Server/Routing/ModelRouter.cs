using System.Diagnostics;
using Suiron.Embeddings;
using Suiron.Gguf;
using Suiron.Inference;

namespace Suiron.Server.Routing;

/// <summary>How a router runs its models.</summary>
public sealed record ModelRouterOptions
{
    /// <summary>The models it serves (<see cref="ModelSource.FromDirectory"/>, <see cref="ModelSource.FromFile"/>); ids and aliases must be unique.</summary>
    public required IReadOnlyList<ModelSource> Models { get; init; }

    /// <summary>Most models loaded at once (<c>--models-max</c>); 0: no limit.</summary>
    public int MaxLoaded { get; init; }

    /// <summary>
    /// Most bytes the loaded models may cost together (<c>--models-memory</c>): each model's mapped file bytes plus its
    /// KV cache (and recurrent state); 0: no limit.
    /// </summary>
    public long MemoryBudgetBytes { get; init; }

    /// <summary>How generative models run (threads, context, slots, queue); embedding and reranking files take its threads.</summary>
    public LocalModelOptions ModelOptions { get; init; } = new();
}

/// <summary>Where a router's model is.</summary>
public enum RoutedModelStatus
{
    /// <summary>On disk only.</summary>
    Unloaded,
    /// <summary>Being loaded; requests for it wait.</summary>
    Loading,
    /// <summary>In memory, answering.</summary>
    Loaded,
}

/// <summary>What a model file is for, read from its metadata.</summary>
public enum RoutedModelKind
{
    /// <summary>A generative model: chat, completions, messages, responses (and last-token embeddings).</summary>
    Generation,
    /// <summary>An embedding model (a bert file, or one declaring its pooling): /v1/embeddings.</summary>
    Embedding,
    /// <summary>A reranker (rank pooling: bert cross-encoders, Qwen3-Reranker): /v1/rerank.</summary>
    Rerank,
}

/// <summary>One model as a router sees it now.</summary>
public sealed record RoutedModelInfo(string Id, IReadOnlyList<string> Aliases, RoutedModelKind Kind, RoutedModelStatus Status, long CostBytes,
    int RequestsInFlight, string? LoadError, DateTimeOffset Created);

/// <summary>
/// Several models behind one server (llama-server's router mode, in one process): a request names its model and
/// waits for it to load; models are loaded on first use and the least recently used idle ones unloaded when
/// <see cref="ModelRouterOptions.MaxLoaded"/> or <see cref="ModelRouterOptions.MemoryBudgetBytes"/> would be
/// exceeded. A model with requests in flight (or waiting for its load) is never unloaded: a request that finds no
/// room waits until some model goes idle.
/// </summary>
public sealed class ModelRouter : IDisposable
{
    private readonly ModelRouterOptions _options;
    private readonly RoutedModel[] _models;
    private readonly Dictionary<string, RoutedModel> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly object _gate = new();
    private TaskCompletionSource _roomFreed = NewSignal();
    private int _loadedCount;
    private long _usedBytes;
    private bool _stopped;

    /// <summary>Settings and metrics every model's <see cref="ServerState"/> shares; set by the server that hosts the router.</summary>
    private SuironServerOptions _serverOptions = new();
    private ServerMetrics _metrics = new();

    public ModelRouter(ModelRouterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Models.Count == 0) throw new ArgumentException("A router needs at least one model.", nameof(options));
        if (options.MaxLoaded < 0) throw new ArgumentOutOfRangeException(nameof(options), "MaxLoaded must be ≥ 0.");
        if (options.MemoryBudgetBytes < 0) throw new ArgumentOutOfRangeException(nameof(options), "MemoryBudgetBytes must be ≥ 0.");
        _options = options;
        _models = options.Models.Select(source => new RoutedModel(source, options.ModelOptions)).ToArray();
        foreach (var model in _models)
            foreach (string name in model.Names)
                if (!_byName.TryAdd(name, model) && _byName[name] != model)
                    throw new ArgumentException($"The name '{name}' is given to two models ('{_byName[name].Source.Id}' and '{model.Source.Id}').", nameof(options));
    }

    /// <summary>The models, in the order given.</summary>
    public IReadOnlyList<RoutedModelInfo> Models
    {
        get
        {
            lock (_gate) return _models.Select(m => m.Snapshot()).ToArray();
        }
    }

    /// <summary>Loaded models' costs together, as counted against <see cref="ModelRouterOptions.MemoryBudgetBytes"/>.</summary>
    public long UsedBytes
    {
        get
        {
            lock (_gate) return _usedBytes;
        }
    }

    public ModelRouterOptions Options => _options;

    /// <summary>Whether a model of that name (id, file name or alias) exists.</summary>
    public bool Knows(string name) => _byName.ContainsKey(name);

    /// <summary>The id of the model of that name (id, file name or alias); null when there is none.</summary>
    public string? IdOf(string name) => _byName.TryGetValue(name, out var model) ? model.Source.Id : null;

    internal void Attach(SuironServerOptions serverOptions, ServerMetrics metrics)
    {
        _serverOptions = serverOptions;
        _metrics = metrics;
    }

    /// <summary>The state of the model with that id while it is loaded; null otherwise.</summary>
    internal ServerState? LoadedState(string id)
    {
        lock (_gate) return _models.FirstOrDefault(m => m.Source.Id == id && m.Status == RoutedModelStatus.Loaded)?.State;
    }

    /// <summary>The states of the loaded models (for the drain on shutdown and /metrics).</summary>
    internal IReadOnlyList<ServerState> LoadedStates()
    {
        lock (_gate) return _models.Where(m => m.Status == RoutedModelStatus.Loaded).Select(m => m.State!).ToArray();
    }

    /// <summary>
    /// The model named <paramref name="name"/>, loaded (waiting for its load, or for room to load it, as long as it
    /// takes), held until the lease is disposed. Unknown name → 404; a model that fails to load → 500 with why.
    /// </summary>
    internal async Task<ModelLease> AcquireAsync(string name, CancellationToken cancellation)
    {
        RoutedModel model = Find(name);
        while (true)
        {
            Task wait;
            Task? toStart = null;
            bool waitsForLoad = false;
            List<LoadedModel>? evicted = null;
            lock (_gate)
            {
                if (_stopped) throw new ApiError(503, "The server is shutting down.", ApiError.ServerError) { RetryAfterSeconds = SuironServer.ShutdownRetryAfterSeconds };
                switch (model.Status)
                {
                    case RoutedModelStatus.Loaded:
                        model.InFlight++;
                        model.LastUsed = Stopwatch.GetTimestamp();
                        return new ModelLease(this, model);
                    case RoutedModelStatus.Loading:
                        model.Waiting++;
                        waitsForLoad = true;
                        wait = model.LoadTask!;
                        break;
                    default:
                        CheckFits(model);
                        if (MakeRoom(model.CostBytes, keep: null, ref evicted))
                        {
                            model.Status = RoutedModelStatus.Loading;
                            model.LoadError = null;
                            model.Waiting++;
                            waitsForLoad = true;
                            _loadedCount++;
                            _usedBytes += model.CostBytes;
                            // Started once the evicted models' memory is released, so the two never add up.
                            model.LoadTask = toStart = new Task(() => Load(model), TaskCreationOptions.LongRunning);
                            wait = model.LoadTask;
                        }
                        else wait = _roomFreed.Task;
                        break;
                }
            }
            try
            {
                Release(evicted);
            }
            finally
            {
                // Waiters are already on this task: it must run whatever freeing the others did.
                toStart?.Start(TaskScheduler.Default);
            }
            bool holds = false;
            string? loadError = null;
            try
            {
                await wait.WaitAsync(cancellation);
            }
            catch (Exception e) when (waitsForLoad && e is not OperationCanceledException)
            {
                // The load failed: its error is the answer (the model stays unloaded, a later request tries again).
            }
            finally
            {
                if (waitsForLoad)
                    lock (_gate)
                    {
                        // Leaving the waiters and joining the requests in one step, so the model cannot be unloaded between.
                        model.Waiting--;
                        if (model.Status == RoutedModelStatus.Loaded && !cancellation.IsCancellationRequested)
                        {
                            model.InFlight++;
                            model.LastUsed = Stopwatch.GetTimestamp();
                            holds = true;
                        }
                        else
                        {
                            loadError = model.Status == RoutedModelStatus.Unloaded ? model.LoadError : null;
                            Signal();
                        }
                    }
            }
            if (holds) return new ModelLease(this, model);
            if (loadError is not null)
                throw new ApiError(500, $"The model '{model.Source.Id}' could not be loaded: {loadError}", ApiError.ServerError, code: "model_load_failed");
        }
    }

    /// <summary>Loads a model and leaves it loaded, idle (POST /models/load).</summary>
    public async Task LoadAsync(string name, CancellationToken cancellation = default)
    {
        using var lease = await AcquireAsync(name, cancellation);
    }

    /// <summary>
    /// Unloads a model (POST /models/unload) once its requests in flight have finished. Unknown → 404; not loaded → 400.
    /// </summary>
    public async Task UnloadAsync(string name, CancellationToken cancellation = default)
    {
        RoutedModel model = Find(name);
        LoadedModel unloaded;
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (model.Status == RoutedModelStatus.Unloaded)
                    throw new ApiError(400, $"The model '{model.Source.Id}' is not loaded.", param: "model", code: "model_not_loaded");
                if (model.Status == RoutedModelStatus.Loaded && model.InFlight == 0 && model.Waiting == 0)
                {
                    unloaded = Evict(model);
                    Signal();
                    break;
                }
                wait = model.Status == RoutedModelStatus.Loading ? model.LoadTask! : _roomFreed.Task;
            }
            try
            {
                await wait.WaitAsync(cancellation);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failed load leaves the model unloaded: the next pass says so.
            }
        }
        Release([unloaded]);
    }

    private RoutedModel Find(string name)
        => _byName.TryGetValue(name, out var model) ? model
            : throw new ApiError(404, $"The model '{name}' does not exist; this server serves {string.Join(", ", _models.Select(m => $"'{m.Source.Id}'"))} (GET /v1/models lists them).",
                param: "model", code: "model_not_found");

    /// <summary>A model that alone exceeds the budget can never load: say so instead of waiting forever.</summary>
    private void CheckFits(RoutedModel model)
    {
        if (_options.MemoryBudgetBytes > 0 && model.CostBytes > _options.MemoryBudgetBytes)
            throw new ApiError(507, $"The model '{model.Source.Id}' needs {Gib(model.CostBytes)} (file and KV cache), more than the whole --models-memory budget of {Gib(_options.MemoryBudgetBytes)}.",
                ApiError.ServerError, code: "model_too_large");
    }

    private static string Gib(long bytes) => $"{bytes / (1024.0 * 1024 * 1024):0.###} GiB";

    /// <summary>
    /// Unloads least recently used idle models (not <paramref name="keep"/>) until one more model costing
    /// <paramref name="bytes"/> fits; false when it cannot fit yet (the rest are busy). Called under the gate; the
    /// evicted models' memory is released by the caller outside it.
    /// </summary>
    private bool MakeRoom(long bytes, RoutedModel? keep, ref List<LoadedModel>? evicted)
    {
        while (!Fits(bytes, extraModel: keep is null))
        {
            RoutedModel? victim = null;
            foreach (var m in _models)
                if (m != keep && m.Status == RoutedModelStatus.Loaded && m.InFlight == 0 && m.Waiting == 0 && (victim is null || m.LastUsed < victim.LastUsed))
                    victim = m;
            if (victim is null) return false;
            (evicted ??= []).Add(Evict(victim));
        }
        return true;
    }

    private bool Fits(long bytes, bool extraModel)
        => (_options.MaxLoaded == 0 || _loadedCount + (extraModel ? 1 : 0) <= _options.MaxLoaded)
           && (_options.MemoryBudgetBytes == 0 || _usedBytes + bytes <= _options.MemoryBudgetBytes);

    /// <summary>Marks a loaded model unloaded (under the gate) and takes what holds its memory; <see cref="Release"/> frees that.</summary>
    private LoadedModel Evict(RoutedModel model)
    {
        model.Status = RoutedModelStatus.Unloaded;
        _loadedCount--;
        _usedBytes -= model.CostBytes;
        return model.Detach();
    }

    private static void Release(List<LoadedModel>? models)
    {
        if (models is null || models.Count == 0) return;
        foreach (var model in models) model.Free();
        // The model's arrays (KV cache, work buffers) are garbage now; collect them so the memory returns at once.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private void Load(RoutedModel model)
    {
        try
        {
            model.Open(_options.ModelOptions, _serverOptions, _metrics);
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                model.Status = RoutedModelStatus.Unloaded;
                model.LoadError = e is FileNotFoundException or GgufException or NotSupportedException or InvalidDataException or IOException or Suiron.Chat.TemplateException or ArgumentException
                    ? e.Message : $"{e.GetType().Name}: {e.Message}";
                _loadedCount--;
                _usedBytes -= model.CostBytes;
                Signal();
            }
            throw;
        }
        List<LoadedModel>? evicted = null;
        lock (_gate)
        {
            long estimate = model.CostBytes;
            model.CostBytes = model.MeasuredCost();
            _usedBytes += model.CostBytes - estimate;
            model.Status = RoutedModelStatus.Loaded;
            model.LastUsed = Stopwatch.GetTimestamp();
            if (_stopped)
            {
                // The server stopped (or the router was disposed) during the load: nothing will use or free it later.
                (evicted ??= []).Add(Evict(model));
                Signal();
            }
            // The estimate before the first load knew the file only; with its KV cache counted now, make room if needed.
            else MakeRoom(0, keep: model, ref evicted);
        }
        Release(evicted);
    }

    internal void Return(RoutedModel model)
    {
        lock (_gate)
        {
            model.InFlight--;
            model.LastUsed = Stopwatch.GetTimestamp();
            Signal();
        }
    }

    /// <summary>Called under the gate: wakes everything waiting for room.</summary>
    private void Signal()
    {
        var signal = _roomFreed;
        _roomFreed = NewSignal();
        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>New requests get 503 from now on; the loaded models keep running what they have.</summary>
    internal void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            foreach (var model in _models)
                if (model.State is { } state) state.Stopping = true;
            Signal();
        }
    }

    /// <summary>Unloads every model.</summary>
    public void Dispose()
    {
        List<LoadedModel> loaded;
        lock (_gate)
        {
            _stopped = true;
            loaded = _models.Where(m => m.Status == RoutedModelStatus.Loaded).Select(Evict).ToList();
        }
        Release(loaded);
    }
}

/// <summary>A request's hold on a loaded model: the model is not unloaded until every lease on it is disposed.</summary>
internal sealed class ModelLease(ModelRouter router, RoutedModel model) : IDisposable
{
    private int _disposed;

    public ServerState State { get; } = model.State!;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) router.Return(model);
    }
}

/// <summary>One model of a router: its source, what it is, and (while loaded) its state and the objects that hold its memory.</summary>
internal sealed class RoutedModel
{
    private IDisposable? _owned;

    public RoutedModel(ModelSource source, LocalModelOptions options)
    {
        Source = source;
        var names = new List<string> { source.Id, source.Id + ".gguf" };
        names.AddRange(source.Files.Select(Path.GetFileName)!);
        names.AddRange(source.Aliases);
        Names = names.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        FileBytes = source.Files.Sum(f => File.Exists(f) ? new FileInfo(f).Length : 0);
        Created = source.Files.Count > 0 && File.Exists(source.Files[0]) ? new DateTimeOffset(File.GetLastWriteTimeUtc(source.Files[0])) : DateTimeOffset.UnixEpoch;
        (Kind, long cacheBytes) = Inspect(source.Files[0], options);
        CostBytes = FileBytes + cacheBytes;
    }

    public ModelSource Source { get; }
    public IReadOnlyList<string> Names { get; }
    public RoutedModelKind Kind { get; }
    public long FileBytes { get; }
    public DateTimeOffset Created { get; }

    // Guarded by the router's gate.
    public RoutedModelStatus Status;
    public int InFlight, Waiting;
    public long LastUsed;
    /// <summary>Estimated from the file's metadata before the first load; the measured cost (file and caches) after it.</summary>
    public long CostBytes;
    public string? LoadError;
    public Task? LoadTask;
    public ServerState? State;

    public RoutedModelInfo Snapshot() => new(Source.Id, Source.Aliases, Kind, Status, CostBytes, InFlight, LoadError, Created);

    /// <summary>
    /// What the file is for (a bert file, or one that declares its pooling, is an embedding model, a reranker with rank
    /// pooling (4); the rest generate) and, for a generative model, its KV cache bytes as its metadata declares full
    /// attention: every layer keeps K and V of every position of every slot. The measured cost replaces this estimate
    /// after the first load, so that a first load does not go past the memory budget in the common case.
    /// </summary>
    private static (RoutedModelKind Kind, long CacheBytes) Inspect(string path, LocalModelOptions options)
    {
        try
        {
            using var file = GgufFile.Open(path);
            if (EmbeddingModelLoader.IsEmbeddingModel(file))
                return (file.GetInt32(file.Architecture + ".pooling_type", 0) == (int)EmbeddingPooling.Rank ? RoutedModelKind.Rerank : RoutedModelKind.Embedding, 0);
            return (RoutedModelKind.Generation, DeclaredCacheBytes(file, options));
        }
        catch (Exception e) when (e is IOException or GgufException or UnauthorizedAccessException or InvalidDataException)
        {
            // Listed anyway; loading it reports what is wrong with it.
            return (RoutedModelKind.Generation, 0);
        }
    }

    private static long DeclaredCacheBytes(GgufFile file, LocalModelOptions options)
    {
        string a = file.Architecture;
        try
        {
            int layers = file.GetInt32(a + ".block_count", 0), heads = file.GetInt32(a + ".attention.head_count", 0);
            int kvHeads = file.GetInt32(a + ".attention.head_count_kv", heads), width = file.GetInt32(a + ".embedding_length", 0);
            int keyLength = file.GetInt32(a + ".attention.key_length", heads > 0 ? width / heads : 0);
            int valueLength = file.GetInt32(a + ".attention.value_length", keyLength);
            int context = options.Model.ContextSize > 0 ? options.Model.ContextSize
                : Math.Min(file.GetInt32(a + ".context_length", Suiron.Models.ModelOptions.DefaultContextCap), Suiron.Models.ModelOptions.DefaultContextCap);
            long perToken = KvCacheTypes.Bytes(options.Model.KeyCacheType, (long)kvHeads * keyLength) + KvCacheTypes.Bytes(options.Model.ValueCacheType, (long)kvHeads * valueLength);
            return Math.Max(0, (long)layers * perToken * context * options.Slots);
        }
        catch (Exception e) when (e is GgufException or InvalidCastException or InvalidOperationException or OverflowException)
        {
            // Per-layer head counts and other shapes this estimate does not read: the first load measures it.
            return 0;
        }
    }

    /// <summary>Loads the model (on a worker thread, outside the router's gate).</summary>
    public void Open(LocalModelOptions options, SuironServerOptions serverOptions, ServerMetrics metrics)
    {
        if (Source.Files.Count > 1)
            throw new NotSupportedException($"'{Source.Id}' is split into {Source.Files.Count} files, which Suiron does not read yet; merge them into one (llama-gguf-split --merge).");
        string path = Source.Files[0];
        var shared = serverOptions with { ModelAliases = Names, EmbeddingModel = null, Reranker = null, Extension = null };
        switch (Kind)
        {
            case RoutedModelKind.Embedding:
                var embeddings = SuironEmbeddingGenerator.Load(path, new Suiron.Models.ModelOptions { Threads = options.Model.Threads });
                _owned = embeddings;
                State = new ServerState(Source.Id, null, shared with { EmbeddingModel = embeddings }, metrics) { Routed = true };
                break;
            case RoutedModelKind.Rerank:
                var reranker = SuironReranker.Load(path, new Suiron.Models.ModelOptions { Threads = options.Model.Threads });
                _owned = reranker;
                State = new ServerState(Source.Id, null, shared with { Reranker = reranker }, metrics) { Routed = true };
                break;
            default:
                var local = LocalModel.Load(path, options);
                _owned = local;
                State = new ServerState(Source.Id, local, shared, metrics) { Routed = true };
                break;
        }
    }

    /// <summary>File bytes plus the KV cache (and recurrent state) of every slot.</summary>
    public long MeasuredCost()
    {
        if (State is not { HasModel: true } state) return FileBytes;
        var info = state.Model.Model.Info;
        var scheduler = state.Model.Scheduler;
        return FileBytes + (info.KvCacheBytesPerToken * scheduler.ContextSize + info.RecurrentBytesPerSequence) * scheduler.SlotCount;
    }

    /// <summary>Takes what holds the loaded model's memory (under the router's gate, as it is marked unloaded).</summary>
    public LoadedModel Detach()
    {
        var loaded = new LoadedModel(State!, _owned!);
        State = null;
        _owned = null;
        return loaded;
    }
}

/// <summary>An unloaded model's state and the objects holding its memory, to be freed outside the router's gate.</summary>
internal sealed record LoadedModel(ServerState State, IDisposable Owned)
{
    /// <summary>Stops the model (its scheduler, its second embedding instance) and releases its file and buffers.</summary>
    public void Free()
    {
        State.ReleaseOwnEmbeddings();
        Owned.Dispose();
    }
}
