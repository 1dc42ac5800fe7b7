using System.Collections;
using StreamTriggers.Load;

namespace StreamTriggers.Worker.Tests.Load;

public sealed class ReportTests
{
    [Fact]
    public void RuntimeSettings_KeepTheGcAndThreadPoolSettingsGivenByEnvironment_AsSpelled()
    {
        // A report must say which GC configuration it measured; the runtime reads the names case-sensitively, so a
        // misspelled one is shown as spelled (it would have changed nothing).
        var environment = new Hashtable
        {
            ["DOTNET_GCGen0MaxBudget"] = "800000",
            ["DOTNET_gcServer"] = "1",
            ["COMPlus_gcConcurrent"] = "0",
            ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0",
            ["DOTNET_ROOT"] = "/usr/share/dotnet",
            ["PATH"] = "/usr/bin",
            ["MY_GC_NOTE"] = "x",
        };

        var settings = Report.RuntimeSettings(environment);

        Assert.Equal(
            ["COMPlus_gcConcurrent", "DOTNET_GCGen0MaxBudget", "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit", "DOTNET_gcServer"],
            settings.Keys);
        Assert.Equal("800000", settings["DOTNET_GCGen0MaxBudget"]);
    }

    [Fact]
    public void CpuTable_HasARowAndABarPerProcess_SplitByRole()
    {
        var cpu = new CpuUse(10, 2, 0.95, 1_000_000,
        [
            new("worker", 1.2, new Dictionary<string, double> { ["app"] = 0.8, ["gc"] = 0.4 }),
            new("redis-server", 0.1, new Dictionary<string, double> { ["app"] = 0.1 }),
        ]);

        string html = Report.CpuTable(cpu);

        Assert.Contains("<td>worker</td><td>1.20</td><td>0.80</td><td>0.40</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td>12.0</td>", html, StringComparison.Ordinal); // 1.2 cores x 10 s / 1,000,000 events
        Assert.Contains("<td>redis-server</td><td>0.10</td>", html, StringComparison.Ordinal);
        // Bars are scaled to the machine: 0.8 of 2 cores is a third of the 240 px bar.
        Assert.Contains("width=\"96\" height=\"12\" fill=\"#1565c0\"", html, StringComparison.Ordinal);
        Assert.Equal(3, html.Split("<rect ").Length - 1);
    }

    [Fact]
    public void LateWaitBar_SplitsOneBarByPhase_LargestFirst_AndSaysWhenThereIsNothingToShow()
    {
        var late = new LateWait(20, 4, new Dictionary<string, double> { ["read"] = 30, ["gc"] = 90, ["idle"] = 0 });

        string html = Report.LateWaitBar(late);

        Assert.Contains("4 triggers were handed to the producer more than 20 ms", html, StringComparison.Ordinal);
        Assert.Contains("30.0 ms after their due time on average", html, StringComparison.Ordinal); // 120 ms over 4
        Assert.Equal(2, html.Split("<rect ").Length - 1); // no segment for a phase that took nothing
        Assert.True(html.IndexOf("gc 75%", StringComparison.Ordinal) < html.IndexOf("read 25%", StringComparison.Ordinal));
        Assert.Contains("width=\"360\"", html, StringComparison.Ordinal); // three quarters of the 480 px bar
        Assert.EndsWith("20 ms after their deadline + allowed lateness.</p>", Report.LateWaitBar(new LateWait(20, 0, new Dictionary<string, double>())), StringComparison.Ordinal);
        Assert.Empty(Report.LateWaitBar(LateWait.Empty)); // a worker that does not export the series
    }
}
