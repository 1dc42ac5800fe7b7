using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.State;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Hosting;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// Runs one partition of the internal customer topic (the customer stage): the signals sessions send about their
/// customers through the customer engine (lifecycle triggers, customer value, the sending policy), and the customers'
/// long timers on the wall clock. Publishes what goes out to the trigger topic and every held-back decision to the
/// audit topic, then commits customers, their timer-index entries and the position like the session stage.
/// </summary>
/// <remarks>
/// Long timers cost nothing while they wait: every customer has one entry in the partition's durable timer index
/// (its earliest timer, at least its expiry), and only customers due within <see cref="WorkerOptions.CustomerTimerHorizon"/>
/// of the clock are in memory. The index is read in pages in due order as the clock moves; a customer is evicted
/// after its commit when nothing of it is due before the page cursor, so the next page brings it back in time.
/// <para>
/// Redeliveries (the session stage replays its input after a crash and sends the same signals again) are ignored by
/// the customer engine, which remembers what it applied. Signals of one batch are applied in one engine step, except
/// that a step ends where a customer timer falls due between two signals' arrival times, so an order that arrived
/// before a reminder was due is applied before the reminder is decided.
/// </para>
/// </remarks>
internal sealed partial class CustomerProcessor : ProcessorBase
{
    private const int PageSize = 1000;

    // A customer read from the store: whether it has a timer-index entry is not known, so its next commit sets it.
    private const long IndexUnknown = long.MinValue + 1;
    private const int MaxPagesPerBatch = 8;

    private readonly CustomerEngine _engine;
    private readonly long _horizonMs;
    private readonly Operations.LogPseudonyms _pseudonyms;
    private readonly Dictionary<string, CustomerState> _pending = new(StringComparer.Ordinal);

    // Timer-index entries whose customer is gone (its key expired): removed with the next commit.
    private readonly HashSet<string> _stale = new(StringComparer.Ordinal);
    private long _clock = long.MinValue;
    private int _pendingTimers;

    // The durable timer index is read in due order: every entry due before _cursorMs has been loaded once (and is in
    // memory, or was evicted only when due after the cursor); the next page starts at _cursorMs, skipping _cursorSkip.
    private long _cursorMs = long.MinValue;
    private int _cursorSkip;

    public CustomerProcessor(TopicPartition partition, PartitionClaim claim, IStateStore store, TriggerPublisher publisher,
        WorkerOptions options, Sessions.RulesOptions rules, LifecycleOptions lifecycle, PolicyOptions policy, TimeProvider time, ILogger logger,
        WorkerStats stats, Operations.LogPseudonyms pseudonyms, Action<TopicPartitionOffset> storeOffset, Action<Exception> onFailure)
        : base(partition, claim, store, publisher, options, (long)rules.AllowedLateness.TotalMilliseconds, time, logger, stats, storeOffset, onFailure)
    {
        _pseudonyms = pseudonyms;
        _engine = new CustomerEngine(lifecycle, policy, trackChanges: true);
        _horizonMs = (long)options.CustomerTimerHorizon.TotalMilliseconds;
    }

    /// <summary>Customers with a timer in memory (due within the horizon; the rest wait in the durable index).</summary>
    public override int PendingTimers => Volatile.Read(ref _pendingTimers);

    protected override int PendingCount => _pending.Count + _stale.Count;

    /// <summary>The earliest timer in memory, or the time the next page of the durable index is to be read.</summary>
    protected override long? TimerDueMs
    {
        get
        {
            long? due = _engine.NextDueMs is { } next ? next + LatenessMs : null;
            long pageAt = PageAtMs();
            pageAt = pageAt >= long.MaxValue - LatenessMs ? long.MaxValue : pageAt + LatenessMs;
            return due is { } d ? Math.Min(d, pageAt) : pageAt;
        }
    }

    // The clock at which the next page is read: when the clock is within half the horizon of the cursor.
    private long PageAtMs() => _cursorMs switch
    {
        long.MinValue => long.MinValue,
        long.MaxValue => long.MaxValue,
        var cursor => cursor - _horizonMs / 2,
    };

    protected override Task StartingAsync(CancellationToken ct)
    {
        LogAssigned(Logger, Partition.ToString(), Claim.Epoch, Claim.NextOffset ?? -1);
        return Task.CompletedTask;
    }

    protected override async Task ProcessAsync(List<InputMessage> batch, CancellationToken ct)
    {
        long wallNow = Time.GetUtcNow().ToUnixTimeMilliseconds();
        var signals = new List<(CustomerSignal Signal, long ClockMs)>(batch.Count);
        var deadLetters = new List<DeadLetter>();
        var missing = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long clock = _clock;
        foreach (var m in batch)
        {
            clock = Math.Max(clock, ArrivalMs(m, wallNow) - LatenessMs);
            CustomerSignal signal;
            try
            {
                signal = m.HasValue ? SignalCodec.Decode(m.Value) : throw new FormatException("empty message (null value)");
            }
            catch (FormatException ex)
            {
                // Not from a session stage of this version: kept on the dead-letter topic, never dropped silently.
                var rejection = new Rejection(RejectReason.UnreadableSignal, ex.Message);
                deadLetters.Add(DeadLetterOf(m, rejection));
                Stats.AddRejected(rejection.Reason);
                continue;
            }

            signals.Add((signal, clock));
            if (!_engine.Contains(signal.Subject) && seen.Add(signal.Subject))
            {
                missing.Add(signal.Subject);
            }
        }

        clock = Math.Max(clock, WallClockFloorMs(Time.GetUtcNow().ToUnixTimeMilliseconds()) - LatenessMs);

        await LoadAsync(missing, ct).ConfigureAwait(false);
        await PageTimersAsync(clock, ct).ConfigureAwait(false);

        // One engine step per run of signals between customer timers (see remarks).
        var triggers = new List<Trigger>();
        var heldBack = new List<TriggerDecision>();
        long duplicatesBefore = _engine.Counters.DuplicateSignals;
        var run = new List<CustomerSignal>();
        foreach (var (signal, at) in signals)
        {
            if (run.Count > 0 && _engine.NextDueMs is { } due && due <= at)
            {
                _engine.Apply(run, _clock, triggers, heldBack);
                run.Clear();
            }

            _clock = Math.Max(_clock, at);
            run.Add(signal);
        }

        _clock = Math.Max(_clock, clock);
        _engine.Apply(run, _clock, triggers, heldBack);

        var dirty = new List<CustomerState>();
        _engine.TakeDirty(dirty);
        if (batch.Count == 0 && dirty.Count == 0 && triggers.Count == 0 && heldBack.Count == 0)
        {
            await CommitIfDueAsync(ct).ConfigureAwait(false);
            return;
        }

        StampDetected(triggers);

        await PublishAsync(triggers, deadLetters, heldBack, ct).ConfigureAwait(false);

        foreach (var c in dirty)
        {
            _pending[c.Key] = c;
        }

        if (batch.Count > 0)
        {
            PendingOffset = batch[^1].Offset + 1;
        }

        if (CommitDue(stopping: false) && !await CommitPendingAsync(final: false, ct).ConfigureAwait(false))
        {
            return;
        }

        Stats.AddSignalsConsumed(signals.Count, _engine.Counters.DuplicateSignals - duplicatesBefore);
        foreach (var d in heldBack)
        {
            Stats.AddHeldBack(d);
        }

        if (Logger.IsEnabled(LogLevel.Debug))
        {
            string partition = Partition.ToString();
            foreach (var t in triggers)
            {
                LogCustomerTrigger(Logger, TriggerTypes.Name(t.Type), t.Id, _pseudonyms.Of(t.UserId), _pseudonyms.Of(t.Email), t.SessionId, partition);
            }

            foreach (var d in heldBack)
            {
                LogCustomerHeldBack(Logger, TriggerTypes.Name(d.Type), d.TriggerId, TriggerDecision.OutcomeName(d.Outcome), d.Reason ?? "-", d.SessionId, partition);
            }
        }
    }

    // Customers read from the store into the engine (one round trip); a missing or expired one starts fresh.
    private async Task LoadAsync(List<string> keys, CancellationToken ct)
    {
        if (keys.Count == 0)
        {
            return;
        }

        var states = await RetryAsync(() => Store.LoadAsync(Claim, keys, ct), "load", LoopPhase.Read, ct).ConfigureAwait(false);
        for (int i = 0; i < keys.Count; i++)
        {
            if (states[i] is { } bytes)
            {
                // Its index entry is not known here: the next commit writes (or removes) it afresh.
                var c = CustomerCodec.Decode(keys[i], bytes);
                c.IndexedDueMs = IndexUnknown;
                if (!_engine.Import(c))
                {
                    // Its retention ran out while it waited: delete it with the next commit.
                    _pending[c.Key] = c;
                }
            }
        }
    }

    // Brings every customer due within the horizon of the clock into memory, a page at a time (a bounded number per
    // batch: after a long outage the backlog of due customers is worked off over several batches).
    private async Task PageTimersAsync(long clock, CancellationToken ct)
    {
        long until = clock >= long.MaxValue - _horizonMs ? long.MaxValue : clock + _horizonMs;
        if (clock < PageAtMs())
        {
            return;
        }

        for (int pages = 0; pages < MaxPagesPerBatch && _cursorMs <= until; pages++)
        {
            long from = _cursorMs == long.MinValue ? long.MinValue + 1 : _cursorMs;
            var page = await RetryAsync(() => Store.DueAsync(Claim, from, _cursorSkip, until, PageSize, ct), "timers", LoopPhase.Read, ct).ConfigureAwait(false);
            var load = new List<string>();
            foreach (var (id, _) in page)
            {
                if (!_engine.Contains(id) && !_pending.ContainsKey(id))
                {
                    load.Add(id);
                }
            }

            await LoadAsync(load, ct).ConfigureAwait(false);

            // Committed once more whether or not a timer fires: the entry that brought it in may be stale (its due
            // moved while its new entry was not written), and the commit corrects it and lets the customer go again.
            foreach (var id in load)
            {
                if (_engine.Find(id) is { } loaded)
                {
                    _pending[id] = loaded;
                }
                else if (!_pending.ContainsKey(id))
                {
                    _stale.Add(id);
                }
            }

            if (page.Count < PageSize)
            {
                _cursorMs = until == long.MaxValue ? long.MaxValue : until + 1;
                _cursorSkip = 0;
                return;
            }

            long last = page[^1].DueMs;
            // A full page of one due time already in memory makes no progress by time: step over it by position.
            _cursorSkip = last == from && load.Count == 0 ? _cursorSkip + page.Count : 0;
            _cursorMs = last;
        }
    }

    /// <summary>
    /// Writes every customer changed since the last commit (deleting expired ones), their timer-index entries (only
    /// when the due time moved) and the next position, atomically. False when another worker has claimed the partition.
    /// </summary>
    protected override async Task<bool> WriteCommitAsync(bool final, CancellationToken ct)
    {
        var customers = _pending.Values.ToList();
        var writes = new List<SessionWrite>(customers.Count + _stale.Count);
        foreach (var c in customers)
        {
            if (!_engine.IsLive(c))
            {
                writes.Add(new SessionWrite(c.Key, null, null, TimerChanged: true));
                continue;
            }

            // Expiry alone needs no index entry (most customers have nothing else due): Redis's TTL, set to the
            // customer's expiry, removes it. A customer with a real timer is indexed by it.
            long expires = _engine.ExpiresAtMs(c);
            long? due = _engine.ScheduledDueMs(c) is { } d && (c.Pending.Count > 0 || d < expires) ? d : null;
            long? indexed = c.IndexedDueMs == CustomerState.None ? null : c.IndexedDueMs;
            // Held triggers keep a customer past its expiry (the engine does not expire it while they wait).
            long keepUntil = c.Pending.Count == 0 ? expires : Math.Max(expires, c.Pending.Max(p => p.DueMs));
            long now = _engine.Now == long.MinValue ? Time.GetUtcNow().ToUnixTimeMilliseconds() : _engine.Now;
            var ttl = TimeSpan.FromMilliseconds(Math.Max(1000, keepUntil - now + LatenessMs));
            writes.Add(new SessionWrite(c.Key, CustomerCodec.Encode(c), due, TimerChanged: due != indexed, TimeToLive: ttl));
        }

        var stale = _stale.Where(id => !_pending.ContainsKey(id)).ToList();
        foreach (var id in stale)
        {
            writes.Add(new SessionWrite(id, null, null, TimerChanged: true));
        }

        long? next = PendingOffset;
        PendingOffset = null; // batches applied from here on set it again
        bool owned = await RetryAsync(() => Store.CommitAsync(Claim, writes, next, ct), "commit", LoopPhase.Commit, ct).ConfigureAwait(false);
        if (!Committed(owned, next))
        {
            return false;
        }

        _pending.Clear();
        _stale.Clear();
        for (int i = 0; i < customers.Count; i++)
        {
            var c = customers[i];
            c.IndexedDueMs = writes[i].DeadlineMs ?? CustomerState.None;

            // Nothing due before the page cursor: the durable index brings it back in time (or nothing is due but
            // its expiry, which Redis's TTL carries out).
            if (_engine.IsLive(c) && (writes[i].DeadlineMs is not { } due || due > _cursorMs))
            {
                _engine.Evict(c);
            }
        }

        Volatile.Write(ref _pendingTimers, _engine.PendingTimers);
        return true;
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "customer partition {Partition} assigned: epoch {Epoch}, resuming at offset {Offset}")]
    private static partial void LogAssigned(ILogger logger, string partition, long epoch, long offset);

    [LoggerMessage(EventId = 121, Level = LogLevel.Debug, Message = "trigger {Type} {TriggerId} emitted: user {User} email {Email} session {SessionId} on {Partition}")]
    private static partial void LogCustomerTrigger(ILogger logger, string type, string triggerId, string user, string email, string sessionId, string partition);

    [LoggerMessage(EventId = 122, Level = LogLevel.Debug, Message = "trigger {Type} {TriggerId} {Outcome} ({Reason}): session {SessionId} on {Partition}")]
    private static partial void LogCustomerHeldBack(ILogger logger, string type, string triggerId, string outcome, string reason, string sessionId, string partition);
}
