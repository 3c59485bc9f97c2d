namespace Suiron.Tests;

/// <summary>
/// Finds the read-only test data folder <c>shared/</c> that sits beside the checkout (or <c>$SUIRON_SHARED</c>). One file,
/// compiled into each test project (Suiron.Tests, Suiron.Server.Tests, Suiron.Cluster.Tests).
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string> RootPath = new(Locate);

    public static string Root => RootPath.Value;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string Locate()
    {
        string? env = Environment.GetEnvironmentVariable("SUIRON_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in new[] { System.IO.Path.Combine(dir.FullName, "shared"), System.IO.Path.Combine(dir.FullName, "..", "shared") })
                if (Directory.Exists(System.IO.Path.Combine(candidate, "models")) && Directory.Exists(System.IO.Path.Combine(candidate, "vocab")))
                    return System.IO.Path.GetFullPath(candidate);
        }
        throw new DirectoryNotFoundException("Test data folder 'shared/' (with models/ and vocab/) not found beside the checkout; set SUIRON_SHARED to its path.");
    }
}
