using System.Globalization;
using Confluent.Kafka;
using StreamTriggers.Kafka;
using StreamTriggers.Kafka.Mock;
using StreamTriggers.Worker.Tools;

namespace StreamTriggers.IntegrationTests;

// `streamtriggers topics` through the Kafka admin protocol against librdkafka's mock cluster.
public sealed class TopicsCommandTests : IDisposable
{
    private readonly MockCluster _kafka = new(brokers: 3);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task ExistingTopics_AreReportedWithTheirPartitionCounts_AndLeftAlone()
    {
        foreach (var (topic, partitions) in new[] { ("clickstream", 12), ("triggers", 6), ("clickstream-dlq", 1), ("triggers-audit", 6), ("streamtriggers-customers", 6) })
        {
            _kafka.CreateTopic(topic, partitions);
        }

        var (code, output) = await TopicsAsync("--partitions", "6");

        Assert.Equal(0, code);
        Assert.Contains("exists   clickstream              12 partitions (asked for 6; left unchanged)", output, StringComparison.Ordinal);
        Assert.Contains("exists   triggers                 6 partitions\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("exists   clickstream-dlq          1 partitions (asked for 6; left unchanged)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("created", output, StringComparison.Ordinal);
        Assert.Equal(12, PartitionCounts()["clickstream"]);
    }

    [Fact]
    public async Task MissingTopics_TheBrokerCannotCreate_AreReportedAsFailed()
    {
        // librdkafka's mock cluster does not implement the CreateTopics API, so here the request fails at the
        // broker; the command must say so per topic and exit 1. (Creation itself is covered against a fake admin
        // client in the unit tests.)
        _kafka.CreateTopic("clickstream", 3);

        var (code, output) = await TopicsAsync("--partitions", "6", "--timeout", "3s");

        Assert.Equal(1, code);
        Assert.Contains("exists   clickstream", output, StringComparison.Ordinal);
        Assert.Contains("FAILED", output, StringComparison.Ordinal);
        Assert.DoesNotContain("created", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableCluster_FailsWithAReason()
    {
        var (code, output) = await TopicsAsync("--partitions", "2", "--bootstrap", $"127.0.0.1:{Infrastructure.RedisServer.FreePort()}", "--timeout", "2s");
        Assert.Equal(1, code);
        Assert.Contains("cannot reach the cluster", output, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Output)> TopicsAsync(params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        string[] all = args.Contains("--bootstrap") ? args : [.. args, "--bootstrap", _kafka.BootstrapServers];
        // Topic names come from configuration; keep a developer's environment out of the test.
        Assert.Null(Environment.GetEnvironmentVariable("StreamTriggers__Kafka__InputTopic"));
        int code = await TopicsCommand.RunAsync(all, output).WaitAsync(TimeSpan.FromSeconds(60));
        return (code, output.ToString());
    }

    private Dictionary<string, int> PartitionCounts()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _kafka.BootstrapServers }).Build();
        return admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.ToDictionary(t => t.Topic, t => t.Partitions.Count);
    }
}
