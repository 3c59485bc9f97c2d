using Microsoft.Extensions.AI;
using OpenAI;
using Suiron.Chat;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>Microsoft.Extensions.AI: the server through the OpenAI provider, and <see cref="SuironChatClient"/> in process over the same scheduler.</summary>
[Collection(ServerCollection.Name)]
public sealed class ChatClientTests(ServerFixture fixture)
{
    [Fact]
    public async Task MicrosoftExtensionsAiOverTheServerAndInProcessAgree()
    {
        IChatClient remote = fixture.OpenAI().GetChatClient("stories260K").AsIChatClient();
        using IChatClient local = new SuironChatClient(fixture.Model);
        var options = new ChatOptions { MaxOutputTokens = 16, Temperature = 0 };
        ChatMessage[] messages = [new(ChatRole.User, "Once upon a time")];

        ChatResponse overHttp = await remote.GetResponseAsync(messages, options);
        ChatResponse inProcess = await local.GetResponseAsync(messages, options);
        Assert.Equal(overHttp.Text, inProcess.Text);
        Assert.False(string.IsNullOrEmpty(inProcess.Text));
        Assert.Equal(ChatFinishReason.Length, inProcess.FinishReason);
        Assert.Equal(16, inProcess.Usage!.OutputTokenCount);
        Assert.Equal(overHttp.Usage!.InputTokenCount, inProcess.Usage.InputTokenCount);

        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in local.GetStreamingResponseAsync(messages, options)) streamed.Add(update);
        Assert.Equal(inProcess.Text, string.Concat(streamed.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, streamed[^1].FinishReason);
        Assert.Contains(streamed.SelectMany(u => u.Contents), c => c is UsageContent);

        var remoteStreamed = new List<ChatResponseUpdate>();
        await foreach (var update in remote.GetStreamingResponseAsync(messages, options)) remoteStreamed.Add(update);
        Assert.Equal(inProcess.Text, string.Concat(remoteStreamed.Select(u => u.Text)));
        Assert.Equal("stories260K", local.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task ReasoningOfATemplateThatOpensThinkIsSplitOffInEveryPath()
    {
        // A template that opens <think> in the generation prompt (as R1 distills do); this model never closes it,
        // so everything it writes is reasoning and the answer is empty, over HTTP and in process, streamed or not.
        string path = TestModels.StoriesWithTemplate("stories-think", TestModels.ThinkingChatMl);
        using var model = LocalModel.Load(path, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 256 }, Slots = 2 });
        Assert.True(model.Chat.SupportsReasoning);
        using IChatClient local = new SuironChatClient(model);
        var options = new ChatOptions { MaxOutputTokens = 12, Temperature = 0 };
        ChatResponse response = await local.GetResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")], options);
        var reasoning = Assert.IsType<TextReasoningContent>(response.Messages[0].Contents[0]);
        Assert.False(string.IsNullOrWhiteSpace(reasoning.Text));
        Assert.Equal("", response.Text);

        await using var server = SuironServer.Create(model, new SuironServerOptions { Port = 0 });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        const string body = """{"model":"stories-think","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":12,"temperature":0}""";
        using var plain = await http.PostAsync("/v1/chat/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var message = System.Text.Json.JsonDocument.Parse(await plain.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(reasoning.Text, message.GetProperty("reasoning_content").GetString());
        Assert.Equal("", message.GetProperty("content").GetString());

        using var streamed = await http.PostAsync("/v1/chat/completions", new StringContent(body[..^1] + ",\"stream\":true}", System.Text.Encoding.UTF8, "application/json"));
        string streamedReasoning = "", streamedContent = "";
        await foreach (var e in ServerFixture.ReadEventsAsync(streamed))
        {
            var delta = e.GetProperty("choices")[0].GetProperty("delta");
            if (delta.TryGetProperty("reasoning_content", out var r)) streamedReasoning += r.GetString();
            if (delta.TryGetProperty("content", out var c)) streamedContent += c.GetString();
        }
        Assert.Equal(reasoning.Text, streamedReasoning);
        Assert.Equal("", streamedContent);
        await server.StopAsync();
    }
}
