using StreamTriggers.Decoding;
using StreamTriggers.Triggers;

namespace StreamTriggers.Sessions;

/// <summary>
/// Runs the engine in event time, as <c>replay</c> does: the clock is the watermark, the greatest event time seen so
/// far (the event about to be applied included) minus the allowed lateness. The same input always gives the same
/// triggers, in the same order.
/// </summary>
public sealed class EventTimeDriver
{
    private readonly SessionEngine _engine;
    private readonly long _latenessMs;
    private long _maxSeenMs = long.MinValue;

    public EventTimeDriver(SessionEngine engine)
    {
        _engine = engine;
        _latenessMs = engine.Rules.LatenessMs;
    }

    public SessionEngine Engine => _engine;

    /// <summary>The current watermark, or <see cref="long.MinValue"/> before the first event.</summary>
    public long Watermark => _maxSeenMs == long.MinValue ? long.MinValue : _maxSeenMs - _latenessMs;

    public void Push(TrackerEvent ev, List<Trigger> output)
    {
        if (ev.TimestampMs > _maxSeenMs)
        {
            _maxSeenMs = ev.TimestampMs;
        }

        _engine.Apply(ev, Watermark, output);
    }

    /// <summary>Ends the input. With <paramref name="flush"/>, every open period's deadline fires now.</summary>
    public void Complete(bool flush, List<Trigger> output)
    {
        if (flush)
        {
            _engine.FlushOpenPeriods(output);
        }
    }
}
