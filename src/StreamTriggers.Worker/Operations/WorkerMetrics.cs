using System.Diagnostics.Metrics;
using StreamTriggers.Decoding;
using StreamTriggers.Triggers;

namespace StreamTriggers.Worker.Operations;

/// <summary>
/// Every instrument of the worker, on one <see cref="Meter"/> named <c>StreamTriggers</c>; names in one place. Exported
/// for Prometheus by <see cref="PrometheusExporter"/> (dots become underscores, counters get <c>_total</c>).
/// </summary>
internal sealed class WorkerMetrics : IDisposable
{
    public const string MeterName = "StreamTriggers";

    private readonly Meter _meter = new(MeterName, "1.0");
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _replayed;
    private readonly Counter<long> _clamped;
    private readonly Counter<long> _emitted;
    private readonly Counter<long> _suppressed;
    private readonly Counter<long> _deferred;
    private readonly Counter<long> _signals;
    private readonly Counter<long> _rebalances;
    private readonly Counter<long> _storeRetries;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _storeDuration;
    private readonly Histogram<double> _produceDuration;
    private readonly Histogram<double> _lateness;
    private readonly Counter<long> _late;
    private readonly Counter<double> _lateWait;
    private readonly KeyValuePair<string, object?>[] _lateWaitTags;
    private LateTag? _lateTag; // the threshold is one setting: its label is rendered once, swapped whole if it differs
    private readonly Histogram<double> _gcPause;
    private readonly Counter<long> _gcPromoted;
    private readonly GcEvents _gcEvents;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Topic, int Partition), Func<(long PendingTimers, long Lag)>> _partitions = [];

    public WorkerMetrics()
    {
        _consumed = _meter.CreateCounter<long>("streamtriggers.events.consumed", "{event}", "Input events consumed");
        _rejected = _meter.CreateCounter<long>("streamtriggers.events.rejected", "{event}", "Input events sent to the dead-letter topic, by reason");
        _duplicates = _meter.CreateCounter<long>("streamtriggers.events.duplicates", "{event}", "Duplicate deliveries ignored");
        _replayed = _meter.CreateCounter<long>("streamtriggers.events.replayed", "{event}", "Input read again after a restart that the stored sessions already held (skipped)");
        _clamped = _meter.CreateCounter<long>("streamtriggers.events.clamped", "{event}", "Event times too far ahead of arrival, clamped");
        _emitted = _meter.CreateCounter<long>("streamtriggers.triggers.emitted", "{trigger}", "Triggers published, by type");
        _suppressed = _meter.CreateCounter<long>("streamtriggers.triggers.suppressed", "{trigger}", "Triggers not sent, by type and reason");
        _deferred = _meter.CreateCounter<long>("streamtriggers.triggers.deferred", "{trigger}", "Triggers held for later (quiet hours), by type and reason");
        _signals = _meter.CreateCounter<long>("streamtriggers.signals", "{signal}", "Customer signals: sent by the session stage, consumed and found duplicate by the customer stage");
        _rebalances = _meter.CreateCounter<long>("streamtriggers.rebalances", "{event}", "Partition assignment changes, by kind");
        _storeRetries = _meter.CreateCounter<long>("streamtriggers.store.retries", "{call}", "State store calls retried after a failure");
        _batchSize = _meter.CreateHistogram<long>("streamtriggers.batch.size", "{event}", "Messages per partition batch");
        _storeDuration = _meter.CreateHistogram<double>("streamtriggers.store.duration", "ms", "State store round trips, by operation");
        _produceDuration = _meter.CreateHistogram<double>("streamtriggers.produce.duration", "ms", "Publishing a batch's triggers and dead letters until acknowledged");
        _lateness = _meter.CreateHistogram<double>("streamtriggers.trigger.lateness", "ms", "Publication time minus (deadline + allowed lateness)");
        _late = _meter.CreateCounter<long>("streamtriggers.trigger.late", "{trigger}", "Triggers handed to the producer later than LateTriggerThreshold after deadline + allowed lateness");
        _lateWait = _meter.CreateCounter<double>("streamtriggers.trigger.late.wait", "ms", "Those late triggers' waits (due to hand-over), by what their partition was doing: idle (waiting for input or its timer), read, apply, publish, acks, commit, gc (every thread stopped), unrecorded");
        _lateWaitTags = [.. Pipeline.LoopTimeline.SlotNames.Select(n => new KeyValuePair<string, object?>("phase", n))];
        _gcPause = _meter.CreateHistogram<double>("streamtriggers.gc.pause", "ms", "Garbage collection pauses (every thread stopped), by generation collected");
        _gcPromoted = _meter.CreateCounter<long>("streamtriggers.gc.promoted", "By", "Bytes garbage collections promoted (copied or kept) out of generation 0 and 1, by generation");
        _meter.CreateObservableGauge("streamtriggers.timers.pending", ObservePendingTimers, "{timer}", "Timers waiting in memory, per partition: open sessions' deadlines (input topic), customers due within the horizon (customer topic)");
        _meter.CreateObservableGauge("streamtriggers.consumer.lag", ObserveLag, "{message}", "Messages in the partition (input or customer topic) not yet durably processed");
        _gcEvents = new GcEvents(
            (ms, generation) => _gcPause.Record(ms, new KeyValuePair<string, object?>("generation", generation)),
            (bytes, generation) => _gcPromoted.Add(bytes, new KeyValuePair<string, object?>("generation", generation)));
    }

    public void Consumed(long n) => _consumed.Add(n);

    public void Rejected(RejectReason reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", RejectReasons.Name(reason)));

    public void Replayed(long n)
    {
        if (n > 0) _replayed.Add(n);
    }

    public void Duplicates(long n)
    {
        if (n > 0) _duplicates.Add(n);
    }

    public void Clamped() => _clamped.Add(1);

    public void Emitted(TriggerType type) => _emitted.Add(1, new KeyValuePair<string, object?>("type", TriggerTypes.Name(type)));

    public void Suppressed(TriggerType type, string reason, long n = 1)
    {
        if (n > 0) _suppressed.Add(n, new("type", TriggerTypes.Name(type)), new("reason", reason));
    }

    public void Deferred(TriggerType type, string reason, long n = 1)
    {
        if (n > 0) _deferred.Add(n, new("type", TriggerTypes.Name(type)), new("reason", reason));
    }

    public void Signals(string kind, long n)
    {
        if (n > 0) _signals.Add(n, new KeyValuePair<string, object?>("kind", kind));
    }

    public void Rebalance(string kind, int partitions) => _rebalances.Add(partitions, new KeyValuePair<string, object?>("kind", kind));

    public void StoreRetry() => _storeRetries.Add(1);

    public void Batch(int size) => _batchSize.Record(size);

    public void StoreCall(string operation, TimeSpan elapsed) => _storeDuration.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("operation", operation));

    public void Produced(TimeSpan elapsed) => _produceDuration.Record(elapsed.TotalMilliseconds);

    public void Lateness(double ms) => _lateness.Record(ms);

    /// <summary>
    /// Triggers later than <paramref name="thresholdMs"/> (the count's <c>over_ms</c> label, so a reader knows what
    /// late meant), and their waits together by <see cref="Pipeline.LoopTimeline"/> slot (ticks; exported in ms).
    /// </summary>
    public void Late(double thresholdMs, int triggers, ReadOnlySpan<double> waitTicks)
    {
        var late = _lateTag;
        if (late is null || late.Ms != thresholdMs)
        {
            _lateTag = late = new(thresholdMs, new("over_ms", thresholdMs.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        _late.Add(triggers, late.Tag);
        for (int i = 0; i < waitTicks.Length && i < _lateWaitTags.Length; i++)
        {
            if (waitTicks[i] > 0)
            {
                _lateWait.Add(waitTicks[i] / TimeSpan.TicksPerMillisecond, _lateWaitTags[i]);
            }
        }
    }

    /// <summary>A partition (of the input or the customer topic) reports its pending timers and lag while it is assigned.</summary>
    public void Track(string topic, int partition, Func<(long PendingTimers, long Lag)> observe)
    {
        lock (_lock) _partitions[(topic, partition)] = observe;
    }

    public void Untrack(string topic, int partition)
    {
        lock (_lock) _partitions.Remove((topic, partition));
    }

    /// <summary>Messages not yet durably processed, over all assigned partitions.</summary>
    public long TotalLag()
    {
        lock (_lock) return _partitions.Values.Sum(p => p().Lag);
    }

    public void Dispose()
    {
        _gcEvents.Dispose();
        _meter.Dispose();
    }

    private IEnumerable<Measurement<long>> ObservePendingTimers() => Observe(p => p.PendingTimers);

    private IEnumerable<Measurement<long>> ObserveLag() => Observe(p => p.Lag);

    private List<Measurement<long>> Observe(Func<(long PendingTimers, long Lag), long> pick)
    {
        lock (_lock)
        {
            return [.. _partitions.Select(kv => new Measurement<long>(pick(kv.Value()),
                new KeyValuePair<string, object?>("topic", kv.Key.Topic), new KeyValuePair<string, object?>("partition", kv.Key.Partition)))];
        }
    }

    private sealed record LateTag(double Ms, KeyValuePair<string, object?> Tag);
}
