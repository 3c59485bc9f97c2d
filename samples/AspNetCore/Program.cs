// An ASP.NET Core app hosting a model in process: IChatClient from dependency injection, one POST endpoint.
// dotnet run --project samples/AspNetCore -- --Model=Qwen3-0.6B-Q8_0.gguf
// curl -s localhost:5000/ask -H 'Content-Type: application/json' -d '{"text":"Why is the sky blue?"}'
using Microsoft.Extensions.AI;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Models;

var builder = WebApplication.CreateBuilder(args);
string path = builder.Configuration["Model"] ?? "Qwen3-0.6B-Q8_0.gguf";
// One model for the whole app; 4 slots answer 4 requests at once, in one batched forward pass per token.
builder.Services.AddSingleton(_ => LocalModel.Load(path, new LocalModelOptions { Slots = 4, Model = new ModelOptions { Threads = Environment.ProcessorCount } }));
builder.Services.AddSingleton<IChatClient>(services => new SuironChatClient(services.GetRequiredService<LocalModel>()));

var app = builder.Build();
app.MapPost("/ask", async (Question question, IChatClient chat, CancellationToken cancellation) =>
{
    ChatResponse answer = await chat.GetResponseAsync(question.Text, new ChatOptions { MaxOutputTokens = 256 }, cancellation);
    return Results.Ok(new { answer = answer.Text });
});
app.Run();

internal sealed record Question(string Text);
