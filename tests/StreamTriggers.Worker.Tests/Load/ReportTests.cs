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
}
