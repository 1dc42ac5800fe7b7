using System.Globalization;
using System.Reflection;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using StreamTriggers.Kafka;
using StreamTriggers.Worker.Tools;

namespace StreamTriggers.Worker.Tests.Tools;

// The creation logic of `streamtriggers topics` against a fake admin client (librdkafka's mock cluster, used by the
// integration tests, has no CreateTopics API).
public sealed class TopicsCommandTests
{
    [Fact]
    public async Task CreatesOnlyTheMissingTopics_WithTheAskedPartitionsAndReplication()
    {
        var admin = FakeAdmin.Create(existing: new() { ["clickstream"] = 12 });

        var output = new StringWriter(CultureInfo.InvariantCulture);
        int code = await TopicsCommand.EnsureTopicsAsync(admin, new KafkaOptions(), 6, 3, TimeSpan.FromSeconds(5), output);

        Assert.Equal(0, code);
        var fake = (FakeAdmin)(object)admin;
        Assert.Equal(["triggers", "clickstream-dlq", "triggers-audit", "streamtriggers-customers"], fake.Created.Select(s => s.Name));
        Assert.All(fake.Created, s => Assert.Equal((6, (short)3), (s.NumPartitions, s.ReplicationFactor)));
        string text = output.ToString();
        Assert.Contains("exists   clickstream              12 partitions (asked for 6; left unchanged)", text, StringComparison.Ordinal);
        Assert.Contains("created  triggers-audit           6 partitions, replication factor 3", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APartialFailure_NamesTheTopic_AndExitsOne_WhileAnAlreadyCreatedTopicIsNoFailure()
    {
        var admin = FakeAdmin.Create(existing: [], fail: new() { ["triggers"] = ErrorCode.PolicyViolation, ["clickstream-dlq"] = ErrorCode.TopicAlreadyExists });

        var output = new StringWriter(CultureInfo.InvariantCulture);
        int code = await TopicsCommand.EnsureTopicsAsync(admin, new KafkaOptions(), 4, -1, TimeSpan.FromSeconds(5), output);

        Assert.Equal(1, code);
        string text = output.ToString();
        Assert.Contains("FAILED   triggers                 PolicyViolation", text, StringComparison.Ordinal);
        Assert.Contains("created  clickstream              4 partitions\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED   clickstream-dlq", text, StringComparison.Ordinal);
    }

    [Fact]
    public void PartitionsAreRequired()
    {
        var ex = Assert.Throws<Cli.UsageException>(() => TopicsCommand.RunAsync(["--bootstrap", "localhost:9092"], TextWriter.Null).GetAwaiter().GetResult());
        Assert.Contains("--partitions is required", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>An <see cref="IAdminClient"/> answering only metadata and topic creation.</summary>
    public class FakeAdmin : DispatchProxy
    {
        private Dictionary<string, int> _existing = [];
        private Dictionary<string, ErrorCode> _fail = [];

        public List<TopicSpecification> Created { get; } = [];

        public static IAdminClient Create(Dictionary<string, int> existing, Dictionary<string, ErrorCode>? fail = null)
        {
            var proxy = DispatchProxy.Create<IAdminClient, FakeAdmin>();
            var fake = (FakeAdmin)(object)proxy;
            fake._existing = existing;
            fake._fail = fail ?? [];
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            switch (targetMethod!.Name)
            {
                case "GetMetadata":
                    var topics = _existing.Select(kv => new TopicMetadata(kv.Key,
                        [.. Enumerable.Range(0, kv.Value).Select(p => new PartitionMetadata(p, 1, [1], [1], ErrorCode.NoError))], ErrorCode.NoError)).ToList();
                    return new Metadata([new BrokerMetadata(1, "localhost", 9092)], topics, 1, "localhost:9092/1");
                case "CreateTopicsAsync":
                    var specs = ((IEnumerable<TopicSpecification>)args![0]!).ToList();
                    var results = specs.Select(s => new CreateTopicReport
                    {
                        Topic = s.Name,
                        Error = new Error(_fail.GetValueOrDefault(s.Name, ErrorCode.NoError)),
                    }).ToList();
                    Created.AddRange(specs.Where(s => !_fail.ContainsKey(s.Name)));
                    return results.Any(r => r.Error.IsError) ? Task.FromException(new CreateTopicsException(results)) : Task.CompletedTask;
                default:
                    throw new NotSupportedException(targetMethod.Name);
            }
        }
    }
}
