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

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 16; i++) { token[0] = (i * 53 + 2) % 500; model.Forward(token, cache, logits); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
