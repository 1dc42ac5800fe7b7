namespace StreamTriggers.State;

/// <summary>Identifies one input partition's state: its stream (topic) and partition number.</summary>
public readonly record struct PartitionId(string Topic, int Partition)
{
    public override string ToString() => $"{Topic}[{Partition}]";
}

/// <summary>
/// Which kind of state a store instance holds, so sessions (per input partition) and customers (per customer-topic
/// partition) of one group never share keys. <paramref name="Name"/> is part of the Redis hash tag (null: none, the
/// session layout); <paramref name="ItemPrefix"/> starts each item's key; with <paramref name="DeadlinesOnClaim"/> a
/// claim returns every timer-index entry (sessions: a few minutes' worth), without it the owner pages them by due
/// time with <see cref="IStateStore.DueAsync"/> (customers: long timers, possibly millions, mostly far away).
/// </summary>
public sealed record StateSpace(string? Name, string ItemPrefix, bool DeadlinesOnClaim)
{
    public static readonly StateSpace Sessions = new(null, "s:", DeadlinesOnClaim: true);

    public static readonly StateSpace Customers = new("customers", "c:", DeadlinesOnClaim: false);
}

/// <summary>
/// What a worker gets when it takes over a partition: a fencing epoch (every later write must carry it; a write
/// with an older epoch is refused, so a worker that lost the partition cannot overwrite its successor), the next
/// input offset to read (null when the partition has never been committed), and the open sessions' deadlines (empty
/// for a space that pages them, <see cref="StateSpace.DeadlinesOnClaim"/>).
/// </summary>
public sealed record PartitionClaim(PartitionId Partition, long Epoch, long? NextOffset, IReadOnlyList<(string SessionId, long DeadlineMs)> Deadlines);

/// <summary>
/// One session's (or customer's) new state in a commit: the encoded state (null deletes it) and, when
/// <paramref name="TimerChanged"/>, its entry in the durable timer index (added with its deadline, or removed when
/// <paramref name="DeadlineMs"/> is null; the worker changes it only when a period opens or closes). The state
/// expires after <paramref name="TimeToLive"/>, or the store's retention when null.
/// </summary>
public readonly record struct SessionWrite(string SessionId, byte[]? State, long? DeadlineMs, bool TimerChanged = true, TimeSpan? TimeToLive = null);

/// <summary>A session as stored, with what <c>inspect</c> shows beside it.</summary>
/// <param name="Partition">The input partition whose state holds it.</param>
/// <param name="SessionId">The session.</param>
/// <param name="State">Encoded state (<see cref="SessionCodec"/>), or null when it expired or was never written.</param>
/// <param name="PendingDeadlineMs">Its entry in the partition's durable timer index, or null.</param>
/// <param name="ExpiresInMs">Time until the stored state expires, or null when the store does not expire it.</param>
public sealed record StoredSession(int Partition, string SessionId, byte[]? State, long? PendingDeadlineMs, long? ExpiresInMs);

/// <summary>Read-only lookups across every partition of one consumer group, for operators (<c>streamtriggers inspect</c>).</summary>
public interface IStateInspector
{
    /// <summary>Partitions that have state, ascending.</summary>
    Task<IReadOnlyList<int>> PartitionsAsync(CancellationToken cancellationToken);

    /// <summary>The session in <paramref name="partition"/>, or null when that partition holds nothing of it.</summary>
    Task<StoredSession?> ReadSessionAsync(int partition, string sessionId, CancellationToken cancellationToken);

    /// <summary>
    /// Sessions of <paramref name="partition"/> that carried <paramref name="customer"/> as user id or email. There is
    /// no per-customer index (it would cost more Redis memory per session than the session itself): this reads every
    /// stored session of the partition, so it takes time in proportion to them.
    /// </summary>
    Task<IReadOnlyList<string>> CustomerSessionsAsync(int partition, string customer, CancellationToken cancellationToken);
}

/// <summary>
/// Durable per-partition state: sessions, their deadlines (the durable timer index) and the input position, written
/// together. The worker commits an input offset only through <see cref="CommitAsync"/>, in the same atomic write as
/// the state it produced, so after a crash state and position always agree.
/// </summary>
public interface IStateStore
{
    /// <summary>Takes ownership of a partition: bumps its epoch and returns the stored position and deadlines.</summary>
    Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken);

    /// <summary>Reads sessions by id in one round trip; a missing session is null.</summary>
    Task<byte[]?[]> LoadAsync(PartitionClaim claim, IReadOnlyList<string> sessionIds, CancellationToken cancellationToken);

    /// <summary>
    /// Writes sessions, deadlines and (when given) the next input offset atomically. Returns false, writing nothing,
    /// when another worker has claimed the partition since <paramref name="claim"/>.
    /// </summary>
    Task<bool> CommitAsync(PartitionClaim claim, IReadOnlyList<SessionWrite> sessions, long? nextOffset, CancellationToken cancellationToken);

    /// <summary>
    /// A page of the durable timer index in due order: entries due in [<paramref name="fromMs"/>, <paramref name="untilMs"/>],
    /// skipping the first <paramref name="skip"/> (those already seen at <paramref name="fromMs"/>), at most <paramref name="take"/>.
    /// </summary>
    Task<IReadOnlyList<(string Id, long DueMs)>> DueAsync(PartitionClaim claim, long fromMs, int skip, long untilMs, int take, CancellationToken cancellationToken);

    /// <summary>One round trip to the store (readiness checks); throws when it is unreachable.</summary>
    Task<TimeSpan> PingAsync(CancellationToken cancellationToken);
}
