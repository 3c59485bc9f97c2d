using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Extensions;
using LLama.Native;

namespace Suiron.Tests.Models;

/// <summary>
/// llama.cpp's multi-token-prediction head as its speculative driver (common/speculative.cpp, draft-mtp) runs it: a target
/// context that exports every row's <c>h_nextn</c> (<c>llama_set_embeddings_nextn(ctx, true, masked: false)</c>) and a second
/// context of type MTP over the same weights (<c>ctx_other</c> = the target) whose batches carry a token and a hidden row
/// each. The MTP context keeps its own one-layer cache: its row at position p is built from token p and the target's
/// hidden state at p − 1 (zeros before the first token). The staging functions are C++ exports, called by their mangled names.
/// CPU only, flash attention off, one sequence, as <see cref="LlamaCppOracle"/>.
/// </summary>
internal sealed unsafe class LlamaCppMtpOracle : IDisposable
{
    // struct llama_batch (llama.h): n_tokens, then token, embd, pos, n_seq_id, seq_id, logits pointers.
    [StructLayout(LayoutKind.Sequential)]
    private struct NativeBatch
    {
        public int Count;
        public int* Tokens;
        public float* Embeddings;
        public int* Positions;
        public int* SequenceCounts;
        public int** SequenceIds;
        public sbyte* Logits;
    }

    private readonly LLamaWeights _weights;
    private readonly SafeLLamaContextHandle _target, _mtp;
    private readonly nint _library;
    private readonly delegate* unmanaged<nint, NativeBatch, int> _decode;
    private readonly delegate* unmanaged<nint, int, float*> _logitsAt, _hiddenAt;
    private readonly delegate* unmanaged<nint, nint> _memory;
    private readonly delegate* unmanaged<nint, int, int, int, byte> _removeRows;
    private readonly delegate* unmanaged<nint, int, int> _lastPosition;
    private int _targetPosition;

    public LlamaCppMtpOracle(string path, bool f32Cache, int contextSize = 256)
    {
        GGMLType cacheType = f32Cache ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16;
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)contextSize, BatchSize = 256, UBatchSize = 256, SeqMax = 1, GpuLayerCount = 0,
            Threads = 2, BatchThreads = 2, FlashAttention = false, TypeK = cacheType, TypeV = cacheType, LoadMTP = true,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        parameters.ToLlamaContextParams(out var targetParams);
        _target = SafeLLamaContextHandle.Create(_weights.NativeHandle, targetParams);
        parameters.ToLlamaContextParams(out var mtpParams);
        mtpParams.context_type = LLamaContextType.Mtp;
        mtpParams.ctx_other = _target.DangerousGetHandle();
        _mtp = SafeLLamaContextHandle.Create(_weights.NativeHandle, mtpParams);
        VocabSize = _target.Vocab.Count;
        Embedding = _weights.NativeHandle.EmbeddingSize;

        _library = LoadedLlama();
        _decode = (delegate* unmanaged<nint, NativeBatch, int>)Export("llama_decode");
        _logitsAt = (delegate* unmanaged<nint, int, float*>)Export("llama_get_logits_ith");
        _hiddenAt = (delegate* unmanaged<nint, int, float*>)Export("_Z30llama_get_embeddings_nextn_ithP13llama_contexti");
        _memory = (delegate* unmanaged<nint, nint>)Export("llama_get_memory");
        _removeRows = (delegate* unmanaged<nint, int, int, int, byte>)Export("llama_memory_seq_rm");
        _lastPosition = (delegate* unmanaged<nint, int, int>)Export("llama_memory_seq_pos_max");
        var exportHidden = (delegate* unmanaged<nint, byte, byte, void>)Export("_Z26llama_set_embeddings_nextnP13llama_contextbb");
        exportHidden(_target.DangerousGetHandle(), 1, 0); // every row of a target batch, as the driver asks
        exportHidden(_mtp.DangerousGetHandle(), 1, 1);
    }

    public int VocabSize { get; }
    public int Embedding { get; }

    /// <summary>The libllama.so LLamaSharp loaded (the CPU variant it picked), found in the process's mappings.</summary>
    private static nint LoadedLlama()
    {
        string? path = File.ReadLines("/proc/self/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length >= 6 && parts[^1].EndsWith("/libllama.so", StringComparison.Ordinal)).Select(parts => parts[^1]).FirstOrDefault();
        if (path is null) throw new InvalidOperationException("libllama.so is not loaded.");
        return NativeLibrary.Load(path);
    }

    private nint Export(string name) => NativeLibrary.TryGetExport(_library, name, out nint f) ? f
        : throw new InvalidOperationException($"libllama.so does not export {name}.");

    public int[] Tokenize(string text) => _target.Tokenize(text, true, false, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();

    /// <summary>Target rows at the next positions: every row's logits and <c>h_nextn</c> come back.</summary>
    public (float[][] Logits, float[][] Hidden) EvaluateTarget(ReadOnlySpan<int> tokens)
    {
        Decode(_target, tokens, null, _targetPosition, allLogits: true);
        _targetPosition += tokens.Length;
        var logits = new float[tokens.Length][];
        var hidden = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            logits[i] = new ReadOnlySpan<float>(_logitsAt(_target.DangerousGetHandle(), i), VocabSize).ToArray();
            hidden[i] = new ReadOnlySpan<float>(_hiddenAt(_target.DangerousGetHandle(), i), Embedding).ToArray();
        }
        return (logits, hidden);
    }

    /// <summary>
    /// MTP rows at positions <paramref name="firstPosition"/>..: token i with hidden row i (one <c>Embedding</c> each); the
    /// last row's draft logits and its own <c>h_nextn</c> (what the next chained draft step takes) come back.
    /// </summary>
    public (float[] Logits, float[] Hidden) EvaluateMtp(ReadOnlySpan<int> tokens, ReadOnlySpan<float> hidden, int firstPosition)
    {
        Decode(_mtp, tokens, hidden, firstPosition, allLogits: false);
        int last = tokens.Length - 1;
        return (new ReadOnlySpan<float>(_logitsAt(_mtp.DangerousGetHandle(), last), VocabSize).ToArray(),
            new ReadOnlySpan<float>(_hiddenAt(_mtp.DangerousGetHandle(), last), Embedding).ToArray());
    }

    /// <summary>Drops the MTP cache's rows from <paramref name="position"/> on (a chained draft's rows).</summary>
    public void TruncateMtp(int position)
    {
        if (_removeRows(_memory(_mtp.DangerousGetHandle()), 0, position, -1) == 0) throw new InvalidOperationException("llama_memory_seq_rm failed.");
    }

    /// <summary>The last position the MTP context's own cache holds (−1: empty).</summary>
    public int MtpLastPosition => _lastPosition(_memory(_mtp.DangerousGetHandle()), 0);

    /// <summary>The last position the target's cache holds (a cache shared with the MTP context would show its rows here).</summary>
    public int TargetLastPosition => _lastPosition(_memory(_target.DangerousGetHandle()), 0);

    private void Decode(SafeLLamaContextHandle context, ReadOnlySpan<int> tokens, ReadOnlySpan<float> hidden, int firstPosition, bool allLogits)
    {
        int n = tokens.Length;
        var tokenArray = tokens.ToArray();
        var positions = new int[n];
        var counts = new int[n];
        var sequence = new int[1];
        var logits = new sbyte[n];
        for (int i = 0; i < n; i++) (positions[i], counts[i], logits[i]) = (firstPosition + i, 1, (sbyte)(allLogits || i == n - 1 ? 1 : 0));
        float[]? embeddings = hidden.IsEmpty ? null : hidden.ToArray();
        fixed (int* t = tokenArray, p = positions, c = counts, s = sequence)
        fixed (sbyte* l = logits)
        fixed (float* e = embeddings)
        {
            var ids = stackalloc int*[n];
            for (int i = 0; i < n; i++) ids[i] = s;
            var batch = new NativeBatch { Count = n, Tokens = t, Embeddings = e, Positions = p, SequenceCounts = c, SequenceIds = ids, Logits = l };
            int result = _decode(context.DangerousGetHandle(), batch);
            if (result != 0) throw new InvalidOperationException($"llama_decode returned {result}.");
        }
    }

    public void Dispose()
    {
        _mtp.Dispose();
        _target.Dispose();
        _weights.Dispose();
    }
}
