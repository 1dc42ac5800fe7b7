using System.Text.Json;
using Confluent.Kafka;

namespace StreamTriggers.IntegrationTests.Infrastructure;

/// <summary>Reads a topic of JSON messages from the beginning in the background; each with <c>__received_ms</c> added.</summary>
public sealed class TopicReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _lock = new();
    private readonly List<JsonElement> _received = [];

    public TopicReader(string bootstrap, string topic)
    {
        _loop = Task.Factory.StartNew(() =>
        {
            using var consumer = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "reader-" + Guid.NewGuid().ToString("N"),
                AutoOffsetReset = AutoOffsetReset.Earliest,
                EnableAutoCommit = false,
                FetchWaitMaxMs = 10,
            }).Build();
            consumer.Subscribe(topic);
            while (!_stop.IsCancellationRequested)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (r is null) continue;
                var node = System.Text.Json.Nodes.JsonNode.Parse(r.Message.Value)!.AsObject();
                node["__received_ms"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var element = JsonSerializer.SerializeToElement(node);
                lock (_lock) _received.Add(element);
            }

            consumer.Close();
        }, TaskCreationOptions.LongRunning);
    }

    public List<JsonElement> Received
    {
        get { lock (_lock) return [.. _received]; }
    }

    /// <summary>Waits until <paramref name="done"/> holds for what arrived, or fails after <paramref name="timeout"/> listing it.</summary>
    public async Task<List<JsonElement>> WaitForAsync(Func<List<JsonElement>, bool> done, TimeSpan timeout, Func<IEnumerable<JsonElement>, string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var got = Received;
            if (done(got))
            {
                return got;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not there within {timeout.TotalSeconds} s; received {got.Count}: {describe(got)}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.WaitAsync(TimeSpan.FromSeconds(15));
        _stop.Dispose();
    }
}
