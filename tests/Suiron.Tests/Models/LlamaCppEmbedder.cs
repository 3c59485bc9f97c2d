using LLama;
using LLama.Common;
using LLama.Native;

namespace Suiron.Tests.Models;

/// <summary>
/// llama.cpp's embeddings (through LLamaSharp) as the reference: a context with embeddings on and the pooling given
/// (Unspecified = the file's), CPU only, flash attention off, F16 cache for decoders (BERT has none), the whole input
/// in one micro-batch. Returns what <c>llama_get_embeddings_seq</c> (pooled) or <c>llama_get_embeddings_ith</c>
/// (pooling none) return: unnormalized vectors.
/// </summary>
internal sealed class LlamaCppEmbedder : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly bool _hasCache;

    public LlamaCppEmbedder(string path, LLamaPoolingType pooling = LLamaPoolingType.Unspecified, bool hasCache = false)
    {
        var parameters = new ModelParams(path)
        {
            ContextSize = 512,
            BatchSize = 512,
            UBatchSize = 512,
            SeqMax = 1,
            GpuLayerCount = 0,
            Threads = 2,
            BatchThreads = 2,
            FlashAttention = false,
            TypeK = GGMLType.GGML_TYPE_F16,
            TypeV = GGMLType.GGML_TYPE_F16,
            Embeddings = true,
            PoolingType = pooling,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
        _hasCache = hasCache;
        Dimensions = _context.EmbeddingSize;
    }

    public int Dimensions { get; }

    /// <summary>llama.cpp's tokens for <paramref name="text"/> (special-token text parsed; with <paramref name="addSpecial"/>, [CLS] … [SEP] for BERT, BOS where the vocabulary adds it).</summary>
    public int[] Tokenize(string text, bool addSpecial = true) => _context.Tokenize(text, addBos: addSpecial, special: true).Select(t => (int)t).ToArray();

    /// <summary>The pooled embedding of <paramref name="tokens"/>.</summary>
    public float[] Pooled(int[] tokens)
    {
        Decode(tokens);
        return _context.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero).ToArray();
    }

    /// <summary>Every token's embedding (pooling none), row-major.</summary>
    public float[] PerToken(int[] tokens)
    {
        Decode(tokens);
        var rows = new float[tokens.Length * Dimensions];
        for (int i = 0; i < tokens.Length; i++)
            _context.NativeHandle.GetEmbeddingsIth(i).CopyTo(rows.AsSpan(i * Dimensions, Dimensions));
        return rows;
    }

    private void Decode(int[] tokens)
    {
        if (_hasCache) _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
        DecodeResult result = _context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
