using System.Diagnostics;
using StreamTriggers.Worker.Cli;
using StreamTriggers.Worker.Replay;

namespace StreamTriggers.Worker.Tests.Replay;

public class ReplayCommandTests
{
    [Fact]
    public void Options_AreParsed()
    {
        var o = ReplayCommand.Parse(["--input", "x.csv", "--format=rees46", "--gap", "5m", "--browse-min-products", "3", "--cooldown", "2h", "--lateness", "1500ms", "--flush", "--output", "out.jsonl",
            "--max-event-bytes", "4096", "--max-string-bytes", "64", "--max-items", "5"]);

        Assert.Equal((4096, 64, 5), (o.Limits.MaxEventBytes, o.Limits.MaxStringBytes, o.Limits.MaxItems));
        Assert.Equal("x.csv", o.Input);
        Assert.Equal(InputFormat.Rees46, o.Format);
        Assert.Equal(TimeSpan.FromMinutes(5), o.Rules.Gap);
        Assert.Equal(3, o.Rules.BrowseMinProducts);
        Assert.Equal(TimeSpan.FromHours(2), o.Rules.Cooldown);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), o.Rules.AllowedLateness);
        Assert.True(o.Flush);
        Assert.Equal("out.jsonl", o.Output);
    }

    [Theory]
    [InlineData(new[] { "--gap", "5m" }, "--input is required")]
    [InlineData(new[] { "--input", "x", "--gap", "soon" }, "--gap is 'soon'")]
    [InlineData(new[] { "--input", "x", "--gapp", "5m" }, "unknown option --gapp")]
    [InlineData(new[] { "--input", "x", "--format", "xml" }, "--format is 'xml'")]
    [InlineData(new[] { "--input", "x", "--browse-min-products", "0" }, "--browse-min-products is '0'")]
    [InlineData(new[] { "--input", "x", "--gap", "0s" }, "--gap is 0s")]
    [InlineData(new[] { "--input", "x", "--cooldown", "30d" }, "--retention is 7d")]
    [InlineData(new[] { "--input" }, "--input needs a value")]
    public void BadOptions_FailWithTheOptionNamed(string[] args, string message)
    {
        var ex = Assert.Throws<UsageException>(() => ReplayCommand.Parse(args));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Executable_ReplaysTheSample_AndExitsZero()
    {
        var (code, stdout, stderr) = RunCli("replay", "--input", Paths.Sample("clickstream.jsonl"), "--lifecycle", "off", "--no-progress");

        Assert.Equal(0, code);
        Assert.Equal(3, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("19 events read", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Executable_ExitsTwo_OnAUsageError()
    {
        var (code, _, stderr) = RunCli("replay", "--input", "/nonexistent/file.jsonl");

        Assert.Equal(2, code);
        Assert.Contains("no file at", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void WorkerRuntimeConfig_IsServerGcWithBackgroundCollections_AndTheGen0Cap()
    {
        // What the live worker's lateness figures were measured with (README, Performance): server GC, background
        // gen2 collections, the 5 MB gen0 budget. `replay` switches itself to batch collections at start.
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "streamtriggers.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.True(properties.GetProperty("System.GC.Concurrent").GetBoolean());
        Assert.Equal(5242880, properties.GetProperty("System.GC.Gen0MaxBudget").GetInt32());
    }

    private static (int Code, string Stdout, string Stderr) RunCli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamtriggers.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("streamtriggers did not exit within 60 s");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
