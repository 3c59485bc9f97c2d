using Suiron.Inference;

namespace Suiron.Models;

/// <summary>
/// A model that can take a prompt chunk through its layers a few at a time (<see cref="LayeredPromptChunk"/>), so that a
/// scheduler can spread one chunk's work over several steps: deep in a long prompt a single token's attention can cost
/// more than a whole decode step of the sequences beside it, and cutting the prompt into fewer tokens cannot go below one.
/// The chunk's results equal one <see cref="ILanguageModel.Forward"/> of the same tokens, bit for bit.
/// </summary>
internal interface ILayeredPromptModel
{
    /// <summary>Layers a chunk goes through.</summary>
    int LayerCount { get; }

    /// <summary>
    /// Starts a chunk of <paramref name="tokens"/> at positions <c>cache.Count</c> onwards: checks them as
    /// <see cref="ILanguageModel.Forward"/> does (throwing without touching the cache) and embeds them. Nothing is
    /// written to the cache until <see cref="ContinueChunk"/> runs layers; its <c>Count</c> moves only when the last layer
    /// is done. The caller disposes the chunk (finished or not).
    /// </summary>
    LayeredPromptChunk BeginChunk(ReadOnlySpan<int> tokens, KvCache cache);

    /// <summary>
    /// Runs the chunk through at most <paramref name="layers"/> more layers (at least one). After the last layer its rows
    /// are appended to the cache and the logits of its last token are written into <paramref name="logits"/> (length
    /// <c>VocabSize</c>); returns whether that happened. Between calls the chunk's cache must not be used for anything else.
    /// </summary>
    bool ContinueChunk(LayeredPromptChunk chunk, int layers, Span<float> logits);
}

/// <summary>
/// A prompt chunk part-way through the layers: its residual stream after <see cref="NextLayer"/> layers, the cache and
/// positions its rows go to. Keys and values of the layers already run sit in the cache past its <c>Count</c>; a chunk
/// given up leaves them there unseen, but a recurrent state (hybrid models) has then moved on in some layers and not in
/// others, so such a cache must be cleared (<see cref="LeavesCacheInconsistent"/>).
/// </summary>
internal sealed class LayeredPromptChunk : IDisposable
{
    private float[]? _residual;

    internal LayeredPromptChunk(KvCache cache, int tokens, int layerCount, int width)
    {
        Cache = cache;
        Tokens = tokens;
        LayerCount = layerCount;
        FirstPosition = cache.Count;
        // Its own array, not a pooled one: the shared pool keeps what is returned to it per size and core, which a server's
        // varied chunk sizes would turn into memory held for good.
        _residual = new float[tokens * width];
    }

    /// <summary>The cache the chunk's rows go to.</summary>
    public KvCache Cache { get; }

    /// <summary>Tokens in the chunk.</summary>
    public int Tokens { get; }

    /// <summary>Layers a chunk goes through.</summary>
    public int LayerCount { get; }

    /// <summary>The position of the chunk's first token (the cache's <c>Count</c> when it began).</summary>
    public int FirstPosition { get; }

    /// <summary>Layers run so far; the next call starts at this one.</summary>
    public int NextLayer { get; internal set; }

    /// <summary>Layers still to run.</summary>
    public int LayersLeft => LayerCount - NextLayer;

    /// <summary>Whether giving the chunk up now leaves a recurrent state half advanced: the cache must then be cleared.</summary>
    public bool LeavesCacheInconsistent => Cache.Recurrent is not null && NextLayer > 0 && NextLayer < LayerCount;

    /// <summary>The residual stream between calls: Tokens × embedding.</summary>
    internal Span<float> Residual(int width) =>
        (_residual ?? throw new ObjectDisposedException(nameof(LayeredPromptChunk))).AsSpan(0, Tokens * width);

    public void Dispose() => _residual = null;
}
