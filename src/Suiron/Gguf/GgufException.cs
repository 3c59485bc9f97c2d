namespace Suiron.Gguf;

/// <summary>A GGUF file is malformed or unsupported. <see cref="Offset"/> is the byte offset where the problem was found (-1 if none).</summary>
public sealed class GgufException : Exception
{
    /// <summary>A problem described by <paramref name="message"/>, found at <paramref name="offset"/> of <paramref name="path"/>.</summary>
    public GgufException(string message, long offset = -1, string? path = null)
        : base(Format(message, offset, path))
    {
        Offset = offset;
        Path = path;
    }

    /// <summary>Byte offset in the file where the problem was found; -1 when it is not about one place.</summary>
    public long Offset { get; }
    /// <summary>The file's path, where known.</summary>
    public string? Path { get; }

    private static string Format(string message, long offset, string? path)
    {
        string where = path is null ? "" : $"{path}: ";
        return offset >= 0 ? $"{where}{message} (at byte offset {offset})" : $"{where}{message}";
    }
}
