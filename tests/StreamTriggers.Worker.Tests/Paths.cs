namespace StreamTriggers.Worker.Tests;

/// <summary>Where the repository, its samples and the shared REES46 data are, found from the test binary.</summary>
internal static class Paths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Sample(string name) => Path.Combine(RepoRoot, "samples", name);

    /// <summary>The shared real clickstream. Missing data fails the test: CI provides it beside the clone.</summary>
    public static string SharedData(string name)
    {
        string dir = Environment.GetEnvironmentVariable("STREAMTRIGGERS_DATA") ?? Path.Combine(RepoRoot, "..", "shared", "data");
        string path = Path.GetFullPath(Path.Combine(dir, name));
        return File.Exists(path) ? path : throw new FileNotFoundException($"shared clickstream data not found at {path}; set STREAMTRIGGERS_DATA", path);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamTriggers.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("StreamTriggers.sln not found above " + AppContext.BaseDirectory);
    }
}
