using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.State;
using StreamTriggers.Triggers;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>A rejected input on its way to the dead-letter topic: the original bytes, untouched, and why.</summary>
internal readonly record struct DeadLetter(byte[]? Key, byte[]? Value, Headers? Headers, Rejection Rejection, TopicPartitionOffset Source);

/// <summary>
/// Publishes a batch's output with the idempotent producer (acks=all) and completes only when the broker has
/// acknowledged every message: the batch's input offset is committed after this, never before. Output: triggers
/// (CloudEvents), dead letters (the original bytes with the reason in headers), customer signals (the internal
/// customer topic, keyed by customer) and audit records (held-back decisions, JSON).
/// </summary>
internal sealed partial class TriggerPublisher(IProducer<byte[]?, byte[]?> producer, Kafka.KafkaOptions topics, string source, ILogger logger)
{
    // One headers instance per content type, shared by every message that carries it: Confluent.Kafka only reads a
    // message's headers (to copy them to librdkafka), and nothing here changes them after this.
    private static readonly Headers JsonHeaders = [new Header("content-type", Encoding.ASCII.GetBytes("application/json"))];
    private static readonly Headers CloudEventHeaders = [new Header("content-type", Encoding.ASCII.GetBytes(CloudEvent.ContentType))];

    public IProducer<byte[]?, byte[]?> Producer => producer;

    /// <summary>Publishes everything, retrying what failed until it succeeds or <paramref name="cancellationToken"/> fires.</summary>
    public async Task PublishAsync(IReadOnlyList<Trigger> triggers, IReadOnlyList<DeadLetter> deadLetters, TimeSpan backoff, CancellationToken cancellationToken,
        IReadOnlyList<CustomerSignal>? signals = null, IReadOnlyList<TriggerDecision>? audit = null)
    {
        int count = triggers.Count + deadLetters.Count + (signals?.Count ?? 0) + (audit?.Count ?? 0);
        if (count == 0)
        {
            return;
        }

        string triggerTopic = topics.TriggerTopic, deadLetterTopic = topics.DeadLetterTopic;
        var pending = new List<(string Topic, Message<byte[]?, byte[]?> Message)>(count);
        foreach (var t in triggers)
        {
            pending.Add((triggerTopic, new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(t.Key),
                Value = CloudEvent.Serialize(t, source),
                Headers = CloudEventHeaders,
            }));
        }

        foreach (var d in deadLetters)
        {
            var headers = new Headers();
            if (d.Headers is not null)
            {
                foreach (var h in d.Headers) headers.Add(h.Key, h.GetValueBytes());
            }

            headers.Add("streamtriggers-reason", Encoding.UTF8.GetBytes(RejectReasons.Name(d.Rejection.Reason)));
            headers.Add("streamtriggers-detail", Encoding.UTF8.GetBytes(d.Rejection.Detail));
            headers.Add("streamtriggers-source", Encoding.UTF8.GetBytes($"{d.Source.Topic}/{d.Source.Partition.Value}/{d.Source.Offset.Value}"));
            pending.Add((deadLetterTopic, new Message<byte[]?, byte[]?> { Key = d.Key, Value = d.Value, Headers = headers }));
        }

        foreach (var s in signals ?? [])
        {
            pending.Add((topics.CustomerTopic, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(s.Subject), Value = SignalCodec.Encode(s) }));
        }

        foreach (var d in audit ?? [])
        {
            pending.Add((topics.AuditTopic, new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(d.Subject ?? d.SessionId),
                Value = d.ToJsonUtf8(),
                Headers = JsonHeaders,
            }));
        }

        var delay = backoff;
        while (true)
        {
            var failed = await ProduceAllAsync(pending).ConfigureAwait(false);
            if (failed.Count == 0)
            {
                return;
            }

            LogPublishRetry(logger, failed.Count, pending.Count, delay.TotalMilliseconds);
            pending = failed;
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
        }
    }

    private Task<List<(string, Message<byte[]?, byte[]?>)>> ProduceAllAsync(List<(string Topic, Message<byte[]?, byte[]?> Message)> batch)
    {
        var done = new TaskCompletionSource<List<(string, Message<byte[]?, byte[]?>)>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var failed = new List<(string, Message<byte[]?, byte[]?>)>();
        int outstanding = batch.Count;
        var gate = new Lock();
        foreach (var item in batch)
        {
            // A handler per message: a failed one is retried as it was given (not as the report rebuilds it).
            void Report(DeliveryReport<byte[]?, byte[]?> report)
            {
                if (report.Error.IsError)
                {
                    lock (gate) failed.Add(item);
                }

                if (Interlocked.Decrement(ref outstanding) == 0)
                {
                    done.TrySetResult(failed);
                }
            }

            while (true)
            {
                try
                {
                    producer.Produce(item.Topic, item.Message, Report);
                    break;
                }
                catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    // The local queue is full: let deliveries drain (backpressure) rather than fail the batch.
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
                catch (ProduceException<byte[]?, byte[]?> ex)
                {
                    LogProduceRejected(logger, ex, item.Topic);
                    lock (gate) failed.Add(item);
                    if (Interlocked.Decrement(ref outstanding) == 0) done.TrySetResult(failed);
                    break;
                }
            }
        }

        return done.Task;
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "{Failed} of {Total} output messages (triggers, dead letters, signals, audit) not acknowledged; retrying in {DelayMs} ms")]
    private static partial void LogPublishRetry(ILogger logger, int failed, int total, double delayMs);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "producer refused a message for {Topic}")]
    private static partial void LogProduceRejected(ILogger logger, Exception exception, string topic);
}
