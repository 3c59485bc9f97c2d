using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Models;

/// <summary>
/// A prompt chunk taken through the layers a few at a time (<see cref="ILayeredPromptModel"/>) against the same chunk in
/// one <see cref="ILanguageModel.Forward"/>: the same logits bit for bit, the same cache afterwards (the next token's
/// logits agree too), and nothing counted in the cache until the last layer — for plain attention (stories260K, a real
/// model), latent attention with experts (a tiny DeepSeek-V3 shape, and V3.2's sparse attention) and a hybrid with recurrent layers (a tiny Qwen3.5).
/// <see cref="Forward"/> itself is held to llama.cpp by the oracle tests of each family.
/// </summary>
public sealed class LayeredPromptTests
{
    public static TheoryData<string, int> Models => new()
    {
        { "stories260K", 1 }, { "stories260K", 2 }, { "stories260K", 100 },
        { "deepseek2-v3", 1 }, { "deepseek2-v3", 3 }, { "deepseek32", 2 },
        { "qwen35", 1 }, { "qwen35", 2 },
    };

    private static string PathOf(string model) => model switch
    {
        "stories260K" => SharedData.Path("models", "stories260K.gguf"),
        "deepseek2-v3" => MoeModelBuilder.Ours(MoeModelBuilder.DeepSeekV3, TensorType.Q8_0),
        "deepseek32" => MoeModelBuilder.F32(MoeModelBuilder.DeepSeekV32),
        _ => MoeModelBuilder.Qwen35F32(),
    };

    private static int[] Tokens(int count, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(1, vocab)).ToArray();
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Layered_chunk_equals_one_forward_bit_for_bit(string name, int layersPerCall)
    {
        using var file = GgufFile.Open(PathOf(name));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 256 });
        var layeredModel = Assert.IsAssignableFrom<ILayeredPromptModel>(model);
        int vocab = model.Info.VocabSize;
        int[] head = Tokens(23, vocab, 1), chunkTokens = Tokens(37, vocab, 2), next = Tokens(1, vocab, 3);

        // The reference: the head, then the chunk, then one more token, each in one Forward.
        var expected = new float[vocab];
        var expectedNext = new float[vocab];
        var reference = model.CreateCache(256);
        model.Forward(head, reference, expected);
        model.Forward(chunkTokens, reference, expected);
        model.Forward(next, reference, expectedNext);

        var cache = model.CreateCache(256);
        model.Forward(head, cache, new float[vocab]);
        using var chunk = layeredModel.BeginChunk(chunkTokens, cache);
        Assert.Equal(head.Length, chunk.FirstPosition);
        var logits = new float[vocab];
        int calls = 0;
        while (!layeredModel.ContinueChunk(chunk, layersPerCall, logits))
        {
            calls++;
            Assert.Equal(head.Length, cache.Count); // nothing counted before the last layer
            Assert.Equal(layeredModel.LayerCount - Math.Min(layeredModel.LayerCount, calls * layersPerCall), chunk.LayersLeft);
        }
        Assert.Equal((layeredModel.LayerCount + layersPerCall - 1) / layersPerCall - 1, calls);
        Assert.Equal(head.Length + chunkTokens.Length, cache.Count);
        Assert.Equal(expected, logits);

        var actualNext = new float[vocab];
        model.Forward(next, cache, actualNext);
        Assert.Equal(expectedNext, actualNext);
    }

    [Fact]
    public void A_chunk_given_up_part_way_leaves_an_attention_cache_as_it_was()
    {
        using var file = GgufFile.Open(PathOf("stories260K"));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 128 });
        var layeredModel = (ILayeredPromptModel)model;
        int vocab = model.Info.VocabSize;
        int[] head = Tokens(10, vocab, 4), abandoned = Tokens(20, vocab, 5), other = Tokens(15, vocab, 6);
        var expected = new float[vocab];
        var reference = model.CreateCache(128);
        model.Forward(head, reference, new float[vocab]);
        model.Forward(other, reference, expected);

        var cache = model.CreateCache(128);
        model.Forward(head, cache, new float[vocab]);
        using (var chunk = layeredModel.BeginChunk(abandoned, cache))
        {
            Assert.False(layeredModel.ContinueChunk(chunk, 1, new float[vocab]));
            Assert.False(chunk.LeavesCacheInconsistent); // no recurrent state
        }
        Assert.Equal(head.Length, cache.Count);
        var actual = new float[vocab];
        model.Forward(other, cache, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_hybrid_chunk_given_up_part_way_says_its_cache_must_be_cleared()
    {
        using var file = GgufFile.Open(PathOf("qwen35"));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 128 });
        var layeredModel = (ILayeredPromptModel)model;
        var cache = model.CreateCache(128);
        using var chunk = layeredModel.BeginChunk(Tokens(8, model.Info.VocabSize, 7), cache);
        Assert.False(chunk.LeavesCacheInconsistent); // nothing run yet
        Assert.False(layeredModel.ContinueChunk(chunk, 1, new float[model.Info.VocabSize]));
        Assert.True(chunk.LeavesCacheInconsistent);
    }

    [Fact]
    public void Bad_chunks_are_refused_before_anything_is_written()
    {
        using var file = GgufFile.Open(PathOf("stories260K"));
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 300 });
        var layeredModel = (ILayeredPromptModel)model;
        int vocab = model.Info.VocabSize;
        var cache = model.CreateCache(300);
        Assert.Throws<ArgumentOutOfRangeException>(() => layeredModel.BeginChunk([1, vocab], cache));
        Assert.Throws<ArgumentException>(() => layeredModel.BeginChunk([], cache));
        Assert.Throws<ArgumentException>(() => layeredModel.BeginChunk(Tokens(Decoder.MaxBatch + 1, vocab, 8), cache));
        Assert.Throws<InvalidOperationException>(() => layeredModel.BeginChunk(Tokens(10, vocab, 9), model.CreateCache(5)));
        Assert.Equal(0, cache.Count);

        using var chunk = layeredModel.BeginChunk(Tokens(4, vocab, 10), cache);
        Assert.Throws<ArgumentOutOfRangeException>(() => layeredModel.ContinueChunk(chunk, 0, new float[vocab]));
        Assert.Throws<ArgumentException>(() => layeredModel.ContinueChunk(chunk, 1, new float[vocab - 1]));
        model.Forward([5], cache, new float[vocab]); // the cache moves under the chunk
        Assert.Throws<InvalidOperationException>(() => layeredModel.ContinueChunk(chunk, 1, new float[vocab]));
    }
}
