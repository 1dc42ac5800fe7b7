using StreamTriggers.Time;

namespace StreamTriggers.Worker.Hosting;

/// <summary>How the live worker batches, buffers and shuts down. Bound from <c>StreamTriggers:Worker</c>.</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "StreamTriggers:Worker";

    /// <summary>Most messages of one partition processed as one batch (one state round trip, one commit). Default 2000.</summary>
    public int MaxBatchSize { get; set; } = 2000;

    /// <summary>Messages buffered per partition before its consumption is paused (backpressure). Default 10000.</summary>
    public int PartitionQueueCapacity { get; set; } = 10_000;

    /// <summary>An event time more than this ahead of its arrival is clamped to the arrival time. Default 1 minute.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Bound on each shutdown step (draining partitions, closing the consumer, flushing the producer). Default 15 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>First wait after a failed state write or publish; doubles up to 5 s while the failure lasts. Default 100 ms.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How often a partition commits its changed sessions and input position to the state store. A session changed
    /// several times in between is written once. A crash replays at most this much input (re-publishing its triggers
    /// with the same ids). 0 commits after every batch. Default 500 ms.
    /// </summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long an open session's changes may wait before they are written. A session is written when its period
    /// closes (its trigger decided) or, while it stays open, once its oldest unwritten change is this old; the
    /// stored input position stays at the oldest unwritten change, so a crash replays up to this much input and the
    /// events the stored sessions already hold are skipped (each session stores the position of its newest event).
    /// Writing a session once per visit instead of once per commit interval is most of the state store's load. 0
    /// writes every changed session at every commit. Default 10 s.
    /// </summary>
    public TimeSpan OpenSessionWriteDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A partition commits early (every waiting session) once this many sessions are waiting to be written. Default 50000.</summary>
    public int MaxPendingSessions { get; set; } = 50_000;

    /// <summary>
    /// How far ahead of the clock the customer stage keeps customers' long timers in memory; the rest wait in the
    /// durable timer index in Redis and are read in pages as the clock reaches them. Default 1 minute.
    /// </summary>
    public TimeSpan CustomerTimerHorizon { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A trigger handed to the producer later than this after its deadline plus the allowed lateness is counted
    /// (<c>streamtriggers_trigger_late_total</c>), and its wait split by what its partition was doing meanwhile
    /// (<c>streamtriggers_trigger_late_wait_milliseconds_total</c>: idle, read, apply, publish, acks, commit, GC).
    /// Default 20 ms.
    /// </summary>
    public TimeSpan LateTriggerThreshold { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The CloudEvents <c>source</c> of every trigger. Default <c>streamtriggers</c>.</summary>
    public string Source { get; set; } = "streamtriggers";

    /// <summary>
    /// Key of the pseudonyms that stand for user ids and emails in logs (HMAC-SHA256). Set the same secret on every
    /// worker to correlate one customer's lines across workers and restarts; empty (default) is a random key per
    /// process. Triggers carry identities intact; logs never do.
    /// </summary>
    public string LogPseudonymKey { get; set; } = string.Empty;

    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        if (MaxBatchSize is < 1 or > 100_000)
            yield return $"{prefix}:MaxBatchSize is {MaxBatchSize}; it must be between 1 and 100000.";
        if (PartitionQueueCapacity < MaxBatchSize || PartitionQueueCapacity > 1_000_000)
            yield return $"{prefix}:PartitionQueueCapacity is {PartitionQueueCapacity}; it must be between MaxBatchSize ({MaxBatchSize}) and 1000000.";
        if (MaxClockSkew < TimeSpan.Zero || MaxClockSkew > TimeSpan.FromDays(1))
            yield return $"{prefix}:MaxClockSkew is {Duration.Format(MaxClockSkew)}; it must be between 0s and 1d.";
        if (ShutdownTimeout < TimeSpan.FromSeconds(1) || ShutdownTimeout > TimeSpan.FromMinutes(10))
            yield return $"{prefix}:ShutdownTimeout is {Duration.Format(ShutdownTimeout)}; it must be between 1s and 10m.";
        if (RetryBackoff < TimeSpan.FromMilliseconds(1) || RetryBackoff > TimeSpan.FromSeconds(5))
            yield return $"{prefix}:RetryBackoff is {Duration.Format(RetryBackoff)}; it must be between 1ms and 5s.";
        if (CommitInterval < TimeSpan.Zero || CommitInterval > TimeSpan.FromSeconds(60))
            yield return $"{prefix}:CommitInterval is {Duration.Format(CommitInterval)}; it must be between 0s and 60s.";
        if (OpenSessionWriteDelay < TimeSpan.Zero || OpenSessionWriteDelay > TimeSpan.FromMinutes(10))
            yield return $"{prefix}:OpenSessionWriteDelay is {Duration.Format(OpenSessionWriteDelay)}; it must be between 0s and 10m.";
        if (MaxPendingSessions is < 1 or > 1_000_000)
            yield return $"{prefix}:MaxPendingSessions is {MaxPendingSessions}; it must be between 1 and 1000000.";
        if (CustomerTimerHorizon < TimeSpan.FromSeconds(1) || CustomerTimerHorizon > TimeSpan.FromDays(1))
            yield return $"{prefix}:CustomerTimerHorizon is {Duration.Format(CustomerTimerHorizon)}; it must be between 1s and 1d.";
        if (LateTriggerThreshold < TimeSpan.Zero || LateTriggerThreshold > TimeSpan.FromHours(1))
            yield return $"{prefix}:LateTriggerThreshold is {Duration.Format(LateTriggerThreshold)}; it must be between 0s and 1h.";
        if (string.IsNullOrWhiteSpace(Source))
            yield return $"{prefix}:Source must not be empty.";
    }
}
