using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Suiron.Inference;

namespace Suiron.Server;

/// <summary>
/// Counters for /metrics in Prometheus' text format: requests by endpoint and status, prompt and completion tokens,
/// time to first token (histogram), and the scheduler's gauges (queue depth, active slots, tokens/s).
/// </summary>
public sealed class ServerMetrics
{
    /// <summary>Upper bounds (seconds) of the time-to-first-token histogram buckets.</summary>
    private static readonly double[] TtftBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> _requests = new();
    private readonly long[] _ttftCounts = new long[TtftBuckets.Length + 1];
    private readonly object _ttftLock = new();
    private double _ttftSum;
    private long _ttftCount, _promptTokens, _completionTokens;

    public void CountRequest(string endpoint, int status) => _requests.AddOrUpdate((endpoint, status), 1, static (_, n) => n + 1);

    public long RequestCount(string endpoint, int status) => _requests.GetValueOrDefault((endpoint, status));

    /// <summary>Records a finished generation's token counts and time to first token.</summary>
    public void RecordGeneration(GenerationStream stream)
    {
        Interlocked.Add(ref _promptTokens, stream.PromptTokens);
        Interlocked.Add(ref _completionTokens, stream.GeneratedTokens);
        if (stream.TimeToFirstToken is not { } ttft) return;
        double seconds = ttft.TotalSeconds;
        lock (_ttftLock)
        {
            int bucket = 0;
            while (bucket < TtftBuckets.Length && seconds > TtftBuckets[bucket]) bucket++;
            _ttftCounts[bucket]++;
            _ttftSum += seconds;
            _ttftCount++;
        }
    }

    /// <summary>The counters, and the scheduler's own where there is one (a router renders its models' gauges itself).</summary>
    public string Render(Scheduler? scheduler)
    {
        var o = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        o.Append("# HELP suiron_requests_total HTTP requests by endpoint and status code.\n# TYPE suiron_requests_total counter\n");
        foreach (var ((endpoint, status), count) in _requests.OrderBy(p => p.Key.Endpoint, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
            o.Append(c, $"suiron_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {count}\n");
        Counter(o, "suiron_prompt_tokens_total", "Prompt tokens of finished requests.", Interlocked.Read(ref _promptTokens));
        Counter(o, "suiron_completion_tokens_total", "Generated tokens of finished requests.", Interlocked.Read(ref _completionTokens));
        if (scheduler is not null)
        {
            Counter(o, "suiron_prompt_tokens_cached_total", "Prompt tokens reused from a slot's prefix cache instead of evaluated.", scheduler.PromptTokensCached);
            Counter(o, "suiron_draft_tokens_total", "Speculative draft tokens verified (--spec).", scheduler.DraftTokens);
            Counter(o, "suiron_draft_tokens_accepted_total", "Speculative draft tokens the model agreed with.", scheduler.DraftTokensAccepted);
            Speculation(o, scheduler);
            Gauge(o, "suiron_queue_depth", "Requests waiting for a slot.", scheduler.QueueDepth);
            Gauge(o, "suiron_active_slots", "Slots generating now.", scheduler.ActiveSlots);
            Gauge(o, "suiron_slots", "Slots (parallel sequences).", scheduler.SlotCount);
            Gauge(o, "suiron_tokens_per_second", "Generated tokens per second over all slots, recent.", scheduler.TokensPerSecond);
        }

        o.Append("# HELP suiron_time_to_first_token_seconds From request to first generated token.\n# TYPE suiron_time_to_first_token_seconds histogram\n");
        lock (_ttftLock)
        {
            long cumulative = 0;
            for (int i = 0; i < TtftBuckets.Length; i++)
            {
                cumulative += _ttftCounts[i];
                o.Append(c, $"suiron_time_to_first_token_seconds_bucket{{le=\"{TtftBuckets[i]}\"}} {cumulative}\n");
            }
            o.Append(c, $"suiron_time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {_ttftCount}\n");
            o.Append(c, $"suiron_time_to_first_token_seconds_sum {_ttftSum}\n");
            o.Append(c, $"suiron_time_to_first_token_seconds_count {_ttftCount}\n");
        }
        return o.ToString();
    }

    /// <summary>
    /// Speculation by draft source (<c>source="ngram"|"mtp"</c>): drafts, their tokens and the accepted ones (acceptance rate
    /// = accepted / draft tokens), and the speculating sequences' decode passes and the tokens they gave (tokens per target
    /// pass = tokens / passes).
    /// </summary>
    private static void Speculation(StringBuilder o, Scheduler scheduler)
    {
        var sources = new[] { ("ngram", scheduler.Speculation(DraftSource.Ngram)), ("mtp", scheduler.Speculation(DraftSource.MultiTokenPrediction)) };
        void Family(string name, string help, Func<SpeculationStatistics, long> value)
        {
            o.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n");
            foreach (var (source, statistics) in sources) o.Append(CultureInfo.InvariantCulture, $"{name}{{source=\"{source}\"}} {value(statistics)}\n");
        }
        Family("suiron_speculative_drafts_total", "Speculative drafts verified, by draft source.", s => s.Drafts);
        Family("suiron_speculative_draft_tokens_total", "Speculative draft tokens verified, by draft source.", s => s.DraftTokens);
        Family("suiron_speculative_draft_tokens_accepted_total", "Speculative draft tokens the model agreed with, by draft source.", s => s.AcceptedTokens);
        Family("suiron_speculative_passes_total", "Decode passes of speculating sequences (one per sequence and step), by draft source.", s => s.Passes);
        Family("suiron_speculative_tokens_total", "Tokens those decode passes gave, by draft source.", s => s.Tokens);
    }

    private static void Counter(StringBuilder o, string name, string help, long value)
        => o.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    private static void Gauge(StringBuilder o, string name, string help, double value)
        => o.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
}
