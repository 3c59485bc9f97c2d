/// <summary>
/// Locates the shared test data (<c>shared/</c> with <c>models/</c>) by walking up from the test binaries.
/// Missing data fails the tests that need it: nothing is skipped silently.
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    public static string Root => RootPath.Value;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(System.IO.Path.Combine(candidate, "models"))) return candidate;
        }
        throw new DirectoryNotFoundException($"No 'shared' directory with 'models/' above {AppContext.BaseDirectory}; the test data is missing.");
    }
}
