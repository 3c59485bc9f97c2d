/// <summary>
/// Locates the shared test data (<c>shared/</c> beside the checkout: models, vocab suites, tokenizer cases) by walking up
/// from the test binaries. Missing data is an error, never a skip.
/// </summary>
internal static class SharedData
{
    public static string Root { get; } = Find();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(System.IO.Path.Combine(candidate, "vocab"))) return candidate;
        }
        throw new DirectoryNotFoundException($"No shared/vocab found in any directory above {AppContext.BaseDirectory}; the test data must sit beside the checkout");
    }
}
