using System.Text.Json;
using Suiron.Tokenization;

namespace Suiron.Server.Tests;

/// <summary>/v1/completions over raw HTTP (the OpenAI .NET SDK 2.x has no legacy completions client).</summary>
[Collection(ServerCollection.Name)]
public sealed class CompletionsTests(ServerFixture fixture)
{
    [Fact]
    public async Task CompletionContinuesThePromptWithUsage()
    {
        var (status, body) = await fixture.PostAsync("/v1/completions", """{"model":"stories260K","prompt":"Once upon a time","max_tokens":16,"temperature":0}""");
        Assert.Equal(200, status);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.StartsWith(", there was a little girl named Lily", choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(fixture.Model.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: true).Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(16, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + 16, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamingCompletionMatchesAndPromptFormsAgree()
    {
        var (_, whole) = await fixture.PostAsync("/v1/completions", """{"model":"default","prompt":["The dog"],"max_tokens":12,"temperature":0.8,"seed":5}""");
        using var response = await fixture.PostJsonAsync("/v1/completions", """{"model":"default","prompt":"The dog","max_tokens":12,"temperature":0.8,"seed":5,"stream":true,"stream_options":{"include_usage":true}}""");
        string text = "";
        JsonElement last = default;
        await foreach (var e in ServerFixture.ReadEventsAsync(response))
        {
            text += e.GetProperty("choices")[0].GetProperty("text").GetString();
            last = e;
        }
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("text").GetString(), text);
        Assert.Equal(12, last.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        int[] ids = fixture.Model.Tokenizer.Encode("The dog", addSpecial: true, parseSpecial: true);
        var (_, fromIds) = await fixture.PostAsync("/v1/completions", $$"""{"model":"default","prompt":[{{string.Join(',', ids)}}],"max_tokens":12,"temperature":0.8,"seed":5}""");
        Assert.Equal(text, fromIds.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task StopStringsAndLogprobs()
    {
        var (_, body) = await fixture.PostAsync("/v1/completions", """{"model":"default","prompt":"Once upon a time","max_tokens":30,"temperature":0,"stop":["Lily","zzz"],"logprobs":2}""");
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(", there was a little girl named ", choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var logprobs = choice.GetProperty("logprobs");
        int n = logprobs.GetProperty("tokens").GetArrayLength();
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), n);
        Assert.All(logprobs.GetProperty("top_logprobs").EnumerateArray(), top => Assert.Equal(2, top.EnumerateObject().Count()));
        Assert.All(logprobs.GetProperty("token_logprobs").EnumerateArray(), lp => Assert.True(lp.GetSingle() <= 0));
    }

    [Fact]
    public async Task BadPromptsAre400()
    {
        foreach (var (json, fragment) in new[]
        {
            ("""{"model":"default","prompt":["a","b"]}""", "one prompt"),
            ("""{"model":"default","prompt":[99999]}""", "outside the vocabulary"),
            ("""{"model":"default","prompt":42}""", "'prompt' must be"),
            ("""{"model":"default"}""", "required"),
            ("""{"model":"default","prompt":"x","max_tokens":-1}""", "max_tokens"),
        })
        {
            var (status, body) = await fixture.PostAsync("/v1/completions", json);
            Assert.Equal(400, status);
            Assert.Contains(fragment, body.GetProperty("error").GetProperty("message").GetString());
        }
    }
}
