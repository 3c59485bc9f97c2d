using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Extensions;
using LLama.Native;
using Suiron.Evaluation;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tests.Kernels;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Evaluation;

/// <summary>
/// <c>suiron imatrix</c> against llama-imatrix's own collection: llama.cpp's graph evaluated through LLamaSharp with an
/// eval callback (<c>cb_eval</c>, what llama-imatrix installs) that sums the squared inputs of every MUL_MAT on a
/// <c>blk.*</c> weight over batches of 16 rows or more, and of every MUL_MAT_ID per expert over the tokens its ids route
/// there, chunk by chunk with BOS first. For stories260K and a tiny random qwen3moe every entry and count must be
/// llama.cpp's and every column's sum agree within the two engines' float differences.
/// </summary>
public sealed unsafe class ImportanceMatrixLlamaCppTests
{
    private sealed class Collected
    {
        public readonly Dictionary<string, double[]> Sums = new(StringComparer.Ordinal);   // [matrix][column]
        public readonly Dictionary<string, long[]> Counts = new(StringComparer.Ordinal);   // [matrix]
    }

    // Set only while this test's context decodes: the callback is installed in that context alone. An exception must not
    // escape an unmanaged callback, so a missing collector just declines.
    private static Collected? s_collected;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte Collect(nint tensor, byte ask, nint userData)
    {
        string op = GgmlTensor.Operation(tensor);
        bool routed = op == "MUL_MAT_ID";
        if (op != "MUL_MAT" && !routed) return ask != 0 ? (byte)0 : (byte)1;
        nint weight = GgmlTensor.Source(tensor, 0), input = GgmlTensor.Source(tensor, 1);
        string name = GgmlTensor.Name(weight);
        long* ne = GgmlTensor.Shape(input);
        if (ask != 0) return (byte)(routed || (name.StartsWith("blk.", StringComparison.Ordinal) && ne[1] >= 16) ? 1 : 0);
        if (s_collected is not { } collected) return 0;

        nuint* nb = GgmlTensor.Strides(input);
        byte* data = GgmlTensor.Data(input);
        long columns = ne[0], matrices = routed ? GgmlTensor.Shape(weight)[2] : 1;
        if (!collected.Sums.TryGetValue(name, out var sums))
        {
            collected.Sums[name] = sums = new double[columns * matrices];
            collected.Counts[name] = new long[matrices];
        }
        long[] counts = collected.Counts[name];
        void Add(long matrix, float* x)
        {
            for (long j = 0; j < columns; j++) sums[matrix * columns + j] += (double)x[j] * x[j];
            counts[matrix]++;
        }
        if (!routed)
        {
            for (long row = 0; row < ne[1]; row++) Add(0, (float*)(data + row * (long)nb[1]));
            return 1;
        }
        // MUL_MAT_ID: ids [experts used, tokens] (int32) name each token's experts; input row (slot % ne[1], token).
        nint ids = GgmlTensor.Source(tensor, 2);
        long* idsShape = GgmlTensor.Shape(ids);
        nuint* idsStrides = GgmlTensor.Strides(ids);
        byte* idsData = GgmlTensor.Data(ids);
        for (long token = 0; token < idsShape[1]; token++)
            for (long slot = 0; slot < idsShape[0]; slot++)
            {
                int expert = *(int*)(idsData + token * (long)idsStrides[1] + slot * (long)idsStrides[0]);
                Add(expert, (float*)(data + slot % ne[1] * (long)nb[1] + token * (long)nb[2]));
            }
        return 1;
    }

    public static TheoryData<string> Models => new() { "stories260K", "qwen3moe" };

    [Theory]
    [MemberData(nameof(Models))]
    public void Sums_and_counts_match_llama_cpp_eval_callback(string model)
    {
        const int context = 32, chunks = 3;
        string path = model == "stories260K" ? SharedData.Path("models", "stories260K.gguf") : Suiron.Tests.Models.MoeModelBuilder.Qwen3MoeF32();
        using var file = GgufFile.Open(path);
        var tokenizer = Tokenizer.FromGguf(file);
        int[] tokens = tokenizer.Encode(PerplexityTests.Story, addSpecial: true);
        Assert.True(tokens.Length >= chunks * context);

        var collected = new Collected();
        var parameters = new ModelParams(path)
        {
            ContextSize = context, BatchSize = context, UBatchSize = context, SeqMax = 1, GpuLayerCount = 0, Threads = 1,
            FlashAttention = false, TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, // as PerplexityTests compares logits
        };
        lock (Gate)
        {
            using var weights = LLamaWeights.LoadFromFile(parameters);
            parameters.ToLlamaContextParams(out var contextParams);
            contextParams.cb_eval = (nint)(delegate* unmanaged[Cdecl]<nint, byte, nint, byte>)&Collect;
            s_collected = collected;
            try
            {
                for (int c = 0; c < chunks; c++)
                {
                    using var llama = SafeLLamaContextHandle.Create(weights.NativeHandle, contextParams);
                    var batch = new LLamaBatch();
                    for (int p = 0; p < context; p++)
                        batch.Add(p == 0 && tokenizer.Vocabulary.AddBos ? tokenizer.Vocabulary.BosId : tokens[c * context + p], p, LLamaSeqId.Zero, true);
                    Assert.Equal(DecodeResult.Ok, llama.Decode(batch));
                }
            }
            finally
            {
                s_collected = null;
            }
        }

        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = context, CacheType = Suiron.Inference.KvCacheType.F32 });
        var ours = ImportanceMatrixComputation.Compute(lm, tokenizer, PerplexityTests.Story, new ImportanceMatrixOptions { ContextSize = context, Chunks = chunks });

        Assert.Equal(collected.Sums.Keys.Order(StringComparer.Ordinal), ours.Entries.Keys);
        foreach (var (name, theirs) in collected.Sums)
        {
            var entry = ours.Entries[name];
            long[] counts = collected.Counts[name];
            Assert.Equal(counts.Select(c => (float)c), entry.Counts);
            int columns = entry.Columns;
            for (int m = 0; m < counts.Length; m++)
            {
                double scale = theirs.AsSpan(m * columns, columns).ToArray().DefaultIfEmpty(0).Max();
                for (int j = m * columns; j < (m + 1) * columns; j++)
                    Assert.True(Math.Abs(entry.SumsOfSquares[j] - theirs[j]) <= 1e-4 * scale + 1e-3 * theirs[j],
                        $"{name} matrix {m} column {j % columns}: ours {entry.SumsOfSquares[j]} llama.cpp {theirs[j]} (largest column {scale})");
            }
        }
    }

    private static readonly Lock Gate = new(); // one collecting decode at a time: the collector is a static
}
