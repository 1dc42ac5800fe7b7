using System.Collections.Concurrent;
using System.Text.Json;
using Confluent.Kafka;

namespace StreamTriggers.Load;

/// <summary>A trigger as the tool received it: its id, deadline, when the worker published it and when it arrived here.</summary>
internal readonly record struct Received(string Id, string SessionId, string Type, long DeadlineMs, long PublishedMs, long ReceivedMs);

/// <summary>
/// Reads the trigger topic (CloudEvents) on its own thread, as a downstream sender would, from where the topic ended
/// when the watcher was made (so an earlier run's triggers on the same topic are not this run's); or, with
/// <c>audit</c>, the audit topic (one decision per message: the id of a trigger held back, and why).
/// </summary>
internal sealed class TriggerWatcher : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Received> _queue = new();
    private readonly IConsumer<Ignore, byte[]> _consumer;
    private Exception? _failure;

    private readonly bool _audit;

    public TriggerWatcher(string bootstrap, string topic, bool audit = false)
    {
        _audit = audit;
        _consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "load-watch-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            FetchWaitMaxMs = 5,
        }).SetLogHandler((_, _) => { }).Build();
        try
        {
            // Assigned here, at each partition's end now: the run's triggers all come after, whatever came before.
            _consumer.Assign(Harness.EndOffsets(bootstrap, topic, _consumer));
        }
        catch
        {
            _consumer.Dispose();
            throw;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "trigger-watcher" };
        _thread.Start();
    }

    /// <summary>Everything received since the last call.</summary>
    public List<Received> Drain()
    {
        if (_failure is not null)
        {
            throw new InvalidOperationException("the trigger topic reader failed", _failure);
        }

        var list = new List<Received>(_queue.Count);
        while (_queue.TryDequeue(out var r))
        {
            list.Add(r);
        }

        return list;
    }

    public void Dispose()
    {
        _stop.Cancel();
        if (_thread.Join(TimeSpan.FromSeconds(15)))
        {
            _consumer.Dispose();
        }

        _stop.Dispose();
    }

    private void Run()
    {
        try
        {
            var consumer = _consumer;
            while (!_stop.IsCancellationRequested)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (r?.Message?.Value is null)
                {
                    continue;
                }

                long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                using var doc = JsonDocument.Parse(r.Message.Value);
                var root = doc.RootElement;
                if (_audit)
                {
                    _queue.Enqueue(new Received(root.GetProperty("trigger_id").GetString()!, root.GetProperty("session_id").GetString()!,
                        root.GetProperty("type").GetString()!, 0, r.Message.Timestamp.UnixTimestampMs, now));
                    continue;
                }

                var data = root.GetProperty("data");
                long deadline = DateTimeOffset.Parse(data.GetProperty("deadline").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
                _queue.Enqueue(new Received(root.GetProperty("id").GetString()!, data.GetProperty("session_id").GetString()!, data.GetProperty("type").GetString()!, deadline,
                    r.Message.Timestamp.UnixTimestampMs, now));
            }

            consumer.Close();
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }
}
