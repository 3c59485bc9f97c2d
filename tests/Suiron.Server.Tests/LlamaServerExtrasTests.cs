using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Suiron.Server.Tests;

/// <summary>
/// llama-server's /tokenize and /detokenize against llama.cpp's own tokenizer (LLamaSharp) on the same file, and
/// /apply-template and /props against the template and settings the server was given.
/// </summary>
internal static class LlamaCppTokens
{
    /// <summary>llama.cpp's tokens of <paramref name="text"/> (llama_tokenize: add_special, parse_special as given).</summary>
    public static int[] Tokenize(string modelPath, string text, bool addSpecial, bool parseSpecial)
    {
        using var weights = Load(modelPath);
        return weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8).Select(t => (int)t).ToArray();
    }

    /// <summary>llama.cpp's piece of each token as llama-server writes it (common_token_to_piece, special tokens rendered).</summary>
    public static byte[][] Pieces(string modelPath, int[] tokens)
    {
        using var weights = Load(modelPath);
        var buffer = new byte[256];
        return tokens.Select(t =>
        {
            uint length = weights.NativeHandle.TokenToSpan((LLamaToken)t, buffer, 0, true);
            return buffer.AsSpan(0, (int)length).ToArray();
        }).ToArray();
    }

    private static LLamaWeights Load(string modelPath)
        => LLamaWeights.LoadFromFile(new ModelParams(modelPath) { ContextSize = 256, GpuLayerCount = 0, Threads = 1 });

    /// <summary>A piece as llama-server's JSON has it: the string when whole UTF-8, else the byte values.</summary>
    public static JsonNode PieceJson(byte[] piece)
        => Utf8.IsValid(piece) ? JsonValue.Create(Encoding.UTF8.GetString(piece)) : new JsonArray(piece.Select(b => (JsonNode)(int)b).ToArray());
}

[Collection(ServerCollection.Name)]
public sealed class LlamaServerExtrasTests(ServerFixture fixture)
{
    // English and Japanese: stories260K's 512-token SentencePiece vocabulary has no kana, so they come out as byte-fallback tokens.
    private const string Text = "Lily saw a big dog. 猫が好き！ \"quoted\"\nnew line";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TokenizeEqualsLlamaCpp(bool addSpecial)
    {
        int[] expected = LlamaCppTokens.Tokenize(TestModels.Stories, Text, addSpecial, parseSpecial: true);
        var (status, body) = await fixture.PostAsync("/tokenize", JsonSerializer.Serialize(new { content = Text, add_special = addSpecial }));
        Assert.Equal(200, status);
        Assert.Equal(expected, body.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
    }

    [Fact]
    public async Task PiecesAreLlamaCppsStringsOrBytes()
    {
        int[] tokens = LlamaCppTokens.Tokenize(TestModels.Stories, Text, addSpecial: true, parseSpecial: true);
        byte[][] pieces = LlamaCppTokens.Pieces(TestModels.Stories, tokens);
        Assert.Contains(pieces, p => !Utf8.IsValid(p)); // the Japanese bytes
        var (status, body) = await fixture.PostAsync("/tokenize", JsonSerializer.Serialize(new { content = Text, add_special = true, with_pieces = true }));
        Assert.Equal(200, status);
        var items = body.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(tokens.Length, items.Count);
        for (int i = 0; i < tokens.Length; i++)
        {
            Assert.Equal(tokens[i], items[i].GetProperty("id").GetInt32());
            var piece = JsonNode.Parse(items[i].GetProperty("piece").GetRawText());
            Assert.True(JsonNode.DeepEquals(LlamaCppTokens.PieceJson(pieces[i]), piece), $"token {tokens[i]}: {piece?.ToJsonString()}");
        }
    }

    [Fact]
    public async Task DetokenizeJoinsLlamaCppsPieces()
    {
        int[] tokens = LlamaCppTokens.Tokenize(TestModels.Stories, Text, addSpecial: true, parseSpecial: true);
        string expected = Encoding.UTF8.GetString(LlamaCppTokens.Pieces(TestModels.Stories, tokens).SelectMany(p => p).ToArray());
        var (status, body) = await fixture.PostAsync("/detokenize", JsonSerializer.Serialize(new { tokens }));
        Assert.Equal(200, status);
        Assert.Equal(expected, body.GetProperty("content").GetString());
        Assert.EndsWith("猫が好き！ \"quoted\"\nnew line", expected); // the bytes rejoin into the characters

        var (bad, error) = await fixture.PostAsync("/detokenize", """{"tokens":[1,99999]}""");
        Assert.Equal(400, bad);
        Assert.Equal("tokens[1]", error.GetProperty("error").GetProperty("param").GetString());
        (bad, error) = await fixture.PostAsync("/tokenize", """{"content":{"text":"x"}}""");
        Assert.Equal(400, bad);
        Assert.Equal("content", error.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ApplyTemplateIsThePromptChatCompletionsRenders()
    {
        const string messages = """[{"role":"system","content":"Tell a story."},{"role":"user","content":"猫の話"}]""";
        var (status, body) = await fixture.PostAsync("/apply-template", """{"messages":""" + messages + "}");
        Assert.Equal(200, status);
        string prompt = body.GetProperty("prompt").GetString()!;
        Assert.Equal(fixture.Model.Chat.Render(JsonNode.Parse(messages)!.AsArray()), prompt);
        // stories260K has no template: ChatML, ending with the generation prompt.
        Assert.Equal("<|im_start|>system\nTell a story.<|im_end|>\n<|im_start|>user\n猫の話<|im_end|>\n<|im_start|>assistant\n", prompt);
        var (_, chat) = await fixture.PostAsync("/v1/chat/completions", """{"max_tokens":1,"messages":""" + messages + "}");
        var (_, tokens) = await fixture.PostAsync("/tokenize", JsonSerializer.Serialize(new { content = prompt, add_special = true }));
        Assert.Equal(chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), tokens.GetProperty("tokens").GetArrayLength());
    }

    [Fact]
    public async Task PropsReportTheServersSettingsUnderLlamaServersNames()
    {
        using var response = await fixture.Http.GetAsync("/props");
        Assert.Equal(200, (int)response.StatusCode);
        var props = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(4, props.GetProperty("total_slots").GetInt32());
        Assert.Equal(TestModels.Stories, props.GetProperty("model_path").GetString());
        Assert.Equal("stories260K", props.GetProperty("model_alias").GetString());
        var settings = props.GetProperty("default_generation_settings");
        Assert.Equal(256, settings.GetProperty("n_ctx").GetInt32());
        // llama.cpp's sampling defaults (common_params_sampling).
        var parameters = settings.GetProperty("params");
        Assert.Equal(0.8f, parameters.GetProperty("temperature").GetSingle());
        Assert.Equal(40, parameters.GetProperty("top_k").GetInt32());
        Assert.Equal(0.95f, parameters.GetProperty("top_p").GetSingle());
        Assert.Equal(0.05f, parameters.GetProperty("min_p").GetSingle());
        Assert.Equal("<s>", props.GetProperty("bos_token").GetString());
        Assert.Equal("</s>", props.GetProperty("eos_token").GetString());
        Assert.False(props.GetProperty("modalities").GetProperty("vision").GetBoolean());
        Assert.StartsWith("suiron-", props.GetProperty("build_info").GetString());
        Assert.Contains("<|im_start|>", props.GetProperty("chat_template").GetString());
    }
}

/// <summary>The same endpoints on the tiny qwen3: Qwen3's real byte-level BPE vocabulary, its special tokens and its template.</summary>
public sealed class LlamaServerExtrasQwenTests(QwenToolsFixture fixture) : IClassFixture<QwenToolsFixture>
{
    private const string Text = "<|im_start|>user\n東京の天気は？ 🌤️ It's 21℃ — 「晴れ」です。<|im_end|>";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TokenizeAndPiecesEqualLlamaCpp(bool parseSpecial)
    {
        int[] expected = LlamaCppTokens.Tokenize(TestModels.Qwen3Tiny, Text, addSpecial: false, parseSpecial);
        byte[][] pieces = LlamaCppTokens.Pieces(TestModels.Qwen3Tiny, expected);
        var (status, body) = await fixture.PostAsync("/tokenize", JsonSerializer.Serialize(new { content = Text, parse_special = parseSpecial, with_pieces = true }));
        Assert.Equal(200, status);
        var items = body.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(expected, items.Select(t => t.GetProperty("id").GetInt32()));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(JsonNode.DeepEquals(LlamaCppTokens.PieceJson(pieces[i]), JsonNode.Parse(items[i].GetProperty("piece").GetRawText())), $"piece {i}");
        int imStart = fixture.Model.Tokenizer.Vocabulary.IdOf("<|im_start|>");
        Assert.Equal(parseSpecial, expected.Contains(imStart));

        var (_, text) = await fixture.PostAsync("/detokenize", JsonSerializer.Serialize(new { tokens = expected }));
        Assert.Equal(Text, text.GetProperty("content").GetString());
    }

    [Fact]
    public async Task AMixedContentListKeepsIdsAndTokenizesStrings()
    {
        int imStart = fixture.Model.Tokenizer.Vocabulary.IdOf("<|im_start|>");
        int[] tail = LlamaCppTokens.Tokenize(TestModels.Qwen3Tiny, "東京", addSpecial: false, parseSpecial: true);
        var (status, body) = await fixture.PostAsync("/tokenize", $$"""{"content":[{{imStart}},"東京"]}""");
        Assert.Equal(200, status);
        Assert.Equal([imStart, .. tail], body.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
    }

    [Fact]
    public async Task ApplyTemplateRendersToolsAndKwargsAsChatCompletionsDoes()
    {
        const string request = """
            {"messages":[{"role":"user","content":"東京の天気は？"}],"chat_template_kwargs":{"enable_thinking":false},
             "tools":[{"type":"function","function":{"name":"get_weather","description":"天気","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
            """;
        var (status, body) = await fixture.PostAsync("/apply-template", request);
        Assert.Equal(200, status);
        string prompt = body.GetProperty("prompt").GetString()!;
        var tools = JsonNode.Parse("""[{"type":"function","function":{"name":"get_weather","description":"天気","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]""");
        string expected = fixture.Model.Chat.Render(JsonNode.Parse("""[{"role":"user","content":"東京の天気は？"}]""")!.AsArray(),
            variables: [KeyValuePair.Create<string, JsonNode?>("enable_thinking", false), KeyValuePair.Create<string, JsonNode?>("tools", tools)]);
        Assert.Equal(expected, prompt);
        Assert.Contains("<tools>", prompt);
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n", prompt);

        // The template /props reports is the model's own (Qwen3's tokenizer_config.json, as written into the GGUF).
        using var response = await fixture.Http.GetAsync("/props");
        var props = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var config = JsonDocument.Parse(File.ReadAllText(SharedData.Path("tokenizers", "qwen3", "tokenizer_config.json"))).RootElement;
        Assert.Equal(config.GetProperty("chat_template").GetString(), props.GetProperty("chat_template").GetString());
        Assert.True(props.GetProperty("chat_template_caps").GetProperty("supports_tools").GetBoolean());
        Assert.Equal(2, props.GetProperty("total_slots").GetInt32());
    }
}

/// <summary>With an API key, llama-server's endpoints need it as the /v1 ones do.</summary>
public sealed class LlamaServerExtrasAuthTests(KeyedSingleSlotFixture fixture) : IClassFixture<KeyedSingleSlotFixture>
{
    [Theory]
    [InlineData("POST", "/tokenize")]
    [InlineData("POST", "/detokenize")]
    [InlineData("POST", "/apply-template")]
    [InlineData("GET", "/props")]
    public async Task TheyNeedTheKey(string method, string path)
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Address };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = new StringContent("""{"content":"x","tokens":[1],"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json");
        using var refused = await anonymous.SendAsync(request);
        Assert.Equal(401, (int)refused.StatusCode);

        using var keyed = new HttpRequestMessage(new HttpMethod(method), path) { Content = request.Content is null ? null : new StringContent("""{"content":"x","tokens":[1],"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json") };
        using var allowed = await fixture.Http.SendAsync(keyed);
        Assert.Equal(200, (int)allowed.StatusCode);
    }
}
