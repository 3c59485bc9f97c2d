using System.Text.Json;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>One slot and a save folder, as <c>suiron serve --parallel 1 --slot-save-path DIR</c>.</summary>
public sealed class SlotSaveFixture : ServerFixture
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("suiron-slots-").FullName;
    protected override LocalModelOptions ModelOptions => new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 256 }, Slots = 1, QueueLimit = 8 };
    protected override SuironServerOptions ServerOptions => base.ServerOptions with { SlotSavePath = Folder };
}

/// <summary>llama-server's slot save / restore / erase: a saved prefix comes back from the file and is not evaluated again.</summary>
public sealed class SlotSaveTests(SlotSaveFixture fixture) : IClassFixture<SlotSaveFixture>
{
    private const string Chat = """{"max_tokens":16,"temperature":0,"messages":[{"role":"system","content":"Tell a story."},{"role":"user","content":"Tom and his red ball"}]}""";

    private async Task<(string Text, int Prompt, int Cached)> ChatAsync()
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", Chat);
        Assert.Equal(200, status);
        var usage = body.GetProperty("usage");
        return (body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!,
            usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    [Fact]
    public async Task ASavedSlotIsRestoredAndItsPrefixIsNotEvaluatedAgain()
    {
        var (text, prompt, _) = await ChatAsync();
        var (status, saved) = await fixture.PostAsync("/slots/0?action=save", """{"filename":"story.bin"}""");
        Assert.Equal(200, status);
        Assert.Equal(0, saved.GetProperty("id_slot").GetInt32());
        Assert.Equal("story.bin", saved.GetProperty("filename").GetString());
        int tokens = saved.GetProperty("n_saved").GetInt32();
        Assert.InRange(tokens, prompt + 15, prompt + 16); // the prompt and the reply (its last token is not evaluated)
        Assert.Equal(new FileInfo(Path.Combine(fixture.Folder, "story.bin")).Length, saved.GetProperty("n_written").GetInt64());
        Assert.True(saved.GetProperty("timings").GetProperty("save_ms").GetDouble() >= 0);

        var (_, erased) = await fixture.PostAsync("/slots/0?action=erase", "{}");
        Assert.Equal(tokens, erased.GetProperty("n_erased").GetInt32());
        Assert.Empty(fixture.Model.Scheduler.PrefixCacheContents()[0]); // what a cluster's prefix directory is told
        var (again, _, cachedAfterErase) = await ChatAsync();
        Assert.Equal(0, cachedAfterErase); // erased: evaluated from the start
        Assert.Equal(text, again);

        await fixture.PostAsync("/slots/0?action=erase", "{}");
        var (restoreStatus, restored) = await fixture.PostAsync("/slots/0?action=restore", """{"filename":"story.bin"}""");
        Assert.Equal(200, restoreStatus);
        Assert.Equal(tokens, restored.GetProperty("n_restored").GetInt32());
        Assert.Equal(saved.GetProperty("n_written").GetInt64(), restored.GetProperty("n_read").GetInt64());
        Assert.Equal(tokens, fixture.Model.Scheduler.PrefixCacheContents()[0].Length);
        var (fromFile, _, cached) = await ChatAsync();
        Assert.Equal(prompt - 1, cached); // the whole prompt but its last token came from the file
        Assert.Equal(text, fromFile);      // and the keys and values were the same
    }

    [Theory]
    [InlineData("/slots/0?action=save", """{"filename":"../escape.bin"}""", 400, "filename")]
    [InlineData("/slots/0?action=save", """{"filename":"a/b.bin"}""", 400, "filename")]
    [InlineData("/slots/0?action=save", """{"name":"x"}""", 400, "filename")]
    [InlineData("/slots/0?action=restore", """{"filename":"missing.bin"}""", 404, "filename")]
    [InlineData("/slots/0?action=fly", "{}", 400, "action")]
    [InlineData("/slots/0", "{}", 400, "action")]
    [InlineData("/slots/7?action=erase", "{}", 400, "id_slot")]
    [InlineData("/slots/-1?action=erase", "{}", 400, "id_slot")]
    public async Task BadSlotRequestsAreRefusedClearly(string path, string body, int expected, string param)
    {
        var (status, error) = await fixture.PostAsync(path, body);
        Assert.Equal(expected, status);
        Assert.Equal(param, error.GetProperty("error").GetProperty("param").GetString());
        Assert.False(File.Exists(Path.Combine(fixture.Folder, "..", "escape.bin")));
    }

    [Fact]
    public async Task AFileThatIsNotASavedSlotOfThisModelIsRefused()
    {
        await File.WriteAllBytesAsync(Path.Combine(fixture.Folder, "garbage.bin"), [1, 2, 3, 4, 5]);
        var (status, error) = await fixture.PostAsync("/slots/0?action=restore", """{"filename":"garbage.bin"}""");
        Assert.Equal(400, status);
        Assert.Equal("invalid_slot_file", error.GetProperty("error").GetProperty("code").GetString());

        // A real slot file cut short.
        await ChatAsync();
        var (_, saved) = await fixture.PostAsync("/slots/0?action=save", """{"filename":"whole.bin"}""");
        byte[] whole = await File.ReadAllBytesAsync(Path.Combine(fixture.Folder, "whole.bin"));
        await File.WriteAllBytesAsync(Path.Combine(fixture.Folder, "cut.bin"), whole[..(whole.Length / 2)]);
        (status, error) = await fixture.PostAsync("/slots/0?action=restore", """{"filename":"cut.bin"}""");
        Assert.Equal(400, status);
        Assert.Equal("invalid_slot_file", error.GetProperty("error").GetProperty("code").GetString());
        // The slot was left empty, not half restored: the next request evaluates its whole prompt.
        var (_, _, cached) = await ChatAsync();
        Assert.Equal(0, cached);
    }
}

[Collection(ServerCollection.Name)]
public sealed class SlotSaveOffTests(ServerFixture fixture)
{
    [Fact]
    public async Task WithoutASavePathSaveIsNotSupportedButEraseWorks()
    {
        var (status, error) = await fixture.PostAsync("/slots/0?action=save", """{"filename":"x.bin"}""");
        Assert.Equal(501, status);
        Assert.Equal("not_supported", error.GetProperty("error").GetProperty("code").GetString());
        (status, _) = await fixture.PostAsync("/slots/0?action=erase", "{}");
        Assert.Equal(200, status);
    }
}
