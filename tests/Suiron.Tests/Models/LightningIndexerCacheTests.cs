using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Extensions;
using LLama.Native;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Tests.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// The lightning indexer's F16 key cache against llama.cpp's own: llama.cpp multiplies indexer queries and keys by a
/// Walsh–Hadamard matrix before it caches the keys (its indexer cache always rotates), so with an F16 cache the rounded
/// values are those of the rotated key. Scores are the same either way in exact arithmetic, but which positions a
/// near-tie selects depends on the rounding, so ours must round the same vector. The keys llama.cpp writes are read
/// from its graph with an eval callback (the SET_ROWS into its indexer cache), ours from our cache after the same
/// prompt, on F32 weights where the two engines' keys agree to float rounding before the cache rounds them.
/// </summary>
public sealed unsafe class LightningIndexerCacheTests(ITestOutputHelper output)
{
    private const int HalfType = 1;

    // Set only while this test's context decodes; the callback is installed in that context alone.
    private static Dictionary<int, ushort[]>? s_keys;
    private static int s_rows;
    private static readonly Lock Gate = new();

    /// <summary>Keeps the rows written into each layer's indexer cache: a SET_ROWS named <c>cache_k_l{i}</c>, F16, one indexer head wide.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte Collect(nint tensor, byte ask, nint userData)
    {
        string op = GgmlTensor.Operation(tensor), name = GgmlTensor.Name(tensor);
        long* ne = GgmlTensor.Shape(tensor);
        bool indexerCache = op == "SET_ROWS" && name.StartsWith("cache_k_l", StringComparison.Ordinal)
            && GgmlTensor.Type(tensor) == HalfType && ne[0] == DeepSeekSpec.IndexerHeadLength;
        if (ask != 0) return indexerCache ? (byte)1 : (byte)0;
        if (!indexerCache || s_keys is not { } keys) return 1;
        int layer = int.Parse(name.AsSpan("cache_k_l".Length).TrimEnd(" (view)".ToCharArray()));
        var rows = new ushort[s_rows * ne[0]];
        new ReadOnlySpan<ushort>(GgmlTensor.Data(tensor), rows.Length).CopyTo(rows);
        keys[layer] = rows;
        return 1;
    }

    public static TheoryData<string> Specs => new() { "deepseek32", "glm-dsa" };

    [Theory]
    [MemberData(nameof(Specs))]
    public void F16_indexer_keys_round_the_rotated_key_as_llama_cpp(string spec)
    {
        var s = spec == "glm-dsa" ? MoeModelBuilder.GlmDsa : MoeModelBuilder.DeepSeekV32;
        string path = MoeModelBuilder.F32(s);
        int[] tokens;
        using (var oracle = new LlamaCppOracle(path)) tokens = oracle.Tokenize("Once upon a time, there was a little girl named Lily. She");

        var theirs = new Dictionary<int, ushort[]>();
        var parameters = new ModelParams(path)
        {
            ContextSize = 64, BatchSize = 64, UBatchSize = 64, SeqMax = 1, GpuLayerCount = 0, Threads = 2,
            FlashAttention = false, TypeK = GGMLType.GGML_TYPE_F16, TypeV = GGMLType.GGML_TYPE_F16,
        };
        lock (Gate)
        {
            using var weights = LLamaWeights.LoadFromFile(parameters);
            parameters.ToLlamaContextParams(out var contextParams);
            contextParams.cb_eval = (nint)(delegate* unmanaged[Cdecl]<nint, byte, nint, byte>)&Collect;
            (s_keys, s_rows) = (theirs, tokens.Length);
            try
            {
                using var llama = SafeLLamaContextHandle.Create(weights.NativeHandle, contextParams);
                var batch = new LLamaBatch();
                for (int p = 0; p < tokens.Length; p++) batch.Add(tokens[p], p, LLamaSeqId.Zero, p == tokens.Length - 1);
                Assert.Equal(DecodeResult.Ok, llama.Decode(batch));
            }
            finally
            {
                s_keys = null;
            }
        }

        using var file = GgufFile.Open(path);
        using var model = Suiron.Models.ModelLoader.Load(file, new Suiron.Models.ModelOptions { Threads = 2, CacheType = KvCacheType.F16 });
        var cache = model.CreateCache(64);
        model.Forward(tokens, cache, new float[model.Info.VocabSize]);

        Assert.Equal(DeepSeekSpec.Layers, theirs.Count);
        foreach (var (layer, keys) in theirs.OrderBy(e => e.Key))
        {
            Assert.Equal(DeepSeekSpec.IndexerHeadLength, cache.ValueWidth);
            var ours = MemoryMarshal.Cast<Half, ushort>(cache.ValuesF16(layer)[..keys.Length]);
            int identical = 0, apart = 0;
            for (int row = 0; row < keys.Length / cache.ValueWidth; row++)
            {
                var o = ours.Slice(row * cache.ValueWidth, cache.ValueWidth);
                var t = keys.AsSpan(row * cache.ValueWidth, cache.ValueWidth);
                float largest = 0;
                foreach (ushort bits in t) largest = Math.Max(largest, Math.Abs((float)BitConverter.UInt16BitsToHalf(bits)));
                for (int i = 0; i < t.Length; i++)
                {
                    int ulps = Math.Abs(Ordered(o[i]) - Ordered(t[i]));
                    if (ulps == 0) { identical++; continue; }
                    apart++;
                    float difference = Math.Abs((float)BitConverter.UInt16BitsToHalf(o[i]) - (float)BitConverter.UInt16BitsToHalf(t[i]));
                    // Before rounding, the keys agree to ~1e-6 of the row's scale in the first layer (F32 weights, summation order)
                    // and to ~1e-4 in the last (each layer's F16 attention rounding reaches the next; up to 4.7e-4 seen when the
                    // process runs llama.cpp on another ggml CPU build, see DeepSeek2Tests): an element may land one ulp apart, a
                    // small one a few ulps of its own size, never as far as one ulp of the row's largest (~1e-3 of it); an
                    // unrotated key is O(1) away.
                    Assert.True(ulps <= 1 || difference <= 1e-3f * largest,
                        $"{spec} layer {layer} position {row} element {i}: ours {o[i]:X4}, llama.cpp's {t[i]:X4}, {difference:E2} apart in a row of scale {largest:E2}");
                }
            }
            output.WriteLine($"{spec} layer {layer}: {identical} of {keys.Length} cached F16 indexer key elements bit-identical, {apart} within float rounding");
            // Measured: 99.2-99.9 % identical in every layer but glm-dsa's last (92.8 %, where the hidden states have drifted by
            // ~1e-4), and down to 85 % in deepseek32's last when llama.cpp runs on ggml's noavx CPU build in this process; an
            // unrotated key shares no element with llama.cpp's.
            Assert.True(identical >= keys.Length * 7 / 10, $"{spec} layer {layer}: only {identical} of {keys.Length} elements identical");
        }
    }

    /// <summary>The F16 bit pattern as a monotonic integer, so that neighbouring values differ by one.</summary>
    private static int Ordered(ushort bits) => (bits & 0x8000) != 0 ? -(bits & 0x7FFF) : bits;
}
