namespace StreamTriggers.State;

/// <summary>
/// The state store of the embedded mode and of unit tests: the same contract as the Redis store (fencing epochs,
/// atomic commits), held in process memory. Nothing survives the process.
/// </summary>
public sealed class InMemoryStateStore(StateSpace? space = null) : IStateStore, IStateInspector
{
    private readonly StateSpace _space = space ?? StateSpace.Sessions;
    private readonly Lock _lock = new();
    private readonly Dictionary<PartitionId, Partition> _partitions = [];

    public Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var p = Get(partition);
            p.Epoch++;
            return Task.FromResult(new PartitionClaim(partition, p.Epoch, p.NextOffset,
                _space.DeadlinesOnClaim ? [.. p.Deadlines.Select(kv => (kv.Key, kv.Value))] : []));
        }
    }

    public Task<byte[]?[]> LoadAsync(PartitionClaim claim, IReadOnlyList<string> sessionIds, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var p = Get(claim.Partition);
            return Task.FromResult(sessionIds.Select(id => p.Sessions.GetValueOrDefault(id)).ToArray());
        }
    }

    public Task<bool> CommitAsync(PartitionClaim claim, IReadOnlyList<SessionWrite> sessions, long? nextOffset, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var p = Get(claim.Partition);
            if (p.Epoch != claim.Epoch)
            {
                return Task.FromResult(false);
            }

            foreach (var w in sessions)
            {
                if (w.State is null) p.Sessions.Remove(w.SessionId);
                else p.Sessions[w.SessionId] = w.State;
                if (w.TimerChanged && w.DeadlineMs is { } d) p.Deadlines[w.SessionId] = d;
                else if (w.TimerChanged) p.Deadlines.Remove(w.SessionId);
            }

            if (nextOffset is { } offset)
            {
                p.NextOffset = offset;
            }

            return Task.FromResult(true);
        }
    }

    public Task<IReadOnlyList<(string Id, long DueMs)>> DueAsync(PartitionClaim claim, long fromMs, int skip, long untilMs, int take, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // The sorted set's order: by due time, then by id (ordinal), as Redis orders equal scores.
            return Task.FromResult<IReadOnlyList<(string, long)>>([.. Get(claim.Partition).Deadlines
                .Where(kv => kv.Value >= fromMs && kv.Value <= untilMs)
                .OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Skip(skip).Take(take).Select(kv => (kv.Key, kv.Value))]);
        }
    }

    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) => Task.FromResult(TimeSpan.Zero);

    public Task<IReadOnlyList<int>> PartitionsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<int>>([.. _partitions.Keys.Select(p => p.Partition).Distinct().Order()]);
        }
    }

    public Task<StoredSession?> ReadSessionAsync(int partition, string sessionId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var (id, p) in _partitions)
            {
                if (id.Partition != partition)
                {
                    continue;
                }

                var state = p.Sessions.GetValueOrDefault(sessionId);
                long? deadline = p.Deadlines.TryGetValue(sessionId, out long d) ? d : null;
                if (state is not null || deadline is not null)
                {
                    return Task.FromResult<StoredSession?>(new StoredSession(partition, sessionId, state, deadline, null));
                }
            }

            return Task.FromResult<StoredSession?>(null);
        }
    }

    public Task<IReadOnlyList<string>> CustomerSessionsAsync(int partition, string customer, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>>([.. _partitions.Where(kv => kv.Key.Partition == partition)
                .SelectMany(kv => kv.Value.Sessions).Where(kv => SessionCodec.Matches(kv.Key, kv.Value, customer))
                .Select(kv => kv.Key).Order(StringComparer.Ordinal)]);
        }
    }

    private Partition Get(PartitionId id)
    {
        if (!_partitions.TryGetValue(id, out var p))
        {
            _partitions[id] = p = new Partition();
        }

        return p;
    }

    private sealed class Partition
    {
        public long Epoch;
        public long? NextOffset;
        public readonly Dictionary<string, byte[]> Sessions = new(StringComparer.Ordinal);
        public readonly Dictionary<string, long> Deadlines = new(StringComparer.Ordinal);
    }
}
