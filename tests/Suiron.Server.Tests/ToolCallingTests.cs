using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using Suiron.Chat;
using Suiron.Inference;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;
using OpenAIChatMessage = OpenAI.Chat.ChatMessage;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using AIResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat;

namespace Suiron.Server.Tests;

/// <summary>A tiny random qwen3 model with Qwen3's real tokenizer (151k tokens) and chat template: a model that has never seen a tool.</summary>
public sealed class QwenToolsFixture : ServerFixture
{
    protected override string ModelPath => TestModels.Qwen3Tiny;
    protected override LocalModelOptions ModelOptions => new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 2048 }, Slots = 2, QueueLimit = 16 };
}

/// <summary>
/// Tool calling end to end: with tool_choice required (or a named function) the call is grammar-constrained to the
/// family's syntax and the function's parameters, so it parses even from a model that knows nothing of tools.
/// </summary>
public sealed class ToolCallingTests(QwenToolsFixture fixture) : IClassFixture<QwenToolsFixture>
{
    private const string WeatherParameters = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]}
        """;

    private static ChatTool Weather => ChatTool.CreateFunctionTool("get_weather", "Weather forecast for a city", BinaryData.FromString(WeatherParameters));
    private static ChatTool Clock => ChatTool.CreateFunctionTool("get_time", "The time now", BinaryData.FromString("""{"type":"object","properties":{}}"""));

    [Fact]
    public void TheTemplateIsDetectedAsHermesAndRendersTheTools()
    {
        var chat = fixture.Model.Chat;
        Assert.Equal("hermes", chat.ToolFormat.Name);
        var vocabulary = fixture.Model.Tokenizer.Vocabulary;
        Assert.Equal(151_669, vocabulary.Count);
        Assert.Equal(new HashSet<int> { vocabulary.IdOf("<tool_call>"), vocabulary.IdOf("</tool_call>") }, chat.ToolTokens.ToHashSet());
        var tools = JsonNode.Parse("""[{"type":"function","function":{"name":"get_weather","parameters":""" + WeatherParameters + "}}]");
        var messages = JsonNode.Parse("""
            [{"role":"user","content":"Weather?"},
             {"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","days":2}}}]},
             {"role":"tool","tool_call_id":"call_1","content":"sunny"}]
            """)!.AsArray();
        string prompt = chat.Render(messages, variables: [KeyValuePair.Create<string, JsonNode?>("tools", tools)]);
        Assert.Contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"", prompt);
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>", prompt);
        Assert.Contains("<tool_response>\nsunny\n</tool_response>", prompt);
    }

    /// <summary>
    /// llama.cpp reads the tiny model as we do: the rendered tool prompt tokenizes to the same ids (the real Qwen3
    /// vocabulary, merges and pre-tokenizer; &lt;tool_call&gt; and &lt;|im_start|&gt; as single tokens) and the greedy
    /// continuation is the same.
    /// </summary>
    [Fact]
    public void LlamaCppTokenizesAndContinuesTheToolPromptAsWeDo()
    {
        var tools = JsonNode.Parse("""[{"type":"function","function":{"name":"get_weather","parameters":""" + WeatherParameters + "}}]");
        var messages = JsonNode.Parse("""[{"role":"user","content":"What's the weather in Paris? Réponds en français, s'il te plaît."}]""")!.AsArray();
        string prompt = fixture.Model.Chat.Render(messages, variables: [KeyValuePair.Create<string, JsonNode?>("tools", tools)]);
        int[] ours = fixture.Model.Chat.Encode(prompt);

        var parameters = new LLama.Common.ModelParams(TestModels.Qwen3Tiny) { ContextSize = 1024, BatchSize = 1024, GpuLayerCount = 0, Threads = 1, FlashAttention = false };
        using var weights = LLama.LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        int[] theirs = context.Tokenize(prompt, addBos: true, special: true).Select(t => (int)t).ToArray();
        Assert.Equal(theirs, ours);
        Assert.Contains(fixture.Model.Tokenizer.Vocabulary.IdOf("<|im_start|>"), ours);

        var batch = new LLama.Native.LLamaBatch();
        for (int i = 0; i < theirs.Length; i++) batch.Add((LLama.Native.LLamaToken)theirs[i], i, LLama.Native.LLamaSeqId.Zero, i == theirs.Length - 1);
        var expected = new List<int>();
        for (int position = theirs.Length; expected.Count < 8; position++)
        {
            Assert.Equal(LLama.Native.DecodeResult.Ok, context.Decode(batch));
            float[] logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
            int next = Array.IndexOf(logits, logits.Max());
            expected.Add(next);
            batch.Clear();
            batch.Add((LLama.Native.LLamaToken)next, position, LLama.Native.LLamaSeqId.Zero, true);
        }
        using var file = Gguf.GgufFile.Open(TestModels.Qwen3Tiny);
        using var model = Models.ModelLoader.Load(file, new Models.ModelOptions { Threads = 1, ContextSize = 1024 });
        var cache = model.CreateCache(1024);
        var ourLogits = new float[model.Info.VocabSize];
        model.Forward(ours, cache, ourLogits);
        var actual = new List<int>();
        while (actual.Count < 8)
        {
            int next = Sampling.Sampler.ArgMax(ourLogits);
            actual.Add(next);
            model.Forward([next], cache, ourLogits);
        }
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void MarkerTokensThatAreControlTokensArePrintedWhenAsked()
    {
        var tokenizer = fixture.Model.Tokenizer;
        int imStart = tokenizer.Vocabulary.IdOf("<|im_start|>"); // a control token: hidden by default
        Assert.Equal("", new Tokenization.StreamingDecoder(tokenizer, continuesText: true).Push(imStart));
        Assert.Equal("<|im_start|>", new Tokenization.StreamingDecoder(tokenizer, continuesText: true, renderedTokens: new HashSet<int> { imStart }).Push(imStart));
    }

    [Fact]
    public async Task RequiredCallParsesThenTheToolResultIsAnswered()
    {
        var client = fixture.OpenAI().GetChatClient("qwen3-tiny");
        var schema = JsonSchema.FromText(WeatherParameters);
        for (int seed = 1; seed <= 3; seed++)
        {
            var options = new ChatCompletionOptions { Temperature = 1, Seed = seed, MaxOutputTokenCount = 200, ToolChoice = ChatToolChoice.CreateRequiredChoice(), Tools = { Weather, Clock } };
            List<OpenAIChatMessage> messages = [new UserChatMessage("What's the weather in Paris?")];
            ChatCompletion completion = await client.CompleteChatAsync(messages, options);
            Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
            var call = Assert.Single(completion.ToolCalls);
            Assert.StartsWith("call_", call.Id);
            Assert.Contains(call.FunctionName, new[] { "get_weather", "get_time" });
            if (call.FunctionName == "get_weather")
                Assert.True(schema.Evaluate(JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement).IsValid, call.FunctionArguments.ToString());

            // The tool round goes back through the template: assistant tool_calls, then a tool message.
            messages.Add(new AssistantChatMessage(completion));
            messages.Add(new ToolChatMessage(call.Id, """{"forecast":"sunny"}"""));
            var answer = await client.CompleteChatAsync(messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8, Tools = { Weather, Clock } });
            Assert.NotEqual(ChatFinishReason.ToolCalls, answer.Value.FinishReason);
        }
    }

    /// <summary>
    /// The OpenAI SDK's streaming tool-call updates: the first names the call, the arguments follow in several pieces as
    /// they are generated, and the pieces add up to exactly the arguments the same request returns unstreamed.
    /// </summary>
    [Fact]
    public async Task NamedFunctionStreamsItsArgumentsInPieces()
    {
        var client = fixture.OpenAI().GetChatClient("qwen3-tiny");
        var options = new ChatCompletionOptions { Temperature = 1, Seed = 7, MaxOutputTokenCount = 200, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), Tools = { Clock, Weather } };
        string? id = null, name = null;
        var arguments = new System.Text.StringBuilder();
        int pieces = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather?")], options))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                Assert.Equal(0, part.Index);
                if (id is null)
                {
                    Assert.NotNull(part.ToolCallId);
                    Assert.Equal("get_weather", part.FunctionName); // the first piece names the call
                }
                else Assert.Null(part.ToolCallId);
                id ??= part.ToolCallId;
                name ??= part.FunctionName;
                if (part.FunctionArgumentsUpdate is { } fragment && fragment.ToMemory().Length > 0)
                {
                    arguments.Append(fragment.ToString());
                    pieces++;
                }
            }
            finish ??= update.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.StartsWith("call_", id);
        Assert.Equal("get_weather", name);
        Assert.True(pieces >= 3, $"the arguments came in {pieces} piece(s): {arguments}");
        Assert.True(JsonSchema.FromText(WeatherParameters).Evaluate(JsonDocument.Parse(arguments.ToString()).RootElement).IsValid, arguments.ToString());

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Weather?")], options);
        Assert.Equal(Assert.Single(whole.ToolCalls).FunctionArguments.ToString(), arguments.ToString());
    }

    [Fact]
    public async Task ToolChoiceNoneLeavesToolsOut()
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", """
            {"messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"temperature":0,"tool_choice":"none",
             "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}
            """);
        Assert.Equal(200, status);
        Assert.False(body.GetProperty("choices")[0].GetProperty("message").TryGetProperty("tool_calls", out _));

        (status, body) = await fixture.PostAsync("/v1/chat/completions", """
            {"messages":[{"role":"user","content":"Hi"}],"tool_choice":{"type":"function","function":{"name":"g"}},
             "tools":[{"type":"function","function":{"name":"f"}}]}
            """);
        Assert.Equal(400, status);
        Assert.Equal("tool_choice", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task FunctionInvokingChatClientRoundTripOverHttpAndInProcess()
    {
        IChatClient remote = fixture.OpenAI().GetChatClient("qwen3-tiny").AsIChatClient();
        using IChatClient local = new SuironChatClient(fixture.Model);
        foreach (var inner in new[] { remote, local })
        {
            // The bounded schema (city ≤ 10 characters) lets random weights over a 151k vocabulary still close the string.
            var function = new WeatherFunction();
            using IChatClient client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
            var options = new ChatOptions { Tools = [function], ToolMode = ChatToolMode.RequireAny, Temperature = 1, Seed = 11, MaxOutputTokens = 120 };
            ChatResponse response = await client.GetResponseAsync([new AIChatMessage(AIChatRole.User, "Weather in Paris?")], options);
            Assert.Equal(1, function.Invocations);
            var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single();
            Assert.Equal("get_weather", call.Name);
            Assert.Contains(response.Messages.SelectMany(m => m.Contents), c => c is FunctionResultContent r && r.CallId == call.CallId);
            Assert.Equal(AIChatRole.Assistant, response.Messages[^1].Role);
            Assert.DoesNotContain(response.Messages[^1].Contents, c => c is FunctionCallContent);
        }
    }

    [Fact]
    public async Task ChatClientJsonResponseFormat()
    {
        using IChatClient local = new SuironChatClient(fixture.Model);
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}""").RootElement;
        var response = await local.GetResponseAsync("Answer.", new ChatOptions { ResponseFormat = AIResponseFormat.ForJsonSchema(schema, "answer"), Temperature = 1, Seed = 2, MaxOutputTokens = 60 });
        Assert.True(JsonSchema.FromText(schema.GetRawText()).Evaluate(JsonDocument.Parse(response.Text).RootElement).IsValid, response.Text);
    }
}

/// <summary>Every family end to end in process: the real template renders the tools, the forced call is generated under the family's grammar and parsed back.</summary>
public sealed class ToolFamilyTests
{
    [Theory]
    [InlineData("meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3")]
    [InlineData("deepseek-ai-DeepSeek-V3.1.jinja", "deepseek-v3.1")]
    [InlineData("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-r1")]
    [InlineData("GLM-4.6.jinja", "glm-4.5")]
    [InlineData("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes")]
    [InlineData("Qwen-Qwen2.5-7B-Instruct.jinja", "hermes")]
    [InlineData("google-gemma-2-2b-it.jinja", "generic")]
    [InlineData("vendor:Hunyuan-A13B-Instruct.jinja", "hunyuan-a13b")]
    [InlineData("vendor:ERNIE-4.5-0.3B-PT.jinja", "generic")]
    public async Task RequiredCallRoundTrips(string template, string family)
    {
        // "vendor:" templates are kept in tests/templates, the others come from shared/templates.
        string source = template.StartsWith("vendor:", StringComparison.Ordinal)
            ? File.ReadAllText(VendorTemplateTests.TemplatePath(template["vendor:".Length..]))
            : File.ReadAllText(SharedData.Path("templates", template));
        string path = TestModels.StoriesWithTemplate("tools-" + Path.GetFileNameWithoutExtension(template.Replace(':', '-')), source);
        using var model = LocalModel.Load(path, new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 2048 }, Slots = 1 });
        Assert.Equal(family, model.Chat.ToolFormat.Name);
        using IChatClient client = new SuironChatClient(model);
        var weather = new WeatherFunction();
        var clock = AIFunctionFactory.Create(() => "noon", "get_time", "The time now");
        var options = new ChatOptions { Tools = [weather, clock], ToolMode = ChatToolMode.RequireSpecific("get_weather"), Temperature = 1, Seed = 5, MaxOutputTokens = 200 };
        ChatResponse first = await client.GetResponseAsync([new AIChatMessage(AIChatRole.User, "Weather in Paris?")], options);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(first.Messages[^1].Contents, c => c is FunctionCallContent));
        Assert.Equal("get_weather", call.Name);
        Assert.True(call.Arguments!.ContainsKey("city") && call.Arguments.ContainsKey("days"));

        // The whole round through the function-invoking client: the template renders the call and its result.
        using IChatClient invoking = new ChatClientBuilder(client).UseFunctionInvocation().Build();
        ChatResponse response = await invoking.GetResponseAsync([new AIChatMessage(AIChatRole.User, "Weather in Paris?")],
            new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, Temperature = 1, Seed = 5, MaxOutputTokens = 200 });
        Assert.Equal(1, weather.Invocations);
        Assert.Contains(response.Messages.SelectMany(m => m.Contents), c => c is FunctionResultContent);
    }
}

/// <summary>get_weather with a bounded schema (city ≤ 10 characters, days 1..7), so random text still ends the call.</summary>
internal sealed class WeatherFunction : AIFunction
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {"type":"object","properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]}
        """).RootElement.Clone();

    public int Invocations;
    public override string Name => "get_weather";
    public override string Description => "Weather forecast for a city";
    public override JsonElement JsonSchema => Schema;

    protected override ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Invocations);
        return ValueTask.FromResult<object?>($"sunny in {arguments["city"]} for {arguments["days"]} days");
    }
}
