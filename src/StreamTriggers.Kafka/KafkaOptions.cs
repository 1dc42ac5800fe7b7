namespace StreamTriggers.Kafka;

/// <summary>Topics, group and client settings. Bound from <c>StreamTriggers:Kafka</c>.</summary>
public sealed class KafkaOptions
{
    public const string SectionName = "StreamTriggers:Kafka";

    /// <summary>Brokers to bootstrap from. Empty means embedded: an in-process Kafka-protocol cluster (librdkafka's mock).</summary>
    public string BootstrapServers { get; set; } = string.Empty;

    public string InputTopic { get; set; } = "clickstream";

    public string TriggerTopic { get; set; } = "triggers";

    public string DeadLetterTopic { get; set; } = "clickstream-dlq";

    /// <summary>Where suppressed and deferred triggers are written with their reason. Default <c>triggers-audit</c>.</summary>
    public string AuditTopic { get; set; } = "triggers-audit";

    /// <summary>
    /// The internal topic between the session stage and the customer stage (with <c>StreamTriggers:Lifecycle:Enabled</c>):
    /// what sessions tell customers, keyed by customer, so one worker owns each customer. Read by this service only.
    /// Default <c>streamtriggers-customers</c>.
    /// </summary>
    public string CustomerTopic { get; set; } = "streamtriggers-customers";

    public string GroupId { get; set; } = "streamtriggers";

    /// <summary>The topics the worker reads or writes, input first.</summary>
    public IReadOnlyList<string> Topics => [InputTopic, TriggerTopic, DeadLetterTopic, AuditTopic, CustomerTopic];

    /// <summary>
    /// Any librdkafka setting, passed to the consumer and the producer as is (security.protocol, sasl.mechanism,
    /// sasl.username, ssl.ca.location, ...): <c>StreamTriggers:Kafka:Settings:sasl.mechanism=PLAIN</c>.
    /// </summary>
    public Dictionary<string, string> Settings { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Partitions of each topic the embedded cluster creates. Default 8.</summary>
    public int EmbeddedPartitions { get; set; } = 8;

    public bool IsEmbedded => string.IsNullOrWhiteSpace(BootstrapServers);

    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        foreach (var (key, value) in new[] { ("InputTopic", InputTopic), ("TriggerTopic", TriggerTopic), ("DeadLetterTopic", DeadLetterTopic), ("AuditTopic", AuditTopic), ("CustomerTopic", CustomerTopic), ("GroupId", GroupId) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > 249 || value.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')))
                yield return $"{prefix}:{key} is '{value}'; a topic or group name is 1 to 249 of [a-zA-Z0-9._-].";
        }

        if (Topics.Distinct(StringComparer.Ordinal).Count() < Topics.Count)
            yield return $"{prefix}: InputTopic, TriggerTopic, DeadLetterTopic, AuditTopic and CustomerTopic must be five different topics.";
        if (EmbeddedPartitions is < 1 or > 256)
            yield return $"{prefix}:EmbeddedPartitions is {EmbeddedPartitions}; it must be between 1 and 256.";
        foreach (var key in Settings.Keys.Where(k => k is "group.id" or "bootstrap.servers" or "enable.auto.offset.store"))
            yield return $"{prefix}:Settings:{key} cannot be overridden; it is set by its own option or by the worker's delivery guarantees.";
    }
}
