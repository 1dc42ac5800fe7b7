using Confluent.Kafka;
using Confluent.Kafka.Admin;
using StreamTriggers.Kafka;
using StreamTriggers.Kafka.Native;
using StreamTriggers.Worker.Cli;

namespace StreamTriggers.Worker.Tools;

/// <summary>
/// <c>streamtriggers topics</c>: creates the topics the worker reads and writes on a real cluster, with a chosen
/// partition count. Idempotent: existing topics are reported, never changed.
/// </summary>
internal static class TopicsCommand
{
    public const string Usage = """
        streamtriggers topics --partitions N [options]

        Creates the input, trigger, dead-letter, audit and customer topics (names from StreamTriggers:Kafka:*Topic)
        that do not exist yet. Existing topics are listed with their partition count and left as they are.

          --partitions N           partitions of each new topic (the input topic's count caps how many workers share
                                   the load: one partition is processed by one worker at a time)
          --replication-factor R   replicas of each new topic (default: the broker's default.replication.factor)
          --bootstrap SERVERS      brokers (default: StreamTriggers:Kafka:BootstrapServers); security settings come
                                   from StreamTriggers:Kafka:Settings:* as for 'run'
          --timeout DURATION       give up after this long (default 30s)

        Do not add partitions to the input topic of a running deployment: keys move to other partitions and their
        sessions' state stays behind. Create it with the count you will need (see README, "Scaling out").
        Exit status: 0 every topic exists, 1 a topic could not be created, 2 usage error.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var cl = new CommandLine(args, new HashSet<string>());
        var kafka = ToolConfiguration.Kafka(ToolConfiguration.Load());
        int partitions = cl.Int("partitions", 0, 1, 10_000);
        int replication = cl.Int("replication-factor", -1, 1, 100);
        string bootstrap = cl.String("bootstrap", kafka.BootstrapServers)!;
        var timeout = cl.Duration("timeout", TimeSpan.FromSeconds(30));
        cl.EnsureAllUsed();
        if (partitions == 0)
        {
            throw new UsageException("--partitions is required");
        }

        if (string.IsNullOrWhiteSpace(bootstrap))
        {
            throw new UsageException("no brokers configured: pass --bootstrap host:9092 or set StreamTriggers__Kafka__BootstrapServers");
        }

        var errors = kafka.Validate().ToList();
        if (errors.Count > 0)
        {
            throw new UsageException(string.Join(Environment.NewLine, errors));
        }

        LibRdKafka.EnsureLoaded();
        var config = new AdminClientConfig(kafka.Settings) { BootstrapServers = bootstrap };
        using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).Build();
        return await EnsureTopicsAsync(admin, kafka, partitions, (short)replication, timeout, output).ConfigureAwait(false);
    }

    internal static async Task<int> EnsureTopicsAsync(IAdminClient admin, KafkaOptions kafka, int partitions, short replication, TimeSpan timeout, TextWriter output)
    {
        Metadata metadata;
        try
        {
            metadata = admin.GetMetadata(timeout);
        }
        catch (KafkaException ex)
        {
            await output.WriteLineAsync($"cannot reach the cluster: {ex.Error.Reason}").ConfigureAwait(false);
            return 1;
        }

        var existing = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);
        var missing = kafka.Topics.Where(t => !existing.ContainsKey(t)).ToList();
        foreach (var topic in kafka.Topics.Where(existing.ContainsKey))
        {
            string note = existing[topic] != partitions ? $" (asked for {partitions}; left unchanged)" : string.Empty;
            await output.WriteLineAsync($"exists   {topic,-24} {existing[topic]} partitions{note}").ConfigureAwait(false);
        }

        if (missing.Count == 0)
        {
            return 0;
        }

        var specs = missing.Select(t => new TopicSpecification { Name = t, NumPartitions = partitions, ReplicationFactor = replication }).ToList();
        int failed = 0;
        try
        {
            await admin.CreateTopicsAsync(specs, new CreateTopicsOptions { RequestTimeout = timeout, OperationTimeout = timeout }).ConfigureAwait(false);
        }
        catch (CreateTopicsException ex)
        {
            foreach (var r in ex.Results.Where(r => r.Error.Code is not ErrorCode.NoError and not ErrorCode.TopicAlreadyExists))
            {
                failed++;
                await output.WriteLineAsync($"FAILED   {r.Topic,-24} {r.Error.Code}: {r.Error.Reason}").ConfigureAwait(false);
                missing.Remove(r.Topic);
            }
        }
        catch (KafkaException ex)
        {
            await output.WriteLineAsync($"FAILED   {ex.Error.Code}: {ex.Error.Reason}").ConfigureAwait(false);
            return 1;
        }

        foreach (var topic in missing)
        {
            await output.WriteLineAsync($"created  {topic,-24} {partitions} partitions{(replication > 0 ? $", replication factor {replication}" : string.Empty)}").ConfigureAwait(false);
        }

        return failed == 0 ? 0 : 1;
    }
}
