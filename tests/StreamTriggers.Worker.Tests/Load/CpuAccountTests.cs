using System.Diagnostics;
using StreamTriggers.Load;

namespace StreamTriggers.Worker.Tests.Load;

public sealed class CpuAccountTests
{
    [Theory]
    [InlineData("4242 (.NET Server GC) S 1 4242 4242 0 -1 4194368 120 0 0 0 1234 56 0 0 20 0 30 0 900 0 0", ".NET Server GC", 1290)]
    [InlineData("7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0", "a (b) c", 7)]
    [InlineData("9 (rdk:broker1) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", "rdk:broker1", 0)]
    public void ParseStat_TakesTheNameInParentheses_AndAddsUserAndSystemTicks(string line, string comm, long ticks)
    {
        // The name may hold spaces and parentheses: fields are counted from the last ')', utime and stime are 14 and 15.
        Assert.Equal((comm, ticks), CpuAccount.ParseStat(line));
    }

    [Theory]
    [InlineData("")]
    [InlineData("12 no parentheses 1 2 3")]
    [InlineData("12 (short) S 1 2")]
    [InlineData("12 (x) S 1 2 3 4 5 6 7 8 9 10 abc 4 0")]
    public void ParseStat_RefusesWhatItCannotRead(string line) => Assert.Null(CpuAccount.ParseStat(line));

    [Fact]
    public void ParseMachine_CountsIdleAndIowaitAsNotBusy()
    {
        // user nice system idle iowait irq softirq steal guest guest_nice: guest time is inside user already.
        Assert.Equal((100L + 2 + 30 + 5 + 6 + 7, 100L + 2 + 30 + 400 + 9 + 5 + 6 + 7), CpuAccount.ParseMachine("cpu  100 2 30 400 9 5 6 7 50 0"));
        Assert.Null(CpuAccount.ParseMachine("cpu0 1 2 3 4 5"));
        Assert.Null(CpuAccount.ParseMachine("cpu 1 x 3 4"));
    }

    [Theory]
    [InlineData(".NET Server GC", "gc")]
    [InlineData(".NET BGC", "gc")]
    [InlineData(".NET Tiered Com", "jit")]
    [InlineData("rdk:mock", "embedded broker")]
    [InlineData("rdk:broker1", "librdkafka")]
    [InlineData("rdk:main", "librdkafka")]
    [InlineData(".NET TP Worker", "app")]
    [InlineData("StackExchange.R", "app")]
    public void RoleOf_NamesTheThreadsRole(string comm, string role) => Assert.Equal(role, CpuAccount.RoleOf(comm));

    [Fact]
    public void Between_GivesCoresPerRole_AndKeepsWhatExitedThreadsUsedInApp()
    {
        // 10 s apart: the process used 12 CPU s in all; its live threads account for gc 4 and jit 1 of them, and the
        // app threads still alive for 5 (2 s went to threads that ended): app gets the 7 s not in a named role.
        var first = new CpuAccount.Snapshot(100, 200, [new("worker", 50, new Dictionary<string, double> { ["gc"] = 10, ["app"] = 30, ["jit"] = 1 })]);
        var last = new CpuAccount.Snapshot(118, 220, [new("worker", 62, new Dictionary<string, double> { ["gc"] = 14, ["app"] = 35, ["jit"] = 2 })]);

        var use = CpuAccount.Between(first, last, wallSeconds: 10, events: 1_000_000)!;

        var worker = Assert.Single(use.Processes);
        Assert.Equal(1.2, worker.Cores, 6);
        Assert.Equal(0.4, worker.ByRole["gc"], 6);
        Assert.Equal(0.1, worker.ByRole["jit"], 6);
        Assert.Equal(0.7, worker.ByRole["app"], 6);
        Assert.Equal(0.9, use.MachineBusyShare, 6);
        Assert.Equal(12.0, use.MicrosecondsPerEvent("worker")!.Value, 6);
        Assert.Equal(4.0, use.MicrosecondsPerEvent("worker", "gc")!.Value, 6);
        Assert.Null(use.MicrosecondsPerEvent("redis-server"));
        Assert.Contains(use.Lines(), l => l == "worker: 1.20 cores (app 0.70, gc 0.40, jit 0.10); 12.0 us per event");
    }

    [Fact]
    public void Between_LeavesOutAProcessThatWasNotThereAtTheStart_AndNeedsBothReadings()
    {
        var first = new CpuAccount.Snapshot(0, 10, []);
        var last = new CpuAccount.Snapshot(5, 20, [new("worker", 3, new Dictionary<string, double>())]);
        Assert.Empty(CpuAccount.Between(first, last, 10, 100)!.Processes);
        Assert.Null(CpuAccount.Between(null, last, 10, 100));
        Assert.Null(CpuAccount.Between(first, null, 10, 100));
    }

    [Fact]
    public void Take_OnThisProcess_SeesAThreadThatSpinsAsApp()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc is Linux's
        }

        var targets = new[] { new CpuAccount.Target("tests", Environment.ProcessId) };
        var first = CpuAccount.Take(targets);
        var wall = Stopwatch.StartNew();
        var spinner = new Thread(() =>
        {
            var cpu = Stopwatch.StartNew();
            while (cpu.ElapsedMilliseconds < 400)
            {
                Thread.SpinWait(1000);
            }
        }) { Name = "cpu-test-spin" };
        spinner.Start();
        Assert.True(spinner.Join(TimeSpan.FromSeconds(30)), "the spinning thread did not finish");
        var last = CpuAccount.Take(targets);

        var use = CpuAccount.Between(first, last, wall.Elapsed.TotalSeconds, events: 1)!;

        // 400 ms of spinning on a shared machine: at least a quarter of it on a CPU, and never more than all cores.
        var tests = Assert.Single(use.Processes);
        Assert.InRange(tests.Cores * use.Seconds, 0.1, use.Seconds * Environment.ProcessorCount + 0.05);
        Assert.InRange(tests.ByRole["app"] * use.Seconds, 0.1, double.MaxValue);
        Assert.InRange(use.MachineBusyShare, 0.0, 1.0);
    }
}
