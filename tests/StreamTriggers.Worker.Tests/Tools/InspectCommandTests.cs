using System.Globalization;
using StreamTriggers.Worker.Cli;
using StreamTriggers.Worker.Tools;

namespace StreamTriggers.Worker.Tests.Tools;

// The command line of `streamtriggers inspect` (its Redis reads are covered by the integration tests).
public sealed class InspectCommandTests
{
    [Theory]
    [InlineData(new[] { "--redis", "localhost:1" }, "give exactly one of --session ID or --customer ID")]
    [InlineData(new[] { "--session", "a", "--customer", "b", "--redis", "localhost:1" }, "give exactly one of --session ID or --customer ID")]
    [InlineData(new[] { "--session", "a", "--bogus", "x" }, "unknown option --bogus")]
    [InlineData(new[] { "--session", "a", "--partition", "-1" }, "--partition is '-1'")]
    public void UsageErrors_NameTheProblem(string[] args, string message)
    {
        var ex = Assert.Throws<UsageException>(() => InspectCommand.RunAsync(args, TextWriter.Null).GetAwaiter().GetResult());
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnreachableRedis_IsAUsageError_NamingTheAddress()
    {
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        }

        var ex = Assert.Throws<UsageException>(() => InspectCommand.RunAsync(["--session", "a", "--redis", $"127.0.0.1:{port},connectTimeout=500"], TextWriter.Null).GetAwaiter().GetResult());
        Assert.Contains($"cannot connect to Redis at '127.0.0.1:{port}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NothingStored_PrintsWhereItLooked()
    {
        var store = new StreamTriggers.State.InMemoryStateStore();
        await store.ClaimAsync(new StreamTriggers.State.PartitionId("clickstream", 0), default);
        var report = await InspectCommand.InspectAsync(store, "ghost", null, null, default);
        var output = new StringWriter(CultureInfo.InvariantCulture);

        InspectCommand.WriteText(report, output, 0);

        Assert.Empty(report.Sessions);
        Assert.Contains("session ghost: nothing stored (1 partitions searched)", output.ToString(), StringComparison.Ordinal);
    }
}
