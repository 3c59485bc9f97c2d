using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using Suiron.Tensors;
using Suiron.Benchmarking;

namespace Suiron.Bench;

/// <summary>
/// llama.cpp (LLamaSharp.Backend.Cpu) as a benchmark subject, set up as llama-bench runs a CPU test: no GPU layers,
/// one sequence, F16 keys and values, micro-batch 512 and a batch that holds the whole prompt (one
/// <c>llama_decode</c>), the same thread count for prompt and generation, flash attention as chosen (llama-bench's
/// default is off). The prompt is one batch with logits for its last token; generation feeds one token per
/// <c>llama_decode</c> and takes the argmax of its logits, as Suiron's subject does.
/// </summary>
internal sealed class LlamaCppSubject : IBenchmarkSubject, IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();

    /// <param name="keyType">Cache type of keys (llama.cpp's <c>-ctk</c>); <paramref name="valueType"/> of values (<c>-ctv</c>):
    /// a quantized value cache needs flash attention on, as llama.cpp requires.</param>
    public LlamaCppSubject(string path, int threads, int maxTokens, bool? flashAttention,
        GGMLType keyType = GGMLType.GGML_TYPE_F16, GGMLType valueType = GGMLType.GGML_TYPE_F16)
    {
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)maxTokens,
            BatchSize = (uint)Math.Max(maxTokens, 512),
            UBatchSize = 512,
            SeqMax = 1,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
            FlashAttention = flashAttention, // null = llama.cpp's AUTO
            TypeK = keyType,
            TypeV = valueType,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
        VocabSize = _context.Vocab.Count;
    }

    public string Name => "llama.cpp";

    public int VocabSize { get; }

    public double TimePrompt(ReadOnlySpan<int> context, ReadOnlySpan<int> tokens)
    {
        Fill(context);
        _batch.Clear();
        for (int i = 0; i < tokens.Length; i++) _batch.Add((LLamaToken)tokens[i], context.Length + i, LLamaSeqId.Zero, i == tokens.Length - 1);
        long start = Stopwatch.GetTimestamp();
        Decode();
        _ = _context.NativeHandle.GetLogitsIth(tokens.Length - 1)[0]; // waits for the computation, as llama_synchronize
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public double TimeGeneration(ReadOnlySpan<int> context, int firstToken, int count)
    {
        Fill(context);
        int token = firstToken;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            _batch.Clear();
            _batch.Add((LLamaToken)token, context.Length + i, LLamaSeqId.Zero, true);
            Decode();
            token = BenchmarkTokens.ArgMax(_context.NativeHandle.GetLogitsIth(0));
        }
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>The context the cache was last filled with.</summary>
    private int[] _filled = [];

    /// <summary>
    /// Leaves exactly <paramref name="context"/> in the cache (untimed): when the cache already starts with it, the
    /// previous run's positions are removed; else it is cleared and the context evaluated in batches of 512.
    /// </summary>
    private void Fill(ReadOnlySpan<int> context)
    {
        if (!context.IsEmpty && context.SequenceEqual(_filled))
        {
            // A recurrent state cannot lose its last positions: llama.cpp then keeps them, and the cache is filled again.
            _context.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, context.Length, -1);
            if (_context.NativeHandle.MemorySequenceMaxPosition(LLamaSeqId.Zero) == context.Length - 1) return;
        }
        _context.NativeHandle.MemoryClear(true);
        _filled = context.ToArray();
        for (int start = 0; start < context.Length; start += 512)
        {
            _batch.Clear();
            int end = Math.Min(context.Length, start + 512);
            for (int i = start; i < end; i++) _batch.Add((LLamaToken)context[i], i, LLamaSeqId.Zero, i == end - 1);
            Decode();
        }
    }

    private void Decode()
    {
        DecodeResult result = _context.Decode(_batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
    }

    /// <summary>Silences llama.cpp's log but for errors, which go to stderr. Call before anything loads the native library.</summary>
    public static void ConfigureLogging() =>
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            if (level == LLamaLogLevel.Error) Console.Error.Write($"llama.cpp: {message}");
        });

    /// <summary>Loads the native library through LLamaSharp's resolver (which picks the AVX variant); the quantizer's
    /// entry points live outside <see cref="NativeApi"/> and would not trigger that on their own.</summary>
    public static void LoadNative() => NativeApi.llama_empty_call();

    /// <summary>llama.cpp's own description of its build and CPU features (ggml's system info).</summary>
    public static string SystemInfo()
    {
        LoadNative();
        return System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info()) ?? "";
    }

    /// <summary>Quantizes with llama.cpp's own quantizer (llama_model_quantize: its type rules and its block quantizers).</summary>
    public static void Quantize(string source, string destination, BenchFileType fileType, int threads)
    {
        if (fileType == BenchFileType.IQ2_XXS)
        {
            GgmlChunkQuantizer.Write(source, destination, TensorType.IQ2_XXS, (uint)fileType, threads);
            return;
        }
        var ftype = fileType switch
        {
            BenchFileType.Q8_0 => LLamaFtype.MOSTLY_Q8_0,
            BenchFileType.Q4_K_M => LLamaFtype.MOSTLY_Q4_K_M,
            BenchFileType.IQ4_XS => LLamaFtype.MOSTLY_IQ4_XS,
            BenchFileType.MXFP4_MOE => LLamaFtype.LLAMA_FTYPE_MOSTLY_MXFP4_MOE,
            _ => throw new ArgumentException($"llama.cpp quantization to {fileType} is not set up here."),
        };
        LoadNative();
        string tmp = destination + ".tmp";
        // llama_model_quantize itself: LLamaSharp's wrapper refuses file types newer than it (MXFP4_MOE).
        var parameters = LLamaModelQuantizeParams.Default();
        parameters.nthread = threads;
        parameters.ftype = ftype;
        parameters.quantize_output_tensor = true;
        if (NativeApi.llama_model_quantize(source, tmp, ref parameters) != 0)
            throw new InvalidOperationException($"llama.cpp failed to quantize {source} to {fileType}.");
        File.Move(tmp, destination, overwrite: true);
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
