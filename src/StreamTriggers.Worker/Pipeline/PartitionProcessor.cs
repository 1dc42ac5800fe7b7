using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Timers;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Hosting;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// Runs one input partition (the session stage): batches of messages through the session engine, and the partition's
/// deadlines on the wall clock.
/// </summary>
/// <remarks>
/// Per batch: decode every message; load the sessions not in memory in one store round trip; apply the events in
/// offset order; publish and wait for the broker's acks: without the customer lifecycle, triggers and dead letters;
/// with it, dead letters and the signals for the customer stage (candidate triggers among them: the customer stage's
/// sending policy decides what goes out). Held-back decisions (cooldown) go to the audit topic. Every commit interval
/// (and on a clean stop), write the sessions changed since the last commit (each once, as it is now), their timer
/// index changes and the next input offset in one atomic, epoch-fenced write. A crash before that write replays the
/// input since the last commit from the old position against the old state: the same events give the same triggers
/// and signals with the same ids (the customer stage ignores signals it has applied).
/// </remarks>
internal sealed partial class PartitionProcessor : ProcessorBase
{
    private readonly RulesOptions _rules;
    private readonly Operations.LogPseudonyms _pseudonyms;
    private readonly JsonEventDecoder _decoder;
    private readonly SessionEngine _engine;
    private readonly bool _lifecycle;
    private readonly long _skewMs;
    private long _clock = long.MinValue;
    private int _pendingTimers;

    // Commit scheduling: a closed session (or one changed by its timer alone) waits for the commit interval; open
    // sessions wait until the oldest one's unwritten change is OpenSessionWriteDelay old (TickCount64 ms).
    private bool _writeOwed;
    private long _oldestWaitingTicks = long.MaxValue;

    // Changed sessions not yet committed: written together with the position every CommitInterval.
    private readonly SubjectTable<SessionState> _pending = new();

    // Per-batch scratch, kept across batches: the sessions the batch read from the store, and the sessions it changed.
    private readonly List<string> _missing = [];
    private readonly HashSet<string> _requested = new(StringComparer.Ordinal);
    private readonly List<SessionState> _dirty = [];

    // A batch's sessions being read, and the events waiting for them (see ApplyAroundReadAsync).
    private readonly List<string> _reading = [];
    private readonly List<(TrackerEvent Event, long Offset, long ArrivalMs)> _waiting = [];
    private readonly HashSet<string> _waitingSessions = new(StringComparer.Ordinal);
    private readonly List<string> _readNext = []; // new visitors that arrived while the batch's read was in flight
    private readonly List<(List<string> Ids, Task<byte[]?[]> Read)> _readsAfter = []; // the reads of those, in order

    // A commit's sessions and writes, kept across commits: at thousands of sessions their arrays would be large
    // objects, each one counting towards a full collection.
    private readonly List<SessionState> _commitSessions = [];
    private readonly List<SessionWrite> _commitWrites = [];
    private readonly Action _commitWritten;
    private long _expiredBeforeWrite;

    public PartitionProcessor(TopicPartition partition, PartitionClaim claim, IStateStore store, TriggerPublisher publisher,
        WorkerOptions options, RulesOptions rules, LifecycleOptions lifecycle, DecoderLimits limits, TimeProvider time, ILogger logger, WorkerStats stats,
        Operations.LogPseudonyms pseudonyms, Action<TopicPartitionOffset> storeOffset, Action<Exception> onFailure, ProductTable? products = null)
        : base(partition, claim, store, publisher, options, (long)rules.AllowedLateness.TotalMilliseconds, time, logger, stats, storeOffset, onFailure)
    {
        _pseudonyms = pseudonyms;
        _rules = rules;
        _lifecycle = lifecycle.Enabled;
        // Held-back decisions are recorded for the audit topic; sessions keep their latest decisions regardless.
        _engine = new SessionEngine(rules, trackChanges: true, DecisionLog.HeldBack, lifecycle: _lifecycle ? lifecycle : null, products);
        // The decoder reuses the engine's products, asks it which sessions it holds (no id string read for those in the
        // first pass), and keeps event ids only as the hash the engine compares.
        _decoder = new JsonEventDecoder(limits, _engine.Products) { HashEventIds = true, HeldSessions = _engine.Holds };
        _commitWritten = CommitWritten;
        _skewMs = (long)options.MaxClockSkew.TotalMilliseconds;
    }

    /// <summary>Open sessions' deadlines waiting in this partition (as of the last batch).</summary>
    public override int PendingTimers => Volatile.Read(ref _pendingTimers);

    protected override int PendingCount => _pending.Count;

    protected override long? CommitDueAtTicks(long lastCommitTicks)
    {
        long interval = (long)Options.CommitInterval.TotalMilliseconds;
        if (_writeOwed || (PendingOffset is not null && _oldestWaitingTicks == long.MaxValue))
        {
            return lastCommitTicks + interval;
        }

        return _oldestWaitingTicks == long.MaxValue
            ? null
            : Math.Max(lastCommitTicks + interval, _oldestWaitingTicks + (long)Options.OpenSessionWriteDelay.TotalMilliseconds);
    }

    protected override long? TimerDueMs => _engine.NextDueMs is { } next ? next + LatenessMs : null;

    protected override Task StartingAsync(CancellationToken ct) => LoadOpenSessionsAsync(ct);

    private async Task LoadOpenSessionsAsync(CancellationToken ct)
    {
        var ids = Claim.Deadlines.Select(d => d.SessionId).ToList();
        for (int i = 0; i < ids.Count; i += 1000)
        {
            var chunk = ids.GetRange(i, Math.Min(1000, ids.Count - i));
            await LoadAsync(chunk, ct).ConfigureAwait(false);
        }

        LogAssigned(Logger, Partition.ToString(), Claim.Epoch, Claim.NextOffset ?? -1, ids.Count);
    }

    protected override async Task ProcessAsync(List<InputMessage> batch, CancellationToken ct)
    {
        // Two passes over the batch. The first reads only each message's session id, to fetch the sessions this
        // partition does not hold in one store round trip; the second decodes each event as it is applied. A decoded
        // event (its strings, its products) then lives for its own step only, except the read sessions' own events,
        // which wait for the read: under load every garbage collection would otherwise find each partition's whole
        // decoded batch waiting there, and copy it.
        var deadLetters = new List<DeadLetter>();
        var missing = _missing;
        missing.Clear();
        _requested.Clear();
        long wallNow = Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var m in batch)
        {
            if (m.HasValue && _decoder.PeekSessionId(m.Value, out bool held) is { } id && !held && !_engine.Contains(id) && _requested.Add(id))
            {
                missing.Add(id);
            }
        }

        var triggers = new List<Trigger>();
        long duplicatesBefore = _engine.Counters.DuplicatesIgnored;
        long replayedBefore = _engine.Counters.ReplayedSkipped;
        long appliedTicks = Environment.TickCount64;
        if (missing.Count > 0)
        {
            await ApplyAroundReadAsync(batch, wallNow, appliedTicks, triggers, deadLetters, ct).ConfigureAwait(false);
        }
        else
        {
            foreach (var m in batch)
            {
                long arrival = ArrivalMs(m, wallNow);
                _clock = Math.Max(_clock, arrival - LatenessMs);
                if (Decode(m, arrival, deadLetters) is { } ev)
                {
                    await ApplyAsync(ev, m.Offset, appliedTicks, triggers, ct).ConfigureAwait(false);
                }
            }
        }

        long wallAfter = Time.GetUtcNow().ToUnixTimeMilliseconds();
        _clock = Math.Max(_clock, WallClockFloorMs(wallAfter) - LatenessMs);
        _engine.AdvanceTo(_clock, triggers);

        var dirty = _dirty;
        dirty.Clear();
        _engine.TakeDirty(dirty);
        if (batch.Count == 0 && dirty.Count == 0 && triggers.Count == 0)
        {
            await CommitIfDueAsync(ct).ConfigureAwait(false);
            return;
        }

        await EmitAsync(triggers, deadLetters, ct).ConfigureAwait(false);

        foreach (var d in dirty)
        {
            _pending.Set(d);
            if (!d.HasOpenPeriod || d.UnwrittenSinceOffset < 0)
            {
                _writeOwed = true;
            }
            else
            {
                _oldestWaitingTicks = Math.Min(_oldestWaitingTicks, d.UnwrittenSinceMs);
            }
        }

        dirty.Clear();

        if (batch.Count > 0)
        {
            PendingOffset = batch[^1].Offset + 1;
            Processed(PendingOffset.Value);
        }

        // Sessions read for this batch and left unchanged are durable already: keep memory for open ones.
        foreach (var id in missing)
        {
            if (!_pending.Contains(id) && _engine.Find(id) is { HasOpenPeriod: false } closed)
            {
                _engine.Recycle(closed); // nothing else holds it: not pending, not in this batch's lists
            }
        }

        // The batch's ids (young strings) leave the kept lists now, not at the next batch: an idle partition's lists
        // would hold them through collections, old arrays pointing to young strings that are then promoted.
        missing.Clear();
        _requested.Clear();
        _reading.Clear();

        if (CommitDue(stopping: false) && !await CommitPendingAsync(final: false, ct).ConfigureAwait(false))
        {
            return;
        }

        if (batch.Count > 0)
        {
            Stats.AddBatch(batch.Count);
        }

        Stats.AddDuplicates(_engine.Counters.DuplicatesIgnored - duplicatesBefore);
        Stats.AddReplayed(_engine.Counters.ReplayedSkipped - replayedBefore);
    }

    /// <summary>
    /// Applies a batch that needs sessions read from the store, and fires what comes due, while the read is in flight;
    /// input that arrives meanwhile joins the batch.
    /// </summary>
    /// <remarks>
    /// The sessions read are not in memory, so none of them has a deadline waiting (open sessions are held; only
    /// closed ones are evicted): nothing they hold can fire before their events are applied. The other sessions'
    /// events are applied while the read is in flight, each at the clock it would find in offset order, and the
    /// deadlines they leave due fire and go out then; the read sessions' events wait for the read and follow it, in
    /// their order. Meanwhile the clock stays below every waiting event's time + the gap (unless the event would find
    /// the clock there anyway, and so close at once either way): no waiting visit is closed by a clock that ran ahead
    /// of its next event. An event that would find the clock past that bound waits too, with the rest of the batch.
    /// So each session sees its events in order, and its deadlines fire between them as they would in offset order;
    /// only the order of different sessions' output changes. (One approximation: a read session's retention is
    /// judged at the clock after the read, milliseconds later.)
    /// <para>
    /// While the read is in flight the loop also takes the input queued meanwhile into the batch (up to its size), by
    /// the same rule: a busy partition's clock moves with it, so deadlines that fall due during the read go out then,
    /// not after it and the next batch's own read. Its new visitors wait, and are read together once the read is done,
    /// while input is taken again; and so on until a read brings no new visitor or the batch is full. Every read's
    /// sessions are imported together, after the last. A caught-up partition (the wall clock is its clock) also wakes
    /// at its next deadline below the bound.
    /// </para>
    /// </remarks>
    private async Task ApplyAroundReadAsync(List<InputMessage> batch, long wallNow, long appliedTicks, List<Trigger> triggers,
        List<DeadLetter> deadLetters, CancellationToken ct)
    {
        await BeforeReadAsync().ConfigureAwait(false);
        var reading = _reading;
        reading.Clear();
        reading.AddRange(_missing);
        var read = RetryAsync(() => Store.LoadAsync(Claim, reading, ct), "load", phase: null, ct);
        var more = _readsAfter;
        more.Clear();

        _waiting.Clear();
        _waitingSessions.Clear();
        _readNext.Clear();
        var around = new AroundRead { Bound = long.MaxValue, InOrder = _clock };
        try
        {
            await PlaceAsync(batch, 0, duringRead: false, wallNow, appliedTicks, around, triggers, deadLetters, ct).ConfigureAwait(false);

            // What is due by now (as far as the waiting events allow) goes out before the read completes.
            await FireDuringReadAsync(around, triggers, ct).ConfigureAwait(false);
            await WhileReadingAsync(read, batch, appliedTicks, around, triggers, deadLetters, ct).ConfigureAwait(false);

            // New visitors that arrived during a read: one more read for all of them, during which input is taken
            // again, the clock still bounded. The batch's size ends the chain: a full batch takes no more input.
            Task last = read;
            while (_readNext.Count > 0)
            {
                await last.ConfigureAwait(false); // done: observed before the next read starts
                await BeforeReadAsync().ConfigureAwait(false);
                List<string> ids = [.. _readNext];
                _readNext.Clear();
                var next = RetryAsync(() => Store.LoadAsync(Claim, ids, ct), "load", phase: null, ct);
                more.Add((ids, next));
                last = next;
                await WhileReadingAsync(next, batch, appliedTicks, around, triggers, deadLetters, ct).ConfigureAwait(false);
            }
        }
        catch
        {
            // The partition fails (or stops) with this exception; the reads' own outcomes are observed, not awaited.
            Observe(read);
            foreach (var (_, next) in more)
            {
                Observe(next);
            }

            more.Clear();
            throw;
        }

        // The read sessions are imported here, on the partition's own flow (never by the read's continuation), all
        // together once every read is done: nothing they hold moves while others are read.
        Enter(LoopPhase.Read);
        var states = await read.ConfigureAwait(false);
        foreach (var (_, next) in more)
        {
            await next.ConfigureAwait(false);
        }

        Enter(LoopPhase.Apply);
        Import(reading, states);
        foreach (var (ids, next) in more)
        {
            Import(ids, await next.ConfigureAwait(false)); // done already
        }

        more.Clear();
        foreach (var (ev, offset, arrival) in _waiting)
        {
            _clock = Math.Max(_clock, arrival - LatenessMs);
            await ApplyAsync(ev, offset, appliedTicks, triggers, ct).ConfigureAwait(false);
        }

        _waiting.Clear();
        _waitingSessions.Clear();
    }

    // Where a batch applied around its reads stands: the clock offset order would have reached (what each event would
    // find), and the bound the clock stays below while events wait.
    private sealed class AroundRead
    {
        public long InOrder;
        public long Bound;
    }

    private static void Observe(Task read) =>
        _ = read.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    // Applies batch[from..] around the reads: an event waits when its session is being read (one neither held nor
    // requested yet, arriving during the read, joins the next read), has an event waiting already, or would find the
    // clock at the bound.
    private async ValueTask PlaceAsync(List<InputMessage> batch, int from, bool duringRead, long wallNow, long appliedTicks,
        AroundRead around, List<Trigger> triggers, List<DeadLetter> deadLetters, CancellationToken ct)
    {
        long gapMs = (long)_rules.Gap.TotalMilliseconds;
        for (int i = from; i < batch.Count; i++)
        {
            var m = batch[i];
            long arrival = ArrivalMs(m, wallNow);
            around.InOrder = Math.Max(around.InOrder, arrival - LatenessMs);
            if (Decode(m, arrival, deadLetters) is not { } ev)
            {
                continue;
            }

            if (duringRead && !_engine.Contains(ev.SessionId) && _requested.Add(ev.SessionId))
            {
                _missing.Add(ev.SessionId);
                _readNext.Add(ev.SessionId);
            }

            if ((_requested.Contains(ev.SessionId) && !_engine.Contains(ev.SessionId))
                || around.InOrder >= around.Bound || _waitingSessions.Contains(ev.SessionId))
            {
                _waiting.Add((ev, m.Offset, arrival));
                _waitingSessions.Add(ev.SessionId);
                if (ev.TimestampMs + gapMs > around.InOrder)
                {
                    around.Bound = Math.Min(around.Bound, ev.TimestampMs + gapMs);
                }

                continue;
            }

            _clock = Math.Max(_clock, around.InOrder);
            await ApplyAsync(ev, m.Offset, appliedTicks, triggers, ct).ConfigureAwait(false);
        }
    }

    // Until the read completes: takes the input queued meanwhile into the batch (unless batch is null) and applies it
    // around the reads, and wakes at the next deadline below the bound while the partition is caught up (the wall
    // clock is its clock); publishes what either lets fire.
    private async Task WhileReadingAsync(Task read, List<InputMessage>? batch, long appliedTicks, AroundRead around,
        List<Trigger> triggers, List<DeadLetter> deadLetters, CancellationToken ct)
    {
        Enter(LoopPhase.Read);
        while (!read.IsCompleted)
        {
            var input = batch is null ? null : MoreInputAsync(batch);
            var alarm = _engine.NextDueMs is { } next && next < around.Bound && CaughtUp()
                ? AlarmAt(next + LatenessMs, Time.GetUtcNow().ToUnixTimeMilliseconds(), ct)
                : null;
            if (input is null && alarm is null)
            {
                return;
            }

            await (input is null ? Task.WhenAny(read, alarm!) : alarm is null ? Task.WhenAny(read, input) : Task.WhenAny(read, input, alarm)).ConfigureAwait(false);
            if (alarm is { IsCompleted: false })
            {
                ClearAlarm();
            }

            if (read.IsCompleted)
            {
                return;
            }

            Enter(LoopPhase.Apply);
            if (input is { IsCompleted: true } && batch is not null)
            {
                int from = batch.Count;
                TakeInput(batch);
                await PlaceAsync(batch, from, duringRead: true, Time.GetUtcNow().ToUnixTimeMilliseconds(), appliedTicks, around, triggers, deadLetters, ct).ConfigureAwait(false);
            }

            await FireDuringReadAsync(around, triggers, ct).ConfigureAwait(false);
            Enter(LoopPhase.Read);
        }
    }

    // While a batch's read is in flight: moves the clock as far as the wall clock (or the newest known message) and the
    // waiting events' bound allow, and publishes what that fires. The publisher keeps the list it is given until the
    // broker's acks (lateness is measured then): it gets a copy.
    private async ValueTask FireDuringReadAsync(AroundRead around, List<Trigger> triggers, CancellationToken ct)
    {
        long floor = WallClockFloorMs(Time.GetUtcNow().ToUnixTimeMilliseconds()) - LatenessMs;
        _clock = Math.Max(_clock, Math.Min(Math.Max(around.InOrder, floor), around.Bound - 1));
        _engine.AdvanceTo(_clock, triggers);
        if (triggers.Count > 0)
        {
            await EmitAsync([.. triggers], [], ct).ConfigureAwait(false);
            triggers.Clear();
        }
    }

    /// <summary>Decodes a message; a rejected one goes to the dead letters (null). Event times far ahead of arrival are clamped.</summary>
    private TrackerEvent? Decode(in InputMessage m, long arrival, List<DeadLetter> deadLetters)
    {
        var rejection = new Rejection(RejectReason.MalformedJson, "empty message (null value)");
        if (!m.HasValue || !_decoder.TryDecode(m.Value, out var ev, out rejection))
        {
            deadLetters.Add(DeadLetterOf(m, rejection));
            Stats.AddRejected(rejection.Reason);
            return null;
        }

        if (ev!.TimestampMs > arrival + _skewMs)
        {
            ev.TimestampMs = arrival;
            Stats.AddClamped();
        }

        return ev;
    }

    /// <summary>Applies a decoded event at the partition's clock, reading its session first if it left memory unread.</summary>
    private async ValueTask ApplyAsync(TrackerEvent ev, long offset, long appliedTicks, List<Trigger> triggers, CancellationToken ct)
    {
        if (!_engine.Contains(ev.SessionId) && _requested.Add(ev.SessionId))
        {
            // Not in the batch's read: the first pass found it held and it has left memory since (it expired as the
            // batch moved the clock), or the first pass named another id (PeekSessionId agrees with TryDecode, so it
            // should not). Read it now: a session never starts afresh over stored state.
            _missing.Add(ev.SessionId);
            await LoadAsync([ev.SessionId], ct).ConfigureAwait(false);
        }

        if (_engine.Apply(ev, _clock, triggers, offset) is { UnwrittenSinceOffset: < 0 } changed)
        {
            changed.UnwrittenSinceOffset = offset;
            changed.UnwrittenSinceMs = appliedTicks;
        }

        _decoder.Recycle(ev); // the engine keeps what it needs of an event, never the event: the next decode reuses it
    }

    // Reads sessions this partition does not hold and imports those the store has.
    private async Task LoadAsync(List<string> ids, CancellationToken ct)
    {
        await BeforeReadAsync().ConfigureAwait(false);
        Import(ids, await RetryAsync(() => Store.LoadAsync(Claim, ids, ct), "load", LoopPhase.Read, ct).ConfigureAwait(false));
    }

    // Imports the stored sessions of a read (states[i]: ids[i]'s bytes, or null when the store has none).
    private void Import(List<string> ids, byte[]?[] states)
    {
        for (int i = 0; i < ids.Count; i++)
        {
            if (states[i] is { } bytes)
            {
                _engine.Import(SessionCodec.Decode(ids[i], bytes, _rules.MaxEventIdsPerSession));
            }
        }
    }

    /// <summary>
    /// Hands what fired (and the batch's dead letters) to the producer without waiting for acks: the triggers, or with
    /// the lifecycle the signals carrying them as candidates for the customer stage; and what was held back, and why,
    /// to the audit topic.
    /// </summary>
    private async ValueTask EmitAsync(List<Trigger> triggers, List<DeadLetter> deadLetters, CancellationToken ct)
    {
        StampDetected(triggers);
        var heldBack = new List<TriggerDecision>();
        _engine.TakeDecisions(heldBack);
        List<CustomerSignal>? signals = null;
        if (_lifecycle)
        {
            signals = [];
            _engine.TakeSignals(signals);
        }

        var published = _lifecycle ? [] : triggers;
        await PublishAsync(published, deadLetters, heldBack, ct, signals).ConfigureAwait(false);
        foreach (var d in heldBack)
        {
            Stats.AddHeldBack(d);
        }

        if (signals is not null)
        {
            Stats.AddSignalsSent(signals.Count);
        }

        if (Logger.IsEnabled(LogLevel.Debug))
        {
            LogDecisions(published, heldBack, deadLetters, Time.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    // One line per event of interest, at Debug: triggers sent, triggers held back, rejected input. User ids and
    // emails appear only as keyed pseudonyms; session ids (random tokens, the handle for 'inspect') as they are.
    private void LogDecisions(List<Trigger> triggers, List<TriggerDecision> heldBack, List<DeadLetter> deadLetters, long published)
    {
        string partition = Partition.ToString();
        foreach (var t in triggers)
        {
            LogTriggerEmitted(Logger, TriggerTypes.Name(t.Type), t.Id, t.SessionId, _pseudonyms.Of(t.UserId), _pseudonyms.Of(t.Email),
                StreamTriggers.Time.UnixTime.Format(t.DeadlineMs), published - (t.DeadlineMs + LatenessMs), partition);
        }

        foreach (var d in heldBack)
        {
            LogTriggerHeldBack(Logger, TriggerTypes.Name(d.Type), d.TriggerId, TriggerDecision.OutcomeName(d.Outcome), d.Reason ?? "-", d.SessionId, partition);
        }

        foreach (var letter in deadLetters)
        {
            LogRejected(Logger, $"{letter.Source.Topic}/{letter.Source.Partition.Value}/{letter.Source.Offset.Value}", RejectReasons.Name(letter.Rejection.Reason), letter.Rejection.Detail);
        }
    }

    /// <summary>
    /// Writes the sessions that are due (closed ones, open ones whose oldest unwritten change is
    /// <see cref="WorkerOptions.OpenSessionWriteDelay"/> old, or all on a final commit), their timer index changes
    /// and the input position, atomically. The position is the oldest unwritten change of the open sessions still
    /// waiting (or the next offset when none wait): a restart replays from there, and each stored session skips
    /// what it already holds. False when another worker has claimed the partition.
    /// </summary>
    /// <remarks>
    /// The states are encoded here and the write runs beside the loop (<see cref="ProcessorBase.WriteBeside"/>): the
    /// written sessions leave the pending ones now, so a change made while the write is in flight makes a session
    /// pending again, for the next commit. Closed sessions leave memory only once the write is done, and only if
    /// nothing changed them meanwhile: until then the store may not have them, so they must not be read back.
    /// </remarks>
    protected override Task<bool> WriteCommitAsync(bool final, CancellationToken ct)
    {
        long now = Environment.TickCount64;
        long delay = (long)Options.OpenSessionWriteDelay.TotalMilliseconds;
        bool all = final || delay == 0 || _pending.Count >= Options.MaxPendingSessions;
        var sessions = _commitSessions;
        sessions.Clear();
        long waitingSince = long.MaxValue;
        long oldestWaiting = long.MaxValue;
        foreach (var s in _pending)
        {
            if (all || !s.HasOpenPeriod || s.UnwrittenSinceOffset < 0 || now - s.UnwrittenSinceMs >= delay)
            {
                sessions.Add(s);
            }
            else
            {
                waitingSince = Math.Min(waitingSince, s.UnwrittenSinceOffset);
                oldestWaiting = Math.Min(oldestWaiting, s.UnwrittenSinceMs);
            }
        }

        long? position = waitingSince != long.MaxValue ? waitingSince : ProcessedOffset >= 0 ? ProcessedOffset : null;
        long? next = position is { } p && p != CommittedOffset ? p : null;
        _writeOwed = false;
        _oldestWaitingTicks = oldestWaiting;
        PendingOffset = null; // the position covers every batch applied so far; later ones set it again
        if (sessions.Count == 0 && next is null)
        {
            return Task.FromResult(Committed(owned: true, null));
        }

        // The timer index changes only when a period opens or closes.
        var writes = _commitWrites;
        writes.Clear();
        foreach (var s in sessions)
        {
            writes.Add(new SessionWrite(s.SessionId, SessionCodec.Encode(s), s.HasOpenPeriod ? s.PendingDeadlineMs : null,
                TimerChanged: s.HasOpenPeriod != s.InTimerIndex));
            _pending.Remove(s.SubjectSpan);
            s.InTimerIndex = s.HasOpenPeriod;
            s.UnwrittenSinceOffset = -1;
        }

        _expiredBeforeWrite = _engine.Counters.SessionsExpired;
        WriteBeside(RetryAsync(() => Store.CommitAsync(Claim, writes, next, ct), "commit", phase: null, ct), next, _commitWritten);
        return Task.FromResult(true); // the caller finishes a final commit
    }

    // A commit's write is done (on the loop): closed sessions it wrote, and nothing changed since, leave memory.
    private void CommitWritten()
    {
        _commitWrites.Clear(); // the encoded states go with it
        foreach (var s in _commitSessions)
        {
            if (!s.HasOpenPeriod && !s.IsDirty && !_pending.Contains(s.SubjectSpan) && ReferenceEquals(_engine.Find(s.SubjectSpan), s))
            {
                _engine.Recycle(s); // durable, and nothing else holds it: not pending, no batch in hand
            }
        }

        _commitSessions.Clear();
        Volatile.Write(ref _pendingTimers, _engine.PendingTimers);
    }

    /// <summary>
    /// Before reading sessions from the store: a session the engine let go (its retention ran out) while a commit
    /// was writing it may not be in the store yet, so a read waits for that write. Closed sessions are otherwise kept
    /// in memory until their write is done.
    /// </summary>
    private async ValueTask BeforeReadAsync()
    {
        if (CommitInFlightNow && _engine.Counters.SessionsExpired != _expiredBeforeWrite)
        {
            await FinishCommitAsync().ConfigureAwait(false); // fenced: the loop stops after this batch
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "trigger {Type} {TriggerId} emitted: session {SessionId} user {User} email {Email} deadline {Deadline} lateness {LatenessMs} ms on {Partition}")]
    private static partial void LogTriggerEmitted(ILogger logger, string type, string triggerId, string sessionId, string user, string email, string deadline, long latenessMs, string partition);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "trigger {Type} {TriggerId} {Outcome} ({Reason}): session {SessionId} on {Partition}")]
    private static partial void LogTriggerHeldBack(ILogger logger, string type, string triggerId, string outcome, string reason, string sessionId, string partition);

    [LoggerMessage(EventId = 112, Level = LogLevel.Debug, Message = "input {Source} rejected ({Reason}): {Detail}")]
    private static partial void LogRejected(ILogger logger, string source, string reason, string detail);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "partition {Partition} assigned: epoch {Epoch}, resuming at offset {Offset}, {OpenSessions} open sessions loaded")]
    private static partial void LogAssigned(ILogger logger, string partition, long epoch, long offset, int openSessions);
}
