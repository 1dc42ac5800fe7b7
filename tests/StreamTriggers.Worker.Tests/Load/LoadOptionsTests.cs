using StreamTriggers.Load;
using StreamTriggers.Worker.Cli;

namespace StreamTriggers.Worker.Tests.Load;

// The load tool's --set: worker settings for one run, in order, each a StreamTriggers: or Logging: key with a value.
public sealed class LoadOptionsTests
{
    [Fact]
    public void Set_GivesTheWorkerItsSettings_InOrder_ValuesMayHoldEqualsSigns()
    {
        var o = LoadOptions.Parse(["--set", "StreamTriggers:Worker:OpenSessionWriteDelay=0", "--set=StreamTriggers:Kafka:Settings:x=1=2", "--set", "Logging:LogLevel:Default=Debug"]);

        Assert.Equal(
            [new("StreamTriggers:Worker:OpenSessionWriteDelay", "0"), new("StreamTriggers:Kafka:Settings:x", "1=2"), new("Logging:LogLevel:Default", "Debug")],
            o.WorkerSettings);
        Assert.Empty(LoadOptions.Parse([]).WorkerSettings);
    }

    [Theory]
    [InlineData("Worker:CommitInterval=00:00:01")]
    [InlineData("StreamTriggers:Worker:CommitInterval")]
    [InlineData("=1")]
    public void Set_RefusesWhatIsNotAWorkerSetting(string setting)
    {
        var ex = Assert.Throws<UsageException>(() => LoadOptions.Parse(["--set", setting]));
        Assert.Contains("--set", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Warmup_IsTenSecondsUnlessGiven_ZeroMeasuresFromTheFirstEvent()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), LoadOptions.Parse([]).Warmup);
        Assert.Equal(TimeSpan.FromSeconds(3), LoadOptions.Parse(["--warmup", "3s"]).Warmup);
        Assert.Equal(TimeSpan.Zero, LoadOptions.Parse(["--warmup", "0s"]).Warmup);
        Assert.Throws<UsageException>(() => LoadOptions.Parse(["--warmup", "ten"]));
    }
}
