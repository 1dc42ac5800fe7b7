using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamTriggers.Kafka;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Worker.Embedded;

/// <summary>
/// The embedded mode's view: reads the trigger topic like a downstream sender would, prints each trigger as it
/// arrives, and keeps a live status line of counts, rates and trigger lateness (arrival minus deadline + allowed
/// lateness) percentiles.
/// </summary>
internal sealed class TriggerConsole(IOptions<KafkaOptions> kafka, IOptions<RulesOptions> rules, WorkerStats stats, TimeProvider time) : BackgroundService
{
    // The latest samples only: the view runs for as long as the demo does.
    private const int LatenessWindow = 10_000;
    private readonly Queue<long> _lateness = new();

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = kafka.Value.BootstrapServers,
            GroupId = "streamtriggers-console-" + Guid.NewGuid().ToString("N")[..8],
            AutoOffsetReset = AutoOffsetReset.Latest,
            EnableAutoCommit = false,
            // The embedded cluster's fetch wait (see MockCluster.FetchWaitMaxMs).
            FetchWaitMaxMs = Kafka.Mock.MockCluster.FetchWaitMaxMs,
        }).Build();
        consumer.Subscribe([kafka.Value.TriggerTopic, kafka.Value.AuditTopic]);
        long latenessMs = (long)rules.Value.AllowedLateness.TotalMilliseconds;
        long lastStatus = 0, lastEvents = 0;
        Console.WriteLine($"StreamTriggers embedded: a synthetic tracker streams into '{kafka.Value.InputTopic}'; sessions idle for {Time.Duration.Format(rules.Value.Gap)} fire. Ctrl-C stops.");
        while (!stop.IsCancellationRequested)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (r is not null && r.Topic == kafka.Value.AuditTopic)
            {
                // Held back by the sending policy (or a session's cooldown): what, and why.
                using var doc = JsonDocument.Parse(r.Message.Value);
                var d = doc.RootElement;
                string why = d.TryGetProperty("reason", out var reason) ? reason.GetString()! : "-";
                string until = d.TryGetProperty("release_at", out var release) ? " until " + release.GetString() : "";
                Console.Write($"\r{new string(' ', 118)}\r");
                Console.WriteLine($"{DateTimeOffset.FromUnixTimeMilliseconds(now):HH:mm:ss.fff}  {d.GetProperty("type").GetString(),-19} {d.GetProperty("session_id").GetString(),-14} {d.GetProperty("outcome").GetString()} ({why}){until}");
            }
            else if (r is not null)
            {
                using var doc = JsonDocument.Parse(r.Message.Value);
                var data = doc.RootElement.GetProperty("data");
                // Due at its deadline, or when the policy released it (end of quiet hours).
                string dueAt = data.TryGetProperty("released_at", out var released) ? released.GetString()! : data.GetProperty("deadline").GetString()!;
                long deadline = DateTimeOffset.Parse(dueAt, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
                long late = now - (deadline + latenessMs);
                _lateness.Enqueue(late);
                if (_lateness.Count > LatenessWindow)
                {
                    _lateness.Dequeue();
                }
                int lines = data.GetProperty("cart").GetArrayLength();
                string cart = lines > 0 ? $"{lines} line(s) {data.GetProperty("cart_value").GetDecimal():0.00}" : $"{data.GetProperty("products_viewed").GetArrayLength()} viewed";
                Console.Write($"\r{new string(' ', 118)}\r");
                Console.WriteLine($"{DateTimeOffset.FromUnixTimeMilliseconds(now):HH:mm:ss.fff}  {data.GetProperty("type").GetString(),-19} {data.GetProperty("session_id").GetString(),-14} user {data.GetProperty("user_id").GetString() ?? "-",-9} {cart,-22} {late,5} ms after due");
            }

            if (now - lastStatus >= 1000)
            {
                long events = stats.Events;
                double rate = lastStatus == 0 ? 0 : (events - lastEvents) * 1000.0 / (now - lastStatus);
                lastStatus = now;
                lastEvents = events;
                Console.Write($"\r[{stats.Partitions} partitions] events {events:N0} ({rate:N0}/s)  rejected {stats.Rejected:N0}  triggers: browse {stats.Triggers(TriggerType.BrowseAbandoned):N0} cart {stats.Triggers(TriggerType.CartAbandoned):N0} checkout {stats.Triggers(TriggerType.CheckoutAbandoned):N0} held {stats.Suppressed + stats.Deferred:N0}  lateness {Percentiles()}   ");
            }
        }

        Console.WriteLine();
        consumer.Close();
    }

    private string Percentiles()
    {
        if (_lateness.Count == 0)
        {
            return "-";
        }

        var sorted = _lateness.Order().ToList();
        return $"p50 {sorted[sorted.Count / 2]} ms p99 {sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * 0.99))]} ms";
    }
}
