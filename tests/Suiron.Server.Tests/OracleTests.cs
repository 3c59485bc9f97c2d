using System.Text.Json.Nodes;
using LLama;
using LLama.Common;
using LLama.Native;
using OpenAI.Chat;
using Suiron.Tokenization;

namespace Suiron.Server.Tests;

/// <summary>The server's greedy output equals llama.cpp's (LLamaSharp) greedy continuation of the same prompt, and its usage counts equal llama.cpp's tokenization.</summary>
[Collection(ServerCollection.Name)]
public sealed class OracleTests(ServerFixture fixture)
{
    /// <summary>llama.cpp tokenizes <paramref name="text"/> as its server does (BOS added, special tokens parsed) and continues it greedily until EOS or <paramref name="count"/> tokens.</summary>
    private static (int[] Prompt, int[] Continuation) LlamaCppGreedy(string text, int count)
    {
        var parameters = new ModelParams(TestModels.Stories) { ContextSize = 512, BatchSize = 512, GpuLayerCount = 0, Threads = 1, FlashAttention = false };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        int[] prompt = context.Tokenize(text, addBos: true, special: true).Select(t => (int)t).ToArray();
        var continuation = new List<int>();
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++) batch.Add((LLamaToken)prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        int position = prompt.Length;
        while (continuation.Count < count)
        {
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
            float[] logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
            int next = Array.IndexOf(logits, logits.Max());
            if (weights.Vocab.EOS == (LLamaToken)next) break;
            continuation.Add(next);
            batch.Clear();
            batch.Add((LLamaToken)next, position++, LLamaSeqId.Zero, true);
        }
        return (prompt, continuation.ToArray());
    }

    private string Decode(int[] tokens)
    {
        var decoder = new StreamingDecoder(fixture.Model.Tokenizer, continuesText: true);
        return string.Concat(tokens.Select(decoder.Push)) + decoder.Flush();
    }

    [Fact]
    public async Task GreedyChatEqualsLlamaCppOnTheRenderedPrompt()
    {
        var messages = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Once upon a time there was a cat." });
        string rendered = fixture.Model.Chat.Render(messages);
        var (prompt, expected) = LlamaCppGreedy(rendered, 40);

        ChatCompletion completion = await fixture.OpenAI().GetChatClient("stories260K").CompleteChatAsync(
            [new UserChatMessage("Once upon a time there was a cat.")], new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 });
        Assert.Equal(prompt.Length, completion.Usage.InputTokenCount);
        Assert.Equal(prompt, fixture.Model.Chat.Encode(rendered));
        Assert.Equal(Decode(expected), completion.Content[0].Text);
    }

    [Fact]
    public async Task GreedyCompletionEqualsLlamaCpp()
    {
        var (prompt, expected) = LlamaCppGreedy("Lily wanted to", 48);
        var (_, body) = await fixture.PostAsync("/v1/completions", """{"model":"default","prompt":"Lily wanted to","max_tokens":48,"temperature":0}""");
        Assert.Equal(prompt.Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(Decode(expected), body.GetProperty("choices")[0].GetProperty("text").GetString());
    }
}
