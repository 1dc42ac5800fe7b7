using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Hosting;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// Runs one input partition: batches of messages through the engine, and the partition's timers on the wall clock.
/// </summary>
/// <remarks>
/// Per batch: decode every message; load the sessions not in memory in one store round trip; apply the events in
/// offset order; publish triggers and dead letters and wait for the broker's acks. Every commit interval (and on a
/// clean stop), write the sessions changed since the last commit (each once, as it is now), their timer index changes
/// and the next input offset in one atomic, epoch-fenced write. A crash before that write replays the input since the
/// last commit from the old position against the old state: the same events give the same triggers with the same ids.
/// <para>
/// The clock: each message is applied at its arrival (the Kafka timestamp, never later than the wall clock) minus the
/// allowed lateness, so a backlog replays at the times it arrived, not in a rush at the current time. Only when the
/// partition is caught up does the wall clock drive the timers, so a quiet partition's deadlines fire at
/// deadline + lateness without waiting for another event. Caught up: nothing is queued, and the last news from the
/// consumer was that the partition had nothing beyond it (its end, or a message at the fetch's high watermark).
/// </para>
/// </remarks>
internal sealed partial class PartitionProcessor : IDisposable
{
    private readonly TopicPartition _partition;
    private readonly PartitionClaim _claim;
    private readonly IStateStore _store;
    private readonly TriggerPublisher _publisher;
    private readonly WorkerOptions _options;
    private readonly RulesOptions _rules;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly WorkerStats _stats;
    private readonly Action<TopicPartitionOffset> _storeOffset;
    private readonly Action<Exception> _onFailure;
    private readonly Operations.LogPseudonyms _pseudonyms;
    private readonly JsonEventDecoder _decoder;
    private readonly SessionEngine _engine;
    private readonly Channel<InputItem> _input;
    private readonly CancellationTokenSource _abort = new();
    private readonly long _latenessMs;
    private readonly long _skewMs;
    private long _clock = long.MinValue;
    private long _committedOffset = -1;
    private int _pendingTimers;
    private bool _endReached;
    private Task? _run;

    // Changed sessions and the input position not yet committed: written together every CommitInterval.
    private readonly Dictionary<string, SessionState> _pending = new(StringComparer.Ordinal);
    private long? _pendingOffset;
    private long _lastCommitTicks = Environment.TickCount64;

    public PartitionProcessor(TopicPartition partition, PartitionClaim claim, IStateStore store, TriggerPublisher publisher,
        WorkerOptions options, RulesOptions rules, DecoderLimits limits, TimeProvider time, ILogger logger, WorkerStats stats,
        Operations.LogPseudonyms pseudonyms, Action<TopicPartitionOffset> storeOffset, Action<Exception> onFailure)
    {
        _pseudonyms = pseudonyms;
        _onFailure = onFailure;
        _partition = partition;
        _claim = claim;
        _store = store;
        _publisher = publisher;
        _options = options;
        _rules = rules;
        _time = time;
        _logger = logger;
        _stats = stats;
        _storeOffset = storeOffset;
        _decoder = new JsonEventDecoder(limits);
        // Decisions are kept in each session's state regardless; the list of them per batch only feeds the debug log.
        _engine = new SessionEngine(rules, trackChanges: true, recordDecisions: logger.IsEnabled(LogLevel.Debug));
        _latenessMs = (long)rules.AllowedLateness.TotalMilliseconds;
        _skewMs = (long)options.MaxClockSkew.TotalMilliseconds;
        _input = Channel.CreateBounded<InputItem>(new BoundedChannelOptions(options.PartitionQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public TopicPartition Partition => _partition;

    /// <summary>The next input offset durable in the state store, or -1 before the first commit.</summary>
    public long CommittedOffset => Volatile.Read(ref _committedOffset) is >= 0 and var o ? o : _claim.NextOffset ?? -1;

    /// <summary>Open sessions' deadlines waiting in this partition (as of the last batch).</summary>
    public int PendingTimers => Volatile.Read(ref _pendingTimers);

    public void Dispose() => _abort.Dispose();

    /// <summary>Set when another worker claimed the partition: this one must stop touching it.</summary>
    public bool Fenced { get; private set; }

    /// <summary>Hands over an item without blocking; false when the partition's queue is full (pause it).</summary>
    public bool TryEnqueue(InputItem item) => _input.Writer.TryWrite(item);

    public void Start() => _run = Task.Run(RunAsync);

    /// <summary>
    /// Stops after the batch in hand is published and committed; queued items are left for the next owner, who
    /// resumes from the committed position. Bounded by <paramref name="timeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _input.Writer.TryComplete();
        if (_run is null)
        {
            return;
        }

        try
        {
            await _run.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogStopTimeout(_logger, _partition.ToString(), timeout.TotalSeconds);
            await _abort.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops at once without committing (the partition was lost; a successor owns it).</summary>
    public Task AbortAsync()
    {
        _input.Writer.TryComplete();
        return _abort.CancelAsync();
    }

    private async Task RunAsync()
    {
        var ct = _abort.Token;
        try
        {
            await LoadOpenSessionsAsync(ct).ConfigureAwait(false);
            var batch = new List<ConsumeResult<byte[]?, byte[]?>>(_options.MaxBatchSize);
            while (!ct.IsCancellationRequested)
            {
                batch.Clear();
                bool completed = await WaitForWorkAsync(ct).ConfigureAwait(false);
                while (batch.Count < _options.MaxBatchSize && _input.Reader.TryRead(out var item))
                {
                    if (item.IsEndOfPartition)
                    {
                        _endReached = true;
                    }
                    else
                    {
                        _endReached = false;
                        batch.Add(item.Message!);
                    }
                }

                // Stopping: finish nothing new. Queued messages belong to the next owner.
                if (completed && batch.Count == 0)
                {
                    break;
                }

                await ProcessAsync(batch, ct).ConfigureAwait(false);
                if (Fenced || (completed && _input.Reader.Completion.IsCompleted))
                {
                    break;
                }
            }

            // A clean stop commits what is pending, so the next owner resumes exactly here.
            if (!Fenced && !ct.IsCancellationRequested && CommitDue(stopping: true))
            {
                await CommitPendingAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Nothing uncommitted is lost by stopping (the next owner resumes from the stored position), but a
            // partition that silently stopped would stall: fail the worker so it is restarted and the group rebalances.
            LogProcessorFailed(_logger, ex, _partition.ToString());
            _onFailure(ex);
        }
    }

    // True when the input is completed (stop requested). Otherwise returns when there is input or a timer is due.
    private async Task<bool> WaitForWorkAsync(CancellationToken ct)
    {
        while (true)
        {
            if (_input.Reader.Completion.IsCompleted)
            {
                return true;
            }

            if (_input.Reader.TryPeek(out _))
            {
                return false;
            }

            long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            long? due = CaughtUp() && _engine.NextDueMs is { } next ? next + _latenessMs : null;
            if (_pending.Count > 0 || _pendingOffset is not null)
            {
                // Pending changes are committed within the commit interval even when no input comes.
                long commitAt = now + Math.Max(0, (long)_options.CommitInterval.TotalMilliseconds - (Environment.TickCount64 - _lastCommitTicks));
                due = due is { } d0 ? Math.Min(d0, commitAt) : commitAt;
            }

            if (due is { } d && d <= now)
            {
                return false;
            }

            var wait = _input.Reader.WaitToReadAsync(ct).AsTask();
            if (due is { } dueAt)
            {
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var delay = Task.Delay(TimeSpan.FromMilliseconds(dueAt - now), _time, timer.Token);
                await Task.WhenAny(wait, delay).ConfigureAwait(false);
                await timer.CancelAsync().ConfigureAwait(false);
                if (delay.IsCompletedSuccessfully)
                {
                    return false;
                }
            }
            else
            {
                if (!await wait.ConfigureAwait(false))
                {
                    return true;
                }
            }
        }
    }

    // Caught up: the newest news is that the partition had nothing beyond what we applied. It counts only when
    // nothing was queued after it: while a stalled partition (a slow state store) works off its backlog, old end
    // markers sit between messages that are not yet applied.
    private bool CaughtUp() => _endReached && _input.Reader.Count == 0;

    private async Task LoadOpenSessionsAsync(CancellationToken ct)
    {
        var ids = _claim.Deadlines.Select(d => d.SessionId).ToList();
        for (int i = 0; i < ids.Count; i += 1000)
        {
            var chunk = ids.GetRange(i, Math.Min(1000, ids.Count - i));
            var states = await RetryAsync(() => _store.LoadAsync(_claim, chunk, ct), "load", ct).ConfigureAwait(false);
            for (int j = 0; j < chunk.Count; j++)
            {
                if (states[j] is { } bytes)
                {
                    _engine.Import(SessionCodec.Decode(chunk[j], bytes, _rules.MaxEventIdsPerSession));
                }
            }
        }

        LogAssigned(_logger, _partition.ToString(), _claim.Epoch, _claim.NextOffset ?? -1, ids.Count);
    }

    private async Task ProcessAsync(List<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken ct)
    {
        var events = new List<(TrackerEvent? Event, long ArrivalMs)>(batch.Count);
        var deadLetters = new List<DeadLetter>();
        var missing = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long wallNow = _time.GetUtcNow().ToUnixTimeMilliseconds();

        foreach (var m in batch)
        {
            long arrival = m.Message.Timestamp.Type == TimestampType.NotAvailable
                ? wallNow
                : Math.Min(m.Message.Timestamp.UnixTimestampMs, wallNow);
            TrackerEvent? ev = null;
            var rejection = new Rejection(RejectReason.MalformedJson, "empty message (null value)");
            if (m.Message.Value is null || !_decoder.TryDecode(m.Message.Value, out ev, out rejection))
            {
                var r = rejection;
                deadLetters.Add(new DeadLetter(m.Message.Key, m.Message.Value, m.Message.Headers, r, m.TopicPartitionOffset));
                _stats.AddRejected(r.Reason);
                events.Add((null, arrival));
                continue;
            }

            if (ev!.TimestampMs > arrival + _skewMs)
            {
                ev.TimestampMs = arrival;
                _stats.AddClamped();
            }

            events.Add((ev, arrival));
            if (!_engine.Contains(ev.SessionId) && seen.Add(ev.SessionId))
            {
                missing.Add(ev.SessionId);
            }
        }

        if (missing.Count > 0)
        {
            var states = await RetryAsync(() => _store.LoadAsync(_claim, missing, ct), "load", ct).ConfigureAwait(false);
            for (int i = 0; i < missing.Count; i++)
            {
                if (states[i] is { } bytes)
                {
                    _engine.Import(SessionCodec.Decode(missing[i], bytes, _rules.MaxEventIdsPerSession));
                }
            }
        }

        var triggers = new List<Trigger>();
        long duplicatesBefore = _engine.Counters.DuplicatesIgnored;
        var suppressedBefore = _engine.Counters.SuppressedByCooldown.ToArray();
        foreach (var (ev, arrival) in events)
        {
            _clock = Math.Max(_clock, arrival - _latenessMs);
            if (ev is not null)
            {
                _engine.Apply(ev, _clock, triggers);
            }
        }

        long wallAfter = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (CaughtUp())
        {
            _clock = Math.Max(_clock, wallAfter - _latenessMs);
        }

        _engine.AdvanceTo(_clock, triggers);

        var dirty = new List<SessionState>();
        _engine.TakeDirty(dirty);
        if (batch.Count == 0 && dirty.Count == 0 && triggers.Count == 0)
        {
            if (CommitDue(stopping: false))
            {
                await CommitPendingAsync(ct).ConfigureAwait(false);
            }

            return;
        }

        long detectedAt = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var t in triggers)
        {
            t.DetectedAtMs = Math.Max(t.DetectedAtMs, detectedAt);
        }

        // What fired or was held back, and why (recorded only for the debug log).
        var decisions = new List<TriggerDecision>();
        _engine.TakeDecisions(decisions);

        var publishing = System.Diagnostics.Stopwatch.StartNew();
        await _publisher.PublishAsync(triggers, deadLetters, _options.RetryBackoff, ct).ConfigureAwait(false);
        if (triggers.Count + deadLetters.Count > 0)
        {
            _stats.Metrics.Produced(publishing.Elapsed);
        }

        foreach (var d in dirty)
        {
            _pending[d.SessionId] = d;
        }

        if (batch.Count > 0)
        {
            _pendingOffset = batch[^1].Offset.Value + 1;
        }

        // Sessions read for this batch and left unchanged are durable already: keep memory for open ones.
        foreach (var id in missing)
        {
            if (!_pending.ContainsKey(id) && _engine.Find(id) is { HasOpenPeriod: false } closed)
            {
                _engine.Evict(closed);
            }
        }

        if (CommitDue(stopping: false) && !await CommitPendingAsync(ct).ConfigureAwait(false))
        {
            return;
        }

        if (batch.Count > 0)
        {
            _stats.AddBatch(batch.Count);
        }

        _stats.AddDuplicates(_engine.Counters.DuplicatesIgnored - duplicatesBefore);
        foreach (var type in TriggerTypes.All)
        {
            _stats.Metrics.Suppressed(type, "cooldown", _engine.Counters.SuppressedByCooldown[(int)type] - suppressedBefore[(int)type]);
        }

        long published = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var t in triggers)
        {
            _stats.AddTrigger(t.Type, published - (t.DeadlineMs + _latenessMs));
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogDecisions(triggers, decisions, deadLetters, published);
        }
    }

    // One line per event of interest, at Debug: triggers sent, triggers held back, rejected input. User ids and
    // emails appear only as keyed pseudonyms; session ids (random tokens, the handle for 'inspect') as they are.
    private void LogDecisions(List<Trigger> triggers, List<TriggerDecision> decisions, List<DeadLetter> deadLetters, long published)
    {
        string partition = _partition.ToString();
        foreach (var t in triggers)
        {
            LogTriggerEmitted(_logger, TriggerTypes.Name(t.Type), t.Id, t.SessionId, _pseudonyms.Of(t.UserId), _pseudonyms.Of(t.Email),
                Time.UnixTime.Format(t.DeadlineMs), published - (t.DeadlineMs + _latenessMs), partition);
        }

        foreach (var d in decisions.Where(d => d.Outcome != DecisionOutcome.Emitted))
        {
            LogTriggerHeldBack(_logger, TriggerTypes.Name(d.Type), d.TriggerId, TriggerDecision.OutcomeName(d.Outcome), d.Reason ?? "-", d.SessionId, partition);
        }

        foreach (var letter in deadLetters)
        {
            LogRejected(_logger, $"{letter.Source.Topic}/{letter.Source.Partition.Value}/{letter.Source.Offset.Value}", RejectReasons.Name(letter.Rejection.Reason), letter.Rejection.Detail);
        }
    }

    private bool CommitDue(bool stopping) =>
        (_pending.Count > 0 || _pendingOffset is not null)
        && (stopping || _pending.Count >= _options.MaxPendingSessions || Environment.TickCount64 - _lastCommitTicks >= (long)_options.CommitInterval.TotalMilliseconds);

    /// <summary>
    /// Writes every session changed since the last commit (once each, in its latest state), their timer index
    /// changes and the next input offset, atomically. False when another worker has claimed the partition.
    /// </summary>
    private async Task<bool> CommitPendingAsync(CancellationToken ct)
    {
        // The timer index changes only when a period opens or closes.
        var sessions = _pending.Values.ToList();
        var writes = new List<SessionWrite>(sessions.Count);
        foreach (var s in sessions)
        {
            writes.Add(new SessionWrite(s.SessionId, SessionCodec.Encode(s), s.HasOpenPeriod ? s.PendingDeadlineMs : null,
                TimerChanged: s.HasOpenPeriod != s.InTimerIndex));
        }

        long? next = _pendingOffset;
        bool owned = await RetryAsync(() => _store.CommitAsync(_claim, writes, next, ct), "commit", ct).ConfigureAwait(false);
        _lastCommitTicks = Environment.TickCount64;
        if (!owned)
        {
            Fenced = true;
            _stats.AddFenced();
            LogFenced(_logger, _partition.ToString(), _claim.Epoch);
            return false;
        }

        _pending.Clear();
        _pendingOffset = null;
        foreach (var s in sessions)
        {
            s.InTimerIndex = s.HasOpenPeriod;

            // Closed sessions are durable now and rarely come back within minutes: keep memory for open ones.
            if (!s.HasOpenPeriod && ReferenceEquals(_engine.Find(s.SessionId), s))
            {
                _engine.Evict(s);
            }
        }

        Volatile.Write(ref _pendingTimers, _engine.PendingTimers);
        if (next is { } offset)
        {
            Volatile.Write(ref _committedOffset, offset);
            _storeOffset(new TopicPartitionOffset(_partition, offset));
        }

        return true;
    }

    // State-store calls are retried with backoff while the store is unreachable: the partition waits, nothing is lost.
    private async Task<T> RetryAsync<T>(Func<Task<T>> call, string what, CancellationToken ct)
    {
        var delay = _options.RetryBackoff;
        while (true)
        {
            try
            {
                var started = System.Diagnostics.Stopwatch.StartNew();
                var result = await call().ConfigureAwait(false);
                _stats.Metrics.StoreCall(what, started.Elapsed);
                return result;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !ct.IsCancellationRequested && IsTransient(ex))
            {
                _stats.AddStoreRetry();
                if (_logger.IsEnabled(LogLevel.Warning))
                {
                    LogStoreRetry(_logger, ex.GetType().Name, what, _partition.ToString(), delay.TotalMilliseconds, ex.Message);
                }
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private static readonly string[] TransientServerErrors = ["LOADING", "BUSY", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"];

    private static bool IsTransient(Exception ex) => ex switch
    {
        StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException or TimeoutException => true,
        StackExchange.Redis.RedisServerException server => TransientServerErrors.Any(e => server.Message.StartsWith(e, StringComparison.Ordinal)),
        _ => false,
    };

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "trigger {Type} {TriggerId} emitted: session {SessionId} user {User} email {Email} deadline {Deadline} lateness {LatenessMs} ms on {Partition}")]
    private static partial void LogTriggerEmitted(ILogger logger, string type, string triggerId, string sessionId, string user, string email, string deadline, long latenessMs, string partition);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "trigger {Type} {TriggerId} {Outcome} ({Reason}): session {SessionId} on {Partition}")]
    private static partial void LogTriggerHeldBack(ILogger logger, string type, string triggerId, string outcome, string reason, string sessionId, string partition);

    [LoggerMessage(EventId = 112, Level = LogLevel.Debug, Message = "input {Source} rejected ({Reason}): {Detail}")]
    private static partial void LogRejected(ILogger logger, string source, string reason, string detail);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "partition {Partition} assigned: epoch {Epoch}, resuming at offset {Offset}, {OpenSessions} open sessions loaded")]
    private static partial void LogAssigned(ILogger logger, string partition, long epoch, long offset, int openSessions);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "partition {Partition} was claimed by another worker (our epoch {Epoch}); stopping without writing")]
    private static partial void LogFenced(ILogger logger, string partition, long epoch);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "state store {Error} during {Operation} on {Partition}; retrying in {DelayMs} ms: {Message}")]
    private static partial void LogStoreRetry(ILogger logger, string error, string operation, string partition, double delayMs, string message);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "partition {Partition} did not stop within {Seconds} s; aborting it")]
    private static partial void LogStopTimeout(ILogger logger, string partition, double seconds);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "partition {Partition} processor failed")]
    private static partial void LogProcessorFailed(ILogger logger, Exception exception, string partition);
}
