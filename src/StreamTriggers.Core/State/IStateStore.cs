namespace StreamTriggers.State;

/// <summary>Identifies one input partition's state: its stream (topic) and partition number.</summary>
public readonly record struct PartitionId(string Topic, int Partition)
{
    public override string ToString() => $"{Topic}[{Partition}]";
}

/// <summary>
/// What a worker gets when it takes over a partition: a fencing epoch (every later write must carry it; a write
/// with an older epoch is refused, so a worker that lost the partition cannot overwrite its successor), the next
/// input offset to read (null when the partition has never been committed), and the open sessions' deadlines.
/// </summary>
public sealed record PartitionClaim(PartitionId Partition, long Epoch, long? NextOffset, IReadOnlyList<(string SessionId, long DeadlineMs)> Deadlines);

/// <summary>One session's new state in a commit: the encoded state (null deletes it) and its open deadline, if any.</summary>
public readonly record struct SessionWrite(string SessionId, byte[]? State, long? DeadlineMs);

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

    /// <summary>One round trip to the store (readiness checks); throws when it is unreachable.</summary>
    Task<TimeSpan> PingAsync(CancellationToken cancellationToken);
}
