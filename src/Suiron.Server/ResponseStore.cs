using System.Text.Json.Nodes;
using Suiron.Server.Contracts;

namespace Suiron.Server;

/// <summary>
/// Responses kept for <c>previous_response_id</c> (those created with <c>store: true</c>), in memory, at most
/// <see cref="Capacity"/> of them: the least recently used goes first. Each keeps its whole conversation as template
/// messages (input, then output, instructions aside), so a continuation renders the same prompt prefix and the
/// scheduler's prefix cache serves it; an evicted ancestor does not break its descendants. Thread-safe.
/// </summary>
public sealed class ResponseStore(int capacity)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _byId = [];
    private readonly LinkedList<Entry> _recency = []; // most recently used first

    private sealed record Entry(string Id, JsonArray Conversation, ResponseObject Response);

    public int Capacity { get; } = capacity >= 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), "The store's capacity must be ≥ 0.");

    public int Count
    {
        get { lock (_lock) return _byId.Count; }
    }

    /// <summary>Keeps a response and its conversation (copied), evicting the least recently used beyond the capacity.</summary>
    public void Add(ResponseObject response, JsonArray conversation)
    {
        if (Capacity == 0) return;
        var entry = new Entry(response.Id, (JsonArray)conversation.DeepClone(), response);
        lock (_lock)
        {
            if (_byId.Remove(entry.Id, out var old)) _recency.Remove(old);
            _byId[entry.Id] = _recency.AddFirst(entry);
            while (_byId.Count > Capacity)
            {
                var last = _recency.Last!;
                _recency.RemoveLast();
                _byId.Remove(last.Value.Id);
            }
        }
    }

    /// <summary>The conversation (a copy, to extend) and response stored under <paramref name="id"/>; marks it used.</summary>
    public bool TryGet(string id, out JsonArray conversation, out ResponseObject response)
    {
        lock (_lock)
        {
            if (_byId.TryGetValue(id, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                conversation = (JsonArray)node.Value.Conversation.DeepClone();
                response = node.Value.Response;
                return true;
            }
        }
        conversation = null!;
        response = null!;
        return false;
    }

    public bool Remove(string id)
    {
        lock (_lock)
        {
            if (!_byId.Remove(id, out var node)) return false;
            _recency.Remove(node);
            return true;
        }
    }
}
