// A local model behind Microsoft.Extensions.AI's IChatClient: a question, then a tool call and its result.
// dotnet run --project samples/ChatWithTools -- Qwen3-0.6B-Q8_0.gguf
using System.Text.Json;
using Microsoft.Extensions.AI;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Models;

string path = args.Length > 0 ? args[0] : "Qwen3-0.6B-Q8_0.gguf";
using LocalModel model = LocalModel.Load(path, new LocalModelOptions { Slots = 1, Model = new ModelOptions { Threads = Environment.ProcessorCount } });
IChatClient chat = new SuironChatClient(model);

ChatResponse answer = await chat.GetResponseAsync("Why is the sky blue?", new ChatOptions { MaxOutputTokens = 64, Temperature = 0 });
Console.WriteLine($"answer: {answer.Text}");

// The tool's parameters become a JSON schema; RequireAny makes the model call it (the call is grammar-constrained to it).
AIFunction weather = AIFunctionFactory.Create((string city, int days) => $"Sunny in {city} for the next {days} days.",
    "get_weather", "The weather forecast for a city");
var options = new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 96, Seed = 1 };
List<ChatMessage> messages = [new(ChatRole.User, "What is the weather in Tokyo this week?")];
ChatResponse response = await chat.GetResponseAsync(messages, options);
foreach (FunctionCallContent call in response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>())
{
    Console.WriteLine($"call: {call.Name}({JsonSerializer.Serialize(call.Arguments)})");
    object? result = await weather.InvokeAsync(new AIFunctionArguments(call.Arguments));
    messages.AddRange(response.Messages);
    messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, result)]));
}
ChatResponse final = await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 64, Temperature = 0 });
Console.WriteLine($"final: {final.Text}");
