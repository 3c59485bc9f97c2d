using System.Text;
using Suiron.Sampling;
using Suiron.Sampling.Grammar;
using Xunit;
using Gbnf = Suiron.Sampling.Grammar.Grammar;

namespace Suiron.Tests.Grammar;

public sealed class GrammarConstraintTests
{
    // A hand-made vocabulary: whole characters, a character split over two tokens, and one over three.
    private static readonly byte[][] Pieces =
    [
        [],                                  // 0: end of generation
        "a"u8.ToArray(),                     // 1
        "b"u8.ToArray(),                     // 2
        "ab"u8.ToArray(),                    // 3
        "é"u8.ToArray(),                     // 4: C3 A9
        [0xC3],                              // 5: first byte of é (and of other Latin-1 letters)
        [0xA9],                              // 6: last byte of é
        [0xE6],                              // 7: first byte of 日 (E6 97 A5)
        [0x97],                              // 8
        [0xA5],                              // 9
        "日"u8.ToArray(),                    // 10
        "\""u8.ToArray(),                    // 11
        "a\""u8.ToArray(),                   // 12
        [],                                  // 13: a hidden control token
        "b"u8.ToArray(),                     // 14: same bytes as 2
    ];

    private static GrammarVocabulary Vocabulary => new(Pieces, [0]);

    private static bool[] Allowed(GrammarConstraint constraint)
    {
        var allowed = new bool[Pieces.Length];
        constraint.GetAllowedTokens(allowed);
        return allowed;
    }

    private static int[] AllowedIds(GrammarConstraint constraint) =>
        Allowed(constraint).Select((a, i) => (a, i)).Where(x => x.a).Select(x => x.i).ToArray();

    [Fact]
    public void MasksTokenByTokenWithCharactersSplitOverTokens()
    {
        var constraint = new GrammarConstraint(Gbnf.Parse("root ::= \"\\\"\" [a日é]* \"\\\"\""), Vocabulary);
        Assert.Equal([11], AllowedIds(constraint));
        constraint.Accept(11);
        Assert.Equal([1, 4, 5, 7, 10, 11, 12], AllowedIds(constraint));
        constraint.Accept(7);                           // half of 日 pending: only its continuation
        Assert.Equal([8], AllowedIds(constraint));
        Assert.False(constraint.IsComplete);
        constraint.Accept(8);
        Assert.Equal([9], AllowedIds(constraint));
        constraint.Accept(9);
        constraint.Accept(5);                           // C3: é is in the class
        Assert.Equal([6], AllowedIds(constraint));
        constraint.Accept(6);
        constraint.Accept(12);                          // a"
        Assert.True(constraint.IsComplete);
        Assert.Equal([0], AllowedIds(constraint));      // only end of generation
        constraint.Accept(0);
        Assert.True(constraint.IsFinished);
        Assert.Empty(AllowedIds(constraint));
    }

    /// <summary>A speculative draft is cut before its first token the grammar rejects, counted without advancing.</summary>
    [Fact]
    public void AllowedPrefixCountsTheDraftTokensTheGrammarAcceptsInOrder()
    {
        var constraint = new GrammarConstraint(Gbnf.Parse("root ::= \"\\\"\" [a日é]* \"\\\"\""), Vocabulary);
        Assert.Equal(0, constraint.AllowedPrefix([1, 11]));               // a: the opening quote must come first
        Assert.Equal(4, constraint.AllowedPrefix([11, 7, 8, 9, 2, 1]));   // " 日 (over three tokens), then b is not in the class
        Assert.Equal(3, constraint.AllowedPrefix([11, 4, 12, 1]));        // " é a" complete; nothing may follow the closing quote
        Assert.Equal(2, constraint.AllowedPrefix([11, 1, 0]));            // an end-of-generation token ends the count
        Assert.Equal(0, constraint.AllowedPrefix([]));
        Assert.Equal([11], AllowedIds(constraint));                        // nothing was advanced
        constraint.Accept(11);
        Assert.Equal(2, constraint.AllowedPrefix([5, 6, 3]));             // é split over two tokens, then "ab" has b
        Assert.Equal(0, constraint.AllowedPrefix([6]));                    // a continuation byte with nothing before it
    }

    [Fact]
    public void ApplySetsDisallowedLogitsToMinusInfinityAndKeepsTheOthers()
    {
        var constraint = new GrammarConstraint(Gbnf.Parse("root ::= \"b\"+"), Vocabulary);
        var logits = Enumerable.Range(0, Pieces.Length).Select(i => (float)i).ToArray();
        constraint.Apply(logits);
        for (int i = 0; i < logits.Length; i++)
            Assert.Equal(i is 2 or 14 ? i : float.NegativeInfinity, logits[i]);
        Assert.Throws<InvalidOperationException>(() => constraint.Accept(1));
        Assert.Throws<InvalidOperationException>(() => constraint.Accept(0)); // may not end yet
        constraint.Accept(14);
        Assert.True(constraint.IsAllowed(0));
        Assert.True(constraint.IsAllowed(2));
        Assert.False(constraint.IsAllowed(13));
    }

    public static TheoryData<string> RealVocabularies => ["llama-spm", "gpt-2"];

    /// <summary>
    /// The trie walk must agree with checking each token on its own, at every step of a generation, on real
    /// vocabularies (SentencePiece with byte tokens; byte-level BPE with tokens that split characters).
    /// </summary>
    [Theory]
    [MemberData(nameof(RealVocabularies))]
    public void TrieMaskEqualsTokenByTokenCheckOnRealVocabularies(string name)
    {
        var vocabulary = name == "gpt-2" ? GrammarTestVocabularies.Gpt2 : GrammarTestVocabularies.LlamaSpm;
        var grammar = Gbnf.Parse(GbnfGrammars.Json);
        var constraint = new GrammarConstraint(grammar, vocabulary);
        var random = new Random(7);
        var allowed = new bool[vocabulary.Count];
        var history = new List<string>();
        for (int step = 0; step < 40 && !constraint.IsFinished; step++)
        {
            constraint.GetAllowedTokens(allowed);
            var ids = new List<int>();
            for (int id = 0; id < vocabulary.Count; id++)
            {
                Assert.True(allowed[id] == constraint.IsAllowed(id), $"step {step}, token {id}: mask {allowed[id]}");
                if (allowed[id]) ids.Add(id);
            }
            Assert.True(ids.Count > 0, $"step {step}: nothing allowed after {string.Join(" ", history)}");
            int chosen = ids[random.Next(ids.Count)];
            history.Add("[" + string.Join(",", vocabulary.Piece(chosen).ToArray()) + "]");
            constraint.Accept(chosen);
        }
    }

    [Fact]
    public void SamplerWithAGrammarOnlyDrawsAllowedTokensGreedyOrNot()
    {
        var vocabulary = GrammarTestVocabularies.LlamaSpm;
        var grammar = Gbnf.Parse("root ::= \"yes\" | \"no\" | \"maybe\"");
        foreach (var options in new[] { SamplingOptions.Greedy, new SamplingOptions { Temperature = 2f, TopK = 0, TopP = 1, MinP = 0, Seed = 3 } })
        {
            for (int run = 0; run < 20; run++)
            {
                var constraint = new GrammarConstraint(grammar, vocabulary);
                var sampler = new Sampler(vocabulary.Count, options with { Seed = (ulong)run }, constraint);
                var random = new Random(run);
                var logits = new float[vocabulary.Count];
                var output = new List<byte>();
                var tokenizer = Tokenization.TokenizerCache.Vocab("llama-spm");
                for (int step = 0; step < 20 && !constraint.IsFinished; step++)
                {
                    for (int i = 0; i < logits.Length; i++) logits[i] = (float)(random.NextDouble() * 4);
                    int token = sampler.Sample(logits, []);
                    if (!constraint.IsFinished) output.AddRange(tokenizer.Piece(token).ToArray());
                }
                Assert.True(constraint.IsFinished);
                string text = Encoding.UTF8.GetString(output.ToArray());
                Assert.True(text is "yes" or "no" or "maybe", $"got \"{text}\"");
            }
        }
    }

    [Fact]
    public void SamplerWithoutAGrammarIsUnchanged()
    {
        float[] logits = [1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1f];
        var options = new SamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0, Seed = 42 };
        var a = new Sampler(6, options);
        var b = new Sampler(6, options, grammar: null);
        for (int i = 0; i < 100; i++) Assert.Equal(a.Sample(logits, []), b.Sample(logits, []));
    }
}
