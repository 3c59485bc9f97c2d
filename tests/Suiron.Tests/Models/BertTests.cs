using LLama.Native;
using Suiron.Embeddings;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tensors;
using Suiron.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Models;

/// <summary>
/// The tiny random <c>bert</c> model (bge vocabulary) against llama.cpp's embeddings on the same file: pooled vectors
/// (mean, cls) and per-token vectors (none), English and Japanese inputs, F32 and F16 weights.
/// </summary>
public sealed class BertTests(ITestOutputHelper output)
{
    internal static readonly string[] Texts =
    [
        "Hello world",
        "The quick brown fox jumps over the lazy dog, twice!",
        "Embeddings map sentences to vectors; similar meanings land close together.",
        "東京は日本の首都です。",
        "吾輩は猫である。名前はまだ無い。",
        "a",
    ];

    /// <summary>
    /// Compared after L2 normalization (what users get), so the bound is on unit vectors (components ~0.1).
    /// F32 weights: the only rounding is GELU's F16 table, which both engines apply identically, so mostly only
    /// summation order differs (~1e-7); but an input that lands on the other side of an F16 rounding boundary jumps by
    /// 2⁻¹¹ of itself and the layers spread that: measured max |Δ| 1e-5 pooled, 2.4e-4 per token (un-normalized,
    /// O(1) values). F16 weights add F16 activations before each matmul on both sides: measured 2.6e-5 pooled.
    /// Bounds sit an order above; a real bug (a missing bias, norm, position or type embedding, wrong scale or
    /// mask) moves the vector by O(0.1).
    /// </summary>
    private static double Tolerance(TensorType type) => type == TensorType.F32 ? 1e-4 : 1e-3;

    private const double MinimumCosine = 0.9999;

    public static TheoryData<int, string> PooledCases => new()
    {
        { 1, "F32" }, { 2, "F32" }, { 1, "F16" }, { 2, "F16" },
    };

    [Theory]
    [MemberData(nameof(PooledCases))]
    public void PooledEmbeddingsMatchLlamaCpp(int pooling, string typeName)
    {
        TensorType type = Enum.Parse<TensorType>(typeName);
        string path = EmbeddingModelBuilder.Bert(pooling, type);
        using var oracle = new LlamaCppEmbedder(path);
        using var file = GgufFile.Open(path);
        using var model = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 2 });
        var tokenizer = Tokenizer.FromGguf(file);
        Assert.Equal((EmbeddingPooling)pooling, model.Pooling);
        Assert.Equal(oracle.Dimensions, model.Dimensions);

        double worst = 0, worstCosine = 1;
        foreach (string text in Texts)
        {
            int[] tokens = oracle.Tokenize(text);
            Assert.Equal(tokens, tokenizer.Encode(text, addSpecial: true, parseSpecial: true));
            float[] expected = oracle.Pooled(tokens);
            EmbeddingMath.Normalize(expected);
            float[] actual = model.Embed(tokens);
            double diff = MaxAbsDiff(expected, actual), cosine = EmbeddingMath.CosineSimilarity(expected, actual);
            output.WriteLine($"pooling {pooling} {type} '{text}' ({tokens.Length} tokens): max |Δ| {diff:E2}, cosine {cosine:F9}");
            worst = Math.Max(worst, diff);
            worstCosine = Math.Min(worstCosine, cosine);
        }
        Assert.True(worst <= Tolerance(type), $"max |Δ| {worst:E2} > {Tolerance(type):E0}");
        Assert.True(worstCosine >= MinimumCosine, $"cosine {worstCosine} < {MinimumCosine}");
    }

    [Fact]
    public void UnnormalizedPooledVectorEqualsLlamaCppsRawOutput()
    {
        string path = EmbeddingModelBuilder.Bert(1);
        using var oracle = new LlamaCppEmbedder(path);
        using var file = GgufFile.Open(path);
        using var model = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 2 });
        int[] tokens = oracle.Tokenize(Texts[1]);
        float[] expected = oracle.Pooled(tokens), actual = model.Embed(tokens, normalize: false);
        double diff = MaxAbsDiff(expected, actual), scale = expected.Max(MathF.Abs);
        output.WriteLine($"raw mean-pooled vector: max |Δ| {diff:E2} of max |x| {scale:F3}");
        Assert.True(diff <= 1e-4 * scale);
    }

    [Fact]
    public void PerTokenHiddenStatesMatchLlamaCpp()
    {
        string path = EmbeddingModelBuilder.Bert(0);
        using var oracle = new LlamaCppEmbedder(path);
        using var file = GgufFile.Open(path);
        using var model = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 2 });
        Assert.Equal(EmbeddingPooling.None, model.Pooling);
        Assert.Throws<InvalidOperationException>(() => model.Embed([101, 102]));
        foreach (string text in Texts[..4])
        {
            int[] tokens = oracle.Tokenize(text);
            float[] expected = oracle.PerToken(tokens), actual = model.EmbedTokens(tokens);
            double diff = MaxAbsDiff(expected, actual);
            output.WriteLine($"per token '{text}': max |Δ| {diff:E2} over {tokens.Length} × {model.Dimensions}");
            Assert.True(diff <= 2e-3, $"max |Δ| {diff:E2}"); // LayerNorm'd hidden states are O(1); see Tolerance for the GELU jumps
        }
    }

    [Fact]
    public void FusedQkvEqualsSeparateProjections()
    {
        using var separateFile = GgufFile.Open(EmbeddingModelBuilder.Bert(1));
        using var fusedFile = GgufFile.Open(EmbeddingModelBuilder.Bert(1, fusedQkv: true));
        using var separate = EmbeddingModelLoader.Load(separateFile, new ModelOptions { Threads = 2 });
        using var fused = EmbeddingModelLoader.Load(fusedFile, new ModelOptions { Threads = 2 });
        int[] tokens = Tokenizer.FromGguf(separateFile).Encode(Texts[2]);
        Assert.Equal(separate.Embed(tokens), fused.Embed(tokens));
    }

    [Fact]
    public void PoolingOverrideAndLimits()
    {
        using var file = GgufFile.Open(EmbeddingModelBuilder.Bert(1));
        using var cls = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 1 }, EmbeddingPooling.Cls);
        using var none = EmbeddingModelLoader.Load(file, new ModelOptions { Threads = 1 }, EmbeddingPooling.None);
        Assert.True(EmbeddingModelLoader.IsEmbeddingModel(file));
        int[] tokens = Tokenizer.FromGguf(file).Encode(Texts[0]);
        float[] first = none.EmbedTokens(tokens)[..cls.Dimensions];
        EmbeddingMath.Normalize(first);
        Assert.Equal(first, cls.Embed(tokens));
        Assert.Throws<ArgumentException>(() => cls.Embed([]));
        Assert.Throws<ArgumentException>(() => cls.Embed(new int[EmbeddingModelBuilder.Positions + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => cls.Embed([30522]));
    }

    [Fact]
    public void GeluTableMatchesFormulaWithinF16()
    {
        float[] x = [-12f, -10f, -3.3f, -1f, -0.001f, 0f, 0.5f, 1f, 2.7f, 9.99f, 10f, 50f];
        float[] y = (float[])x.Clone();
        Gelu.Apply(y);
        for (int i = 0; i < x.Length; i++)
        {
            float exact = x[i] <= -10 ? 0 : x[i] >= 10 ? x[i] : Gelu.Exact(x[i]);
            Assert.True(Math.Abs(y[i] - exact) <= 2e-3 * Math.Max(1, Math.Abs(exact)), $"GELU({x[i]}) = {y[i]}, formula {exact}");
        }
    }

    internal static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }
}
