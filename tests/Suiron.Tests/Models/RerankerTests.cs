using LLama.Native;
using Suiron.Embeddings;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Models;

/// <summary>
/// Tiny random rerankers against llama.cpp's rank pooling on the same file and the same tokens: a bert cross-encoder (bge
/// vocabulary) with the RoBERTa-style dense + tanh head and with the single projection, and a Qwen3-Reranker.
/// </summary>
public sealed class RerankerTests
{
    private static readonly (string Query, string Document)[] Pairs =
    [
        ("What is a panda?", "The giant panda is a bear species endemic to China."),
        ("What is a panda?", "hi"),
        ("東京の天気は？", "今日の東京は晴れ、最高気温は21度です。"),
        ("a", "The quick brown fox jumps over the lazy dog, twice!"),
    ];

    /// <summary>
    /// The encoder matches llama.cpp to ~1e-5 (BertTests); the head is two small matrix products and a tanh on top,
    /// so the scores (O(1)) agree to that order too. A wrong head (a missing tanh, bias or the wrong token) moves them by O(0.1).
    /// </summary>
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ScoresMatchLlamaCppRankPooling(bool dense)
    {
        string path = EmbeddingModelBuilder.BertReranker(dense);
        using var oracle = new LlamaCppEmbedder(path, LLamaPoolingType.Rank);
        using var reranker = SuironReranker.Load(path, new ModelOptions { Threads = 2 });
        using var file = GgufFile.Open(path);
        var vocabulary = Tokenizer.FromGguf(file).Vocabulary;
        var scores = new List<float>();
        foreach (var (query, document) in Pairs)
        {
            int[] tokens = reranker.Tokenize(query, document);
            // llama-server's form with bge's flags (add_bos, add_sep; no add_eos): [CLS] query [SEP] document.
            int[] queryTokens = oracle.Tokenize(query)[1..^1], documentTokens = oracle.Tokenize(document)[1..^1];
            Assert.Equal([vocabulary.BosId, .. queryTokens, vocabulary.SeparatorId, .. documentTokens], tokens);

            float expected = oracle.Pooled(tokens)[0];
            float actual = reranker.Score(tokens);
            Assert.True(Math.Abs(expected - actual) <= Tolerance, $"{query} / {document}: llama.cpp {expected}, ours {actual}");
            scores.Add(actual);
        }
        Assert.True(scores.Max() - scores.Min() > 0.01, "the scores should differ between pairs");
    }

    /// <summary>
    /// Qwen3-Reranker as llama.cpp converts it (the tiny qwen3, cls.output = two output rows, a reranking prompt): the
    /// pair is the filled prompt read with its special tokens, and the score is softmax(yes, no) over the last token.
    /// </summary>
    [Fact]
    public void Qwen3RerankerScoresMatchLlamaCpp()
    {
        string path = EmbeddingModelBuilder.Qwen3Reranker(yes: 10, no: 20);
        using var oracle = new LlamaCppEmbedder(path, LLamaPoolingType.Rank, hasCache: true);
        using var reranker = SuironReranker.Load(path, new ModelOptions { Threads = 2 });
        var scores = new List<float>();
        foreach (var (query, document) in Pairs)
        {
            int[] tokens = reranker.Tokenize(query, document);
            string prompt = $"<|im_start|>system\nJudge.<|im_end|>\n<|im_start|>user\n<Query>: {query}\n<Document>: {document}<|im_end|>\n<|im_start|>assistant\n";
            Assert.Equal(oracle.Tokenize(prompt, addSpecial: false), tokens); // llama-server reads the filled prompt without adding BOS
            float expected = oracle.Pooled(tokens)[0];
            float actual = reranker.Score(tokens);
            Assert.True(Math.Abs(expected - actual) <= Tolerance, $"{query} / {document}: llama.cpp {expected}, ours {actual}");
            Assert.InRange(actual, 0f, 1f);
            scores.Add(actual);
        }
        Assert.True(scores.Max() - scores.Min() > 0.01, "the scores should differ between pairs");
    }

    [Fact]
    public void AFileWithoutAClassificationHeadIsNotAReranker()
    {
        var e = Assert.Throws<NotSupportedException>(() => SuironReranker.Load(EmbeddingModelBuilder.Bert(pooling: 2)));
        Assert.Contains("classification head", e.Message);
        e = Assert.Throws<NotSupportedException>(() => SuironReranker.Load(TinyModelBuilder.F32(TinyModelOracleTests.Qwen3)));
        Assert.Contains("cls.output", e.Message);
    }
}
