namespace StreamTriggers.IntegrationTests.Infrastructure;

/// <summary>The repository the tests run from (its samples and docker files are test inputs).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamTriggers.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("StreamTriggers.sln not found above the test binary");
    }
}
