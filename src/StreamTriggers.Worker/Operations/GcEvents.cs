using System.Diagnostics.Tracing;

namespace StreamTriggers.Worker.Operations;

/// <summary>
/// Listens to the runtime's own GC events and reports each pause (every thread stopped, from the suspension's start
/// to the restart's end) with the generation being collected, and the bytes each collection promoted (what it had to
/// copy or keep: the work that sets a gen0 pause). A trigger due during a pause is late by the rest of it, so the
/// pauses bound how close to its deadline a trigger can go out; the runtime's counters give only their total.
/// </summary>
/// <remarks>
/// The runtime raises a handful of events per collection (Informational level of the GC keyword; the allocation
/// ticks are Verbose and stay off), delivered on the listener's own thread, so the cost per collection is small and
/// none per allocation.
/// </remarks>
internal sealed class GcEvents : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    // Event ids of the runtime's GC events (ClrEtwAll.man).
    private const int GCStart = 1;
    private const int GCRestartEEEnd = 3;
    private const int GCHeapStats = 4;
    private const int GCSuspendEEBegin = 9;

    private readonly Action<double, int> _pause;
    private readonly Action<long, int> _promoted;
    private DateTime _suspendedAt;
    private int _generation;
    private bool _suspended;

    /// <param name="pause">Called with each pause's length (ms) and the generation collected.</param>
    /// <param name="promoted">Called after each collection with the bytes it promoted out of gen0 and gen1 (generation 0 and 1).</param>
    public GcEvents(Action<double, int> pause, Action<long, int> promoted)
    {
        _pause = pause;
        _promoted = promoted;
        // EventListener's constructor may already have called OnEventSourceCreated (before these fields were set):
        // the runtime source is enabled here, once the callbacks exist.
        foreach (var source in EventSource.GetSources())
        {
            if (source.Name == RuntimeSource)
            {
                EnableEvents(source, EventLevel.Informational, GcKeyword);
            }
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        // Sources created after the constructor: the runtime's exists from the start, so this is normally a no-op;
        // enabling it here before the constructor has run would deliver events to callbacks not yet set.
        if (eventSource.Name == RuntimeSource && _pause is not null)
        {
            EnableEvents(eventSource, EventLevel.Informational, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        switch (e.EventId)
        {
            case GCStart:
                _generation = Payload<uint>(e, "Depth") is { } depth ? (int)depth : 0;
                break;
            case GCSuspendEEBegin:
                _suspendedAt = e.TimeStamp;
                _suspended = true;
                break;
            case GCRestartEEEnd when _suspended:
                _suspended = false;
                _pause((e.TimeStamp - _suspendedAt).TotalMilliseconds, _generation);
                break;
            case GCHeapStats:
                if (Payload<ulong>(e, "TotalPromotedSize0") is { } gen0) _promoted((long)gen0, 0);
                if (Payload<ulong>(e, "TotalPromotedSize1") is { } gen1) _promoted((long)gen1, 1);
                break;
        }
    }

    private static T? Payload<T>(EventWrittenEventArgs e, string name)
        where T : struct
    {
        if (e.PayloadNames is not { } names || e.Payload is not { } values)
        {
            return null;
        }

        int i = names.IndexOf(name);
        return i >= 0 && values[i] is T value ? value : null;
    }
}
