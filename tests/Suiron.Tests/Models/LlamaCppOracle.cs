using LLama;
using LLama.Common;
using LLama.Native;

namespace Suiron.Tests.Models;

/// <summary>
/// llama.cpp (through LLamaSharp) as the reference implementation, in a configuration fixed here rather than left
/// to library defaults: CPU only, flash attention OFF (its CPU kernel accumulates V in F16, the plain path the model
/// code mirrors does not), F16 keys and values (llama.cpp's default cache type, stated explicitly), one sequence,
/// batch and micro-batch large enough that a prompt is one graph. Greedy decoding is argmax over its raw logits,
/// token by token, with no sampler chain.
/// </summary>
internal sealed class LlamaCppOracle : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private int _position;

    public LlamaCppOracle(string path, int contextSize = 512, bool f32Cache = false)
        : this(path, f32Cache ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16, f32Cache ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16,
            flashAttention: false, contextSize)
    {
    }

    /// <summary>
    /// An oracle with the given key and value cache types; <paramref name="flashAttention"/> on is what llama.cpp
    /// requires for a quantized value cache (its CPU flash-attention kernel, which Suiron's Q8_0-value path mirrors).
    /// <paramref name="attentionRotation"/>: llama.cpp's Hadamard rotation of Q, K and V for a quantized cache
    /// (ggml-org/llama.cpp#21038, its default; Suiron's <see cref="Suiron.Models.ModelOptions.AttentionRotation"/>), on or
    /// off. F16/F32 caches are never rotated, so it changes nothing there.
    /// </summary>
    public LlamaCppOracle(string path, GGMLType keyType, GGMLType valueType, bool flashAttention, int contextSize = 512, bool attentionRotation = true)
    {
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)contextSize,
            BatchSize = 512,
            UBatchSize = 512,
            SeqMax = 1,
            GpuLayerCount = 0,
            Threads = 2,
            BatchThreads = 2,
            FlashAttention = flashAttention, // false maps to LLAMA_FLASH_ATTN_TYPE_DISABLED (null would leave it at AUTO, which enables it on CPU)
            TypeK = keyType,
            TypeV = valueType,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        // llama.cpp reads LLAMA_ATTN_ROT_DISABLE with getenv when the context creates its cache: set it and create the
        // context under one lock, so that oracles built at the same time by parallel tests each get their own setting.
        lock (RotationSwitch)
        {
            string? before = NativeVariable(RotationVariable);
            SetNativeVariable(RotationVariable, attentionRotation ? "0" : "1");
            try
            {
                _context = _weights.CreateContext(parameters);
            }
            finally
            {
                SetNativeVariable(RotationVariable, before); // as found: the variable means nothing to the rest of the process
            }
        }
        VocabSize = _context.Vocab.Count;
    }

    public int VocabSize { get; }

    private static readonly object RotationSwitch = new();

    private const string RotationVariable = "LLAMA_ATTN_ROT_DISABLE";

    /// <summary>
    /// llama.cpp reads <c>LLAMA_ATTN_ROT_DISABLE</c> with getenv and atoi ("1" turns the rotation off, "0" leaves it on), so it
    /// must be set in the native environment: .NET's Environment.SetEnvironmentVariable does not reach getenv on Unix.
    /// Null unsets it.
    /// </summary>
    private static void SetNativeVariable(string name, string? value)
    {
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, value);
        else if ((value is null ? unsetenv(name) : setenv(name, value, 1)) != 0) throw new InvalidOperationException($"setenv({name}) failed.");
    }

    private static string? NativeVariable(string name) =>
        OperatingSystem.IsWindows() ? Environment.GetEnvironmentVariable(name) : System.Runtime.InteropServices.Marshal.PtrToStringUTF8(getenv(name));

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int unsetenv(string name);

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern IntPtr getenv(string name);

    /// <summary>Token ids from llama.cpp's own tokenizer (so the model tests do not depend on ours).</summary>
    public int[] Tokenize(string text, bool addBos = true) =>
        _context.Tokenize(text, addBos, special: false).Select(t => (int)t).ToArray();

    public void Reset()
    {
        _context.NativeHandle.MemoryClear(true);
        _position = 0;
    }

    /// <summary>Evaluates <paramref name="tokens"/> as one batch after what was evaluated before; returns the last token's logits.</summary>
    public float[] Evaluate(ReadOnlySpan<int> tokens)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++)
            batch.Add((LLamaToken)tokens[i], _position + i, LLamaSeqId.Zero, i == tokens.Length - 1);
        DecodeResult result = _context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
        _position += tokens.Length;
        return _context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
    }

    /// <summary>Evaluates <paramref name="tokens"/> as one batch with logits for every token.</summary>
    public float[][] EvaluateAll(ReadOnlySpan<int> tokens)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++)
            batch.Add((LLamaToken)tokens[i], _position + i, LLamaSeqId.Zero, true);
        DecodeResult result = _context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
        _position += tokens.Length;
        return Enumerable.Range(0, tokens.Length).Select(i => _context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>Logits after <paramref name="prompt"/>, then <paramref name="count"/> greedy tokens decoded one at a time.</summary>
    public (float[] PromptLogits, int[] Continuation) Greedy(int[] prompt, int count)
    {
        var (steps, continuation) = GreedySteps(prompt, count);
        return (steps[0], continuation);
    }

    /// <summary>Greedy decoding that also returns the logits each token was chosen from (step 0: after the prompt).</summary>
    public (float[][] StepLogits, int[] Continuation) GreedySteps(int[] prompt, int count)
    {
        Reset();
        var steps = new float[count][];
        var continuation = new int[count];
        float[] logits = Evaluate(prompt);
        for (int i = 0; i < count; i++)
        {
            steps[i] = logits;
            continuation[i] = ModelAssert.ArgMax(logits);
            if (i + 1 < count) logits = Evaluate([continuation[i]]);
        }
        return (steps, continuation);
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
