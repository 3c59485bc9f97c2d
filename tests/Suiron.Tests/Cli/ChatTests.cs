using Suiron.Chat;
using Suiron.Cli.Chat;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Cli;

/// <summary><c>suiron chat</c>: piped turns end to end, and the KV-cache reuse between turns against a fresh evaluation.</summary>
public sealed class ChatTests
{
    private static string Stories => SharedData.Path("models", "stories260K.gguf");

    [Fact]
    public void TwoPipedTurnsGiveTwoAnswersAndExitZero()
    {
        var result = SuironProcess.RunWithInput("Hello there\nTell me a story about a cat\n",
            "chat", "--model", Stories, "--temp", "0", "-n", "40", "--threads", "2");
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("no chat template; using ChatML", result.StdErr);
        var reports = result.StdErr.Split('\n').Where(l => l.StartsWith('[')).ToArray();
        Assert.Equal(2, reports.Length);
        Assert.Contains("0 from cache", reports[0]);
        Assert.DoesNotContain(" 0 from cache", reports[1]); // the second turn extends the first
        var answers = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(answers.Length >= 2, result.StdOut);
        Assert.DoesNotContain("> ", result.StdOut); // no prompt when stdin is not a terminal
    }

    [Fact]
    public void ResetExitAndUnknownCommands()
    {
        var result = SuironProcess.RunWithInput("Hi\n/reset\n/nope\nHi\n/exit\nnever sent\n",
            "chat", "--model", Stories, "--temp", "0", "-n", "16", "--threads", "2");
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("(conversation cleared)", result.StdErr);
        Assert.Contains("unknown command /nope", result.StdErr);
        var reports = result.StdErr.Split('\n').Where(l => l.StartsWith('[')).ToArray();
        Assert.Equal(2, reports.Length);
        // After /reset the same message renders the same prompt: same tokens, same greedy answer.
        Assert.Equal(reports[0][reports[0].IndexOf("prompt", StringComparison.Ordinal)..].Split(',')[0],
                     reports[1][reports[1].IndexOf("prompt", StringComparison.Ordinal)..].Split(',')[0]);
    }

    [Fact]
    public void BadOptionsAreUsageErrors()
    {
        var result = SuironProcess.RunWithInput("", "chat", "--model", Stories, "--threads", "0");
        Assert.Equal(2, result.ExitCode);
        var missing = SuironProcess.RunWithInput("", "chat", "--model", "/nonexistent.gguf");
        Assert.Equal(1, missing.ExitCode);
    }

    [Fact]
    public void ReusingTheCacheGivesTheSameAnswersAsEvaluatingEverything()
    {
        using var file = GgufFile.Open(Stories);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        var prompt = ChatPrompt.FromGguf(file, tokenizer);
        string[] turns = ["Once upon a time", "What happened next?", "And then?"];
        var greedy = new SamplingOptions { Temperature = 0 };

        var reusing = new ChatSession(model, tokenizer, prompt, 512, system: "You tell stories.") { Sampling = greedy, MaxTokens = 32 };
        var fresh = new ChatSession(model, tokenizer, prompt, 512, system: "You tell stories.", reuseCache: false) { Sampling = greedy, MaxTokens = 32 };
        for (int i = 0; i < turns.Length; i++)
        {
            var streamed = new System.Text.StringBuilder();
            var a = reusing.Send(turns[i], onContent: piece => streamed.Append(piece));
            var b = fresh.Send(turns[i]);
            Assert.Equal(b.Content, a.Content);
            Assert.Equal(a.Content, streamed.ToString());
            Assert.Equal(0, b.ReusedTokens);
            if (i > 0) Assert.True(a.ReusedTokens > 0, $"turn {i} reused nothing");
            Assert.True(a.ReusedTokens < a.PromptTokens);
        }
    }

    /// <summary>Speculative answers are the plain answers, turn after turn: the cache a speculating turn leaves is reused as is.</summary>
    [Fact]
    public void SpeculatingGivesTheSameAnswersTurnAfterTurn()
    {
        using var file = GgufFile.Open(Stories);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        var prompt = ChatPrompt.FromGguf(file, tokenizer);
        string[] turns = ["Lily saw a ball. Lily saw a ball. Lily saw", "What happened next?", "And then?"];
        var greedy = new SamplingOptions { Temperature = 0 };
        var plain = new ChatSession(model, tokenizer, prompt, 512, system: "You tell stories.") { Sampling = greedy, MaxTokens = 40 };
        var speculating = new ChatSession(model, tokenizer, prompt, 512, system: "You tell stories.")
            { Sampling = greedy, MaxTokens = 40, Speculation = new Suiron.Inference.SpeculationOptions() };
        foreach (string turn in turns)
        {
            var a = plain.Send(turn);
            var b = speculating.Send(turn);
            Assert.Equal(a.Content, b.Content);
            Assert.Equal(a.ReusedTokens, b.ReusedTokens);
        }
        Assert.Equal(plain.CachedTokens, speculating.CachedTokens);
    }

    [Fact]
    public void CancelledAnswerKeepsWhatWasSaidAndTheNextTurnStillWorks()
    {
        using var file = GgufFile.Open(Stories);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 512 });
        var session = new ChatSession(model, tokenizer, ChatPrompt.FromGguf(file, tokenizer), 512, system: null)
        {
            Sampling = new SamplingOptions { Temperature = 0 }, MaxTokens = 200,
        };
        using var cancel = new CancellationTokenSource();
        int pieces = 0;
        var turn = session.Send("Once upon a time", onContent: _ => { if (++pieces == 5) cancel.Cancel(); }, cancellation: cancel.Token);
        Assert.Equal(FinishReason.Cancelled, turn.Finish);
        Assert.NotEmpty(turn.Content);
        var next = session.Send("Go on");
        Assert.True(next.ReusedTokens > 0);
        Assert.True(session.CachedTokens <= session.ContextSize);
    }

    [Fact]
    public void TemplateThatOpensAThinkBlockSendsTheOutputToReasoning()
    {
        using var file = GgufFile.Open(Stories);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 256 });
        // ChatML whose assistant turn starts inside <think>, as R1 distills' templates do.
        var template = new ChatTemplate(
            "{%- for message in messages -%}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}{%- endfor -%}" +
            "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n<think>\n' -}}{%- endif -%}");
        var session = new ChatSession(model, tokenizer, new ChatPrompt(template, tokenizer), 256, system: null)
        {
            Sampling = new SamplingOptions { Temperature = 0 }, MaxTokens = 24,
        };
        var reasoning = new System.Text.StringBuilder();
        var turn = session.Send("Once upon a time", onReasoning: piece => reasoning.Append(piece));
        Assert.NotEmpty(turn.Reasoning);
        Assert.Equal(turn.Reasoning, reasoning.ToString());
        Assert.Empty(turn.Content); // the story never closes the block
    }

    [Fact]
    public void ConversationLongerThanTheContextIsRefusedAndLeftAsItWas()
    {
        using var file = GgufFile.Open(Stories);
        var tokenizer = Tokenizer.FromGguf(file);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 64 });
        var session = new ChatSession(model, tokenizer, ChatPrompt.FromGguf(file, tokenizer), 64, system: null) { MaxTokens = 8 };
        var e = Assert.Throws<ChatContextFullException>(() => session.Send(string.Concat(Enumerable.Repeat("a long story ", 40))));
        Assert.Contains("/reset", e.Message);
        Assert.NotEmpty(session.Send("Hi").Content + " "); // still usable
    }

    /// <summary>
    /// An answer stopped by a full context says so (with room for n-predict), one stopped by --n-predict says that: the
    /// greedy stories260K answer runs past 200 tokens without an end token, so the limit that binds is the one hit.
    /// </summary>
    [Fact]
    public void AnAnswerThatFillsTheContextIsToldApartFromOneCutByNPredict()
    {
        var full = SuironProcess.RunWithInput("Once upon a time\n", "chat", "--model", Stories, "--temp", "0", "-c", "96", "-n", "500", "-t", "2");
        Assert.True(full.ExitCode == 0, full.StdErr);
        Assert.Matches(@"\[the context is full \(96 tokens\); /reset to start over; ", full.StdErr);
        var cut = SuironProcess.RunWithInput("Once upon a time\n", "chat", "--model", Stories, "--temp", "0", "-c", "512", "-n", "8", "-t", "2");
        Assert.True(cut.ExitCode == 0, cut.StdErr);
        Assert.Contains("[cut at the --n-predict limit; 8 tokens", cut.StdErr);
    }

    [Fact]
    public void NegativeTemperatureIsRefused()
    {
        var result = SuironProcess.RunWithInput("", "chat", "--model", Stories, "--temp", "-1");
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --temp must be ≥ 0", result.StdErr);
    }
}
