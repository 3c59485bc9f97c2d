namespace Suiron.Cluster;

/// <summary>
/// A response body that first lets the replica publish any prefix cache change (<see cref="PrefixPublisher.PublishPendingAsync"/>)
/// and then writes: the scheduler releases a finished sequence's slot before the endpoint writes its last bytes, so the
/// reply's blocks reach the prefix directory before the client has the whole reply and can send its next turn.
/// Costs nothing when nothing changed (one comparison per write).
/// </summary>
internal sealed class PublishingResponseBody(Stream inner, PrefixPublisher publisher) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await publisher.PublishPendingAsync();
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await publisher.PublishPendingAsync();
        await inner.FlushAsync(cancellationToken);
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
