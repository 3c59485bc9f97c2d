using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Models;

/// <summary>Steady-state decoding allocates nothing: scratch, per-thread attention buffers and encoded activations are reused.</summary>
public class DecodeAllocationTests
{
    public static IEnumerable<object[]> Cases() =>
        from type in new[] { TensorType.F32, TensorType.F16, TensorType.Q8_0, TensorType.Q4_K }
        from threads in new[] { 1, 2 }
        select new object[] { type, threads };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decode_steps_allocate_nothing_once_warm(TensorType type, int threads)
    {
        string path = type == TensorType.F32 ? TinyModelBuilder.F32(TinyModelOracleTests.Qwen2Yarn) : TinyModelBuilder.Ours(TinyModelOracleTests.Qwen2Yarn, type);
        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = threads, ContextSize = 128 });
        KvCache cache = model.CreateCache(128);
        var logits = new float[model.Info.VocabSize];
        int[] prompt = [1, 5, 9, 14, 3, 7];
        int[] token = [0];

        model.Forward(prompt, cache, logits);
        for (int i = 0; i < 8; i++) { token[0] = (i * 37 + 11) % 500; model.Forward(token, cache, logits); } // warm: JIT, pools, scratch

        Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() =>
        {
            for (int i = 0; i < 16; i++) { token[0] = (i * 53 + 2) % 500; model.Forward(token, cache, logits); }
        }));
    }

    public static TheoryData<string> MoeModels => new() { "glm4moe", "deepseek2" };

    /// <summary>The same for the MoE models, one sequence and three sequences batched (the scheduler's decode step).</summary>
    [Theory]
    [MemberData(nameof(MoeModels))]
    public void Moe_decode_steps_allocate_nothing_once_warm(string name)
    {
        string path = name == "glm4moe" ? MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true) : MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV3);
        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 128 });
        var logits = new float[3 * model.Info.VocabSize];
        KvCache[] caches = [model.CreateCache(128), model.CreateCache(128), model.CreateCache(128)];
        int[][] tokens = [[0], [0], [0]];
        var items = new SequenceTokens[3];
        int[] prompt = [1, 5, 9, 14, 3, 7];
        foreach (var cache in caches) model.Forward(prompt, cache, logits);

        void Step(int i)
        {
            model.Forward(tokens[0], caches[0], logits);
            for (int s = 0; s < 3; s++)
            {
                tokens[s][0] = (i * 53 + 17 * s + 2) % 500;
                items[s] = new SequenceTokens(tokens[s], caches[s]);
            }
            model.ForwardBatch(items, logits);
        }
        for (int i = 0; i < 6; i++) Step(i); // warm: JIT, pools, scratch

        Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() => { for (int i = 6; i < 16; i++) Step(i); }));
    }

    /// <summary>The Q8_0 cache paths (query quantized into the per-thread scratch, online softmax over Q8_0 values) too.</summary>
    [Theory]
    [InlineData(KvCacheType.Q8_0, KvCacheType.F16, 1)]
    [InlineData(KvCacheType.Q8_0, KvCacheType.Q8_0, 2)]
    [InlineData(KvCacheType.F16, KvCacheType.Q8_0, 2)]
    public void Decode_steps_with_a_q8_0_cache_allocate_nothing_once_warm(KvCacheType keyType, KvCacheType valueType, int threads)
    {
        using var file = GgufFile.Open(TinyModelBuilder.Ours(TinyModelOracleTests.Qwen2Yarn, TensorType.Q8_0));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = threads, ContextSize = 128, KeyCacheType = keyType, ValueCacheType = valueType });
        KvCache cache = model.CreateCache(128);
        var logits = new float[model.Info.VocabSize];
        int[] token = [0];
        model.Forward([1, 5, 9, 14, 3, 7], cache, logits);
        for (int i = 0; i < 8; i++) { token[0] = (i * 37 + 11) % 500; model.Forward(token, cache, logits); }

        Assert.Equal(0, ThreadAllocation.SteadyStateBytes(() =>
        {
            for (int i = 0; i < 16; i++) { token[0] = (i * 53 + 2) % 500; model.Forward(token, cache, logits); }
        }));
    }
}
