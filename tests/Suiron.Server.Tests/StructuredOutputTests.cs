using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using OpenAI.Chat;

namespace Suiron.Server.Tests;

/// <summary>response_format and grammar: stories260K at temperature 1 still writes only JSON valid against the schema.</summary>
[Collection(ServerCollection.Name)]
public sealed class StructuredOutputTests(ServerFixture fixture)
{
    private const string Schema = """
        {"type":"object","properties":{
            "name":{"type":"string","maxLength":12},
            "age":{"type":"integer","minimum":0,"maximum":120},
            "mood":{"enum":["happy","sad"]},
            "tags":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":3}},
         "required":["name","age","mood","tags"],"additionalProperties":false}
        """;

    [Fact]
    public async Task JsonSchemaOutputsValidateAtTemperatureOne()
    {
        var client = fixture.OpenAI().GetChatClient("stories260K");
        var schema = JsonSchema.FromText(Schema);
        for (int seed = 1; seed <= 4; seed++)
        {
            var options = new ChatCompletionOptions
            {
                Temperature = 1,
                Seed = seed,
                MaxOutputTokenCount = 200,
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(Schema), jsonSchemaIsStrict: true),
            };
            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Describe a person.")], options);
            Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
            string text = completion.Content[0].Text;
            var result = schema.Evaluate(JsonDocument.Parse(text).RootElement);
            Assert.True(result.IsValid, text);
        }
    }

    [Fact]
    public async Task JsonObjectAndGrammarOnBothEndpoints()
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions",
            """{"messages":[{"role":"user","content":"Hi"}],"temperature":1,"seed":3,"max_tokens":120,"response_format":{"type":"json_object"}}""");
        Assert.Equal(200, status);
        string text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        if (body.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop")
            Assert.IsType<JsonObject>(JsonNode.Parse(text));
        else
            Assert.StartsWith("{", text);

        (status, body) = await fixture.PostAsync("/v1/completions",
            """{"prompt":"Once upon a time","temperature":1,"seed":5,"max_tokens":40,"grammar":"root ::= (\"yes\" | \"no\") \" \" [a-z]{1,5}"}""");
        Assert.Equal(200, status);
        Assert.Matches("^(yes|no) [a-z]{1,5}$", body.GetProperty("choices")[0].GetProperty("text").GetString());

        (status, body) = await fixture.PostAsync("/v1/completions",
            """{"prompt":"Once","temperature":1,"max_tokens":60,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"integer","minimum":1,"maximum":9}}}}""");
        Assert.Equal(200, status);
        Assert.InRange(int.Parse(body.GetProperty("choices")[0].GetProperty("text").GetString()!.Trim()), 1, 9);
    }

    [Theory]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"frobnicate"}}}}""", "response_format.json_schema.schema.type", "frobnicate")]
    [InlineData("""{"response_format":{"type":"xml"}}""", "response_format.type", "xml")]
    [InlineData("""{"grammar":"root ::= undefined-rule"}""", "grammar", "undefined-rule")]
    [InlineData("""{"grammar":"root ::= \"a\"","response_format":{"type":"json_object"}}""", "response_format", "only one")]
    public async Task InvalidFormatsAre400NamingTheProblem(string extra, string param, string mentioned)
    {
        var request = JsonNode.Parse("""{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4}""")!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(extra)!.AsObject()) request[key] = value?.DeepClone();
        var (status, body) = await fixture.PostAsync("/v1/chat/completions", request.ToJsonString());
        Assert.Equal(400, status);
        Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains(mentioned, body.GetProperty("error").GetProperty("message").GetString());
    }
}
