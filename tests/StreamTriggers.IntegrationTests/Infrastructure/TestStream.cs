using System.Buffers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Simulation;
using StreamTriggers.Triggers;

namespace StreamTriggers.IntegrationTests.Infrastructure;

/// <summary>
/// A synthetic clickstream for one test, with event times starting just after now. The expected triggers are the
/// same events replayed through the engine in event time with <c>--flush</c>: sent in real time, in order per
/// session, the live worker must produce exactly these (same ids, same carts).
/// </summary>
public sealed class TestStream
{
    private TestStream(List<TrackerEvent> events) => Events = events;

    public List<TrackerEvent> Events { get; }

    /// <summary>A stream of hand-written events (each sent when the wall clock reaches its time).</summary>
    public static TestStream Of(IEnumerable<TrackerEvent> events) => new([.. events.OrderBy(e => e.TimestampMs)]);

    public static TestStream Generate(int seed, int concurrentSessions, TimeSpan duration, string prefix, TimeSpan? meanGap = null)
    {
        long start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 300;
        var gen = new ClickstreamGenerator(new TrafficShape
        {
            ConcurrentSessions = concurrentSessions,
            MeanInterEventGap = meanGap ?? TimeSpan.FromMilliseconds(120),
            Bounce = 0.2, Browse = 0.4, AbandonCart = 0.15, AbandonCheckout = 0.1, Buy = 0.15,
        }, seed, start, prefix);
        var events = new List<TrackerEvent>();
        while (true)
        {
            var ev = gen.Next();
            if (ev.TimestampMs > start + (long)duration.TotalMilliseconds) break;
            events.Add(ev);
        }

        return new TestStream(events);
    }

    public Dictionary<string, Trigger> Expected(TimeSpan gap) => ExpectedFrom(Events, gap);

    public static Dictionary<string, Trigger> ExpectedFrom(IEnumerable<TrackerEvent> events, TimeSpan gap)
    {
        var driver = new EventTimeDriver(new SessionEngine(new RulesOptions { Gap = gap }));
        var fired = new List<Trigger>();
        foreach (var ev in events) driver.Push(ev, fired);
        driver.Complete(flush: true, fired);
        return fired.ToDictionary(t => t.Id);
    }

    /// <summary>
    /// The events the input topic actually holds, in event-time order (stable, so each session keeps its log order).
    /// Under injected produce errors the mock broker has been seen to acknowledge a retried message without appending
    /// it; where a test injects them, the log, not what was sent, is what the worker can be held to.
    /// </summary>
    public static List<TrackerEvent> ReadBack(string bootstrap, string topic, int partitions)
    {
        var decoder = new JsonEventDecoder();
        var events = new List<TrackerEvent>();
        using var reader = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "readback-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = true,
            EnableAutoCommit = false,
        }).Build();
        reader.Subscribe(topic);
        var ended = new HashSet<int>();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (ended.Count < partitions)
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"read back only {ended.Count} of {partitions} partitions of {topic}");
            var r = reader.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) continue;
            if (r.IsPartitionEOF) { ended.Add(r.Partition.Value); continue; }
            if (decoder.TryDecode(r.Message.Value, out var ev, out _)) events.Add(ev!);
        }

        reader.Close();
        return [.. events.OrderBy(e => e.TimestampMs)];
    }

    /// <summary>Sends every event when the wall clock reaches its event time, keyed by session id.</summary>
    public async Task ProduceAsync(string bootstrap, string topic, CancellationToken ct, Func<int, Task>? onProgress = null)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, LingerMs = 2 }).Build();
        var buffer = new ArrayBufferWriter<byte>();
        using var json = new Utf8JsonWriter(buffer);
        var failures = new List<string>();
        var slow = new List<string>();
        for (int i = 0; i < Events.Count; i++)
        {
            var ev = Events[i];
            long wait = ev.TimestampMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (wait > 0)
            {
                // A tracker does not wait for acknowledgements; linger.ms sends promptly.
                await Task.Delay(TimeSpan.FromMilliseconds(wait), ct);
            }

            buffer.ResetWrittenCount();
            json.Reset(buffer);
            TrackerEventJson.Write(json, ev);
            json.Flush();
            producer.Produce(topic, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(ev.SessionId), Value = buffer.WrittenSpan.ToArray() }, report =>
            {
                if (report.Error.IsError)
                {
                    lock (failures) failures.Add($"{ev.SessionId}@{Time.UnixTime.Format(ev.TimestampMs)}: {report.Error.Code}");
                }
                else if (report.Timestamp.UnixTimestampMs - ev.TimestampMs > 1000 || DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ev.TimestampMs > 2000)
                {
                    lock (failures) slow.Add($"{ev.SessionId}@{Time.UnixTime.Format(ev.TimestampMs)} acked {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ev.TimestampMs} ms later");
                }
            });
            if (onProgress is not null && i % 500 == 0)
            {
                await onProgress(i);
            }
        }

        producer.Flush(TimeSpan.FromSeconds(30));
        lock (failures)
        {
            SlowDeliveries = [.. slow];
            if (failures.Count > 0)
            {
                throw new InvalidOperationException($"the test tracker could not deliver {failures.Count} events: {string.Join("; ", failures.Take(5))}");
            }
        }
    }

    /// <summary>Events the broker acknowledged more than 2 s after their event time (for failure messages).</summary>
    public IReadOnlyList<string> SlowDeliveries { get; private set; } = [];

    /// <summary>The cart of a trigger as "product x units" lines: equal carts prove no event was applied twice.</summary>
    public static string CartOf(Trigger t) => string.Join(",", t.Cart.Select(l => $"{l.Id}x{l.Quantity}"));
}

/// <summary>A trigger as a downstream sender receives it.</summary>
public sealed record ReceivedTrigger(string Id, string Type, string SessionId, long DeadlineMs, string Cart, long ReceivedMs, string CloudEventType);

/// <summary>Reads the trigger topic from the beginning in the background, as a sender would.</summary>
public sealed class TriggerCollector : IAsyncDisposable
{
    private readonly TopicReader _reader;

    public TriggerCollector(string bootstrap, string topic) => _reader = new TopicReader(bootstrap, topic);

    /// <summary>How a test names an expected trigger id in failure messages.</summary>
    public Func<string, string>? Describe { get; set; }

    public List<ReceivedTrigger> Received => [.. _reader.Received.Select(Parse)];

    private static ReceivedTrigger Parse(JsonElement root)
    {
        var data = root.GetProperty("data");
        string cart = string.Join(",", data.GetProperty("cart").EnumerateArray().Select(l => $"{l.GetProperty("product_id").GetString()}x{l.GetProperty("quantity").GetInt32()}"));
        return new ReceivedTrigger(root.GetProperty("id").GetString()!, data.GetProperty("type").GetString()!, data.GetProperty("session_id").GetString()!,
            DateTimeOffset.Parse(data.GetProperty("deadline").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(),
            cart, root.GetProperty("__received_ms").GetInt64(), root.GetProperty("type").GetString()!);
    }

    /// <summary>Waits until every expected id has arrived, or fails after <paramref name="timeout"/> naming what is missing.</summary>
    public async Task<List<ReceivedTrigger>> WaitForAsync(IReadOnlyCollection<string> ids, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var got = Received;
            var have = got.Select(t => t.Id).ToHashSet();
            var missing = ids.Where(id => !have.Contains(id)).ToList();
            if (missing.Count == 0)
            {
                return got;
            }

            if (DateTime.UtcNow > deadline)
            {
                var wanted = ids.ToHashSet();
                var unexpected = got.Where(t => !wanted.Contains(t.Id)).Take(5).Select(t => $"{t.Type} {t.SessionId} deadline {Time.UnixTime.Format(t.DeadlineMs)} cart [{t.Cart}]");
                throw new TimeoutException($"{missing.Count} of {ids.Count} expected triggers did not arrive within {timeout.TotalSeconds} s (received {got.Count}); " +
                    $"first missing: {string.Join(", ", missing.Take(5).Select(Describe ?? (id => id)))}; unexpected: {string.Join("; ", unexpected)}");
            }

            await Task.Delay(100);
        }
    }

    public ValueTask DisposeAsync() => _reader.DisposeAsync();
}
