using Confluent.Kafka;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>What the consume loop hands a partition: a message, or the news that the partition is caught up.</summary>
internal readonly record struct InputItem(ConsumeResult<byte[]?, byte[]?>? Message)
{
    public static readonly InputItem EndOfPartition = new(null);

    public bool IsEndOfPartition => Message is null;
}
