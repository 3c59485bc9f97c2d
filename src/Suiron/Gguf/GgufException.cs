namespace Suiron.Gguf;

/// <summary>A GGUF file is malformed or unsupported. <see cref="Offset"/> is the byte offset where the problem was found (-1 if none).</summary>
public sealed class GgufException : Exception
{
    public GgufException(string message, long offset = -1, string? path = null)
        : base(Format(message, offset, path))
    {
        Offset = offset;
        Path = path;
    }

    public long Offset { get; }
    public string? Path { get; }

    private static string Format(string message, long offset, string? path)
    {
        string where = path is null ? "" : $"{path}: ";
        return offset >= 0 ? $"{where}{message} (at byte offset {offset})" : $"{where}{message}";
    }
}
