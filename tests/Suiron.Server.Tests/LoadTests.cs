using System.Text;
using System.Text.Json;

namespace Suiron.Server.Tests;

/// <summary>
/// A bounded load test on loopback: 32 concurrent streaming clients (4 slots, the rest queued) get exactly the outputs
/// the same requests get one at a time; clients that disconnect mid-stream leave no slot behind; memory stays flat.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class LoadTests(ServerFixture fixture)
{
    private static readonly string[] Prompts = ["Once upon a time", "Lily saw a bird", "The sun was hot", "Tom had a red ball", "One day, a cat"];

    private static string Request(int i, int maxTokens) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model"] = "default",
        ["prompt"] = Prompts[i % Prompts.Length],
        ["max_tokens"] = maxTokens,
        ["temperature"] = 0.8,
        ["seed"] = 1000 + i,
        ["stream"] = true,
    });

    /// <summary>Streams one request; with <paramref name="disconnectAfter"/> the client hangs up after that many events.</summary>
    private async Task<string> StreamAsync(string json, int disconnectAfter = int.MaxValue)
    {
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.True(response.IsSuccessStatusCode, await Task.FromResult(response.StatusCode.ToString()));
        var text = new StringBuilder();
        int events = 0;
        await foreach (var e in ServerFixture.ReadEventsAsync(response))
        {
            text.Append(e.GetProperty("choices")[0].GetProperty("text").GetString());
            if (++events >= disconnectAfter)
            {
                cancel.Cancel();
                return "";
            }
        }
        return text.ToString();
    }

    [Fact]
    public async Task ConcurrentClientsGetTheirSequentialOutputsAndLeaveNoSlotBehind()
    {
        const int clients = 32, tokens = 24;
        var sequential = new string[clients];
        for (int i = 0; i < clients; i++) sequential[i] = await StreamAsync(Request(i, tokens));
        Assert.True(sequential.Distinct().Count() > clients / 2, "seeds should give different outputs");

        long[] memory = new long[3];
        var random = new Random(3);
        for (int round = 0; round < 3; round++)
        {
            // All at once; a quarter of the clients (other than the checked ones) hang up after a few events.
            var disconnecting = Enumerable.Range(0, clients).Where(_ => random.Next(4) == 0).ToHashSet();
            var tasks = Enumerable.Range(0, clients).Select(i => Task.Run(() => StreamAsync(Request(i, tokens), disconnecting.Contains(i) ? random.Next(1, 6) : int.MaxValue))).ToArray();
            string[] concurrent = await Task.WhenAll(tasks);
            for (int i = 0; i < clients; i++)
                if (!disconnecting.Contains(i)) Assert.Equal(sequential[i], concurrent[i]);

            await fixture.WaitForIdleAsync();
            Assert.Equal(0, fixture.Model.Scheduler.ActiveSlots);
            Assert.Equal(0, fixture.Model.Scheduler.QueueDepth);
            string metrics = await fixture.MetricsAsync();
            Assert.Contains("\nsuiron_active_slots 0\n", metrics);
            Assert.Contains("\nsuiron_queue_depth 0\n", metrics);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            memory[round] = GC.GetTotalMemory(forceFullCollection: true);
        }
        // Flat: the last round holds no more than the first plus a small allowance (no per-request leak).
        Assert.True(memory[2] < memory[0] + 16 * 1024 * 1024, $"managed memory grew from {memory[0]} to {memory[2]} bytes");
    }
}
