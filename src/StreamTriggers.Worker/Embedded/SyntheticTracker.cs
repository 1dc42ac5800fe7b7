using System.Buffers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamTriggers.Decoding;
using StreamTriggers.Kafka;
using StreamTriggers.Simulation;

namespace StreamTriggers.Worker.Embedded;

/// <summary>Shape and pace of the embedded mode's built-in tracker. Bound from <c>StreamTriggers:Embedded</c>.</summary>
public sealed class EmbeddedOptions
{
    public const string SectionName = "StreamTriggers:Embedded";

    /// <summary>Visitors browsing at once. Default 300.</summary>
    public int ConcurrentSessions { get; set; } = 300;

    /// <summary>Mean time between two clicks of a visitor. Default 1.5 s (well inside the embedded gap of 10 s).</summary>
    public TimeSpan MeanInterEventGap { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>One event in this many is sent broken, to show the dead-letter path. 0 sends none. Default 400.</summary>
    public int BadEventEvery { get; set; } = 400;
}

/// <summary>
/// The embedded mode's tracker: streams realistic synthetic clickstream (shaped like the REES46 samples) into the
/// input topic in real time, keyed by session id, event time = now.
/// </summary>
internal sealed class SyntheticTracker(IOptions<KafkaOptions> kafka, IOptions<EmbeddedOptions> options, TimeProvider time) : BackgroundService
{
    private static readonly string[] BadEvents =
    [
        "{\"type\":\"product_added\",\"timestamp\":",
        "{\"type\":\"rocket_launched\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"session_id\":\"x\"}",
        "{\"type\":\"page_viewed\",\"timestamp\":\"yesterday\",\"session_id\":\"x\"}",
    ];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = kafka.Value.BootstrapServers,
            LingerMs = 5,
            EnableIdempotence = true,
        }).Build();

        long startWall = time.GetUtcNow().ToUnixTimeMilliseconds();
        var generator = new ClickstreamGenerator(
            new TrafficShape { ConcurrentSessions = o.ConcurrentSessions, MeanInterEventGap = o.MeanInterEventGap },
            seed: Environment.TickCount, startWall, sessionPrefix: "demo-");
        var buffer = new ArrayBufferWriter<byte>(512);
        using var json = new Utf8JsonWriter(buffer);
        long sent = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            var ev = generator.Next();
            long wait = ev.TimestampMs - time.GetUtcNow().ToUnixTimeMilliseconds();
            if (wait > 0)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait), time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break; // stopping: what was sent still goes out (the flush below), without a warning at exit
                }
            }

            byte[] value;
            if (o.BadEventEvery > 0 && ++sent % o.BadEventEvery == 0)
            {
                value = Encoding.UTF8.GetBytes(BadEvents[(int)(sent / o.BadEventEvery % BadEvents.Length)]);
            }
            else
            {
                buffer.ResetWrittenCount();
                json.Reset(buffer);
                TrackerEventJson.Write(json, ev);
                json.Flush();
                value = buffer.WrittenSpan.ToArray();
            }

            producer.Produce(kafka.Value.InputTopic, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(ev.SessionId), Value = value });
        }

        producer.Flush(TimeSpan.FromSeconds(2));
    }
}
