using System.Text.RegularExpressions;

namespace Suiron.Server.Routing;

/// <summary>
/// A model a router can serve: its name in requests, its GGUF file (or the parts of a split one, in order) and the
/// other names requests may use for it.
/// </summary>
public sealed record ModelSource(string Id, IReadOnlyList<string> Files, IReadOnlyList<string> Aliases)
{
    /// <summary>One file; its id is the file name without <c>.gguf</c>.</summary>
    public static ModelSource FromFile(string path, IReadOnlyList<string>? aliases = null)
        => new(IdOf(path), [Path.GetFullPath(path)], aliases ?? []);

    /// <summary>
    /// Every model in <paramref name="directory"/>, as llama-server's <c>--models-dir</c> lays them out: each
    /// <c>*.gguf</c> file is a model, the parts of a split file (<c>NAME-00001-of-00003.gguf</c> …) are one model
    /// named NAME, and a subfolder holding GGUF files is one model named after the folder (its multimodal projector,
    /// <c>mmproj*.gguf</c>, left out). Sorted by id.
    /// </summary>
    public static IReadOnlyList<ModelSource> FromDirectory(string directory)
    {
        var models = new List<ModelSource>();
        foreach (var group in Directory.EnumerateFiles(directory, "*.gguf").GroupBy(SplitStem, StringComparer.Ordinal))
        {
            string[] parts = group.Order(StringComparer.Ordinal).ToArray();
            models.Add(new ModelSource(parts.Length == 1 ? IdOf(parts[0]) : group.Key, parts.Select(Path.GetFullPath).ToArray(), []));
        }
        foreach (string folder in Directory.EnumerateDirectories(directory))
        {
            string[] parts = Directory.EnumerateFiles(folder, "*.gguf")
                .Where(f => !Path.GetFileName(f).StartsWith("mmproj", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal).ToArray();
            if (parts.Length > 0) models.Add(new ModelSource(Path.GetFileName(folder), parts.Select(Path.GetFullPath).ToArray(), []));
        }
        return models.OrderBy(m => m.Id, StringComparer.Ordinal).ToArray();
    }

    private static readonly Regex SplitPart = new(@"^(?<stem>.+)-\d{5}-of-\d{5}\.gguf$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>The name shared by the parts of a split file; a whole file's own path otherwise.</summary>
    private static string SplitStem(string path)
        => SplitPart.Match(Path.GetFileName(path)) is { Success: true } match ? match.Groups["stem"].Value : path;

    private static string IdOf(string path)
    {
        string name = Path.GetFileName(path);
        return name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? name[..^5] : name;
    }
}
