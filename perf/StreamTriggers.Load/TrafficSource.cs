using System.Buffers;
using System.Text.Json;
using Confluent.Kafka;
using StreamTriggers.Decoding;
using StreamTriggers.Simulation;
using StreamTriggers.Triggers;

namespace StreamTriggers.Load;

/// <summary>A trigger the tool knows must come out: its id and when it is due (deadline + allowed lateness).</summary>
internal readonly record struct Expectation(TriggerType Type, long DeadlineMs);

/// <summary>
/// The synthetic tracker: REES46-shaped sessions from <see cref="ClickstreamGenerator"/>, stamped with the wall clock
/// as they are sent (so the stream is on time whatever the rate), routed so each session stays on one partition, with
/// quiet partitions that see one new session a second. Every session's intent is known, so when its last event is
/// sent the trigger it must end in (and that trigger's id and deadline) is known too.
/// </summary>
internal sealed class TrafficSource
{
    private readonly ClickstreamGenerator _generator;
    private readonly Dictionary<string, OpenSession> _open = new(StringComparer.Ordinal);
    private readonly long _gapMs;
    private readonly int _busyPartitions;
    private readonly int _quietPartitions;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;
    private long _lastQuietMs;
    private int _nextQuiet;
    private string? _endedSession;
    private VisitorIntent _endedIntent;

    public TrafficSource(LoadOptions o, int seed, string sessionPrefix)
    {
        _gapMs = (long)o.Gap.TotalMilliseconds;
        _quietPartitions = o.QuietPartitions;
        _busyPartitions = o.Partitions - o.QuietPartitions;
        // Event time runs with the wall clock: at a fixed rate R, S concurrent sessions each send an event every S/R
        // on average. That mean stays at most an eighth of the gap (capped at half), so every session is one period
        // and ends in the trigger its intent names; a session the stream paused inside for a whole gap is set aside.
        double meanGapMs = _gapMs / 8.0;
        int sessions = o.Sessions;
        if (o.Rate > 0)
        {
            sessions = (int)Math.Clamp(Math.Min(o.Sessions, o.Rate * meanGapMs / 1000), 1, o.Sessions);
            meanGapMs = sessions * 1000.0 / o.Rate;
        }

        ConcurrentSessions = sessions;
        var shape = new TrafficShape
        {
            ConcurrentSessions = sessions,
            Browse = o.Browse,
            AbandonCart = o.AbandonCart,
            AbandonCheckout = o.AbandonCheckout,
            Buy = o.Buy,
            Bounce = o.Bounce,
            MeanInterEventGap = TimeSpan.FromMilliseconds(meanGapMs),
            MaxInterEventGap = TimeSpan.FromMilliseconds(_gapMs / 2.0),
        };
        _generator = new ClickstreamGenerator(shape, seed, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), sessionPrefix);
        _generator.SessionEnded += (id, intent, _) =>
        {
            _endedSession = id;
            _endedIntent = intent;
        };
        _writer = new Utf8JsonWriter(_buffer);
    }

    /// <summary>Sessions in flight at once (fewer than asked at low fixed rates, see the constructor).</summary>
    public int ConcurrentSessions { get; }

    /// <summary>Sessions whose stream paused for a whole gap (the sender was held back): they split into periods.</summary>
    public HashSet<string> Split { get; } = new(StringComparer.Ordinal);

    /// <summary>Sessions started per intent.</summary>
    public IReadOnlyDictionary<VisitorIntent, long> Started => _generator.StartedByIntent;

    /// <summary>
    /// The next event as a message, stamped <paramref name="nowMs"/>, and its partition; <paramref name="expected"/>
    /// is the trigger its session must end in when this was its last event.
    /// </summary>
    public (Message<byte[], byte[]> Message, int Partition) Next(long nowMs, out (string Id, Expectation What)? expected)
    {
        var ev = _generator.Next();
        if (!_open.TryGetValue(ev.SessionId, out var session))
        {
            int partition;
            if (_quietPartitions > 0 && nowMs - _lastQuietMs >= 1000)
            {
                _lastQuietMs = nowMs;
                partition = _busyPartitions + (_nextQuiet++ % _quietPartitions);
            }
            else
            {
                partition = (int)(TriggerId.StableHash(ev.SessionId) % (ulong)_busyPartitions);
            }

            session = new OpenSession(nowMs, partition, 0, false, false, false);
        }

        // Stamped with the wall clock, never before the session's previous event.
        long stamp = Math.Max(nowMs, session.LastMs);
        if (stamp - session.LastMs >= _gapMs)
        {
            Split.Add(ev.SessionId);
        }

        ev.TimestampMs = stamp;
        session = session with
        {
            LastMs = stamp,
            Views = session.Views + (ev.Type == EventType.ProductViewed ? 1 : 0),
            Added = session.Added || ev.Type == EventType.ProductAdded,
            Checkout = session.Checkout || ev.Type == EventType.CheckoutStarted,
            Ordered = session.Ordered || ev.Type == EventType.OrderCompleted,
        };
        _open[ev.SessionId] = session;

        _buffer.Clear();
        _writer.Reset(_buffer);
        TrackerEventJson.Write(_writer, ev);
        _writer.Flush();
        var message = new Message<byte[], byte[]>
        {
            Key = System.Text.Encoding.UTF8.GetBytes(ev.SessionId),
            Value = _buffer.WrittenSpan.ToArray(),
            Timestamp = new Timestamp(stamp, TimestampType.CreateTime),
        };

        expected = null;
        if (_endedSession is { } ended)
        {
            _endedSession = null;
            _open.Remove(ended);
            TriggerType? type = _endedIntent switch
            {
                VisitorIntent.Browse => TriggerType.BrowseAbandoned,
                VisitorIntent.AbandonCart => TriggerType.CartAbandoned,
                VisitorIntent.AbandonCheckout => TriggerType.CheckoutAbandoned,
                _ => null,
            };
            if (type is { } t && !Split.Contains(ended))
            {
                long deadline = stamp + _gapMs;
                expected = (TriggerId.Create(t, ended, deadline), new Expectation(t, deadline));
            }
        }

        return (message, session.Partition);
    }

    /// <summary>
    /// When sending stops, the sessions still in flight end where they are: what each must fire from what it has sent
    /// (a cart, a checkout, two products viewed), as the engine's rules say.
    /// </summary>
    public IEnumerable<(string Id, Expectation What, int Partition)> EndOpenSessions()
    {
        foreach (var (id, s) in _open)
        {
            if (Split.Contains(id))
            {
                continue;
            }

            TriggerType? type = s.Added && !s.Ordered ? (s.Checkout ? TriggerType.CheckoutAbandoned : TriggerType.CartAbandoned)
                : !s.Added && !s.Ordered && s.Views >= 2 ? TriggerType.BrowseAbandoned
                : null;
            if (type is { } t)
            {
                long deadline = s.LastMs + _gapMs;
                yield return (TriggerId.Create(t, id, deadline), new Expectation(t, deadline), s.Partition);
            }
        }

        _open.Clear();
    }

    /// <summary>Produces <paramref name="message"/>; while librdkafka's local queue is full, serves deliveries and retries.</summary>
    public static void Send(IProducer<byte[], byte[]> producer, TopicPartition partition, Message<byte[], byte[]> message)
    {
        while (true)
        {
            try
            {
                producer.Produce(partition, message);
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(5));
            }
        }
    }

    private readonly record struct OpenSession(long LastMs, int Partition, int Views, bool Added, bool Checkout, bool Ordered);
}
