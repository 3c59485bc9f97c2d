using System.ClientModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace Suiron.Server.Tests;

/// <summary>/v1/chat/completions driven by the official OpenAI .NET SDK (stories260K, ChatML fallback template).</summary>
[Collection(ServerCollection.Name)]
public sealed class ChatCompletionsTests(ServerFixture fixture)
{
    private ChatClient Chat => fixture.OpenAI().GetChatClient("stories260K");

    private int RenderedPromptTokens(params (string Role, string Content)[] messages)
    {
        var array = new JsonArray(messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray());
        return fixture.Model.Chat.Encode(fixture.Model.Chat.Render(array)).Length;
    }

    [Fact]
    public async Task NonStreamingChatHasContentUsageAndOpenAiFields()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        ChatCompletion completion = await Chat.CompleteChatAsync([new SystemChatMessage("Tell a story."), new UserChatMessage("Once upon a time")], options);

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal("stories260K", completion.Model);
        Assert.StartsWith("fp_", completion.SystemFingerprint);
        Assert.Equal(12, completion.Usage.OutputTokenCount);
        Assert.Equal(RenderedPromptTokens(("system", "Tell a story."), ("user", "Once upon a time")), completion.Usage.InputTokenCount);
        Assert.Equal(completion.Usage.InputTokenCount + 12, completion.Usage.TotalTokenCount);
        Assert.True((DateTimeOffset.UtcNow - completion.CreatedAt).Duration() < TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task StreamingEqualsNonStreamingAndEndsWithUsage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0.7f, Seed = 42 };
        ChatMessage[] messages = [new UserChatMessage("Lily and Tom")];
        ChatCompletion whole = await Chat.CompleteChatAsync(messages, options);

        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var update in Chat.CompleteChatStreamingAsync(messages, options))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
        Assert.True(updates > 5);
        Assert.NotNull(usage);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [Fact]
    public async Task RawStreamIsOpenAiShaped()
    {
        using var response = await fixture.PostJsonAsync("/v1/chat/completions",
            """{"model":"default","messages":[{"role":"user","content":[{"type":"text","text":"Once"},{"type":"text","text":"upon"}]}],"stream":true,"max_tokens":4,"temperature":0,"stream_options":{"include_usage":true}}""");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = new List<JsonElement>();
        await foreach (var e in ServerFixture.ReadEventsAsync(response)) events.Add(e);
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var last = events[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal(4, last.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", events[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, events[1].GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
    }

    [Fact]
    public async Task StopSequenceEndsTheReplyBeforeIt()
    {
        var greedy = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        ChatMessage[] messages = [new UserChatMessage("Once upon a time")];
        string full = (await Chat.CompleteChatAsync(messages, greedy)).Value.Content[0].Text;
        // Stop at the second word of the greedy reply.
        string[] words = full.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length > 3, full);
        string stop = " " + words[2];
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await Chat.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
        Assert.True(stopped.Usage.OutputTokenCount < 40);
    }

    [Fact]
    public async Task LogprobsAreReported()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion completion = await Chat.CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
        Assert.Equal(5, completion.ContentTokenLogProbabilities.Count);
        foreach (var token in completion.ContentTokenLogProbabilities)
        {
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(3, token.TopLogProbabilities.Count);
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(token.Token, token.TopLogProbabilities[0].Token);
            Assert.Equal(token.LogProbability, token.TopLogProbabilities[0].LogProbability, 4);
        }
        Assert.Equal(completion.Content[0].Text, string.Concat(completion.ContentTokenLogProbabilities.Select(t => t.Token)).TrimStart('▁'));
    }

    [Fact]
    public async Task UnknownModelIs404AndBadParametersAre400()
    {
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => fixture.OpenAI().GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, unknown.Status);

        var (status, body) = await fixture.PostAsync("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(404, status);
        Assert.Equal("model_not_found", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("model", body.GetProperty("error").GetProperty("param").GetString());

        foreach (var (json, param) in new[]
        {
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}],"n":2}""", "n"),
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}],"temperature":-1}""", "temperature"),
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}],"top_p":0}""", "top_p"),
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}],"stop":[1,2]}""", "stop"),
            ("""{"model":"default","messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role"),
            ("""{"model":"default","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content"),
            ("""{"model":"default","messages":[]}""", "messages"),
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature"),
            ("""{"model":"default","messages":[{"role":"user","content":"hi"}],"top_logprobs":2}""", "top_logprobs"),
        })
        {
            (status, body) = await fixture.PostAsync("/v1/chat/completions", json);
            Assert.Equal(400, status);
            var error = body.GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        }
    }

    [Fact]
    public async Task MalformedJsonOversizedBodyAndTooLongPrompt()
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", """{"model":"default","messages":[""");
        Assert.Equal(400, status);
        Assert.Contains("not valid JSON", body.GetProperty("error").GetProperty("message").GetString());

        string huge = new string('a', 100 * 1024);
        (status, body) = await fixture.PostAsync("/v1/chat/completions", $$"""{"model":"default","messages":[{"role":"user","content":"{{huge}}"}]}""");
        Assert.Equal(413, status);
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());

        // Fits the body limit but not the 256-token context.
        string longPrompt = string.Concat(Enumerable.Repeat("Once upon a time there was a girl. ", 60));
        var tooLong = await Assert.ThrowsAsync<ClientResultException>(() => Chat.CompleteChatAsync([new UserChatMessage(longPrompt)]));
        Assert.Equal(400, tooLong.Status);
        Assert.Contains("context", tooLong.Message);
        await fixture.WaitForIdleAsync();
        Assert.Equal(0, fixture.Model.Scheduler.ActiveSlots);
    }

    [Fact]
    public async Task ModelsHealthAndMetrics()
    {
        var models = await fixture.OpenAI().GetOpenAIModelClient().GetModelsAsync();
        Assert.Equal("stories260K", Assert.Single(models.Value).Id);

        using var health = await fixture.Http.GetAsync("/health");
        Assert.True(health.IsSuccessStatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());

        await Chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        string metrics = await fixture.MetricsAsync();
        foreach (string name in new[] { "suiron_requests_total", "suiron_prompt_tokens_total", "suiron_completion_tokens_total", "suiron_queue_depth",
                     "suiron_active_slots", "suiron_tokens_per_second", "suiron_time_to_first_token_seconds" })
        {
            Assert.Contains($"# TYPE {name} ", metrics);
        }
        Assert.Matches("""suiron_requests_total\{endpoint="/v1/chat/completions",status="200"\} [1-9]""", metrics);
        Assert.Contains("suiron_time_to_first_token_seconds_bucket{le=\"+Inf\"}", metrics);
        // Every sample line is "name{labels} number".
        foreach (string line in metrics.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
            Assert.Matches("""^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.eE+-]+$""", line);
    }
}
