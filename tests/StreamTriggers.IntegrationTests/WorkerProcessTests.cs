using System.Diagnostics;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Kafka.Mock;

namespace StreamTriggers.IntegrationTests;

public sealed class WorkerProcessTests
{
    [Fact]
    public async Task InvalidConfiguration_FailsAtStart_NamingTheKey_WithExitCode2()
    {
        var (code, output) = await RunAsync(TimeSpan.FromSeconds(60), null, "run",
            "--StreamTriggers:Kafka:BootstrapServers=127.0.0.1:1", "--StreamTriggers:Rules:Gap=00:00:00", "--StreamTriggers:Worker:MaxBatchSize=0");

        Assert.Equal(2, code);
        Assert.Contains("StreamTriggers:Rules:Gap is 0s", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_StopsTheWorkerCleanly_WithExitCode0()
    {
        await using var redis = await RedisServer.StartAsync();
        using var kafka = new MockCluster();
        foreach (var t in new[] { "clickstream", "triggers", "clickstream-dlq" }) kafka.CreateTopic(t, 4);
        var settings = new WorkerSettings(kafka.BootstrapServers, redis.Configuration, "g-term", TimeSpan.FromSeconds(2));

        var (code, output) = await RunAsync(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(6), ["run", .. settings.Args(), "--Logging:LogLevel:Default=Information"]);

        Assert.True(code == 0, $"exit {code}: {output}");
        Assert.Contains("revoked", output, StringComparison.Ordinal);
    }

    // Runs streamtriggers; with sigtermAfter, sends SIGTERM then and measures how long the stop takes.
    private static async Task<(int Code, string Output)> RunAsync(TimeSpan timeout, TimeSpan? sigtermAfter, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamtriggers.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (sigtermAfter is { } delay)
        {
            await Task.Delay(delay);
            using var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            var stopped = Stopwatch.StartNew();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(20), $"stop took {stopped.Elapsed}");
        }
        else
        {
            await p.WaitForExitAsync().WaitAsync(timeout);
        }

        return (p.ExitCode, await stdout + await stderr);
    }
}
