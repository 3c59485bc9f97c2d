namespace Suiron.Cluster;

/// <summary>An HTTP request relayed from the node that received it to the replica chosen to serve it.</summary>
[GenerateSerializer, Immutable]
public sealed record RelayRequest
{
    [Id(0)] public required string Path { get; init; }
    [Id(1)] public required byte[] Body { get; init; }
    /// <summary>Request headers the endpoint reads (content type, authorization, anthropic-version …) as name, value pairs.</summary>
    [Id(2)] public required string[] Headers { get; init; }
    /// <summary>The prompt's block hashes (<see cref="PrefixBlocks"/>), announced to the directory as soon as the replica takes the request.</summary>
    [Id(3)] public required ulong[] Blocks { get; init; }
    /// <summary>The prompt's tokens as the entry node computed them (what a replica without HTTP, in tests, generates from).</summary>
    [Id(4)] public required int[] Tokens { get; init; }
}

/// <summary>A piece of the replica's response: the first carries its status and headers, every one some body bytes.</summary>
[GenerateSerializer, Immutable]
public sealed record RelayChunk
{
    [Id(0)] public int Status { get; init; }
    /// <summary>Response headers as name, value pairs (first chunk only).</summary>
    [Id(1)] public string[]? Headers { get; init; }
    [Id(2)] public required byte[] Data { get; init; }
}

/// <summary>A replica's load and prefix cache statistics, as the routing and /health see them.</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaLoad
{
    [Id(0)] public int QueueDepth { get; init; }
    [Id(1)] public int ActiveSlots { get; init; }
    [Id(2)] public int Slots { get; init; }
    /// <summary>Where the replica's own HTTP API listens.</summary>
    [Id(3)] public string? HttpAddress { get; init; }
    /// <summary>Prompt tokens taken from the prefix cache and evaluated, since start.</summary>
    [Id(4)] public long PromptTokensCached { get; init; }
    [Id(5)] public long PromptTokensEvaluated { get; init; }
    [Id(6)] public long CompletedRequests { get; init; }
}

/// <summary>What one directory shard holds per replica (for /health and tests).</summary>
[GenerateSerializer, Immutable]
public sealed record DirectoryShardStats
{
    [Id(0)] public required Dictionary<string, int> BlocksByReplica { get; init; }
}
