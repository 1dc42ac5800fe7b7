using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamTriggers.Decoding;
using StreamTriggers.State;
using StreamTriggers.Worker.Hosting;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// What every partition processor shares: a bounded queue fed by the consume loop, one task that takes batches off
/// it (or wakes when a timer is due or a commit is owed), the commit interval, the epoch-fenced position in the state
/// store, retries of state-store calls, and stopping (clean: the batch in hand is committed; lost: nothing is written).
/// </summary>
/// <remarks>
/// The clock: each message is applied at its arrival (the Kafka timestamp, never later than the wall clock) minus the
/// allowed lateness, so a backlog replays at the times it arrived, not in a rush at the current time. Only when the
/// partition is caught up does the wall clock drive the timers, so a quiet partition's timers fire at
/// due + lateness without waiting for another message. Caught up: nothing is queued, and the last news from the
/// consumer was that the partition had nothing beyond it (its end, or a message at the fetch's high watermark).
/// </remarks>
internal abstract partial class ProcessorBase : IDisposable
{
    private readonly Action<TopicPartitionOffset> _storeOffset;
    private readonly Action<Exception> _onFailure;
    private readonly Channel<InputItem> _input;
    private volatile bool _inputClosed; // stopping or aborting: a batch in hand takes no more input
    private readonly CancellationTokenSource _abort = new();
    private long _committedOffset = -1;
    private long _processedOffset = -1;
    private bool _endReached;
    private long _newestAtMs = long.MinValue;
    private readonly Queue<Task> _unacked = new();
    private Task? _run;
    private long _lastCommitTicks = Environment.TickCount64;
    private readonly LoopTimeline _timeline = new();
    private CommitInFlight? _inFlight;
    private readonly WakeClock.Alarm _alarm = WakeClock.Shared.CreateAlarm();

    protected ProcessorBase(TopicPartition partition, PartitionClaim claim, IStateStore store, TriggerPublisher publisher,
        WorkerOptions options, long latenessMs, TimeProvider time, ILogger logger, WorkerStats stats,
        Action<TopicPartitionOffset> storeOffset, Action<Exception> onFailure)
    {
        Partition = partition;
        Claim = claim;
        Store = store;
        Publisher = publisher;
        Options = options;
        LatenessMs = latenessMs;
        Time = time;
        Logger = logger;
        Stats = stats;
        _storeOffset = storeOffset;
        _onFailure = onFailure;
        _input = Channel.CreateBounded<InputItem>(new BoundedChannelOptions(options.PartitionQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public TopicPartition Partition { get; }

    protected PartitionClaim Claim { get; }
    protected IStateStore Store { get; }
    protected TriggerPublisher Publisher { get; }
    protected WorkerOptions Options { get; }
    protected long LatenessMs { get; }
    protected TimeProvider Time { get; }
    protected ILogger Logger { get; }
    protected WorkerStats Stats { get; }

    /// <summary>The next input offset consumed but not yet committed with the state it produced.</summary>
    protected long? PendingOffset { get; set; }

    /// <summary>The input position durable in the state store (where a restart resumes), or -1 before the first commit.</summary>
    public long CommittedOffset => Volatile.Read(ref _committedOffset) is >= 0 and var o ? o : Claim.NextOffset ?? -1;

    /// <summary>
    /// The next input offset processed: at or past <see cref="CommittedOffset"/> (the session stage's stored position
    /// stays at its oldest unwritten open session). Consumer lag counts from here.
    /// </summary>
    public long ProcessedOffset => Math.Max(Volatile.Read(ref _processedOffset), CommittedOffset);

    /// <summary>Timers waiting in this partition (as of the last batch).</summary>
    public abstract int PendingTimers { get; }

    /// <summary>Set when another worker claimed the partition: this one must stop touching it.</summary>
    public bool Fenced { get; private set; }

    /// <summary>The state changed since the last commit (entries), not counting the position.</summary>
    protected abstract int PendingCount { get; }

    /// <summary>When (wall clock) the earliest timer is due, counting the allowed lateness; null when none.</summary>
    protected abstract long? TimerDueMs { get; }

    public void Dispose()
    {
        _alarm.Dispose();
        _abort.Dispose();
    }

    /// <summary>Hands over an item without blocking; false when the partition's queue is full (pause it).</summary>
    public bool TryEnqueue(InputItem item) => _input.Writer.TryWrite(item);

    public void Start() => _run = Task.Run(RunAsync);

    /// <summary>
    /// Stops after the batch in hand is published and committed; queued items are left for the next owner, who
    /// resumes from the committed position. Bounded by <paramref name="timeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _inputClosed = true;
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
            LogStopTimeout(Logger, Partition.ToString(), timeout.TotalSeconds);
            await _abort.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops at once without committing (the partition was lost; a successor owns it).</summary>
    public Task AbortAsync()
    {
        _inputClosed = true;
        _input.Writer.TryComplete();
        return _abort.CancelAsync();
    }

    /// <summary>Runs once after the claim, before the first batch (loads what the partition's timers need).</summary>
    protected abstract Task StartingAsync(CancellationToken ct);

    /// <summary>Applies one batch (possibly empty: a timer is due or a commit is owed), publishes, commits when due.</summary>
    protected abstract Task ProcessAsync(List<InputMessage> batch, CancellationToken ct);

    /// <summary>
    /// Writes the pending state and position atomically; false when fenced (report the attempt through
    /// <see cref="Committed"/>). <paramref name="final"/>: the partition is stopping, write everything pending.
    /// Called by <see cref="CommitPendingAsync"/> once the output published so far is acknowledged. An implementation
    /// may hand the store's write to <see cref="WriteBeside"/> and return at once (true): the loop goes on meanwhile.
    /// </summary>
    protected abstract Task<bool> WriteCommitAsync(bool final, CancellationToken ct);

    /// <summary>
    /// Commits: first finishes the commit still in flight, if any; then waits for the broker to acknowledge every
    /// output published so far (see <see cref="PublishAsync"/>), then writes the pending state and position
    /// (<see cref="WriteCommitAsync"/>). The state and position of record never get ahead of acknowledged output.
    /// False when fenced.
    /// </summary>
    protected async Task<bool> CommitPendingAsync(bool final, CancellationToken ct)
    {
        if (!await FinishCommitAsync().ConfigureAwait(false))
        {
            return false;
        }

        Enter(LoopPhase.Acks);
        while (_unacked.TryDequeue(out var publishing))
        {
            await publishing.ConfigureAwait(false);
        }

        Enter(LoopPhase.Apply);
        _lastCommitTicks = Environment.TickCount64; // the interval runs from a commit's start: none is due while it is in flight
        bool owned = await WriteCommitAsync(final, ct).ConfigureAwait(false);
        return owned && (!final || await FinishCommitAsync().ConfigureAwait(false));
    }

    /// <summary>
    /// Lets a commit's write to the store run beside the loop: its state is taken and encoded already, and the loop
    /// applies the next batches and fires deadlines while the store works (a commit took 9 ms on average under load,
    /// 12% of them over 20 ms, and every deadline due meanwhile waited for it). The loop finishes the commit
    /// (<see cref="Committed"/>, then <paramref name="completed"/>, on the loop's own flow) when it sees the write
    /// done, and before the next commit: one is in flight at a time. A write that fails fails the partition, as
    /// before, and the next owner resumes from the last position of record; so the caller may do its bookkeeping
    /// when the write starts, except what must wait for the write (<paramref name="completed"/>).
    /// </summary>
    protected void WriteBeside(Task<bool> write, long? nextOffset, Action completed)
    {
        if (_inFlight is not null)
        {
            throw new InvalidOperationException("a commit is already in flight");
        }

        _inFlight = new CommitInFlight(write, nextOffset, completed);
    }

    /// <summary>A commit's write is in flight (see <see cref="WriteBeside"/>).</summary>
    protected bool CommitInFlightNow => _inFlight is not null;

    /// <summary>
    /// Waits for the commit in flight, if any, and finishes it: records the position, then its bookkeeping. False when
    /// the write found the partition claimed by another worker.
    /// </summary>
    protected async ValueTask<bool> FinishCommitAsync()
    {
        if (_inFlight is not { } commit)
        {
            return !Fenced;
        }

        _inFlight = null;
        if (!commit.Write.IsCompleted)
        {
            Enter(LoopPhase.Commit);
            await ((Task)commit.Write).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Enter(LoopPhase.Apply);
        }

        if (!Committed(await commit.Write.ConfigureAwait(false), commit.NextOffset))
        {
            return false;
        }

        commit.Completed();
        return true;
    }

    private sealed record CommitInFlight(Task<bool> Write, long? NextOffset, Action Completed);

    /// <summary>
    /// Hands a batch's output to the producer without waiting for the broker's acks: the partition goes on with its
    /// next batch and its timers while they come in, so a deadline never waits on a round trip to the broker. The
    /// next commit waits for every ack first. At most <see cref="MaxUnackedBatches"/> batches are in flight; a
    /// failure surfaces here or at the commit. Triggers' lateness is measured at their ack.
    /// </summary>
    protected async ValueTask PublishAsync(List<Triggers.Trigger> triggers, List<DeadLetter> deadLetters, List<Triggers.TriggerDecision> audit,
        CancellationToken ct, List<Customers.CustomerSignal>? signals = null)
    {
        if (triggers.Count + deadLetters.Count + audit.Count + (signals?.Count ?? 0) == 0)
        {
            return;
        }

        _unacked.Enqueue(PublishAndMeasureAsync(triggers, deadLetters, audit, signals, ct));
        while (_unacked.TryPeek(out var oldest) && (oldest.IsCompleted || _unacked.Count > MaxUnackedBatches))
        {
            if (!oldest.IsCompleted)
            {
                Enter(LoopPhase.Publish);
            }

            await _unacked.Dequeue().ConfigureAwait(false);
        }

        Enter(LoopPhase.Apply);
    }

    // Completes with the broker's acks. A trigger held back by quiet hours is late from its release, not its deadline.
    private async Task PublishAndMeasureAsync(List<Triggers.Trigger> triggers, List<DeadLetter> deadLetters, List<Triggers.TriggerDecision> audit,
        List<Customers.CustomerSignal>? signals, CancellationToken ct)
    {
        var publishing = System.Diagnostics.Stopwatch.StartNew();
        await Publisher.PublishAsync(triggers, deadLetters, Options.RetryBackoff, ct, signals, audit).ConfigureAwait(false);
        Stats.Metrics.Produced(publishing.Elapsed);
        long ackedAt = Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var t in triggers)
        {
            Stats.AddTrigger(t.Type, ackedAt - DueMs(t));
        }
    }

    // The longest an idle loop sleeps before it looks again.
    private const long MaxIdleWaitMs = 24 * 60 * 60 * 1000;

    /// <summary>Batches whose output may be waiting for the broker's acks at once.</summary>
    internal const int MaxUnackedBatches = 64;

    private async Task RunAsync()
    {
        var ct = _abort.Token;
        try
        {
            await StartingAsync(ct).ConfigureAwait(false);
            var batch = new List<InputMessage>(Options.MaxBatchSize);
            while (!ct.IsCancellationRequested)
            {
                batch.Clear();
                Enter(LoopPhase.Idle);
                bool completed = await WaitForWorkAsync(ct).ConfigureAwait(false);
                Enter(LoopPhase.Apply);
                if (Fenced)
                {
                    break;
                }

                TakeInput(batch);

                // Stopping: finish nothing new. Queued messages belong to the next owner.
                if (completed && batch.Count == 0)
                {
                    break;
                }

                await ProcessAsync(batch, ct).ConfigureAwait(false);
                InputBuffer.Release(batch);
                if (Fenced || (completed && _input.Reader.Completion.IsCompleted))
                {
                    break;
                }
            }

            // A clean stop commits what is pending, so the next owner resumes exactly here.
            if (!Fenced && !ct.IsCancellationRequested && await FinishCommitAsync().ConfigureAwait(false) && CommitDue(stopping: true))
            {
                await CommitPendingAsync(final: true, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Nothing uncommitted is lost by stopping (the next owner resumes from the stored position), but a
            // partition that silently stopped would stall: fail the worker so it is restarted and the group rebalances.
            LogProcessorFailed(Logger, ex, Partition.ToString());
            _onFailure(ex);
        }
        finally
        {
            // Stopped or failed with a write in flight: its outcome is observed, not awaited (it is epoch-fenced).
            if (_inFlight is { } abandoned)
            {
                _inFlight = null;
                _ = abandoned.Write.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
    }

    // True when the input is completed (stop requested) or the partition was fenced. Otherwise returns when there is
    // input or a timer is due. A commit in flight is finished here when its write completes.
    private async Task<bool> WaitForWorkAsync(CancellationToken ct)
    {
        while (true)
        {
            if (_inFlight is { Write.IsCompleted: true } && !await FinishCommitAsync().ConfigureAwait(false))
            {
                return true;
            }

            if (_input.Reader.Completion.IsCompleted)
            {
                return true;
            }

            if (_input.Reader.TryPeek(out _))
            {
                return false;
            }

            long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
            long? due = CaughtUp() ? TimerDueMs : null;
            if (CommitDueAtTicks(_lastCommitTicks) is { } commitTicks)
            {
                // Pending changes are committed when due even when no input comes.
                long commitAt = now + Math.Max(0, commitTicks - Environment.TickCount64);
                due = due is { } d0 ? Math.Min(d0, commitAt) : commitAt;
            }

            if (due is { } d && d <= now)
            {
                return false;
            }

            // No token: stopping and aborting complete the queue's writer before they cancel, which ends this wait
            // (as the input does). With a token the channel allocates a waiter per wait and registers it with the
            // token, instead of reusing its one waiter: 96 bytes and a registration per wait, and an idle partition's
            // waiter outlives collections (a heap snapshot at 45,000 events/s found 2,300 of them in gen1).
            var wait = _input.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
            var writing = _inFlight?.Write;
            if (due is { } dueAt)
            {
                var delay = AlarmAt(dueAt, now, ct);
                await (writing is null ? Task.WhenAny(wait, delay) : Task.WhenAny(wait, delay, writing)).ConfigureAwait(false);
                if (delay.IsCompletedSuccessfully)
                {
                    return false;
                }

                _alarm.Clear();
            }
            else if (writing is not null)
            {
                await Task.WhenAny(wait, writing).ConfigureAwait(false);
            }
            else if (!await wait.ConfigureAwait(false))
            {
                return true;
            }
        }
    }

    /// <summary>Moves queued input into <paramref name="batch"/>, up to the batch size, noting the consume loop's news of the partition's end.</summary>
    protected void TakeInput(List<InputMessage> batch)
    {
        while (batch.Count < Options.MaxBatchSize && _input.Reader.TryRead(out var item))
        {
            if (!item.IsEndOfPartition)
            {
                batch.Add(item.Message);
            }

            _endReached = item.NewestAtMs >= 0;
            _newestAtMs = Math.Max(_newestAtMs, item.NewestAtMs);
        }
    }

    /// <summary>
    /// A task that completes when input is queued for a batch that is being processed (<see cref="TakeInput"/> takes
    /// it); null when the batch may take no more: it is full, or the partition is stopping or fenced (a stop finishes
    /// the batch in hand, nothing new).
    /// </summary>
    protected Task<bool>? MoreInputAsync(List<InputMessage> batch) =>
        _inputClosed || Fenced || batch.Count >= Options.MaxBatchSize ? null : _input.Reader.WaitToReadAsync(CancellationToken.None).AsTask();

    /// <summary>
    /// The loop's wake-up at <paramref name="dueMs"/> (Unix ms, wall clock; at most a day ahead), replacing any set
    /// before: on the process's <see cref="WakeClock"/> (on time to a fraction of a millisecond), or a timer of
    /// <see cref="Time"/> when the processor runs on a clock of its own (tests). A loop that stops waiting for it
    /// before it completes calls <see cref="ClearAlarm"/>.
    /// </summary>
    protected Task AlarmAt(long dueMs, long nowMs, CancellationToken ct)
    {
        // At most a day ahead (a session's expiry may be weeks away; Task.Delay takes at most 49 days): the loop wakes
        // then, finds nothing due, and waits again.
        long wakeAtTicks = DateTimeOffset.UnixEpoch.UtcTicks + Math.Min(dueMs, nowMs + MaxIdleWaitMs) * TimeSpan.TicksPerMillisecond;
        var after = TimeSpan.FromTicks(Math.Max(0, wakeAtTicks - Time.GetUtcNow().UtcTicks));
        return ReferenceEquals(Time, TimeProvider.System) ? _alarm.After(after) : Task.Delay(after, Time, ct);
    }

    /// <summary>Drops the wake-up <see cref="AlarmAt"/> set (the loop woke for something else).</summary>
    protected void ClearAlarm() => _alarm.Clear();

    /// <summary>
    /// Caught up: the newest news is that the partition had nothing beyond what we applied. It counts only when
    /// nothing was queued after it: while a stalled partition (a slow state store) works off its backlog, old end
    /// markers sit between messages that are not yet applied.
    /// </summary>
    protected bool CaughtUp() => _endReached && _input.Reader.Count == 0;

    /// <summary>
    /// How far the wall clock may drive the partition's clock (before the allowed lateness): the wall clock itself
    /// when it is caught up; otherwise the last moment it was known to hold the newest message the broker had (all
    /// input up to then has been taken, whatever was fetched since has arrived after it); long.MinValue if never.
    /// A partition working through a burst fetched in pieces need not wait for its last piece to fire what was due
    /// before the burst.
    /// </summary>
    protected long WallClockFloorMs(long wallNow) => CaughtUp() ? wallNow : Math.Min(_newestAtMs, wallNow);

    /// <summary>A batch that changed nothing: commits only what the interval owes (pending changes, the position).</summary>
    protected async Task CommitIfDueAsync(CancellationToken ct)
    {
        if (CommitDue(stopping: false))
        {
            await CommitPendingAsync(final: false, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A trigger's <c>detected_at</c>: the wall clock as the worker publishes it (or the engine's clock, if later).
    /// A trigger later than <see cref="WorkerOptions.LateTriggerThreshold"/> is counted, with where the partition was
    /// while it waited (<see cref="LoopTimeline"/>).
    /// </summary>
    protected void StampDetected(List<Triggers.Trigger> triggers)
    {
        var now = Time.GetUtcNow();
        long detectedAt = now.ToUnixTimeMilliseconds();
        Span<double> waits = stackalloc double[LoopTimeline.Slots];
        int late = 0;
        foreach (var t in triggers)
        {
            t.DetectedAtMs = Math.Max(t.DetectedAtMs, detectedAt);
            long dueTicks = DateTimeOffset.UnixEpoch.UtcTicks + DueMs(t) * TimeSpan.TicksPerMillisecond;
            if (now.UtcTicks - dueTicks > Options.LateTriggerThreshold.Ticks)
            {
                _timeline.Split(dueTicks, now.UtcTicks, waits); // adds up: one report per batch, not per trigger
                late++;
            }
        }

        if (late > 0)
        {
            Stats.AddLate(Options.LateTriggerThreshold, late, waits);
        }
    }

    /// <summary>When a trigger was due to go out (Unix ms): its deadline, or its release if held back, + the allowed lateness.</summary>
    private long DueMs(Triggers.Trigger t) => Math.Max(t.DeadlineMs, t.ReleasedAtMs ?? t.DeadlineMs) + LatenessMs;

    /// <summary>The loop enters <paramref name="phase"/> (recorded for late triggers' accounts).</summary>
    protected void Enter(LoopPhase phase) => _timeline.Enter(phase, Time.GetUtcNow().UtcTicks);

    /// <summary>A rejected input message for the dead-letter topic, its bytes copied out of the input buffer.</summary>
    protected DeadLetter DeadLetterOf(in InputMessage m, Rejection rejection) =>
        new(m.KeyCopy(), m.ValueCopy(), m.Headers, rejection, new TopicPartitionOffset(Partition, m.Offset));

    /// <summary>A message's arrival: its Kafka timestamp, never later than the wall clock.</summary>
    protected static long ArrivalMs(in InputMessage m, long wallNow) =>
        m.Timestamp.Type == TimestampType.NotAvailable ? wallNow : Math.Min(m.Timestamp.UnixTimestampMs, wallNow);

    protected bool CommitDue(bool stopping) =>
        stopping
            ? PendingCount > 0 || PendingOffset is not null
            : PendingCount >= Options.MaxPendingSessions || (CommitDueAtTicks(_lastCommitTicks) is { } at && Environment.TickCount64 >= at);

    /// <summary>
    /// When (<see cref="Environment.TickCount64"/>) the next commit has something to write, given when the last one
    /// ran; null when nothing is owed. By default: one commit interval after the last, while anything is pending.
    /// </summary>
    protected virtual long? CommitDueAtTicks(long lastCommitTicks) =>
        PendingCount > 0 || PendingOffset is not null ? lastCommitTicks + (long)Options.CommitInterval.TotalMilliseconds : null;

    /// <summary>Records how far the partition has processed (the Kafka-side offset, for lag monitoring only).</summary>
    protected void Processed(long nextOffset)
    {
        if (nextOffset > Volatile.Read(ref _processedOffset))
        {
            Volatile.Write(ref _processedOffset, nextOffset);
            _storeOffset(new TopicPartitionOffset(Partition, nextOffset));
        }
    }

    /// <summary>
    /// After a commit attempt: on success records the new stored position (null: unchanged); false when the partition
    /// was fenced. (The commit took <see cref="PendingOffset"/> when it started: batches applied while its write was in
    /// flight have set it again.)
    /// </summary>
    protected bool Committed(bool owned, long? nextOffset)
    {
        _lastCommitTicks = Environment.TickCount64;
        if (!owned)
        {
            Fenced = true;
            Stats.AddFenced();
            LogFenced(Logger, Partition.ToString(), Claim.Epoch);
            return false;
        }

        if (nextOffset is { } offset)
        {
            Volatile.Write(ref _committedOffset, offset);
            Processed(offset);
        }

        return true;
    }

    // State-store calls are retried with backoff while the store is unreachable: the partition waits, nothing is lost.
    // The loop is in the given phase meanwhile (retries included), and back in Apply after; null: the loop goes on
    // meanwhile (the call runs beside it) and records its own phases.
    protected async Task<T> RetryAsync<T>(Func<Task<T>> call, string what, LoopPhase? phase, CancellationToken ct)
    {
        var delay = Options.RetryBackoff;
        if (phase is { } waiting)
        {
            Enter(waiting);
        }

        while (true)
        {
            try
            {
                var started = System.Diagnostics.Stopwatch.StartNew();
                var result = await call().ConfigureAwait(false);
                Stats.Metrics.StoreCall(what, started.Elapsed);
                if (phase is not null)
                {
                    Enter(LoopPhase.Apply);
                }

                return result;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !ct.IsCancellationRequested && IsTransient(ex))
            {
                Stats.AddStoreRetry();
                if (Logger.IsEnabled(LogLevel.Warning))
                {
                    LogStoreRetry(Logger, ex.GetType().Name, what, Partition.ToString(), delay.TotalMilliseconds, ex.Message);
                }
                await Task.Delay(delay, Time, ct).ConfigureAwait(false);
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

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "partition {Partition} was claimed by another worker (our epoch {Epoch}); stopping without writing")]
    private static partial void LogFenced(ILogger logger, string partition, long epoch);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "state store {Error} during {Operation} on {Partition}; retrying in {DelayMs} ms: {Message}")]
    private static partial void LogStoreRetry(ILogger logger, string error, string operation, string partition, double delayMs, string message);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "partition {Partition} did not stop within {Seconds} s; aborting it")]
    private static partial void LogStopTimeout(ILogger logger, string partition, double seconds);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "partition {Partition} processor failed")]
    private static partial void LogProcessorFailed(ILogger logger, Exception exception, string partition);
}
