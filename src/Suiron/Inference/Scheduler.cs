using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Sampling.Grammar;
using Suiron.Tokenization;

namespace Suiron.Inference;

/// <summary>How a <see cref="Scheduler"/> shares one model between requests.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Sequences generated at once, each in its own slot (its own KV cache).</summary>
    public int Slots { get; init; } = 1;

    /// <summary>Tokens of context per slot (prompt + generated); 0 means the model's <see cref="ModelInfo.ContextSize"/>.</summary>
    public int ContextSize { get; init; }

    /// <summary>Requests that may wait for a free slot; beyond it <see cref="Scheduler.Submit"/> throws <see cref="QueueFullException"/>.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>Tokens per step over all sequences: every decoding sequence takes one, prompts being evaluated share the rest.</summary>
    public int StepTokenBudget { get; init; } = 256;

    /// <summary>
    /// While sequences are generating, a step that also evaluates a prompt chunk may last at most this many decode-only
    /// steps (their inter-token latency grows by at most this factor; the prompt takes correspondingly longer). 0 turns
    /// pacing off: prompts then take the whole <see cref="StepTokenBudget"/>.
    /// </summary>
    public double PrefillLatencyFactor { get; init; } = 2.0;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Slots is < 1 or > 256) throw new ArgumentException($"parallel slots must be between 1 and 256 (got {Slots}).");
        if (ContextSize < 0) throw new ArgumentException($"context size must be ≥ 0 (got {ContextSize}).");
        if (QueueLimit < 0) throw new ArgumentException($"queue size must be ≥ 0 (got {QueueLimit}).");
        if (StepTokenBudget < 1) throw new ArgumentException($"step token budget must be ≥ 1 (got {StepTokenBudget}).");
        if (PrefillLatencyFactor != 0 && !(PrefillLatencyFactor >= 1 && PrefillLatencyFactor <= 1000))
            throw new ArgumentException($"prefill latency factor must be 0 (off) or between 1 and 1000 (got {PrefillLatencyFactor}).");
    }
}

/// <summary>Where a scheduled sequence's speculative drafts come from.</summary>
public enum DraftSource
{
    /// <summary>Prompt lookup in the sequence's own tokens (<see cref="NgramDraft"/>).</summary>
    Ngram,
    /// <summary>The model's multi-token-prediction head (<see cref="SpeculationOptions.MultiTokenPrediction"/>).</summary>
    MultiTokenPrediction,
}

/// <summary>
/// Speculation by one <see cref="DraftSource"/> since a scheduler started: <see cref="Drafts"/> drafts of
/// <see cref="DraftTokens"/> tokens were verified and <see cref="AcceptedTokens"/> of those tokens accepted; the
/// sequences that speculate with it made <see cref="Passes"/> decode passes (one per step each, drafting or not) that
/// gave <see cref="Tokens"/> tokens.
/// </summary>
public readonly record struct SpeculationStatistics(long Drafts, long DraftTokens, long AcceptedTokens, long Passes, long Tokens)
{
    /// <summary>Accepted draft tokens per draft token; 0 before any draft.</summary>
    public double AcceptanceRate => DraftTokens == 0 ? 0 : (double)AcceptedTokens / DraftTokens;

    /// <summary>Tokens per decode pass of the model (1 without speculation); 0 before any pass.</summary>
    public double TokensPerPass => Passes == 0 ? 0 : (double)Tokens / Passes;
}

/// <summary>One generation to run: prompt tokens and options.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> Prompt, GenerationOptions Options)
{
    /// <summary>Log-probabilities to report with each token: -1 none, 0 the chosen token's only, k the chosen and the k most likely (at most 20).</summary>
    public int Logprobs { get; init; } = -1;
}

/// <summary>A token and its log-probability under the model (the raw logits' log-softmax, before penalties and temperature).</summary>
public readonly record struct TokenLogprob(int Token, float Logprob);

/// <summary>The chosen token's log-probability and the most likely tokens at its position, most likely first.</summary>
public sealed record TokenLogprobs(int Token, float Logprob, IReadOnlyList<TokenLogprob> Top);

/// <summary>Every slot is busy and the waiting queue is full: try again later.</summary>
public sealed class QueueFullException(int queueLimit)
    : InvalidOperationException($"The server is busy: every slot is generating and {queueLimit} requests are already waiting. Retry later.")
{
    /// <summary>A hint for clients: seconds to wait before retrying.</summary>
    public int RetryAfterSeconds { get; init; } = 1;
}

/// <summary>What a slot save, restore or erase did: the tokens saved, restored or forgotten, the file's bytes, the time it took.</summary>
public sealed record SlotFileResult(int Tokens, long Bytes, TimeSpan Elapsed);

/// <summary>
/// The steps of one scheduled generation, in order, as they are produced. Enumerate once. The last step carries the
/// finish reason; a failure of the engine surfaces as the exception of the enumeration.
/// </summary>
public sealed class GenerationStream : IAsyncEnumerable<GenerationStep>
{
    private readonly Channel<GenerationStep> _channel = Channel.CreateUnbounded<GenerationStep>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

    internal GenerationStream(int promptTokens) => PromptTokens = promptTokens;

    internal ChannelWriter<GenerationStep> Writer => _channel.Writer;

    /// <summary>Tokens of the prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>Leading prompt tokens whose keys and values were already in the slot (prefix cache), so were not evaluated again.</summary>
    public int CachedPromptTokens { get; internal set; }

    /// <summary>Tokens sampled so far (an end-of-generation token counts).</summary>
    public int GeneratedTokens { get; internal set; }

    /// <summary>From <see cref="Scheduler.Submit"/> to the first sampled token; null before it.</summary>
    public TimeSpan? TimeToFirstToken { get; internal set; }

    /// <summary>Why generation ended; null while it runs.</summary>
    public FinishReason? Finish { get; internal set; }

    /// <summary>The stop string that ended generation (finish reason Stop); null when another reason ended it.</summary>
    public string? StopSequence { get; internal set; }

    /// <summary>The steps of the request as the scheduler produces them.</summary>
    public IAsyncEnumerator<GenerationStep> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        => _channel.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Collects every step (for callers that do not stream).</summary>
    public async Task<List<GenerationStep>> ToListAsync(CancellationToken cancellationToken = default)
    {
        var steps = new List<GenerationStep>();
        await foreach (var step in this.WithCancellation(cancellationToken)) steps.Add(step);
        return steps;
    }
}

/// <summary>
/// Continuous batching over N slots: one thread runs the model; each step every generating sequence advances by one
/// token and waiting prompts are evaluated in chunks within the same <see cref="ILanguageModel.ForwardBatch"/>, so a
/// new request starts without waiting for the others to finish and every weight matrix is read once per step for all
/// of them. Each sequence has its own <see cref="Sampler"/> (its own seed) and its own cache; since the model computes
/// each row of a batch as it would alone, a sequence's output does not depend on what runs beside it.
/// A slot keeps its tokens after a request (prefix cache): the next request whose prompt starts the same way takes
/// that slot and evaluates only the rest. Requests beyond the slots wait in a bounded queue.
/// </summary>
public sealed class Scheduler : IDisposable
{
    private const int MaxTopLogprobs = 20;

    private readonly ILanguageModel _model;
    private readonly IMultiTokenPredictor? _head; // the model, where it has a multi-token-prediction head
    private readonly ILayeredPromptModel? _layered; // the model, where it can take a prompt chunk a few layers at a time
    private readonly Tokenizer _tokenizer;
    private readonly SchedulerOptions _options;
    private readonly Slot[] _slots;
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _active = new();
    private readonly object _lock = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly int _vocab;
    private readonly PrefillPacer _pacer;
    private float[] _logits = [];
    private int _admitted; // sequences holding a slot (under _lock)
    private bool _stopping;

    // Statistics (written by the scheduler thread, read by anyone).
    private long _layeredSlices;
    private long _promptTokensEvaluated, _promptTokensCached, _generatedTokens, _completed, _draftTokens, _draftTokensAccepted;
    private readonly long[,] _speculation = new long[2, 5]; // per DraftSource: the fields of SpeculationStatistics
    private long _windowStart = Stopwatch.GetTimestamp(), _windowTokens, _lastStep;
    private double _tokensPerSecond;

    /// <summary>A scheduler over <paramref name="model"/> with the slots and queue <paramref name="options"/> ask for.</summary>
    public Scheduler(ILanguageModel model, Tokenizer tokenizer, SchedulerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _options = options ?? new SchedulerOptions();
        _options.Validate();
        _model = model;
        _head = model as IMultiTokenPredictor is { HasPredictionHead: true } head ? head : null;
        _layered = model as ILayeredPromptModel;
        _tokenizer = tokenizer;
        _vocab = model.Info.VocabSize;
        _pacer = new PrefillPacer(_options.PrefillLatencyFactor);
        ContextSize = _options.ContextSize > 0 ? _options.ContextSize : model.Info.ContextSize;
        _slots = new Slot[_options.Slots];
        for (int i = 0; i < _slots.Length; i++) _slots[i] = new Slot(model.CreateCache(ContextSize), i);
        _publishedSlotTokens = new int[_slots.Length][];
        for (int i = 0; i < _slots.Length; i++) _publishedSlotTokens[i] = [];
        _grammarVocabulary = new Lazy<GrammarVocabulary>(() => GrammarVocabulary.FromTokenizer(tokenizer), LazyThreadSafetyMode.ExecutionAndPublication);
        _thread = new Thread(Run) { IsBackground = true, Name = "suiron-scheduler" };
        _thread.Start();
    }

    /// <summary>The vocabulary as grammars see it: built on the first constrained request, then shared by all.</summary>
    public GrammarVocabulary GrammarVocabulary => _grammarVocabulary.Value;
    private readonly Lazy<GrammarVocabulary> _grammarVocabulary;

    /// <summary>Tokens of context per slot.</summary>
    public int ContextSize { get; }

    /// <summary>Sequences generated at once.</summary>
    public int SlotCount => _slots.Length;

    /// <summary>Requests that may wait for a slot; more are refused.</summary>
    public int QueueLimit => _options.QueueLimit;

    /// <summary>Requests waiting for a slot.</summary>
    public int QueueDepth { get { lock (_lock) return _waiting.Count; } }

    /// <summary>Slots generating now.</summary>
    public int ActiveSlots => Volatile.Read(ref _activeCount);
    private int _activeCount;

    /// <summary>Prompt tokens evaluated since the start.</summary>
    public long PromptTokensEvaluated => Interlocked.Read(ref _promptTokensEvaluated);
    /// <summary>Prompt tokens reused from slot caches since the start.</summary>
    public long PromptTokensCached => Interlocked.Read(ref _promptTokensCached);
    /// <summary>Calls that took a prompt chunk some layers further beside generating sequences (layered prefill).</summary>
    internal long LayeredSlices => Interlocked.Read(ref _layeredSlices);
    /// <summary>Tokens generated since the start.</summary>
    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);
    /// <summary>Speculative draft tokens verified, and of them accepted, since start.</summary>
    public long DraftTokens => Interlocked.Read(ref _draftTokens);
    /// <summary>Speculative draft tokens accepted since the start.</summary>
    public long DraftTokensAccepted => Interlocked.Read(ref _draftTokensAccepted);
    /// <summary>Requests finished since the start.</summary>
    public long CompletedRequests => Interlocked.Read(ref _completed);

    /// <summary>Speculation by <paramref name="source"/> since the start (drafts, acceptance, tokens per pass).</summary>
    public SpeculationStatistics Speculation(DraftSource source)
    {
        int i = (int)source;
        return new SpeculationStatistics(Interlocked.Read(ref _speculation[i, 0]), Interlocked.Read(ref _speculation[i, 1]),
            Interlocked.Read(ref _speculation[i, 2]), Interlocked.Read(ref _speculation[i, 3]), Interlocked.Read(ref _speculation[i, 4]));
    }

    /// <summary>Slot <paramref name="slot"/>'s cache (tests check what it holds between requests).</summary>
    internal KvCache SlotCache(int slot) => _slots[slot].Cache;

    /// <summary>Whether the model has a multi-token-prediction head, so that requests may speculate with it.</summary>
    public bool HasMultiTokenPrediction => _head is not null;

    /// <summary>Generated tokens per second over all sequences, measured over the last second or so of work; 0 when idle.</summary>
    public double TokensPerSecond
    {
        get
        {
            long last = Interlocked.Read(ref _lastStep);
            return Stopwatch.GetElapsedTime(last).TotalSeconds > 2 ? 0 : Volatile.Read(ref _tokensPerSecond);
        }
    }

    /// <summary>
    /// What the prefix cache holds: each slot's tokens as of its last admission (the prompt it is evaluating) or release
    /// (prompt and reply). A replica in a cluster reports these to the prefix directory, so follow-up requests are
    /// routed to the slot that holds their start.
    /// </summary>
    public IReadOnlyList<int[]> PrefixCacheContents()
    {
        var copy = new int[_publishedSlotTokens.Length][];
        for (int i = 0; i < copy.Length; i++) copy[i] = Volatile.Read(ref _publishedSlotTokens[i]);
        return copy;
    }

    /// <summary>Changes whenever <see cref="PrefixCacheContents"/> may have changed.</summary>
    public long PrefixCacheVersion => Interlocked.Read(ref _prefixCacheVersion);

    /// <summary>Raised on the scheduler's thread when <see cref="PrefixCacheContents"/> changed; a handler must only signal, never wait.</summary>
    public event Action? PrefixCacheChanged;
    private readonly int[][] _publishedSlotTokens;
    private long _prefixCacheVersion;

    private void PublishSlotTokens(Slot slot, int[] tokens)
    {
        Volatile.Write(ref _publishedSlotTokens[slot.Index], tokens);
        Interlocked.Increment(ref _prefixCacheVersion);
        PrefixCacheChanged?.Invoke();
    }

    /// <summary>
    /// Queues a generation. Throws <see cref="ArgumentException"/> for a prompt that is empty, has unknown token ids or
    /// does not fit the context, <see cref="QueueFullException"/> when the queue is full, and
    /// <see cref="ObjectDisposedException"/> after <see cref="Dispose"/>. Cancelling <paramref name="cancellation"/>
    /// ends the sequence at the next step (finish reason Cancelled) and frees its slot.
    /// </summary>
    public GenerationStream Submit(GenerationRequest request, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        IReadOnlyList<int> prompt = request.Prompt;
        if (prompt.Count == 0) throw new ArgumentException("The prompt is empty (no tokens to start from).");
        foreach (int t in prompt)
            if ((uint)t >= (uint)_vocab) throw new ArgumentException($"Token id {t} is outside the vocabulary (0..{_vocab - 1}).");
        if (prompt.Count >= ContextSize)
            throw new ArgumentException($"The prompt has {prompt.Count} tokens but the context holds {ContextSize} (including the reply); shorten the prompt or raise the context size.");
        if (request.Options.MaxTokens < 0) throw new ArgumentException($"max tokens must be ≥ 0 (got {request.Options.MaxTokens}).");
        if (request.Logprobs > MaxTopLogprobs) throw new ArgumentException($"top logprobs must be at most {MaxTopLogprobs} (got {request.Logprobs}).");
        if (request.Options.Speculation is { } speculation)
        {
            speculation.Validate();
            if (speculation.MultiTokenPrediction && _head is null)
                throw new ArgumentException($"The model ({_model.Info.Architecture}) has no multi-token-prediction block (nextn_predict_layers) that Suiron runs: MTP speculation needs a qwen35, qwen35moe or glm-dsa file that has one.");
        }

        IGrammarConstraint? grammar = request.Options.Grammar is { } g ? new GrammarConstraint(g, GrammarVocabulary) : null;
        var sequence = new Sequence(request, prompt.ToArray(), new Sampler(_vocab, request.Options.Sampling, grammar),
            new StreamingDecoder(_tokenizer, continuesText: true, renderedTokens: request.Options.RenderedTokens), new StopStringMatcher(request.Options.Stop), cancellation);
        if (cancellation.CanBeCanceled) sequence.Registration = cancellation.Register(static state => ((Scheduler)state!).Wake(), this);
        lock (_lock)
        {
            if (_stopping || _waiting.Count + _admitted >= _slots.Length + _options.QueueLimit)
            {
                sequence.Registration.Dispose();
                ObjectDisposedException.ThrowIf(_stopping, this);
                throw new QueueFullException(_options.QueueLimit);
            }
            _waiting.AddLast(sequence);
        }
        Wake();
        return sequence.Stream;
    }

    /// <summary>Ends every waiting and running sequence (finish reason Cancelled) at the next step; the scheduler keeps serving new requests.</summary>
    public void CancelAll()
    {
        lock (_lock)
        {
            foreach (var s in _waiting) s.CancelRequested = true;
            _cancelActive = true;
        }
        Wake();
    }
    private bool _cancelActive;

    /// <summary>Stops the scheduler thread; running and waiting sequences end as Cancelled.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_stopping) return;
            _stopping = true;
        }
        _wake.Set();
        _thread.Join();
        _wake.Dispose();
    }

    private void Wake()
    {
        try { _wake.Set(); }
        catch (ObjectDisposedException) { } // a cancellation after Dispose: nothing left to wake
    }

    private void Run()
    {
        var items = new List<SequenceTokens>();
        var stepSequences = new List<(Sequence Sequence, int Tokens)>();
        var slotTasks = new List<SlotTask>();
        while (true)
        {
            bool stopping, cancelActive;
            lock (_lock)
            {
                stopping = _stopping;
                cancelActive = _cancelActive;
                _cancelActive = false;
                for (var node = _waiting.First; node is not null;)
                {
                    var next = node.Next;
                    if (stopping || node.Value.IsCancelled)
                    {
                        _waiting.Remove(node);
                        Complete(node.Value, FinishReason.Cancelled, "");
                    }
                    node = next;
                }
                while (_slotTasks.TryDequeue(out var task)) slotTasks.Add(task);
                while (_waiting.First is { } first && _admitted < _slots.Length)
                {
                    _waiting.RemoveFirst();
                    _admitted++;
                    Admit(first.Value);
                }
            }
            foreach (var task in slotTasks)
            {
                if (stopping) task.Result.TrySetException(new ObjectDisposedException(nameof(Scheduler), "The scheduler is stopping."));
                else RunSlotTask(task);
            }
            slotTasks.Clear();
            for (int i = _active.Count - 1; i >= 0; i--)
                if (stopping || cancelActive || _active[i].IsCancelled)
                    Finish(_active[i], FinishReason.Cancelled, _active[i].Stops.Flush());
            if (stopping) return;
            if (_active.Count == 0)
            {
                _wake.WaitOne();
                continue;
            }
            Step(items, stepSequences);
        }
    }

    /// <summary>
    /// Gives the sequence the free slot whose cached tokens share the longest prefix with its prompt (the least recently
    /// used on a tie). A sequence that drafts with the multi-token-prediction head reuses only what the head has seen of a
    /// slot (its rows need the hidden states of those tokens): a prefix cached without the head is evaluated again.
    /// </summary>
    private void Admit(Sequence sequence)
    {
        int[] prompt = sequence.Prompt;
        bool followedByHead = sequence.Request.Options.Speculation is { MultiTokenPrediction: true, DraftModel: null };
        Slot? best = null;
        int bestShared = -1;
        foreach (var slot in _slots)
        {
            if (slot.Sequence is not null) continue;
            // At least the last prompt token is evaluated again: its logits start the generation. A recurrent model's
            // cache keeps only what it can go back to (its current end, or a snapshot).
            int reusable = Math.Min(SharedPrefix(CollectionsMarshal.AsSpan(slot.Tokens), prompt), prompt.Length - 1);
            if (followedByHead) reusable = Math.Min(reusable, MultiTokenDraft.Coverage(slot.Cache));
            int shared = slot.Cache.ReusablePrefix(reusable);
            if (shared > bestShared || shared == bestShared && slot.LastUsed < best!.LastUsed)
            {
                best = slot;
                bestShared = shared;
            }
        }
        int reuse = bestShared;
        best!.Cache.Truncate(reuse);
        best.Tokens.RemoveRange(reuse, best.Tokens.Count - reuse);
        best.Sequence = sequence;
        sequence.Slot = best;
        sequence.PromptDone = reuse;
        sequence.Stream.CachedPromptTokens = reuse;
        Interlocked.Add(ref _promptTokensCached, reuse);
        SpeculationOptions? speculation = sequence.Request.Options.Speculation;
        if (speculation is not null && speculation.DraftModel is null)
        {
            // The head follows the slot's cache (it saw every token the slot keeps, see above); were it unable to, this
            // sequence would decode without drafts.
            sequence.Mtp = speculation.MultiTokenPrediction ? MultiTokenDraft.For(_model, best.Cache) : null;
            sequence.Drafts = speculation.MultiTokenPrediction ? sequence.Mtp is null ? null : DraftSource.MultiTokenPrediction : DraftSource.Ngram;
        }
        if (sequence.Mtp is null && _head is not null) MultiTokenDraft.CutBack(best.Cache);
        PublishSlotTokens(best, prompt);
        _active.Add(sequence);
        Interlocked.Increment(ref _activeCount);
    }

    private static int SharedPrefix(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>One forward pass: a token for each generating sequence, then prompt chunks within the remaining budget.</summary>
    private void Step(List<SequenceTokens> items, List<(Sequence Sequence, int Tokens)> stepSequences)
    {
        items.Clear();
        stepSequences.Clear();
        _hiddenRows.Clear();
        bool keepHidden = false; // some sequence drafts with the head, which reads the hidden states of its tokens
        int budget = _options.StepTokenBudget, decodeRows = 0, promptTokens = 0;
        // Drafts first: looked up at once, or begun with the head, whose rows for every sequence then run together.
        foreach (var s in _active)
            if (s.PromptDone == s.Prompt.Length) budget -= 1 + PlanDraft(s, budget);
        if (_headDrafters.Count > 0) RunHeads();
        foreach (var s in _active)
        {
            if (s.PromptDone < s.Prompt.Length) continue;
            int drafted = FinishDraft(s);
            items.Add(drafted == 0 ? new SequenceTokens(s.NextToken, s.Slot!.Cache)
                : new SequenceTokens(s.DraftBuffer.AsMemory(0, 1 + drafted), s.Slot!.Cache, AllLogits: true));
            keepHidden |= KeepHidden(s, items[^1].Tokens.Span);
            stepSequences.Add((s, 1 + drafted));
            decodeRows += 1 + drafted;
        }
        // Beside generating rows, a prompt goes a few layers per step where the model allows (see PrefillPacer); one
        // such chunk at a time, and it takes the step's whole prompt share.
        Sequence? layered = _active.Find(s => s.Layered is not null);
        bool layering = layered is null && decodeRows > 0 && _layered is not null && _pacer.LatencyFactor > 0;
        int layeredBudget = budget;
        budget = _pacer.PromptBudget(decodeRows, budget);
        foreach (var s in _active)
        {
            if (layered is not null) break;
            if (s.PromptDone == s.Prompt.Length) continue;
            if (layering && s.Mtp is null && promptTokens == 0)
            {
                // The head reads every prompt row's hidden state, which a layered chunk does not keep: such a sequence
                // takes whole-model chunks.
                int tokens = _pacer.LayeredChunkTokens(decodeRows, Math.Min(layeredBudget, Decoder.MaxBatch));
                if (tokens > 0) layered = BeginLayered(s, PromptChunk(s, tokens));
                break;
            }
            if (budget <= 0 && items.Count > 0) break;
            int chunk = PromptChunk(s, Math.Max(budget, 1));
            items.Add(new SequenceTokens(s.Prompt.AsMemory(s.PromptDone, chunk), s.Slot!.Cache));
            keepHidden |= KeepHidden(s, items[^1].Tokens.Span);
            stepSequences.Add((s, chunk));
            budget -= chunk;
            promptTokens += chunk;
        }

        // The step's wall time up to the sampled tokens (what a generating sequence waits for) teaches the pacer.
        long started = Stopwatch.GetTimestamp();
        if (items.Count > 0 && !RunPass(items, stepSequences, keepHidden)) return;
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (layered is not null) ContinueLayered(layered, decodeRows, seconds);
        else _pacer.Observe(decodeRows, promptTokens, seconds);
    }

    /// <summary>The tokens of <paramref name="s"/>'s next prompt chunk, at most <paramref name="limit"/>.</summary>
    private static int PromptChunk(Sequence s, int limit)
    {
        int chunk = Math.Min(s.Prompt.Length - s.PromptDone, limit);
        // A recurrent state can be reused later only where a snapshot was taken: end a chunk one token before the
        // prompt's end, the position a follow-up prompt (this one plus an answer) is sure to share.
        int beforeLast = s.Prompt.Length - 1;
        if (s.Slot!.Cache.Recurrent is not null && s.PromptDone < beforeLast && s.PromptDone + chunk > beforeLast) chunk = beforeLast - s.PromptDone;
        return chunk;
    }

    /// <summary>Starts a layered chunk of <paramref name="tokens"/> of <paramref name="s"/>'s prompt; null (the sequence failed) when the model refuses it.</summary>
    private Sequence? BeginLayered(Sequence s, int tokens)
    {
        try
        {
            s.Layered = _layered!.BeginChunk(s.Prompt.AsSpan(s.PromptDone, tokens), s.Slot!.Cache);
            return s;
        }
        catch (Exception e)
        {
            Fail(s, e);
            return null;
        }
    }

    /// <summary>
    /// Takes the layered chunk of <paramref name="s"/> as many layers further as the pacer allows beside
    /// <paramref name="decodeRows"/> generating rows (all of them when none); once through the last layer, the chunk counts
    /// as prompt progress as a whole-model chunk does.
    /// </summary>
    private void ContinueLayered(Sequence s, int decodeRows, double decodeSeconds)
    {
        LayeredPromptChunk chunk = s.Layered!;
        int layers = _pacer.LayersPerStep(decodeRows, chunk.Tokens, chunk.LayersLeft);
        if (layers == 0)
        {
            _pacer.Observe(decodeRows, 0, decodeSeconds); // a decode-only step, asked for to measure one
            return;
        }
        if (_logits.Length < _vocab) _logits = new float[_slots.Length * _vocab];
        long started = Stopwatch.GetTimestamp();
        bool finished;
        try
        {
            finished = _layered!.ContinueChunk(chunk, layers, _logits.AsSpan(0, _vocab));
        }
        catch (Exception e)
        {
            Fail(s, e);
            return;
        }
        if (decodeRows > 0) _pacer.ObserveSlice(chunk.Tokens, layers, Stopwatch.GetElapsedTime(started).TotalSeconds, decodeSeconds);
        Interlocked.Increment(ref _layeredSlices);
        if (!finished) return;
        s.Layered = null;
        chunk.Dispose();
        int generated = ConsumeOrFail(s, chunk.Tokens, _logits.AsSpan(0, _vocab));
        Interlocked.Add(ref _generatedTokens, generated);
        UpdateSpeed(generated);
    }

    /// <summary>Gives up <paramref name="s"/>'s layered chunk, if any (the sequence ends part-way): its rows never
    /// counted in the cache, but a recurrent state it moved in some layers leaves the slot unusable, so that is emptied.</summary>
    private static void DropLayered(Sequence s)
    {
        if (s.Layered is not { } chunk) return;
        if (chunk.LeavesCacheInconsistent)
        {
            s.Slot!.Cache.Clear();
            s.Slot.Tokens.Clear();
        }
        chunk.Dispose();
        s.Layered = null;
    }

    /// <summary>The step's one forward pass over every item (generating rows, drafts and whole-model prompt chunks), and
    /// what each sequence makes of its rows; false when the pass failed (its sequences then end with the error).</summary>
    private bool RunPass(List<SequenceTokens> items, List<(Sequence Sequence, int Tokens)> stepSequences, bool keepHidden)
    {
        int logitRows = SequenceTokens.TotalLogitRows(CollectionsMarshal.AsSpan(items));
        if (_logits.Length < logitRows * _vocab) _logits = new float[Math.Max(logitRows, _slots.Length) * _vocab];
        try
        {
            if (keepHidden) _head!.ForwardBatchWithHidden(CollectionsMarshal.AsSpan(items), _logits, CollectionsMarshal.AsSpan(_hiddenRows));
            else _model.ForwardBatch(CollectionsMarshal.AsSpan(items), _logits);
        }
        catch (Exception e)
        {
            foreach (var (s, _) in stepSequences)
            {
                s.Slot!.Tokens.RemoveRange(s.Slot.Cache.Count, s.Slot.Tokens.Count - s.Slot.Cache.Count);
                Fail(s, e);
            }
            return false;
        }

        int generated = 0, row = 0;
        for (int i = 0; i < stepSequences.Count; i++)
        {
            var (s, count) = stepSequences[i];
            int rows = items[i].LogitRows;
            generated += ConsumeOrFail(s, count, _logits.AsSpan(row * _vocab, rows * _vocab));
            row += rows;
        }
        Interlocked.Add(ref _generatedTokens, generated);
        UpdateSpeed(generated);
        return true;
    }

    /// <summary>The hidden-state rows of each item of a step: where its sequence drafts with the head, the head's record of its tokens; else none.</summary>
    private readonly List<Memory<float>> _hiddenRows = new();

    private bool KeepHidden(Sequence s, ReadOnlySpan<int> tokens)
    {
        _hiddenRows.Add(s.Mtp?.Record(tokens) ?? default);
        return s.Mtp is not null;
    }

    /// <summary><see cref="Consume"/>, where a failure to sample (a grammar, non-finite logits …) ends that sequence with the
    /// error, never the scheduler thread and the others. Its slot is emptied: what its cache holds is no longer known to match.</summary>
    private int ConsumeOrFail(Sequence s, int count, ReadOnlySpan<float> rows)
    {
        try
        {
            return Consume(s, count, rows);
        }
        catch (Exception e) when (s.Slot is { } slot)
        {
            slot.Cache.Clear();
            slot.Tokens.Clear();
            s.PendingDraftRows = 0;
            Fail(s, e);
            return 0;
        }
    }

    /// <summary>What one sequence's rows of a pass give: prompt progress (and its first token when the prompt is done), or
    /// the tokens sampled while verifying its draft. Returns the tokens sampled.</summary>
    private int Consume(Sequence s, int count, ReadOnlySpan<float> rows)
    {
        if (s.PromptDone == s.Prompt.Length) return Verify(s, count - 1, rows);
        s.Slot!.Tokens.AddRange(s.Prompt.AsSpan(s.PromptDone, count));
        s.PromptDone += count;
        // Snapshots of a recurrent state at the prompt's chunk boundaries: the points a later prompt can resume from.
        if (s.PromptDone < s.Prompt.Length) s.Slot.Cache.Checkpoint();
        // The head takes each chunk's rows at once: they are prompt work, not the first draft's, and the hidden states it
        // holds stay one chunk long however long the prompt.
        s.Mtp?.CatchUp();
        Interlocked.Add(ref _promptTokensEvaluated, count);
        return s.PromptDone == s.Prompt.Length && Advance(s, rows[.._vocab]) ? 1 : 0;
    }

    /// <summary>
    /// Plans the draft after the sequence's next token (<see cref="GenerationOptions.Speculation"/>) within the step's token
    /// budget and the cache: a lookup in the sequence is made at once (see <see cref="FinishDraft"/>); the head's greedy
    /// chain is begun, to run with the other sequences' (<see cref="RunHeads"/>). Returns the draft tokens the step reserves
    /// for it; 0 when the request has none or there is no room.
    /// </summary>
    private int PlanDraft(Sequence s, int budget)
    {
        s.Drafted = 0;
        s.HeadDrafting = false;
        SpeculationOptions? speculation = s.Request.Options.Speculation;
        KvCache cache = s.Slot!.Cache;
        if (s.Drafts is null) return 0; // no speculation, a draft model (the scheduler runs none), or a head that cannot follow
        int room = Math.Min(Math.Min(speculation!.DraftMax, cache.Capacity - cache.Count - 1),
            Math.Min(s.Request.Options.MaxTokens - s.Stream.GeneratedTokens - 1, budget - 1));
        if (room < speculation.DraftMin) return 0;
        s.DraftBuffer ??= new int[speculation.DraftMax + 1];
        s.DraftBuffer[0] = s.NextTokenBuffer[0];
        if (s.Mtp is not null)
        {
            if (!s.Mtp.BeginProposal(s.NextTokenBuffer[0], room, out var rows)) return 0;
            s.HeadDrafting = true;
            _headRows.Add(rows);
            _headDrafters.Add(s);
            return room; // the head fills what it is given
        }
        s.Drafted = AllowedDraft(s, NgramDraft.Propose(CollectionsMarshal.AsSpan(s.History), speculation, s.DraftBuffer.AsSpan(1, room)));
        return s.Drafted;
    }

    /// <summary>Sequences whose head is drafting this step, and the head rows each runs next (seed rows, then one chained row per position).</summary>
    private readonly List<Sequence> _headDrafters = new();
    private readonly List<HeadRows> _headRows = new();
    private float[] _headLogits = [], _headHidden = [];

    /// <summary>
    /// Runs the drafting heads of every sequence together: one pass over all their seed rows, then one per further draft
    /// position over the sequences still chaining, so the head's weights (and the output projection its logits need) are
    /// read once per position for all of them. A failure ends those sequences, as a failed step does.
    /// </summary>
    private void RunHeads()
    {
        int embedding = _model.Info.HyperParameters.EmbeddingLength;
        try
        {
            while (_headRows.Count > 0)
            {
                int k = _headRows.Count;
                if (_headLogits.Length < k * _vocab) _headLogits = new float[Math.Max(k, _slots.Length) * _vocab];
                if (_headHidden.Length < k * embedding) _headHidden = new float[Math.Max(k, _slots.Length) * embedding];
                _head!.PredictBatch(CollectionsMarshal.AsSpan(_headRows), _headLogits, _headHidden);
                int chaining = 0;
                for (int i = 0; i < k; i++)
                {
                    Sequence s = _headDrafters[i];
                    if (!s.Mtp!.Continue(_headLogits.AsSpan(i * _vocab, _vocab), _headHidden.AsSpan(i * embedding, embedding), out var next)) continue;
                    _headRows[chaining] = next;
                    _headDrafters[chaining++] = s;
                }
                _headRows.RemoveRange(chaining, k - chaining);
                _headDrafters.RemoveRange(chaining, k - chaining);
            }
        }
        catch (Exception e)
        {
            foreach (var s in _active.Where(s => s.HeadDrafting).ToList())
            {
                // What the head's cache holds is no longer known to match the slot's: the slot starts empty.
                s.Slot!.Cache.Clear();
                s.Slot.Tokens.Clear();
                Fail(s, e);
            }
            _headRows.Clear();
            _headDrafters.Clear();
        }
    }

    /// <summary>The sequence's draft for this step, cut where the grammar rejects it (the head's, from its proposal); 0 below the minimum.</summary>
    private int FinishDraft(Sequence s)
    {
        if (s.HeadDrafting)
        {
            ReadOnlySpan<int> proposal = s.Mtp!.Proposal;
            proposal.CopyTo(s.DraftBuffer.AsSpan(1));
            s.Drafted = AllowedDraft(s, proposal.Length);
            s.HeadDrafting = false;
        }
        if (s.Drafted > 0) s.Slot!.Cache.MarkDraftBase(); // a recurrent state is copied aside, to go back to if the draft is rejected
        return s.Drafted;
    }

    /// <summary>How many of the <paramref name="drafted"/> tokens in the draft buffer are verified: with a grammar the sampler
    /// could never draw a token it rejects, so the draft is cut before the first one; none below the draft minimum.</summary>
    private static int AllowedDraft(Sequence s, int drafted)
    {
        drafted = s.Sampler.GrammarAllowedPrefix(s.DraftBuffer.AsSpan(1, drafted));
        return drafted < s.Request.Options.Speculation!.DraftMin ? 0 : drafted;
    }

    /// <summary>
    /// Samples from each row of a pass that verified <c>drafted</c> draft tokens after the sequence's next token,
    /// as one-token passes would: the sampler draws from row j, and while its token is the draft's, row j + 1 (computed after
    /// that very token) comes next. The cache keeps the accepted rows only. Returns the tokens sampled.
    /// </summary>
    private float[]? _redo;

    private int Verify(Sequence s, int drafted, ReadOnlySpan<float> rows)
    {
        Slot slot = s.Slot!;
        int[] pass = drafted == 0 ? s.NextTokenBuffer : s.DraftBuffer!;
        slot.Tokens.Add(pass[0]);
        s.PendingDraftRows = drafted;
        int sampled = 0;
        for (int j = 0; j <= drafted; j++)
        {
            if (Advance(s, rows.Slice(j * _vocab, _vocab))) sampled++;
            if (s.Slot is null || j == drafted || s.NextTokenBuffer[0] != pass[j + 1]) break; // finished, or the draft diverges
            slot.Tokens.Add(pass[j + 1]);
            s.PendingDraftRows--;
            Interlocked.Increment(ref _draftTokensAccepted);
        }
        Interlocked.Add(ref _draftTokens, drafted);
        if (s.Drafts is { } source)
        {
            int i = (int)source;
            if (drafted > 0) Interlocked.Increment(ref _speculation[i, 0]);
            Interlocked.Add(ref _speculation[i, 1], drafted);
            Interlocked.Add(ref _speculation[i, 2], drafted - s.PendingDraftRows);
            Interlocked.Increment(ref _speculation[i, 3]);
            Interlocked.Add(ref _speculation[i, 4], sampled);
        }
        // The head keeps no row of a rejected token.
        if (s.PendingDraftRows > 0) s.Mtp?.Drop(s.PendingDraftRows);
        // A recurrent state goes back to before the pass; the accepted tokens are evaluated again (the same arithmetic).
        if (s.PendingDraftRows > 0 && !slot.Cache.DropDraft(s.PendingDraftRows))
            _model.Forward(pass.AsSpan(0, drafted - s.PendingDraftRows + 1), slot.Cache, _redo ??= new float[_vocab]);
        s.PendingDraftRows = 0;
        return sampled;
    }

    /// <summary>Samples the sequence's next token from its logits and emits it; finishes the sequence on a stop or a limit. Returns whether a token was sampled.</summary>
    private bool Advance(Sequence s, ReadOnlySpan<float> logits)
    {
        GenerationOptions options = s.Request.Options;
        if (s.Stream.GeneratedTokens >= options.MaxTokens)
        {
            Finish(s, FinishReason.Length, s.Stops.Push(s.Decoder.Flush()) + s.Stops.Flush());
            return false;
        }
        int token = s.ReasoningBudget?.Forced ?? -1;
        try
        {
            if (token < 0) token = s.Sampler.Sample(logits, CollectionsMarshal.AsSpan(s.History));
        }
        catch (InvalidOperationException)
        {
            // The grammar allows no token of this vocabulary: end here rather than emit text outside it.
            Finish(s, FinishReason.Stop, s.Stops.Push(s.Decoder.Flush()) + s.Stops.Flush());
            return false;
        }
        s.ReasoningBudget?.Observe(token);
        s.History.Add(token);
        s.Stream.GeneratedTokens++;
        s.Stream.TimeToFirstToken ??= Stopwatch.GetElapsedTime(s.Submitted);
        TokenLogprobs? logprobs = s.Request.Logprobs >= 0 ? Logprobs(logits, token, s.Request.Logprobs) : null;

        if (options.StopAtEndOfGeneration && _tokenizer.Vocabulary.EndOfGeneration.Contains(token))
        {
            Finish(s, FinishReason.Stop, s.Stops.Push(s.Decoder.Flush()) + s.Stops.Flush(), token, logprobs);
            return true;
        }
        string text = s.Stops.Push(s.Decoder.Push(token));
        if (s.Stops.Matched)
        {
            s.Stream.StopSequence = s.Stops.MatchedStop;
            Finish(s, FinishReason.Stop, text, token, logprobs);
            return true;
        }
        s.Stream.Writer.TryWrite(new GenerationStep(token, text, null) { Logprobs = logprobs });
        if (s.Stream.GeneratedTokens >= options.MaxTokens || s.Slot!.Cache.Count - s.PendingDraftRows >= s.Slot.Cache.Capacity)
        {
            Finish(s, FinishReason.Length, s.Stops.Push(s.Decoder.Flush()) + s.Stops.Flush());
            return true;
        }
        s.NextTokenBuffer[0] = token;
        return true;
    }

    private static TokenLogprobs Logprobs(ReadOnlySpan<float> logits, int token, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = MathF.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        float logSum = max + (float)Math.Log(sum);
        var best = new List<TokenLogprob>(top + 1);
        if (top > 0)
        {
            for (int i = 0; i < logits.Length; i++)
            {
                if (best.Count == top && logits[i] <= best[^1].Logprob) continue;
                int at = best.Count;
                while (at > 0 && best[at - 1].Logprob < logits[i]) at--;
                best.Insert(at, new TokenLogprob(i, logits[i]));
                if (best.Count > top) best.RemoveAt(top);
            }
            for (int i = 0; i < best.Count; i++) best[i] = best[i] with { Logprob = best[i].Logprob - logSum };
        }
        return new TokenLogprobs(token, logits[token] - logSum, best);
    }

    private void Finish(Sequence s, FinishReason reason, string text, int token = -1, TokenLogprobs? logprobs = null)
    {
        DropLayered(s);
        _active.Remove(s);
        Interlocked.Decrement(ref _activeCount);
        s.Slot!.Sequence = null;
        s.Slot.LastUsed = Stopwatch.GetTimestamp();
        PublishSlotTokens(s.Slot, s.Slot.Tokens.ToArray());
        s.Slot = null;
        lock (_lock) _admitted--;
        Complete(s, reason, text, token, logprobs);
    }

    private void Complete(Sequence s, FinishReason reason, string text, int token = -1, TokenLogprobs? logprobs = null)
    {
        s.Stream.Finish = reason;
        s.Stream.Writer.TryWrite(new GenerationStep(token, text, reason) { Logprobs = logprobs });
        s.Stream.Writer.TryComplete();
        s.Registration.Dispose();
        Interlocked.Increment(ref _completed);
    }

    private void Fail(Sequence s, Exception error)
    {
        DropLayered(s);
        _active.Remove(s);
        Interlocked.Decrement(ref _activeCount);
        s.Slot!.Sequence = null;
        PublishSlotTokens(s.Slot, s.Slot.Tokens.ToArray());
        s.Slot = null;
        lock (_lock) _admitted--;
        s.Stream.Writer.TryComplete(error);
        s.Registration.Dispose();
    }

    private void UpdateSpeed(int generated)
    {
        long now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastStep), now).TotalSeconds > 1)
        {
            // Back from idle: measure from this step on.
            _windowStart = now;
            _windowTokens = 0;
            Volatile.Write(ref _tokensPerSecond, 0);
        }
        Interlocked.Exchange(ref _lastStep, now);
        _windowTokens += generated;
        double elapsed = Stopwatch.GetElapsedTime(_windowStart, now).TotalSeconds;
        if (elapsed >= 1 || Volatile.Read(ref _tokensPerSecond) == 0 && elapsed >= 0.25)
        {
            Volatile.Write(ref _tokensPerSecond, _windowTokens / elapsed);
            _windowTokens = 0;
            _windowStart = now;
        }
    }

    /// <summary>A KV cache and the tokens it holds; kept between requests for prefix reuse.</summary>
    private enum SlotAction { Save, Restore, Erase }

    private sealed record SlotTask(int Slot, SlotAction Action, string? Path)
    {
        public TaskCompletionSource<SlotFileResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Queue<SlotTask> _slotTasks = new(); // under _lock

    /// <summary>
    /// Writes slot <paramref name="slot"/>'s tokens and KV cache to <paramref name="path"/> (llama-server's slot save), so
    /// that <see cref="RestoreSlotAsync"/> can bring the prefix back without evaluating it again. Runs on the scheduler's
    /// thread between steps; a slot that is generating → InvalidOperationException; a hybrid model → NotSupportedException.
    /// </summary>
    public Task<SlotFileResult> SaveSlotAsync(int slot, string path) => EnqueueSlotTask(new SlotTask(slot, SlotAction.Save, path));

    /// <summary>Replaces an idle slot's tokens and cache with a file <see cref="SaveSlotAsync"/> wrote (InvalidDataException when it does not fit this model).</summary>
    public Task<SlotFileResult> RestoreSlotAsync(int slot, string path) => EnqueueSlotTask(new SlotTask(slot, SlotAction.Restore, path));

    /// <summary>Forgets an idle slot's tokens (its prefix cache).</summary>
    public Task<SlotFileResult> EraseSlotAsync(int slot) => EnqueueSlotTask(new SlotTask(slot, SlotAction.Erase, null));

    private Task<SlotFileResult> EnqueueSlotTask(SlotTask task)
    {
        if ((uint)task.Slot >= (uint)_slots.Length)
            throw new ArgumentOutOfRangeException(nameof(task.Slot), $"There is no slot {task.Slot}: the slots are 0 to {_slots.Length - 1}.");
        lock (_lock)
        {
            if (_stopping) throw new ObjectDisposedException(nameof(Scheduler), "The scheduler is stopping.");
            _slotTasks.Enqueue(task);
        }
        Wake();
        return task.Result.Task;
    }

    /// <summary>What a slot file records of the model it came from: a cache of the same shape from another model would load but mean nothing.</summary>
    private string ModelIdentity => $"{_model.Info.Architecture}, {_model.Info.VocabSize} tokens, {_model.Info.ParameterCount} parameters, trained context {_model.Info.ContextLength}";

    private static readonly byte[] SlotFileMagic = "SUIRONSLOT1\n"u8.ToArray();

    private void RunSlotTask(SlotTask task)
    {
        var slot = _slots[task.Slot];
        try
        {
            if (slot.Sequence is not null) throw new InvalidOperationException($"Slot {task.Slot} is generating; wait until it is idle.");
            var clock = Stopwatch.StartNew();
            switch (task.Action)
            {
                case SlotAction.Save:
                {
                    // Written aside and moved into place, so a reader never sees half a file.
                    string temporary = task.Path + ".partial";
                    long bytes;
                    using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                    {
                        file.Write(SlotFileMagic);
                        using (var writer = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true))
                        {
                            writer.Write(ModelIdentity);
                            writer.Write(slot.Tokens.Count);
                            foreach (int token in slot.Tokens) writer.Write(token);
                        }
                        slot.Cache.WriteTo(file);
                        bytes = file.Length;
                    }
                    File.Move(temporary, task.Path!, overwrite: true);
                    task.Result.TrySetResult(new SlotFileResult(slot.Tokens.Count, bytes, clock.Elapsed));
                    break;
                }
                case SlotAction.Restore:
                {
                    using var file = new FileStream(task.Path!, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                    Span<byte> magic = stackalloc byte[SlotFileMagic.Length];
                    if (file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) != magic.Length || !magic.SequenceEqual(SlotFileMagic))
                        throw new InvalidDataException("Not a saved slot.");
                    int[] tokens;
                    using (var reader = new BinaryReader(file, System.Text.Encoding.UTF8, leaveOpen: true))
                    {
                        string identity = reader.ReadString();
                        if (identity != ModelIdentity) throw new InvalidDataException($"The slot was saved from another model ({identity}); this one is {ModelIdentity}.");
                        int count = reader.ReadInt32();
                        if (count < 0 || count > slot.Cache.Capacity) throw new InvalidDataException($"The saved slot holds {count} tokens; a slot here holds at most {slot.Cache.Capacity}.");
                        tokens = new int[count];
                        for (int i = 0; i < count; i++) tokens[i] = reader.ReadInt32();
                    }
                    slot.Tokens.Clear();
                    try
                    {
                        slot.Cache.ReadFrom(file);
                        if (slot.Cache.Count != tokens.Length) throw new InvalidDataException("The saved slot's tokens and cache disagree.");
                        if (tokens.Any(t => (uint)t >= (uint)_tokenizer.Vocabulary.Count)) throw new InvalidDataException("The saved slot holds tokens outside this vocabulary.");
                    }
                    catch
                    {
                        slot.Cache.Clear();
                        PublishSlotTokens(slot, []);
                        throw;
                    }
                    MultiTokenDraft.Forget(slot.Cache); // tokens the head never saw
                    slot.Tokens.AddRange(tokens);
                    slot.LastUsed = Stopwatch.GetTimestamp();
                    PublishSlotTokens(slot, tokens);
                    task.Result.TrySetResult(new SlotFileResult(tokens.Length, file.Length, clock.Elapsed));
                    break;
                }
                default:
                {
                    int erased = slot.Tokens.Count;
                    slot.Cache.Clear();
                    slot.Tokens.Clear();
                    PublishSlotTokens(slot, []);
                    task.Result.TrySetResult(new SlotFileResult(erased, 0, clock.Elapsed));
                    break;
                }
            }
        }
        catch (EndOfStreamException)
        {
            task.Result.TrySetException(new InvalidDataException("The saved slot is cut short."));
        }
        catch (Exception e)
        {
            task.Result.TrySetException(e);
        }
    }

    private sealed class Slot(KvCache cache, int index)
    {
        public readonly KvCache Cache = cache;
        public readonly int Index = index;
        public readonly List<int> Tokens = new();
        public Sequence? Sequence;
        public long LastUsed;
    }

    private sealed class Sequence
    {
        public Sequence(GenerationRequest request, int[] prompt, Sampler sampler, StreamingDecoder decoder, StopStringMatcher stops, CancellationToken cancellation)
        {
            Request = request;
            Prompt = prompt;
            Sampler = sampler;
            Decoder = decoder;
            Stops = stops;
            Cancellation = cancellation;
            History = new List<int>(prompt.Length + Math.Min(request.Options.MaxTokens, 4096));
            History.AddRange(prompt);
            Stream = new GenerationStream(prompt.Length);
            ReasoningBudget = request.Options.TrackReasoningBudget();
        }

        public readonly GenerationRequest Request;
        public readonly int[] Prompt;
        public readonly Sampler Sampler;
        public readonly StreamingDecoder Decoder;
        public readonly StopStringMatcher Stops;
        public readonly CancellationToken Cancellation;
        public readonly List<int> History;
        public readonly GenerationStream Stream;
        public readonly ReasoningBudgetTracker? ReasoningBudget;
        public readonly long Submitted = Stopwatch.GetTimestamp();
        public readonly int[] NextTokenBuffer = new int[1];
        /// <summary>The next token then a speculative draft after it (NextTokenBuffer's one slot when the request has no speculation).</summary>
        public int[]? DraftBuffer;
        /// <summary>Rows of the last pass's draft that are in the cache but not yet accepted.</summary>
        public int PendingDraftRows;
        /// <summary>Where this sequence's drafts come from; null when it does not speculate.</summary>
        public DraftSource? Drafts;
        /// <summary>The head that drafts for this sequence, following its slot's cache (MTP speculation).</summary>
        public MultiTokenDraft? Mtp;
        /// <summary>This step's draft tokens (after the grammar's cut), and whether the head is still drafting them.</summary>
        public int Drafted;
        public bool HeadDrafting;
        public CancellationTokenRegistration Registration;
        public Slot? Slot;
        public int PromptDone;
        /// <summary>The prompt chunk part-way through the layers (layered prefill beside generating sequences), or null.</summary>
        public LayeredPromptChunk? Layered;
        public volatile bool CancelRequested;

        public ReadOnlyMemory<int> NextToken => NextTokenBuffer;
        public bool IsCancelled => CancelRequested || Cancellation.IsCancellationRequested;
    }
}
