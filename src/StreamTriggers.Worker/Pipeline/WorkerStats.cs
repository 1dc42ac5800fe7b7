using StreamTriggers.Decoding;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Operations;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// The worker's one instrumentation point: partition processors and the consume loop report here; it keeps the
/// running totals the live view and the log summary read, and forwards everything to the metrics.
/// </summary>
internal sealed class WorkerStats(WorkerMetrics metrics)
{
    private readonly long[] _rejected = new long[RejectReasons.Count];
    private readonly long[] _triggers = new long[TriggerTypes.Count];
    private long _events;
    private long _duplicates;
    private long _clamped;
    private long _batches;
    private long _storeRetries;
    private long _fenced;
    private int _partitions;
    private long _suppressed;
    private long _deferred;
    private long _signals;

    public long Events => Interlocked.Read(ref _events);
    public long Rejected => _rejected.Sum(x => Interlocked.Read(ref x));
    public long Duplicates => Interlocked.Read(ref _duplicates);
    public long Clamped => Interlocked.Read(ref _clamped);
    public long Batches => Interlocked.Read(ref _batches);
    public long StoreRetries => Interlocked.Read(ref _storeRetries);
    public long Fenced => Interlocked.Read(ref _fenced);
    public int Partitions => Volatile.Read(ref _partitions);
    public long Suppressed => Interlocked.Read(ref _suppressed);
    public long Deferred => Interlocked.Read(ref _deferred);
    public long SignalsConsumed => Interlocked.Read(ref _signals);

    public long Triggers(TriggerType type) => Interlocked.Read(ref _triggers[(int)type]);

    public WorkerMetrics Metrics => metrics;

    public void AddBatch(int events)
    {
        Interlocked.Add(ref _events, events);
        Interlocked.Increment(ref _batches);
        metrics.Consumed(events);
        metrics.Batch(events);
    }

    public void AddRejected(RejectReason reason)
    {
        Interlocked.Increment(ref _rejected[(int)reason]);
        metrics.Rejected(reason);
    }

    public void AddReplayed(long n) => metrics.Replayed(n);

    public void AddDuplicates(long n)
    {
        Interlocked.Add(ref _duplicates, n);
        metrics.Duplicates(n);
    }

    public void AddClamped()
    {
        Interlocked.Increment(ref _clamped);
        metrics.Clamped();
    }

    public void AddStoreRetry()
    {
        Interlocked.Increment(ref _storeRetries);
        metrics.StoreRetry();
    }

    public void AddFenced() => Interlocked.Increment(ref _fenced);

    public void AddTrigger(TriggerType type, double latenessMs)
    {
        Interlocked.Increment(ref _triggers[(int)type]);
        metrics.Emitted(type);
        metrics.Lateness(latenessMs);
    }

    /// <summary>Triggers handed over later than <paramref name="threshold"/>, their waits together split by <see cref="LoopTimeline"/> slot (ticks).</summary>
    public void AddLate(TimeSpan threshold, int triggers, ReadOnlySpan<double> waitTicks) => metrics.Late(threshold.TotalMilliseconds, triggers, waitTicks);

    /// <summary>A trigger suppressed or deferred, with its reason (it is on the audit topic too).</summary>
    public void AddHeldBack(TriggerDecision decision)
    {
        if (decision.Outcome == DecisionOutcome.Deferred)
        {
            Interlocked.Increment(ref _deferred);
            metrics.Deferred(decision.Type, decision.Reason ?? "none");
        }
        else
        {
            Interlocked.Increment(ref _suppressed);
            metrics.Suppressed(decision.Type, decision.Reason ?? "none");
        }
    }

    /// <summary>Signals published to the customer topic by the session stage.</summary>
    public void AddSignalsSent(long n) => metrics.Signals("sent", n);

    /// <summary>Signals the customer stage consumed, and how many of them it had applied before (redeliveries).</summary>
    public void AddSignalsConsumed(long n, long duplicates)
    {
        Interlocked.Add(ref _signals, n);
        metrics.Signals("consumed", n);
        metrics.Signals("duplicate", duplicates);
    }

    public void PartitionAssigned()
    {
        Interlocked.Increment(ref _partitions);
        metrics.Rebalance("assigned", 1);
    }

    public void PartitionRevoked(bool lost)
    {
        Interlocked.Decrement(ref _partitions);
        metrics.Rebalance(lost ? "lost" : "revoked", 1);
    }

    /// <summary>One line of totals for the periodic log summary.</summary>
    public string Summary() =>
        $"{Partitions} partitions, {Events:N0} events in {Batches:N0} batches, {Rejected:N0} rejected, {Duplicates:N0} duplicates, " +
        $"{Clamped:N0} clamped times, triggers: browse {Triggers(TriggerType.BrowseAbandoned):N0} cart {Triggers(TriggerType.CartAbandoned):N0} " +
        $"checkout {Triggers(TriggerType.CheckoutAbandoned):N0}, lifecycle {TriggerTypes.All.Where(t => !TriggerTypes.Session.Contains(t)).Sum(Triggers):N0}, " +
        $"{Suppressed:N0} suppressed, {Deferred:N0} deferred, {SignalsConsumed:N0} customer signals, {StoreRetries:N0} store retries, {Fenced:N0} fenced";
}
