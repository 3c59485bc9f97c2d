using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OpenAI;
using Suiron.Inference;

namespace Suiron.Server.Tests;

/// <summary>A real server (Kestrel on 127.0.0.1, a free port) over a loaded model, shared by the tests of a collection.</summary>
public class ServerFixture : IAsyncLifetime
{
    protected virtual string ModelPath => TestModels.Stories;
    protected virtual LocalModelOptions ModelOptions => new() { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 256 }, Slots = 4, QueueLimit = 64 };
    protected virtual SuironServerOptions ServerOptions => new() { Port = 0, MaxRequestBodyBytes = 64 * 1024 };

    public LocalModel Model { get; private set; } = null!;
    public SuironServer Server { get; private set; } = null!;
    public Uri Address => Server.Address;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Model = LocalModel.Load(ModelPath, ModelOptions);
        Server = SuironServer.Create(Model, ServerOptions);
        await Server.StartAsync();
        Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromMinutes(2) };
        if (ServerOptions.ApiKey is { } key) Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        Model.Dispose();
    }

    /// <summary>The official OpenAI SDK pointed at this server.</summary>
    public OpenAIClient OpenAI(string key = "unused")
        => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(Address, "/v1"), NetworkTimeout = TimeSpan.FromMinutes(2) });

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, CancellationToken cancellation = default)
        => Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), cancellation);

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var response = await PostJsonAsync(path, json);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Reads a server-sent event stream: the JSON payload of each <c>data:</c> line up to <c>[DONE]</c>.</summary>
    public static async IAsyncEnumerable<JsonElement> ReadEventsAsync(HttpResponseMessage response)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line["data: ".Length..];
            if (data == "[DONE]") yield break;
            yield return JsonDocument.Parse(data).RootElement.Clone();
        }
        throw new InvalidDataException("The stream ended without data: [DONE].");
    }

    public async Task<string> MetricsAsync() => await Http.GetStringAsync("/metrics");

    /// <summary>Waits until no slot is generating and nothing waits (a finished or cancelled request frees its slot within a step).</summary>
    public async Task WaitForIdleAsync()
    {
        var scheduler = Model.Scheduler;
        for (int i = 0; i < 200 && (scheduler.ActiveSlots > 0 || scheduler.QueueDepth > 0); i++) await Task.Delay(25);
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "stories260K server";
}
