using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// The hybrid Qwen families — gated DeltaNet layers with a recurrent state interleaved with gated full attention
/// (<see cref="HybridQwenShape"/>) — on the one Decoder against llama.cpp, with <see cref="MoeOracle"/>'s rules.
/// </summary>
public sealed class HybridQwenOracleTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, Func<string>> F32Files = new()
    {
        ["qwen3next"] = MoeModelBuilder.Qwen3NextF32,
        ["qwen35"] = MoeModelBuilder.Qwen35F32,
        ["qwen35moe"] = MoeModelBuilder.Qwen35MoeF32,
        ["qwen35-mtp"] = MoeModelBuilder.Qwen35MtpF32,
    };

    public static TheoryData<string> Families => new(F32Files.Keys);

    public static TheoryData<string, TensorType> Cases
    {
        get
        {
            var data = new TheoryData<string, TensorType>();
            foreach (string family in F32Files.Keys)
                foreach (var type in new[] { TensorType.F32, TensorType.Q8_0, TensorType.Q4_K })
                    data.Add(family, type);
            return data;
        }
    }

    private static string Path(string family, TensorType type) =>
        type == TensorType.F32 ? F32Files[family]() : MoeModelBuilder.Quantized(F32Files[family](), type);

    private static MixtureOfExperts? Experts(ILanguageModel model) => ((Decoder)model).Experts;

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesLlamaCpp(string family, TensorType type) =>
        MoeOracle.Compare(output, Path(family, type), $"{family} {type}", type, Experts, maxFlips: type == TensorType.F32 ? 2 : 4);

    /// <summary>A prompt of 225 tokens (stories260K's tokenizer): llama.cpp runs it as four chunks of its chunked delta rule (64 tokens each).</summary>
    private const string LongPrompt =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. One day, she saw a big, " +
        "red ball in the park. She ran to the ball and kicked it very hard. The ball flew up into the sky and landed in a tree. " +
        "Lily was sad because she could not reach the ball. Then her friend Tom came to help her. Tom was tall and strong. He " +
        "climbed the tree and got the ball down. Lily was very happy and said thank you to Tom. They played with the ball all day " +
        "long and had lots of fun together. When the sun went down, they went home. Lily";

    [Theory]
    [MemberData(nameof(Families))]
    public void LongPromptWithF32CacheMatchesLlamaCppTightly(string family) =>
        MoeOracle.Compare(output, Path(family, TensorType.F32), $"{family} F32 long", TensorType.F32, Experts, KvCacheType.F32, 1e-5, LongPrompt);

    /// <summary>
    /// The recurrent state carries from one forward pass to the next: the long prompt fed in uneven pieces (one token,
    /// then 37, then the rest) ends on llama.cpp's logits for the whole prompt at once.
    /// </summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void PromptInPiecesMatchesLlamaCppInOnePass(string family)
    {
        string path = Path(family, TensorType.F32);
        using var oracle = new LlamaCppOracle(path, f32Cache: true);
        int[] tokens = oracle.Tokenize(LongPrompt);
        float[] theirs = oracle.Evaluate(tokens);
        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, CacheType = KvCacheType.F32 });
        var cache = model.CreateCache(tokens.Length);
        var ours = new float[model.Info.VocabSize];
        model.Forward(tokens.AsSpan(0, 1), cache, ours);
        model.Forward(tokens.AsSpan(1, 37), cache, ours);
        model.Forward(tokens.AsSpan(38), cache, ours);
        double difference = ModelAssert.MaxRelativeDifference(ours, theirs);
        output.WriteLine($"{family}: {tokens.Length} tokens in 3 passes, max relative logit difference {difference:E2}");
        Assert.True(difference < 1e-5, $"{family}: {difference:E2}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void F32WithF32CacheMatchesLlamaCppTightly(string family) =>
        MoeOracle.Compare(output, Path(family, TensorType.F32), $"{family} F32", TensorType.F32, Experts, KvCacheType.F32, 1e-5);
}
